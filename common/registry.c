/*
 * Worker rows. A worker may heartbeat over HTTP and connect its websocket
 * at the same moment, so creating the row must not fail when the other
 * path created it first: the insert is a no-op on any duplicate, and the
 * update that follows, locked by id, decides. The admin's decisions on a
 * worker (accept, revoke, rotate, its groups) are written here too, each
 * with the worker_trust_events row that tells every pushd.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "audit.h"
#include "db.h"
#include "events.h"
#include "id.h"
#include "xmalloc.h"
#include "pjson.h"
#include "registry.h"
#include "trust.h"

/*
 * Galera: the FOR UPDATE reads here lock on the local node only. What
 * makes a connect or an enroll safe across nodes is that each writes the
 * worker row it read (sql_update, sql_enroll_fill, ...), and a name is a
 * unique key (certified too): a second node's transaction is aborted at
 * COMMIT (1213) and rerun by db_txn, seeing the first one's row.
 */
static const char sql_by_name[] =
    "SELECT w.id, w.status, EXISTS (SELECT 1 FROM worker_keys k "
    "WHERE k.worker_id = w.id) FROM workers w WHERE w.name = ? FOR UPDATE";
/* CONCAT(LEFT(name, 200) ...) stays within VARCHAR(255) characters. */
static const char sql_retire[] =
    "UPDATE workers SET name = CONCAT(LEFT(name, 200), ' (replaced ', id, "
    "')'), pushd_node = NULL, metadata = JSON_SET(COALESCE(metadata, '{}'), "
    "'$.replaced_by', ?, '$.replaced_at', DATE_FORMAT(UTC_TIMESTAMP(), "
    "'%Y-%m-%dT%H:%i:%sZ')) WHERE id = ? AND status = 'offline'";
static const char sql_by_id[] =
    "SELECT status, state, replaces, name FROM workers WHERE id = ? "
    "FOR UPDATE";
static const char sql_insert[] =
    "INSERT INTO workers (id, name, status, last_heartbeat, metadata, state, "
    "replaces) VALUES (?, IF(? IS NULL, ?, CONCAT(LEFT(?, 200), "
    "' (candidate ', LEFT(?, 8), ')')), 'offline', NOW(), '{}', ?, ?) "
    "ON DUPLICATE KEY UPDATE id = id";
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
static const char sql_requested[] =
    "UPDATE workers SET requested_groups = JSON_EXTRACT(?, '$') WHERE id = ?";
static const char sql_groups_clear[] =
    "DELETE FROM worker_groups WHERE worker_id = ?";
static const char sql_groups_add[] =
    "INSERT IGNORE INTO worker_groups (worker_id, group_name) "
    "SELECT ?, j.g FROM JSON_TABLE(?, '$[*]' COLUMNS (g VARCHAR(255) "
    "PATH '$')) j";
static const char sql_granted[] =
    "SELECT JSON_ARRAYAGG(group_name ORDER BY group_name) "
    "FROM worker_groups WHERE worker_id = ?";
static const char sql_state_of[] =
    "SELECT state, name FROM workers WHERE id = ?";
/* An existing row that does not keep its state waits for an admin. */
static const char sql_enroll_fill[] =
    "UPDATE workers SET state = IF(?, state, 'pending'), "
    "requested_groups = JSON_EXTRACT(?, '$'), "
    "metadata = IF(? IS NULL, COALESCE(metadata, '{}'), "
    "JSON_SET(COALESCE(metadata, '{}'), '$.version', ?)) WHERE id = ?";
static const char sql_lock[] =
    "SELECT state, replaces, name, requested_groups, "
    "EXISTS (SELECT 1 FROM worker_keys k WHERE k.worker_id = w.id) "
    "FROM workers w WHERE id = ? FOR UPDATE";
static const char sql_set_state[] =
    "UPDATE workers SET state = ? WHERE id = ?";
