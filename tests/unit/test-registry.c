/*
 * Unit tests for common/registry.c against a real MariaDB: a worker
 * becomes online once, its name is its own, and the HTTP and websocket
 * paths may register the same worker at the same time.
 */
#include <string.h>

#include "dbtest.h"
#include "id.h"
#include "registry.h"
#include "test.h"

static const char sql_row[] =
    "SELECT name, status, pushd_node, JSON_VALUE(metadata, '$.version') "
    "FROM workers WHERE id = ?";
static const char sql_groups[] =
    "SELECT GROUP_CONCAT(group_name ORDER BY group_name) FROM worker_groups "
    "WHERE worker_id = ?";
static const char sql_trust[] =
    "SELECT state, CONCAT_WS(',', JSON_VALUE(requested_groups, '$[0]'), "
    "JSON_VALUE(requested_groups, '$[1]')), replaces, name "
    "FROM workers WHERE id = ?";
static const char sql_events[] =
    "SELECT COUNT(*) FROM events WHERE worker_id = ? AND type = "
    "'worker_update'";
static const char sql_clean[] = "DELETE FROM workers WHERE name LIKE 'rg-%'";

static struct db *db;

static const char *
cell(const char *sql, const char *id, int col)
{
	static char	 buf[256];
	struct db_res	*r;

	buf[0] = '\0';
	if (db_exec(db, sql, &r, "s", id) == 0 && db_res_get(r, 0, col))
		snprintf(buf, sizeof(buf), "%s", db_res_get(r, 0, col));
	db_res_free(r);
	return buf;
}

static int
online(struct db *d, struct registry_worker *w, int *conflict)
{
	if (db_begin(d) == -1)
		return -1;
	if (registry_online(d, w, conflict) == -1) {
		db_rollback(d);
		return -1;
	}
	return db_commit(d);
}

int
main(void)
{
	struct registry_worker	 w;
	struct db		*other;
	const char		*groups[] = { "db", "demo" };
	char			 id[ID_LEN + 1], id2[ID_LEN + 1];
	int			 conflict, c2;

	db = dbtest_open();
	other = dbtest_open();
	db_exec(db, sql_clean, NULL, "");
	id_new(id);
	id_new(id2);
	memset(&w, 0, sizeof(w));
	w.id = id;
	w.name = "rg-one";
	w.node = "node-a";
	w.version = "1.2.3";
	w.groups = groups;
	w.ngroups = 2;
	w.has_groups = 1;
	test_cond("a new worker registers", online(db, &w, &conflict) == 0 &&
	    !conflict);
	test_cond("it is online on its node",
	    strcmp(cell(sql_row, id, 1), "online") == 0 &&
	    strcmp(cell(sql_row, id, 2), "node-a") == 0);
	test_cond("version kept in metadata",
	    strcmp(cell(sql_row, id, 3), "1.2.3") == 0);
	test_cond("new, it is pending (SPEC section 12)",
	    strcmp(cell(sql_trust, id, 0), "pending") == 0 &&
	    strcmp(w.state, "pending") == 0);
	test_cond("the groups it asks for are requested",
	    strcmp(cell(sql_trust, id, 1), "db,demo") == 0);
	test_cond("... and not granted", cell(sql_groups, id, 0)[0] == '\0');
	test_cond("one worker_update event",
	    strcmp(cell(sql_events, id, 0), "1") == 0);
	w.node = NULL;
	w.version = NULL;
	test_cond("registering again is fine", online(db, &w, &conflict) == 0 &&
	    !conflict);
	test_cond("no new event while it stays online",
	    strcmp(cell(sql_events, id, 0), "1") == 0);
	test_cond("a NULL node keeps the node",
	    strcmp(cell(sql_row, id, 2), "node-a") == 0);

	w.id = id2;
	test_cond("another id with the same name is no conflict",
	    online(db, &w, &conflict) == 0 && !conflict);
	test_cond("it is a pending replacement candidate naming the other",
	    strcmp(cell(sql_trust, id2, 0), "pending") == 0 &&
	    strcmp(cell(sql_trust, id2, 2), id) == 0);
	test_cond("under a name of its own",
	    strncmp(cell(sql_trust, id2, 3), "rg-one (candidate ", 18) == 0);
	test_cond("registering it again keeps that name",
	    online(db, &w, &conflict) == 0 && !conflict &&
	    strncmp(cell(sql_trust, id2, 3), "rg-one (candidate ", 18) == 0);
	id_new(id2);
	w.id = id2;
	w.auto_accept = 1;
	test_cond("with WORKER_AUTO_ACCEPT, an online name conflicts",
	    online(db, &w, &conflict) == 0 && conflict);
	test_cond("and creates nothing", cell(sql_row, id2, 0)[0] == '\0');
	w.name = "rg-auto";
	test_cond("with WORKER_AUTO_ACCEPT a new keyless worker is accepted",
	    online(db, &w, &conflict) == 0 && !conflict &&
	    strcmp(cell(sql_trust, id2, 0), "accepted") == 0);
	test_cond("... and granted what it asks (version 1)",
	    strcmp(cell(sql_groups, id2, 0), "db,demo") == 0);
	w.keyed = 1;
	w.ngroups = 1;
	w.groups = groups + 1;
	test_cond("a worker with a key of its own asks again",
	    online(db, &w, &conflict) == 0 && !conflict);
	test_cond("... which changes its request, not its groups",
	    strcmp(cell(sql_trust, id2, 1), "demo") == 0 &&
	    strcmp(cell(sql_groups, id2, 0), "db,demo") == 0);
	w.keyed = 0;
	w.auto_accept = 0;
	w.groups = groups;
	w.ngroups = 2;

	w.id = id;
	w.name = "rg-renamed";
	test_cond("a worker may rename itself", online(db, &w, &conflict) ==
	    0 && !conflict && strcmp(cell(sql_row, id, 0), "rg-renamed") == 0);

	/* Both paths at once: the second waits for the first's row lock and
	 * then finds the row, rather than failing on a duplicate key. */
	id_new(id2);
	w.id = id2;
	w.name = "rg-race";
	db_begin(db);
	test_cond("first registration in an open transaction",
	    registry_online(db, &w, &conflict) == 0 && !conflict);
	db_commit(db);
	db_begin(other);
	test_cond("second path registers the same worker without error",
	    registry_online(other, &w, &c2) == 0 && !c2);
	db_commit(other);
	test_cond("one row, online", strcmp(cell(sql_row, id2, 1),
	    "online") == 0);

	db_exec(db, sql_clean, NULL, "");
	db_free(db);
	db_free(other);
	config_free(&dbtest_cfg);
	mysql_library_end();
	test_report();
}
