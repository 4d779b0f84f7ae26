/*
 * Unit tests for common/retention.c against a real MariaDB: only finished
 * executions older than the limit go, with their steps, dispatches and
 * output; running and waiting ones stay whatever their age; batches are
 * bounded; events by age; offline workers only when asked. A live pushd
 * shares the database (RETENTION_DAYS 30), so the rows here are 10 days
 * old and swept with a 5-day limit.
 */
#include <stdlib.h>
#include <string.h>

#include "dbtest.h"
#include "id.h"
#include "retention.h"
#include "test.h"

#define AGE_MIN		(10 * 24 * 60)	/* minutes: old for 5 days */
#define DAYS		5

static const char sql_exec[] =
    "INSERT INTO executions (id, kind, status, started_at, completed_at) "
    "VALUES (?, 'command', ?, NOW(3) - INTERVAL ? MINUTE, "
    "NOW(3) - INTERVAL ? MINUTE)";
static const char sql_exec_open[] =
    "UPDATE executions SET completed_at = NULL WHERE id = ?";
static const char sql_step[] =
    "INSERT INTO execution_steps (execution_id, step_index, name, type) "
    "VALUES (?, 0, 'Run', 'execute')";
static const char sql_disp[] =
    "INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
    "worker_name, command, timeout_ms, status) "
    "VALUES (?, ?, 0, ?, 'tr-w', 'true', 1000, 'succeeded')";
static const char sql_out[] =
    "INSERT INTO dispatch_output (dispatch_id, stream, byte_offset, data) "
    "VALUES (?, 1, 0, 'x')";
static const char sql_event[] =
    "INSERT INTO events (type, execution_id, payload, created_at) "
    "VALUES ('tr_test', ?, '{}', NOW(3) - INTERVAL ? MINUTE)";
static const char sql_worker[] =
    "INSERT INTO workers (id, name, status, last_heartbeat) "
    "VALUES (?, ?, 'offline', NOW() - INTERVAL ? MINUTE)";
static const char sql_count[] =
    "SELECT (SELECT COUNT(*) FROM executions WHERE id = ?) + "
    "(SELECT COUNT(*) FROM execution_steps WHERE execution_id = ?) + "
    "(SELECT COUNT(*) FROM dispatches WHERE execution_id = ?) + "
    "(SELECT COUNT(*) FROM dispatch_output o JOIN dispatches d "
    "ON d.id = o.dispatch_id WHERE d.execution_id = ?)";
static const char sql_events_left[] =
    "SELECT COUNT(*) FROM events WHERE type = 'tr_test' "
    "AND created_at < NOW(3) - INTERVAL 1 DAY";
static const char sql_events_new[] =
    "SELECT COUNT(*) FROM events WHERE type = 'tr_test' "
    "AND created_at > NOW(3) - INTERVAL 1 DAY";
static const char sql_worker_left[] =
    "SELECT COUNT(*) FROM workers WHERE id = ?";
static const char sql_worker_deleted[] =
    "SELECT COUNT(*) FROM events WHERE worker_id = ? AND type = "
    "'worker_update' AND JSON_VALUE(payload, '$.status') = 'deleted'";
/* Outbox rows (notify.c): channel 'tr-ch', execution ? (NULL or not). */
static const char sql_note[] =
    "INSERT INTO notifications (channel_id, event, execution_id, payload, "
    "status, delivery_id, created_at) VALUES ('tr-ch', 'failed', ?, '{}', "
    "?, ?, NOW(3) - INTERVAL ? MINUTE)";
static const char sql_note_left[] =
    "SELECT COUNT(*) FROM notifications WHERE channel_id = 'tr-ch' AND "
    "delivery_id = ?";
static const char sql_clean_notes[] =
    "DELETE FROM notifications WHERE channel_id = 'tr-ch'";
static const char sql_clean_events[] =
    "DELETE FROM events WHERE type = 'tr_test'";
static const char sql_clean_workers[] =
    "DELETE FROM workers WHERE name LIKE 'tr-%'";
