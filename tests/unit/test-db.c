/*
 * Unit tests for common/db.c against a real MariaDB: binding, results,
 * transactions, and recovery when the server drops the connection.
 */
#include <string.h>

#include "dbtest.h"
#include "test.h"

static const char sql_drop[] = "DROP TABLE IF EXISTS t_dbtest";
static const char sql_create[] =
    "CREATE TABLE t_dbtest (id INT PRIMARY KEY, s VARCHAR(64) NULL, "
    "b BLOB NULL, n BIGINT NULL) ENGINE=InnoDB";
static const char sql_ins[] = "INSERT INTO t_dbtest VALUES (?, ?, ?, ?)";
static const char sql_sel[] = "SELECT id, s, b, n FROM t_dbtest WHERE id = ?";
static const char sql_count[] = "SELECT COUNT(*) FROM t_dbtest";
static const char sql_upd[] =
    "UPDATE t_dbtest SET s = ? WHERE id = ? AND s = ?";
static const char sql_connid[] = "SELECT CONNECTION_ID()";
static const char sql_kill[] = "KILL CONNECTION ?";
static const char sql_bad[] = "SELEC nonsense";
static const char sql_two[] = "SELECT ? + ?";

static struct db *victim_for_txn;
static int txn_runs;

/* Kill our own connection from another one, as a server restart would. */
static void
kill_conn(struct db *killer, struct db *victim)
{
	struct db_res	*r;

	db_exec(victim, sql_connid, &r, "");
	db_exec(killer, sql_kill, NULL, "i", db_res_int(r, 0, 0, 0));
	db_res_free(r);
}

static struct db *killer;

static int
txn_fn(struct db *db, void *arg)
{
	(void)arg;
	txn_runs++;
	if (txn_runs == 1)
		kill_conn(killer, victim_for_txn);
	return db_exec(db, sql_ins, NULL, "isbi", 50LL, "txn", "x", (size_t)1,
	    1LL);
}

static int
txn_abort(struct db *db, void *arg)
{
	(void)arg;
	if (db_exec(db, sql_ins, NULL, "isbn", 60LL, "gone", "x", (size_t)1) ==
	    -1)
		return -1;
	db_seterr(db, 0, "caller said no");
	return -1;
}

int
main(void)
{
	struct db	*db = dbtest_open();
	struct db_res	*r = NULL;
	int		 rc;

	killer = dbtest_open();
	test_cond("connect", db_connect(db) == 0);
	test_cond("ping", db_ping(db) == 0);
	test_cond("create table", db_exec(db, sql_drop, NULL, "") == 0 &&
	    db_exec(db, sql_create, NULL, "") == 0);

	rc = db_exec(db, sql_ins, NULL, "isbi", 1LL, "one", "a\0b", (size_t)3,
	    -5LL);
	test_cond("insert with s, b, i", rc == 0 && db_affected(db) == 1);
	rc = db_exec(db, sql_ins, NULL, "isbn", 2LL, (char *)NULL, NULL,
	    (size_t)0);
	test_cond("insert NULLs", rc == 0);
	rc = db_exec(db, sql_sel, &r, "i", 1LL);
	test_cond("select one row", rc == 0 && db_res_rows(r) == 1 &&
	    db_res_cols(r) == 4);
	test_cond("string cell", strcmp(db_res_get(r, 0, 1), "one") == 0);
	test_cond("blob with NUL keeps its length", db_res_len(r, 0, 2) == 3 &&
	    memcmp(db_res_get(r, 0, 2), "a\0b", 3) == 0);
	test_cond("negative integer", db_res_int(r, 0, 3, 0) == -5);
	db_res_free(r);
	rc = db_exec(db, sql_sel, &r, "i", 2LL);
	test_cond("NULL cells are NULL", rc == 0 && db_res_get(r, 0, 1) ==
	    NULL && db_res_get(r, 0, 2) == NULL);
	test_cond("NULL int gives default", db_res_int(r, 0, 3, 42) == 42);
	test_cond("out of range cell is NULL", db_res_get(r, 5, 0) == NULL &&
	    db_res_get(r, 0, 9) == NULL);
	db_res_free(r);
	rc = db_exec(db, sql_sel, &r, "i", 99LL);
	test_cond("no rows", rc == 0 && db_res_rows(r) == 0);
	db_res_free(r);

	rc = db_exec(db, sql_upd, NULL, "sis", "uno", 1LL, "one");
	test_cond("conditional update matches", rc == 0 &&
	    db_affected(db) == 1);
	rc = db_exec(db, sql_upd, NULL, "sis", "again", 1LL, "one");
	test_cond("conditional update on stale state matches nothing",
	    rc == 0 && db_affected(db) == 0);
	rc = db_exec(db, sql_ins, NULL, "isbi", 1LL, "dup", "", (size_t)0, 0LL);
	test_cond("duplicate key fails with its code", rc == -1 &&
	    db_errcode(db) == 1062 && !db_down(db));
	test_cond("syntax error fails", db_exec(db, sql_bad, NULL, "") == -1 &&
	    strstr(db_errmsg(db), "syntax") != NULL);
	test_cond("wrong parameter count fails", db_exec(db, sql_two, NULL,
	    "i", 1LL) == -1);
	test_cond("bad format character fails", db_exec(db, sql_two, NULL,
	    "xx") == -1);

	/* A killed connection: the next statement reconnects, re-prepares
	 * (the old statement handles are gone) and runs once more. */
	kill_conn(killer, db);
	rc = db_exec(db, sql_sel, &r, "i", 1LL);
	test_cond("statement retried after the connection was killed",
	    rc == 0 && db_res_rows(r) == 1);
	db_res_free(r);

	/* Transactions. */
	test_cond("begin", db_begin(db) == 0);
	db_exec(db, sql_ins, NULL, "isbi", 10LL, "rolled", "", (size_t)0, 0LL);
	db_rollback(db);
	db_exec(db, sql_sel, &r, "i", 10LL);
	test_cond("rollback undoes", db_res_rows(r) == 0);
	db_res_free(r);
	test_cond("begin again", db_begin(db) == 0);
	db_exec(db, sql_ins, NULL, "isbi", 11LL, "kept", "", (size_t)0, 0LL);
	test_cond("commit", db_commit(db) == 0);
	db_exec(db, sql_sel, &r, "i", 11LL);
	test_cond("commit keeps", db_res_rows(r) == 1);
	db_res_free(r);

	victim_for_txn = db;
	rc = db_txn(db, txn_fn, NULL);
	test_cond("db_txn reruns once after losing the connection",
	    rc == 0 && txn_runs == 2);
	db_exec(db, sql_sel, &r, "i", 50LL);
	test_cond("the rerun's work is there once", db_res_rows(r) == 1);
	db_res_free(r);
	rc = db_txn(db, txn_abort, NULL);
	test_cond("db_txn rolls back when fn fails", rc == -1);
	db_exec(db, sql_sel, &r, "i", 60LL);
	test_cond("nothing of the failed txn remains", db_res_rows(r) == 0);
	db_res_free(r);
	db_exec(db, sql_count, &r, "");
	test_cond("row count", db_res_int(r, 0, 0, -1) == 4);
	db_res_free(r);

	db_exec(db, sql_drop, NULL, "");
	db_free(db);
	db_free(killer);
	config_free(&dbtest_cfg);
	mysql_library_end();
	test_report();
}
