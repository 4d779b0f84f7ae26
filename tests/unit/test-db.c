/*
 * Unit tests for common/db.c against a real MariaDB: binding, results,
 * transactions, and recovery when the server drops the connection.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static const char sql_lockwait[] = "SET SESSION innodb_lock_wait_timeout = 1";
static const char sql_upd_id[] = "UPDATE t_dbtest SET n = n + 1 WHERE id = ?";

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

static long long
conn_id(struct db *db)
{
	struct db_res	*r;
	long long	 id;

	db_exec(db, sql_connid, &r, "");
	id = db_res_int(r, 0, 0, -1);
	db_res_free(r);
	return id;
}

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

static int	 conflict_runs, conflict_release;
static char	 hook_node[128];
static int	 hook_calls;

static void
node_hook(const char *node)
{
	snprintf(hook_node, sizeof(hook_node), "%s", node);
	hook_calls++;
}

/*
 * A lock wait time-out (1205): while killer holds row 11, the update
 * waits 1 s and fails; db_txn reruns fn after a pause. From run
 * conflict_release on, killer commits first, so the update goes through.
 */
static int
txn_conflict(struct db *db, void *arg)
{
	(void)arg;
	conflict_runs++;
	if (conflict_runs == conflict_release)
		db_commit(killer);
	else if (conflict_runs < conflict_release || conflict_release == 0) {
		if (conflict_runs == 1 && (db_begin(killer) == -1 ||
		    db_exec(killer, sql_upd_id, NULL, "i", 11LL) == -1))
			return 0;	/* runs stays 1: the test fails */
	}
	if (db_exec(db, sql_lockwait, NULL, "") == -1)
		return -1;
	return db_exec(db, sql_upd_id, NULL, "i", 11LL);
}

/*
 * A caller that goes on past a conflict (as report.c's definition read
 * did under engine_finish): the server has rolled back (1213) or given up
 * on the statement (1205), so whatever follows must not run, commit or
 * autocommit. Run 1 meets killer's lock on row 11, swallows the 1205 and
 * inserts row 70; from run 2 killer has committed.
 */
static int	 swallow_runs;
static unsigned	 swallow_after;		/* the insert's error in run 1 */

static int
txn_swallow(struct db *db, void *arg)
{
	(void)arg;
	if (++swallow_runs == 1) {
		if (db_begin(killer) == -1 ||
		    db_exec(killer, sql_upd_id, NULL, "i", 11LL) == -1)
			return -1;
	} else if (swallow_runs == 2)
		db_commit(killer);
	if (db_exec(db, sql_lockwait, NULL, "") == -1)
		return -1;
	(void)db_exec(db, sql_upd_id, NULL, "i", 11LL);
	if (db_exec(db, sql_ins, NULL, "isbi", 70LL, "once", "", (size_t)0,
	    0LL) == -1 && swallow_runs == 1)
		swallow_after = db_errcode(db);
	return 0;
}

