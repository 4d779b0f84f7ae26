/*
 * Worker rows. A worker may heartbeat over HTTP and connect its websocket
 * at the same moment, so creating the row must not fail when the other
 * path created it first: the insert is a no-op on any duplicate, and the
 * update that follows, locked by id, decides.
 */
#include <string.h>

#include <json-c/json.h>

#include "db.h"
#include "engine.h"
#include "id.h"
#include "xmalloc.h"
#include "pjson.h"
#include "registry.h"

static const char sql_by_name[] =
    "SELECT id, status FROM workers WHERE name = ? FOR UPDATE";
/* CONCAT(LEFT(name, 200) ...) stays within VARCHAR(255) characters. */
static const char sql_retire[] =
    "UPDATE workers SET name = CONCAT(LEFT(name, 200), ' (replaced ', id, "
    "')'), pushd_node = NULL, metadata = JSON_SET(COALESCE(metadata, '{}'), "
    "'$.replaced_by', ?, '$.replaced_at', DATE_FORMAT(UTC_TIMESTAMP(), "
    "'%Y-%m-%dT%H:%i:%sZ')) WHERE id = ? AND status = 'offline'";
static const char sql_by_id[] =
    "SELECT status FROM workers WHERE id = ? FOR UPDATE";
static const char sql_exists[] = "SELECT 1 FROM workers WHERE id = ?";
static const char sql_insert[] =
    "INSERT INTO workers (id, name, status, last_heartbeat, metadata) "
    "VALUES (?, ?, 'offline', NOW(), '{}') ON DUPLICATE KEY UPDATE id = id";
static const char sql_update[] =
    "UPDATE workers SET name = ?, status = 'online', last_heartbeat = NOW(), "
    "pushd_node = COALESCE(?, pushd_node), "
    "metadata = COALESCE(?, metadata) WHERE id = ?";
static const char sql_version[] =
    "UPDATE workers SET metadata = JSON_SET(COALESCE(metadata, '{}'), "
    "'$.version', ?) WHERE id = ?";
static const char sql_meta_groups[] =
    "UPDATE workers SET metadata = JSON_SET(COALESCE(metadata, '{}'), "
    "'$.groups', JSON_EXTRACT(?, '$')) WHERE id = ?";
static const char sql_groups_clear[] =
    "DELETE FROM worker_groups WHERE worker_id = ?";
static const char sql_groups_add[] =
    "INSERT IGNORE INTO worker_groups (worker_id, group_name) VALUES (?, ?)";

int
registry_event(struct db *db, const char *worker_id, const char *status)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "worker_id", json_object_new_string(worker_id));
	json_object_object_add(p, "status", json_object_new_string(status));
	return engine_event(db, "worker_update", NULL, worker_id, p);
}

static int
registry_groups(struct db *db, const struct registry_worker *w)
{
	struct json_object	*arr = json_object_new_array();
	size_t			 i;
	int			 rc;

	for (i = 0; i < w->ngroups; i++)
		json_object_array_add(arr, json_object_new_string(w->groups[i]));
	/* Heartbeat metadata carries its own groups; pushd's does not. */
	rc = w->metadata == NULL ? db_exec(db, sql_meta_groups, NULL, "ss",
	    pjson_str(arr, NULL), w->id) : 0;
	json_object_put(arr);
	if (rc == -1 || db_exec(db, sql_groups_clear, NULL, "s", w->id) == -1)
		return -1;
	for (i = 0; i < w->ngroups; i++)
		if (db_exec(db, sql_groups_add, NULL, "ss", w->id,
		    w->groups[i]) == -1)
			return -1;
	return 0;
}

/*
 * The name belongs to old_id, which is offline: free it (see registry.h).
 * 1 when retired, 0 when it went online meanwhile (a conflict after all).
 */
static int
registry_retire(struct db *db, struct registry_worker *w, const char *old_id)
{
	if (db_exec(db, sql_retire, NULL, "ss", w->id, old_id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	if (db_exec(db, sql_groups_clear, NULL, "s", old_id) == -1 ||
	    registry_event(db, old_id, "replaced") == -1)
		return -1;
	strlcpy_p(w->replaced, old_id, sizeof(w->replaced));
	return 1;
}

int
registry_online(struct db *db, struct registry_worker *w, int *conflict)
{
	struct db_res	*res;
	char		 old[ID_LEN + 1] = "";
	int		 was_online = 0, offline = 0, rc;

	*conflict = 0;
	w->created = 0;
	w->replaced[0] = '\0';
	if (db_exec(db, sql_by_name, &res, "s", w->name) == -1)
		return -1;
	if (db_res_rows(res) > 0 && strcmp(db_res_get(res, 0, 0), w->id) != 0) {
		strlcpy_p(old, db_res_get(res, 0, 0), sizeof(old));
		offline = strcmp(db_res_get(res, 0, 1), "offline") == 0;
	}
	db_res_free(res);
	if (old[0] != '\0') {
		if (!offline) {
			*conflict = 1;
			return 0;
		}
		if ((rc = registry_retire(db, w, old)) <= 0) {
			*conflict = rc == 0;
			return rc;
		}
	}
	/*
	 * Whether this call creates the row (the audit's worker.enroll): the
	 * insert cannot say, as CLIENT_FOUND_ROWS counts a duplicate as one
	 * row too. Two first beats of one new id at the same instant may
	 * both believe it; nothing else can.
	 */
	if (db_exec(db, sql_exists, &res, "s", w->id) == -1)
		return -1;
	w->created = db_res_rows(res) == 0;
	db_res_free(res);
	if (db_exec(db, sql_insert, NULL, "ss", w->id, w->name) == -1 ||
	    db_exec(db, sql_by_id, &res, "s", w->id) == -1)
		return -1;
	if (db_res_rows(res) > 0)
		was_online = strcmp(db_res_get(res, 0, 0), "online") == 0;
	db_res_free(res);
	/*
	 * The row is locked now. If the insert found the name taken by
	 * another id in the meantime, our id has no row (nothing matches),
	 * or renaming to that name breaks the unique key: the conflict.
	 */
	if (db_exec(db, sql_update, NULL, "ssbs", w->name, w->node,
	    w->metadata, w->metalen, w->id) == -1) {
		if (db_errcode(db) != 1062)	/* ER_DUP_ENTRY */
			return -1;
		*conflict = 1;
		return 0;
	}
	if (db_affected(db) == 0) {
		*conflict = 1;
		return 0;
	}
	if (w->version != NULL && db_exec(db, sql_version, NULL, "ss",
	    w->version, w->id) == -1)
		return -1;
	if (w->has_groups && registry_groups(db, w) == -1)
		return -1;
	return was_online ? 0 : registry_event(db, w->id, "online");
}