static const char sql_revoke[] =
    "UPDATE workers SET state = 'revoked', rotation_requested_at = NULL "
    "WHERE id = ?";
static const char sql_rotate[] =
    "UPDATE workers SET rotation_requested_at = NOW(3) WHERE id = ?";
static const char sql_old_retire[] =
    "UPDATE workers SET name = CONCAT(LEFT(name, 200), ' (replaced ', "
    "LEFT(id, 8), ')'), state = 'revoked', rotation_requested_at = NULL "
    "WHERE id = ?";
/* At most one worker.key_refused row per worker every ten minutes. */
static const char sql_refused_due[] =
    "UPDATE workers SET key_refused_at = NOW(3) WHERE id = ? AND "
    "(key_refused_at IS NULL OR key_refused_at <= NOW(3) - INTERVAL 600 "
    "SECOND)";
static const char sql_name_of[] =
    "SELECT name FROM workers WHERE id = ?";
static const char sql_take_name[] =
    "UPDATE workers SET name = ?, replaces = NULL, state = 'accepted' "
    "WHERE id = ?";

int
registry_event(struct db *db, const char *worker_id, const char *status)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "worker_id", json_object_new_string(worker_id));
	json_object_object_add(p, "status", json_object_new_string(status));
	return events_append(db, "worker_update", NULL, worker_id, p);
}

int
registry_audit(struct db *db, const char *name, const char *client_addr,
    const char *worker_id, const char *why, struct json_object *details)
{
	struct audit_actor	 who;
	char			 actor[WORKER_NAME_MAX + 8];

	snprintf(actor, sizeof(actor), "worker:%s", name);
	who.name = actor;
	who.groups = NULL;
	who.client_addr = client_addr;
	if (why == NULL || *why == '\0')
		return audit_append(db, &who, "worker.enroll", "worker",
		    worker_id, details);
	if (details != NULL)
		json_object_object_add(details, "reason",
		    json_object_new_string(why));
	return audit_append(db, &who, "worker.key_refused", "worker",
	    worker_id, details);
}

