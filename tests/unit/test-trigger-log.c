/*
 * Unit tests for common/trigger-log.c against a real MariaDB: every
 * attempt is a row with what the hook answered; a trigger keeps only its
 * newest TRIGGER_LOG_KEEP rows and another trigger's are not touched; a
 * reason past TRIGGER_REASON_MAX is cut, never inside a character;
 * forget and prune delete what they say and nothing else.
 */
#include <string.h>

#include "dbtest.h"
#include "id.h"
#include "trigger-log.h"
#include "test.h"

static const char sql_count[] =
    "SELECT COUNT(*) FROM trigger_deliveries WHERE trigger_id = ?";
static const char sql_oldest_reason[] =
    "SELECT reason FROM trigger_deliveries WHERE trigger_id = ? "
    "ORDER BY id LIMIT 1";
static const char sql_newest[] =
    "SELECT status, outcome, LENGTH(reason), delivery_id, execution_id "
    "FROM trigger_deliveries WHERE trigger_id = ? ORDER BY id DESC LIMIT 1";
static const char sql_age[] =
    "UPDATE trigger_deliveries SET at = NOW(3) - INTERVAL 10 DAY "
    "WHERE trigger_id = ?";

static struct db	*db;

static long long
count(const char *tid)
{
	struct db_res	*r;
	long long	 v;

	if (db_exec(db, sql_count, &r, "s", tid) == -1)
		return -1;
	v = db_res_int(r, 0, 0, -1);
	db_res_free(r);
	return v;
}

static int
add(const char *tid, int status, const char *outcome, const char *reason)
{
	struct trigger_attempt	 a;

	memset(&a, 0, sizeof(a));
	a.trigger_id = tid;
	a.status = status;
	a.outcome = outcome;
	a.reason = reason;
	return trigger_log_add(db, &a);
}

int
main(void)
{
	struct trigger_attempt	 a;
	struct db_res		*r;
	char			 t1[ID_LEN + 1], t2[ID_LEN + 1], ex[ID_LEN + 1];
	char			 reason[32], big[TRIGGER_REASON_MAX + 100];
	size_t			 deleted = 0;
	int			 i, ok = 1;

	db = dbtest_open();
	id_new(t1);
	id_new(t2);
	id_new(ex);

	memset(&a, 0, sizeof(a));
	a.trigger_id = t1;
	a.delivery_id = "gh-1";
	a.status = 202;
	a.outcome = TRIGGER_STARTED;
	a.execution_id = ex;
	test_cond("a started attempt is recorded", trigger_log_add(db, &a) == 0);
	test_cond("... and read back", db_exec(db, sql_newest, &r, "s", t1) == 0 &&
	    db_res_int(r, 0, 0, 0) == 202 &&
	    strcmp(db_res_get(r, 0, 1), "started") == 0 &&
	    db_res_get(r, 0, 2) == NULL &&
	    strcmp(db_res_get(r, 0, 3), "gh-1") == 0 &&
	    strcmp(db_res_get(r, 0, 4), ex) == 0);
	db_res_free(r);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	test_cond("a long reason is accepted",
	    add(t1, 401, TRIGGER_REFUSED, big) == 0);
	test_cond("... cut to TRIGGER_REASON_MAX",
	    db_exec(db, sql_newest, &r, "s", t1) == 0 &&
	    db_res_int(r, 0, 2, 0) == TRIGGER_REASON_MAX);
	db_res_free(r);

	/* 2-byte characters across the cut: no half character is stored. */
	big[0] = 'a';
	for (i = 1; i + 1 < (int)sizeof(big) - 1; i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[i] = '\0';
	test_cond("a long UTF-8 reason cut inside a character is recorded",
	    add(t1, 400, TRIGGER_REFUSED, big) == 0);

	test_cond("another trigger's attempt", add(t2, 401, TRIGGER_REFUSED,
	    "other") == 0);
	for (i = 0; i < TRIGGER_LOG_KEEP + 5 && ok; i++) {
		snprintf(reason, sizeof(reason), "n%d", i);
		ok = add(t1, 401, TRIGGER_REFUSED, reason) == 0;
	}
	test_cond("1,005 more attempts are recorded", ok);
	test_cond("the trigger keeps exactly TRIGGER_LOG_KEEP",
	    count(t1) == TRIGGER_LOG_KEEP);
	test_cond("... its newest: the oldest kept is n5",
	    db_exec(db, sql_oldest_reason, &r, "s", t1) == 0 &&
	    strcmp(db_res_get(r, 0, 0), "n5") == 0);
	db_res_free(r);
	test_cond("the other trigger's row is untouched", count(t2) == 1);

	test_cond("prune: rows younger than the limit stay",
	    trigger_log_prune(db, 5, 100000, &deleted) == 0 &&
	    count(t1) == TRIGGER_LOG_KEEP && count(t2) == 1);
	db_exec(db, sql_age, NULL, "s", t2);
	deleted = 0;
	test_cond("prune: an old row goes, counted",
	    trigger_log_prune(db, 5, 100000, &deleted) == 0 &&
	    deleted >= 1 && count(t2) == 0 && count(t1) == TRIGGER_LOG_KEEP);
	test_cond("forget deletes a trigger's rows",
	    trigger_log_forget(db, t1) == 0 && count(t1) == 0);

	db_free(db);
	mysql_library_end();
	config_free(&dbtest_cfg);
	test_report();
}