static const char sql_clean_exec[] =
    "DELETE FROM executions WHERE id = ?";

static struct db	*db;

static long long
num(const char *sql, const char *id)
{
	struct db_res	*r;
	long long	 v;
	int		 rc;

	rc = id == NULL ? db_exec(db, sql, &r, "") :
	    db_exec(db, sql, &r, "ssss", id, id, id, id);
	if (rc == -1) {
		fprintf(stderr, "# %s\n", db_errmsg(db));
		return -1;
	}
	v = db_res_int(r, 0, 0, -1);
	db_res_free(r);
	return v;
}

static long long
num1(const char *sql, const char *id)
{
	struct db_res	*r;
	long long	 v;

	if (db_exec(db, sql, &r, "s", id) == -1) {
		fprintf(stderr, "# %s\n", db_errmsg(db));
		return -1;
	}
	v = db_res_int(r, 0, 0, -1);
	db_res_free(r);
	return v;
}

/* An execution with a step, a dispatch and an output chunk. */
static void
execution(char id[ID_LEN + 1], const char *status, long long age_min,
    const char *worker)
{
	char	 did[ID_LEN + 1];

	id_new(id);
	id_new(did);
	if (db_exec(db, sql_exec, NULL, "ssii", id, status, age_min + 1,
	    age_min) == -1 ||
	    db_exec(db, sql_step, NULL, "s", id) == -1 ||
	    db_exec(db, sql_disp, NULL, "sss", did, id, worker) == -1 ||
	    db_exec(db, sql_out, NULL, "s", did) == -1)
		fprintf(stderr, "# insert: %s\n", db_errmsg(db));
}