/* A TCP port on 127.0.0.1 that refuses: bound, never listening. */
static int
dead_port(int *fd)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((*fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(*fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(*fd, (struct sockaddr *)&sin, &len) == -1)
		return 0;
	return ntohs(sin.sin_port);
}

/* A TCP port on 127.0.0.1 that takes connections but never answers, as
 * a frozen server's: listening, never accepting. */
static int
silent_port(int *fd)
{
	int	 port = dead_port(fd);

	if (port == 0 || listen(*fd, 8) == -1)
		return 0;
	return port;
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct db *
open_list(const char *list)
{
	struct db_params p;

	memset(&p, 0, sizeof(p));
	p.host = list;
	p.port = (unsigned)dbtest_cfg.db_port;
	p.socket = NULL;
	p.user = dbtest_cfg.db_user;
	p.password = dbtest_cfg.db_password;
	p.name = dbtest_cfg.db_name;
	p.timeout = 1;
	p.wsrep_sync_wait = 1;
	return db_new(&p);
}

/* DB_HOST lists over TCP: the stack's server on 127.0.0.1:DB_PORT. */
static void
test_host_list(void)
{
	struct db	*db, *tkiller;
	struct db_res	*r = NULL;
	char		 list[128], live[64];
	long long	 t0, t1, id0;
	int		 fd = -1, dead = dead_port(&fd), rc;

	test_cond("a dead loopback port", dead > 0);
	snprintf(live, sizeof(live), "127.0.0.1:%d", dbtest_cfg.db_port);
	/* KILL needs the same account: pulse@127.0.0.1 over TCP. */
	tkiller = open_list(live);
	db_set_node_hook(node_hook);

	snprintf(list, sizeof(list), "127.0.0.1:%d,%s", dead, live);
	db = open_list(list);
	test_cond("a dead first entry: connects to the second",
	    db_connect(db) == 0 && strcmp(db_current_host(db), live) == 0);
	test_cond("the switch is told once, with host:port",
	    hook_calls == 1 && strcmp(hook_node, live) == 0);
	test_cond("and statements run there", db_ping(db) == 0);
	id0 = conn_id(db);
	kill_conn(tkiller, db);
	rc = db_exec(db, sql_sel, &r, "i", 1LL);
	test_cond("a killed connection reconnects through the list",
	    rc == 0 && db_res_rows(r) == 1 && conn_id(db) != id0 &&
	    strcmp(db_current_host(db), live) == 0);
	db_res_free(r);
	test_cond("back on the same node: no second switch", hook_calls == 1);
	db_free(db);

	hook_calls = 0;
	db = open_list(live);
	test_cond("one entry connects as before", db_connect(db) == 0 &&
	    strcmp(db_current_host(db), live) == 0);
	test_cond("one entry: nothing to tell", hook_calls == 0);
	db_free(db);

	snprintf(list, sizeof(list), "127.0.0.1:%d,127.0.0.1:%d", dead, dead);
	db = open_list(list);
	test_cond("every entry dead: connect fails, db_down",
	    db_connect(db) == -1 && db_down(db) &&
	    strcmp(db_current_host(db), "") == 0);
	test_cond("... and a statement fails the same",
	    db_ping(db) == -1 && db_down(db));
	db_free(db);

	/* A frozen first node costs its time-out once; then, for
	 * DB_HOST_HOLD_S, it is tried last. */
	close(fd);
	dead = silent_port(&fd);
	snprintf(list, sizeof(list), "127.0.0.1:%d,%s", dead, live);
	db = open_list(list);
	t0 = now_ms();
	rc = db_connect(db);
	t1 = now_ms();
	test_cond("a frozen first entry: connects to the second after the "
	    "time-out", dead > 0 && rc == 0 && t1 - t0 >= 900 &&
	    strcmp(db_current_host(db), live) == 0);
	id0 = conn_id(db);
	kill_conn(tkiller, db);
	t0 = now_ms();
	rc = db_ping(db);
	t1 = now_ms();
	test_cond("reconnecting tries the frozen entry last: no time-out",
	    rc == 0 && t1 - t0 < 900 && conn_id(db) != id0 &&
	    strcmp(db_current_host(db), live) == 0);
	db_free(db);

	db = open_list("127.0.0.1:0");
	test_cond("a bad list: connect fails naming DB_HOST",
	    db_connect(db) == -1 && strstr(db_errmsg(db), "DB_HOST") != NULL);
	db_free(db);
	db_set_node_hook(NULL);
	db_free(tkiller);
	if (fd != -1)
		close(fd);
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

	/* Lock wait time-outs (1205), as a Galera conflict (1213) would
	 * be handled: fn runs again after a pause, up to 5 times. */
	conflict_runs = 0;
	conflict_release = 2;
	rc = db_txn(db, txn_conflict, NULL);
	test_cond("db_txn reruns fn after a lock wait time-out",
	    rc == 0 && conflict_runs == 2);
	db_exec(db, sql_sel, &r, "i", 11LL);
	test_cond("... and its work is done once",
	    db_res_int(r, 0, 3, -1) == 2);
	db_res_free(r);
	conflict_runs = 0;
	conflict_release = 0;
	rc = db_txn(db, txn_conflict, NULL);
	test_cond("db_txn gives up after 5 runs, the error kept",
	    rc == -1 && conflict_runs == DB_TXN_ATTEMPTS &&
	    db_errcode(db) == 1205 && db_transient(db));
	db_rollback(killer);
	db_exec(db, sql_sel, &r, "i", 11LL);
	test_cond("... and nothing of it was kept",
	    db_res_int(r, 0, 3, -1) == 2);
	db_res_free(r);

	swallow_runs = 0;
	rc = db_txn(db, txn_swallow, NULL);
	test_cond("after a swallowed 1205 no statement runs in the txn",
	    swallow_after == 1205);
	test_cond("... its COMMIT fails and db_txn runs it again",
	    rc == 0 && swallow_runs == 2);
	db_exec(db, sql_sel, &r, "i", 11LL);
	test_cond("... whose work is done once, whole",
	    db_res_int(r, 0, 3, -1) == 4);
	db_res_free(r);
	db_exec(db, sql_sel, &r, "i", 70LL);
	test_cond("... row 70 inserted once", db_res_rows(r) == 1);
	db_res_free(r);

	test_host_list();

	db_exec(db, sql_drop, NULL, "");
	db_free(db);
	db_free(killer);
	config_free(&dbtest_cfg);
	mysql_library_end();
	test_report();
}