int
registry_refused(struct db *db, const char *worker_id,
    const char *client_addr, const char *why, struct json_object *details,
    int *written)
{
	struct db_res	*res;
	char		 name[WORKER_NAME_MAX + 1] = "";
	int		 rc;

	*written = 0;
	if (db_exec(db, sql_refused_due, NULL, "s", worker_id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;	/* unknown, or written within the window */
	if (db_exec(db, sql_name_of, &res, "s", worker_id) == -1)
		return -1;
	if (db_res_rows(res) > 0)
		strlcpy_p(name, db_res_get(res, 0, 0), sizeof(name));
	db_res_free(res);
	/* The name on record: the one in the request is the caller's say. */
	if (details != NULL)
		json_object_object_add(details, "name",
		    json_object_new_string(name));
	if ((rc = registry_audit(db, name, client_addr, worker_id, why,
	    details)) == 0)
		*written = 1;
	return rc;
}

int
registry_granted(struct db *db, const char *worker_id,
    struct json_object **out)
{
	struct db_res	*res;
	const char	*g;
	char		 err[128];

	*out = NULL;
	if (db_exec(db, sql_granted, &res, "s", worker_id) == -1)
		return -1;
	g = db_res_get(res, 0, 0);
	if (g != NULL)
		*out = pjson_parse(g, strlen(g), 4, err, sizeof(err));
	if (*out == NULL)
		*out = json_object_new_array();
	db_res_free(res);
	return 0;
}

struct json_object *
registry_names(const char *const *v, size_t n)
{
	struct json_object	*arr = json_object_new_array();
	size_t			 i;

	for (i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

/* The granted groups: exactly those of the JSON array text. */
static int
registry_set_groups(struct db *db, const char *id, const char *granted)
{
	if (db_exec(db, sql_groups_clear, NULL, "s", id) == -1)
		return -1;
	return db_exec(db, sql_groups_add, NULL, "ss", id, granted);
}

/* What the agent asks for; granted only to a version-1 worker under
 * WORKER_AUTO_ACCEPT. */
static int
registry_requested(struct db *db, const struct registry_worker *w)
{
	struct json_object	*arr = registry_names(w->groups, w->ngroups);
	const char		*text = pjson_str(arr, NULL);
	int			 rc = -1;

	/* Heartbeat metadata carries its own groups; pushd's does not. */
	if (w->metadata == NULL && db_exec(db, sql_meta_groups, NULL, "ss",
	    text, w->id) == -1)
		goto fail;
	if (db_exec(db, sql_requested, NULL, "ss", text, w->id) == -1)
		goto fail;
	if (w->auto_accept && !w->keyed &&
	    strcmp(w->state, "accepted") == 0 &&
	    registry_set_groups(db, w->id, text) == -1)
		goto fail;
	rc = 0;
fail:
	json_object_put(arr);
	return rc;
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

/* The row of id as it stands, locked; *known 0 if none. */
struct registry_row {
	int	 known;
	int	 online;
	char	 state[16];
	char	 replaces[ID_LEN + 1];
	char	*name;
};

static int
registry_row(struct db *db, const char *id, struct registry_row *r)
{
	struct db_res	*res;

	memset(r, 0, sizeof(*r));
	if (db_exec(db, sql_by_id, &res, "s", id) == -1)
		return -1;
	if (db_res_rows(res) > 0) {
		r->known = 1;
		r->online = strcmp(db_res_get(res, 0, 0), "online") == 0;
		strlcpy_p(r->state, db_res_get(res, 0, 1), sizeof(r->state));
		if (db_res_get(res, 0, 2) != NULL)
			strlcpy_p(r->replaces, db_res_get(res, 0, 2),
			    sizeof(r->replaces));
		r->name = xstrdup(db_res_get(res, 0, 3));
	}
	db_res_free(res);
	return 0;
}

int
registry_online(struct db *db, struct registry_worker *w, int *conflict)
{
	struct db_res		*res;
	struct registry_row	 me;
	const char		*name = w->name, *candidate = NULL;
	char			 old[ID_LEN + 1] = "";
	int			 offline = 0, old_keyed = 0, rc = -1;

	*conflict = 0;
	w->created = 0;
	w->name_kept = 0;
	w->replaced[0] = '\0';
	w->state[0] = '\0';
	if (w->keyed) {
		/*
		 * Its name was fixed when it enrolled (or an admin accepted
		 * it): what an agent claims afterwards never widens what it
		 * receives (SPEC section 12), so another name here would
		 * take a deleted worker's name: commands or a group's name.
		 */
		if (registry_row(db, w->id, &me) == -1)
			return -1;
		if (!me.known) {
			*conflict = 1;	/* deleted meanwhile */
			return 0;
		}
		strlcpy_p(w->state, me.state, sizeof(w->state));
		name = me.name;
		w->name_kept = strcmp(w->name, me.name) != 0;
		goto update;
	}
	if (db_exec(db, sql_by_name, &res, "s", w->name) == -1)
		return -1;
	if (db_res_rows(res) > 0 && strcmp(db_res_get(res, 0, 0), w->id) != 0) {
		strlcpy_p(old, db_res_get(res, 0, 0), sizeof(old));
		offline = strcmp(db_res_get(res, 0, 1), "offline") == 0;
		old_keyed = db_res_int(res, 0, 2, 0) != 0;
	}
	db_res_free(res);
	if (registry_row(db, w->id, &me) == -1)
		return -1;
	if (old[0] != '\0') {
		if (me.known && strcmp(me.replaces, old) == 0)
			name = me.name;		/* a candidate keeps its name */
		else if (me.known || (w->auto_accept && !old_keyed &&
		    !offline)) {
			/* Not its name to take; an online one keeps it. */
			*conflict = 1;
			rc = 0;
			goto out;
		} else if (w->auto_accept && !old_keyed) {
			/* Version 1: take an offline worker's name at once. */
			if ((rc = registry_retire(db, w, old)) <= 0) {
				*conflict = rc == 0;
				goto out;
			}
			rc = -1;
		} else
			candidate = old;
	}
	w->created = !me.known;
	if (!me.known) {
		const char *state = w->auto_accept && candidate == NULL ?
		    "accepted" : "pending";

		if (db_exec(db, sql_insert, NULL, "sssssss", w->id, candidate,
		    w->name, w->name, w->id, state, candidate) == -1)
			goto out;
	}
	if (db_exec(db, sql_state_of, &res, "s", w->id) == -1)
		goto out;
	if (db_res_rows(res) > 0) {
		strlcpy_p(w->state, db_res_get(res, 0, 0), sizeof(w->state));
		if (candidate != NULL) {
			free(me.name);
			me.name = xstrdup(db_res_get(res, 0, 1));
			name = me.name;
		}
	}
	db_res_free(res);
update:
	/*
	 * The row is locked now. If the insert found the name taken by
	 * another id in the meantime, our id has no row (nothing matches),
	 * or renaming to that name breaks the unique key: the conflict.
	 */
	if (db_exec(db, sql_update, NULL, "ssbs", name, w->node,
	    w->metadata, w->metalen, w->id) == -1) {
		if (db_errcode(db) != 1062)	/* ER_DUP_ENTRY */
			goto out;
		*conflict = 1;
		rc = 0;
		goto out;
	}
	if (db_affected(db) == 0) {
		*conflict = 1;
		rc = 0;
		goto out;
	}
	if (w->version != NULL && db_exec(db, sql_version, NULL, "ss",
	    w->version, w->id) == -1)
		goto out;
	if (w->has_groups && registry_requested(db, w) == -1)
		goto out;
	rc = me.online ? 0 : registry_event(db, w->id, "online");
out:
	free(me.name);
	return rc;
}

int
registry_enroll(struct db *db, struct registry_enroll *e)
{
	struct db_res		*res;
	struct registry_row	 me;
	const char		*candidate = NULL;
	int			 rc = -1;

	e->created = 0;
	if (registry_row(db, e->id, &me) == -1)
		return -1;
	if (!me.known) {
		if (db_exec(db, sql_by_name, &res, "s", e->name) == -1)
			goto out;
		if (db_res_rows(res) > 0)
			candidate = db_res_get(res, 0, 0);
		if (db_exec(db, sql_insert, NULL, "sssssss", e->id, candidate,
		    e->name, e->name, e->id, e->accept && candidate == NULL ?
		    "accepted" : "pending", candidate) == -1) {
			db_res_free(res);
			goto out;
		}
		db_res_free(res);
		e->created = 1;
		/* A candidate waits for an admin, whatever let it in. */
		if (candidate != NULL)
			e->accept = 0;
	}
	/*
	 * An existing (keyless) id is no proof of being that worker: its
	 * UUID is listed to every signed-in user. So enrolling into it never
	 * accepts it, nor grants the token's groups: it becomes pending (the
	 * shared key under WORKER_AUTO_ACCEPT keeps its state, as a version-1
	 * connect would) and an admin decides.
	 */
	if (!e->created)
		e->accept = 0;
	if (db_exec(db, sql_enroll_fill, NULL, "issss", (long long)(e->created ||
	    e->keep_state), e->requested, e->version, e->version, e->id) == -1)
		goto out;
	if (e->granted != NULL && e->accept &&
	    registry_set_groups(db, e->id, e->granted) == -1)
		goto out;
	if (db_exec(db, sql_state_of, &res, "s", e->id) == -1)
		goto out;
	if (db_res_rows(res) > 0) {
		strlcpy_p(e->state, db_res_get(res, 0, 0), sizeof(e->state));
		strlcpy_p(e->name_out, db_res_get(res, 0, 1),
		    sizeof(e->name_out));
	}
	db_res_free(res);
	/* A version-1 worker that now has a key: its shared-key socket, if
	 * any, is closed, and only the key gets in again. */
	if (!e->created && trust_event(db, e->id, "enroll") == -1)
		goto out;
	rc = registry_event(db, e->id, "enrolled");
out:
	free(me.name);
	return rc;
}

/* The row of an admin's decision, locked: -1 db error, 0 none, 1 found. */
struct registry_locked {
	char	 state[16];
	char	 replaces[ID_LEN + 1];
	char	 name[WORKER_NAME_MAX + 1];
	char	*requested;
	int	 keyed;
};

static int
registry_lock(struct db *db, const char *id, struct registry_locked *l)
{
	struct db_res	*res;
	int		 found;

	memset(l, 0, sizeof(*l));
	if (db_exec(db, sql_lock, &res, "s", id) == -1)
		return -1;
	found = db_res_rows(res) > 0;
	if (found) {
		strlcpy_p(l->state, db_res_get(res, 0, 0), sizeof(l->state));
		if (db_res_get(res, 0, 1) != NULL)
			strlcpy_p(l->replaces, db_res_get(res, 0, 1),
			    sizeof(l->replaces));
		strlcpy_p(l->name, db_res_get(res, 0, 2), sizeof(l->name));
		l->requested = xstrdup(db_res_get(res, 0, 3) != NULL ?
		    db_res_get(res, 0, 3) : "[]");
		l->keyed = db_res_int(res, 0, 4, 0) != 0;
	}
	db_res_free(res);
	return found;
}

/* The name a candidate asked for: its stored name without the suffix. */
static void
registry_wanted_name(const struct registry_locked *c, const char *id,
    char *out, size_t len)
{
	char	 suffix[32];
	size_t	 n = strlen(c->name), s;

	snprintf(suffix, sizeof(suffix), " (candidate %.8s)", id);
	s = strlen(suffix);
	strlcpy_p(out, c->name, len);
	if (n > s && strcmp(c->name + n - s, suffix) == 0 && n - s < len)
		out[n - s] = '\0';
}

/* The worker the candidate replaces dies; the candidate takes its name. */
static int
registry_take_over(struct db *db, const char *id,
    const struct registry_locked *c, char replaced[ID_LEN + 1])
{
	struct registry_locked	 old;
	char			 name[WORKER_NAME_MAX + 1];
	int			 found;

	if ((found = registry_lock(db, c->replaces, &old)) == -1)
		return -1;
	registry_wanted_name(c, id, name, sizeof(name));
	if (found) {
		strlcpy_p(name, old.name, sizeof(name));
		free(old.requested);
		if (db_exec(db, sql_old_retire, NULL, "s", c->replaces) == -1 ||
		    trust_keys_revoke(db, c->replaces) == -1 ||
		    trust_event(db, c->replaces, "revoke") == -1 ||
		    registry_event(db, c->replaces, "revoked") == -1)
			return -1;
		strlcpy_p(replaced, c->replaces, ID_LEN + 1);
	}
	return db_exec(db, sql_take_name, NULL, "ss", name, id);
}

int
registry_accept(struct db *db, const char *id, const char *granted,
    int *found, char *why, char replaced[ID_LEN + 1])
{
	struct registry_locked	 l;
	int			 rc = -1;

	why[0] = '\0';
	replaced[0] = '\0';
	if ((*found = registry_lock(db, id, &l)) <= 0)
		return *found;
	if (strcmp(l.state, "revoked") == 0) {
		snprintf(why, TRUST_WHY_MAX, "worker is revoked: it must "
		    "enroll again");
		rc = 0;
		goto out;
	}
	if (strcmp(l.state, "accepted") == 0 && l.replaces[0] == '\0') {
		/* Again: only groups given now change what it has. */
		rc = granted == NULL ? 0 : registry_grant(db, id, granted,
		    found, why);
		goto out;
	}
	if (l.replaces[0] != '\0') {
		if (registry_take_over(db, id, &l, replaced) == -1)
			goto out;
	} else if (db_exec(db, sql_set_state, NULL, "ss", "accepted", id) == -1)
		goto out;
	if (registry_set_groups(db, id, granted != NULL ? granted :
	    l.requested) == -1 || trust_event(db, id, "accept") == -1 ||
	    registry_event(db, id, "accepted") == -1)
		goto out;
	rc = 0;
out:
	free(l.requested);
	return rc;
}

int
registry_revoke(struct db *db, const char *id, int *found, char *why)
{
	struct registry_locked	 l;

	why[0] = '\0';
	if ((*found = registry_lock(db, id, &l)) <= 0)
		return *found;
	free(l.requested);
	if (db_exec(db, sql_revoke, NULL, "s", id) == -1 ||
	    trust_keys_revoke(db, id) == -1 ||
	    trust_event(db, id, "revoke") == -1)
		return -1;
	return registry_event(db, id, "revoked");
}

int
registry_rotate(struct db *db, const char *id, int *found, char *why)
{
	struct registry_locked	 l;

	why[0] = '\0';
	if ((*found = registry_lock(db, id, &l)) <= 0)
		return *found;
	free(l.requested);
	if (strcmp(l.state, "revoked") == 0) {
		snprintf(why, TRUST_WHY_MAX, "worker is revoked");
		return 0;
	}
	if (!l.keyed) {
		snprintf(why, TRUST_WHY_MAX, "worker has no key of its own (a "
		    "version-1 agent using the shared key): nothing to rotate");
		return 0;
	}
	if (db_exec(db, sql_rotate, NULL, "s", id) == -1)
		return -1;
	return trust_event(db, id, "rotate");
}

int
registry_grant(struct db *db, const char *id, const char *granted,
    int *found, char *why)
{
	struct registry_locked	 l;

	why[0] = '\0';
	if ((*found = registry_lock(db, id, &l)) <= 0)
		return *found;
	free(l.requested);
	if (registry_set_groups(db, id, granted) == -1)
		return -1;
	return trust_event(db, id, "groups");
}

/* -------------------------------------- writes for the other modules */

static const char sql_rotation_done[] =
    "UPDATE workers SET rotation_requested_at = NULL WHERE id = ?";
static const char sql_delete[] = "DELETE FROM workers WHERE id = ?";
static const char sql_delete_offline[] =
    "DELETE FROM workers WHERE id = ? AND status = 'offline'";
static const char sql_node_workers[] =
    "SELECT id FROM workers WHERE pushd_node = ?";
static const char sql_node_detach[] =
    "UPDATE workers SET pushd_node = NULL WHERE id = ? AND pushd_node = ?";
/* Galera: the read may be stale; sql_worker_offline is conditional on
 * pushd_node and its count decides the event (a reattach on another node
 * writes the same row: one of the two is aborted and rerun). */
static const char sql_worker_attached[] =
    "SELECT status FROM workers WHERE id = ? AND pushd_node = ? FOR UPDATE";
static const char sql_worker_offline[] =
    "UPDATE workers SET status = 'offline', pushd_node = NULL "
    "WHERE id = ? AND pushd_node = ?";
static const char sql_worker_touch[] =
    "UPDATE workers SET last_heartbeat = NOW() WHERE id = ? "
    "AND pushd_node = ?";
static const char sql_worker_revive[] =
    "UPDATE workers SET status = 'online' WHERE id = ? AND pushd_node = ? "
    "AND status <> 'online'";
/* Galera: candidates of any pushd's workers (a dead pushd's too); each is
 * marked by sql_worker_stale, conditional, its count checked. */
static const char sql_workers_silent[] =
    "SELECT id FROM workers WHERE status = 'online' AND (last_heartbeat IS "
    "NULL OR last_heartbeat < NOW() - INTERVAL ? SECOND) "
    "LIMIT 100 FOR UPDATE SKIP LOCKED";
static const char sql_worker_stale[] =
    "UPDATE workers SET status = 'offline', pushd_node = NULL WHERE id = ? "
    "AND status = 'online'";

/* An offered key acked: no rotation is asked for any more. */
static int
rotation_done(struct db *db, const char *worker_id)
{
	return db_exec(db, sql_rotation_done, NULL, "s", worker_id);
}

int
registry_check(struct db *db, const char *worker_id, const char *key_hash,
    char why[TRUST_WHY_MAX], int *acked, int *keyed)
{
	int	 ok = 0;

	if (trust_check(db, worker_id, key_hash, why, &ok, keyed) == -1 ||
	    (ok && rotation_done(db, worker_id) == -1))
		return -1;
	if (acked != NULL)
		*acked = ok;
	return 0;
}

int
registry_key_ack(struct db *db, const char *worker_id, long long key_id,
    int *ok)
{
	if (trust_key_ack(db, worker_id, key_id, ok) == -1 ||
	    (*ok && rotation_done(db, worker_id) == -1))
		return -1;
	return 0;
}

int
registry_delete(struct db *db, const char *id, int *found)
{
	*found = 0;
	if (db_exec(db, sql_delete, NULL, "s", id) == -1)
		return -1;
	*found = db_affected(db) > 0;
	return 0;
}

int
registry_prune(struct db *db, const char *id)
{
	if (db_exec(db, sql_delete_offline, NULL, "s", id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	/* As DELETE /api/workers/:id: the dashboards drop it. */
	return registry_event(db, id, "deleted") == -1 ? -1 : 1;
}

int
registry_detach_others(struct db *db, const char *node,
    int (*held)(const char *, void *), void *arg, size_t *n)
{
	struct db_res	*res;
	size_t		 i;
	int		 rc = -1;

	*n = 0;
	if (db_exec(db, sql_node_workers, &res, "s", node) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		const char *id = db_res_get(res, i, 0);

		if (held(id, arg))
			continue;
		if (db_exec(db, sql_node_detach, NULL, "ss", id, node) == -1)
			goto fail;
		*n += (size_t)db_affected(db);
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

/*
 * Detached as well: a worker on no pushd has no commands claimed for it,
 * even while its HTTP heartbeats keep it online.
 */
int
registry_offline(struct db *db, const char *node, const char *id)
{
	struct db_res	*res;
	int		 was_online;

	if (db_exec(db, sql_worker_attached, &res, "ss", id, node) == -1)
		return -1;
	/* Attached elsewhere by now: not ours to say. */
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return 0;
	}
	was_online = strcmp(db_res_get(res, 0, 0), "online") == 0;
	db_res_free(res);
	if (db_exec(db, sql_worker_offline, NULL, "ss", id, node) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;	/* reattached elsewhere meanwhile */
	return was_online ? registry_event(db, id, "offline") : 0;
}

int
registry_touch(struct db *db, const char *node, const char *id)
{
	if (db_exec(db, sql_worker_touch, NULL, "ss", id, node) == -1 ||
	    db_exec(db, sql_worker_revive, NULL, "ss", id, node) == -1)
		return -1;
	/* Marked stale while connected here (a slow poll): undo. */
	if (db_affected(db) == 1 && registry_event(db, id, "online") == -1)
		return -1;
	return 0;
}

int
registry_stale(struct db *db, int secs, size_t *n)
{
	struct db_res	*res;
	size_t		 i;
	int		 rc = -1;

	if (db_exec(db, sql_workers_silent, &res, "i", (long long)secs) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		const char *id = db_res_get(res, i, 0);

		if (db_exec(db, sql_worker_stale, NULL, "s", id) == -1)
			goto fail;
		if (db_affected(db) != 1)
			continue;
		if (registry_event(db, id, "offline") == -1)
			goto fail;
		(*n)++;
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}