int
main(void)
{
	struct retention_counts	 c;
	char			 old[7][ID_LEN + 1], running[ID_LEN + 1],
				 waiting[ID_LEN + 1], fresh[ID_LEN + 1],
				 wold[ID_LEN + 1], wnew[ID_LEN + 1];
	static const char *const st[7] = { "completed", "completed",
	    "completed", "completed", "completed", "failed", "cancelled" };
	size_t			 i, total, rounds;
	int			 gone, rc;

	db = dbtest_open();
	db_exec(db, sql_clean_events, NULL, "");
	db_exec(db, sql_clean_workers, NULL, "");
	id_new(wold);
	id_new(wnew);
	db_exec(db, sql_worker, NULL, "ssi", wold, "tr-old", AGE_MIN);
	db_exec(db, sql_worker, NULL, "ssi", wnew, "tr-new", 60);

	for (i = 0; i < 7; i++)
		execution(old[i], st[i], AGE_MIN + 10 - (long long)i, wold);
	/* Not finished: kept whatever the dates say. */
	execution(running, "running", 100 * 24 * 60, wold);
	db_exec(db, sql_exec_open, NULL, "s", running);
	execution(waiting, "waiting", 100 * 24 * 60, wold);
	execution(fresh, "completed", 60, wold);
	for (i = 0; i < 3; i++)
		db_exec(db, sql_event, NULL, "si", old[i], AGE_MIN);
	db_exec(db, sql_event, NULL, "si", fresh, (long long)1);

	/* One call: one bounded batch of each kind. */
	memset(&c, 0, sizeof(c));
	rc = retention_sweep(db, DAYS, 0, 2, &c);
	test_cond("a sweep succeeds", rc == 0);
	test_cond("a batch deletes at most its size", c.executions == 2);
	test_cond("a full batch asks for more", c.more == 1);
	test_cond("events in batches too", c.events == 2);
	for (i = 0, gone = 0; i < 7; i++)
		if (num(sql_count, old[i]) == 0)
			gone++;
	test_cond("two of the seven old ones went, whole", gone == 2);

	/* Until done. */
	for (rounds = 1; c.more && rounds < 100; rounds++) {
		c.more = 0;
		if (retention_sweep(db, DAYS, 0, 2, &c) == -1)
			break;
	}
	test_cond("batches go on until nothing is left", c.more == 0);
	test_cond("7 old executions need 4 batches of 2 (and one empty)",
	    rounds >= 4);
	for (i = 0, gone = 1; i < 7; i++)
		if (num(sql_count, old[i]) != 0)
			gone = 0;
	test_cond("completed, failed and cancelled ones older than the "
	    "limit are gone with their steps, dispatches and output", gone);
	test_cond("a running execution is kept, however old",
	    num(sql_count, running) == 4);
	test_cond("a waiting execution is kept, however old",
	    num(sql_count, waiting) == 4);
	test_cond("a finished execution younger than the limit is kept",
	    num(sql_count, fresh) == 4);
	total = c.executions;
	test_cond("the counts add up", total >= 7 && c.events >= 3);
	test_cond("old events are gone", num(sql_events_left, NULL) == 0);
	test_cond("new events are kept", num(sql_events_new, NULL) == 1);
	test_cond("workers are kept when WORKER_PRUNE_DAYS is 0",
	    num1(sql_worker_left, wold) == 1);

	memset(&c, 0, sizeof(c));
	rc = retention_sweep(db, DAYS, DAYS, 500, &c);
	test_cond("pruning workers succeeds", rc == 0 && c.workers >= 1);
	test_cond("a worker offline for longer is pruned",
	    num1(sql_worker_left, wold) == 0);
	test_cond("and the dashboards hear of it",
	    num1(sql_worker_deleted, wold) == 1);
	test_cond("a worker offline for less is kept",
	    num1(sql_worker_left, wnew) == 1);
	test_cond("nothing left: no more", c.more == 0);

	memset(&c, 0, sizeof(c));
	rc = retention_sweep(db, DAYS, DAYS, 500, &c);
	test_cond("a second sweep finds nothing of ours",
	    rc == 0 && num(sql_count, running) == 4 &&
	    num(sql_count, fresh) == 4);

	/* The outbox: final rows by age, and final rows of an execution
	 * that is gone; a message still to send is kept either way. */
	{
		static const char *const nst[] = { "delivered", "dead",
		    "pending", "delivered", "failed", "pending", "delivered" };
		/* old, old, old; then fresh ones: of a gone execution (x2),
		 * of a gone one still pending, of a live one. */
		const long long age[] = { AGE_MIN, AGE_MIN, AGE_MIN, 1, 1, 1,
		    1 };
		const int gone_ex[] = { 0, 0, 0, 1, 1, 1, 0 };
		const int want[] = { 0, 0, 1, 0, 0, 1, 1 };
		char	 did[7][ID_LEN + 1], ghost[ID_LEN + 1];
		int	 ok = 1;

		id_new(ghost);
		for (i = 0; i < 7; i++) {
			id_new(did[i]);
			if (db_exec(db, sql_note, NULL, "sssi", gone_ex[i] ?
			    ghost : i == 6 ? fresh : NULL, nst[i], did[i],
			    age[i]) == -1)
				fprintf(stderr, "# %s\n", db_errmsg(db));
		}
		memset(&c, 0, sizeof(c));
		rc = retention_sweep(db, DAYS, 0, 500, &c);
		for (i = 0; i < 7; i++)
			if (num1(sql_note_left, did[i]) != want[i]) {
				fprintf(stderr, "# notification %zu: %lld\n",
				    i, num1(sql_note_left, did[i]));
				ok = 0;
			}
		test_cond("old delivered, failed and dead notifications go, "
		    "and those of a deleted execution; pending ones and those "
		    "of a live execution stay", rc == 0 && ok &&
		    c.notifications >= 4);
		db_exec(db, sql_clean_notes, NULL, "");
	}

	db_exec(db, sql_clean_exec, NULL, "s", running);
	db_exec(db, sql_clean_exec, NULL, "s", waiting);
	db_exec(db, sql_clean_exec, NULL, "s", fresh);
	db_exec(db, sql_clean_events, NULL, "");
	db_exec(db, sql_clean_workers, NULL, "");
	db_free(db);
	mysql_library_end();
	config_free(&dbtest_cfg);
	test_report();
}
