/*
 * Firing schedules (SPEC section 16), on the db thread every
 * DBT_SCHEDULES_MS. Each due schedule is fired in one transaction: its
 * row locked (SKIP LOCKED: another pushd has it), a schedule_fires row
 * whose unique key a second firer cannot insert again, the execution,
 * and the next fire time, moved only from the value read. So a fire
 * happens once with several pushd, after kill -9 and after a clock jump.
 * Fire rows past RETENTION_DAYS are deleted here too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "audit.h"
#include "config.h"
#include "db.h"
#include "dbt.h"
#include "engine.h"
#include "log.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "schedule.h"
#include "xmalloc.h"

#define SCHED_STR_(x)	#x
#define SCHED_STR(x)	SCHED_STR_(x)

/* A candidate list read without locks; each is claimed on its own. */
static const char sql_due[] =
    "SELECT id FROM schedules WHERE enabled = 1 AND next_run_at <= "
    "FROM_UNIXTIME(?) ORDER BY next_run_at LIMIT "
    SCHED_STR(DBT_SCHEDULES_BATCH);
static const char sql_claim[] =
    "SELECT name, workflow_id, cron, FLOOR(UNIX_TIMESTAMP(at)), timezone, "
    "params, overlap, misfire, FLOOR(UNIX_TIMESTAMP(next_run_at)), "
    "last_execution_id FROM schedules WHERE id = ? AND enabled = 1 AND "
    "next_run_at <= FROM_UNIXTIME(?) FOR UPDATE SKIP LOCKED";
static const char sql_fire_insert[] =
    "INSERT INTO schedule_fires (schedule_id, fire_time, execution_id, "
    "outcome, reason, fired_by) VALUES (?, FROM_UNIXTIME(?), ?, ?, ?, ?)";
static const char sql_queued_one[] =
    "SELECT COUNT(*) FROM schedule_fires WHERE schedule_id = ? AND "
    "outcome = 'queued'";
static const char sql_running[] =
    "SELECT COUNT(*) FROM executions WHERE id = ? AND status IN "
    "('running', 'waiting', 'awaiting_approval')";
/* Moved only from the value this firer read: a second firer that read
 * the same row (Galera: locks are per node) changes nothing. */
static const char sql_advance[] =
    "UPDATE schedules SET next_run_at = FROM_UNIXTIME(CAST(? AS SIGNED)), "
    "enabled = ?, "
    "disabled_reason = ?, last_run_at = FROM_UNIXTIME(?), "
    "last_status = ?, last_execution_id = COALESCE(?, last_execution_id), "
    "locked_by = ? WHERE id = ? AND enabled = 1 AND "
    "FLOOR(UNIX_TIMESTAMP(next_run_at)) = ?";
static const char sql_disable[] =
    "UPDATE schedules SET enabled = 0, next_run_at = NULL, "
    "disabled_reason = ? WHERE id = ? AND enabled = 1";
/* Only fires that can start now: however many wait behind runs still
 * going, those do not fill the batch (their blocker is the schedule's
 * last execution; a disabled schedule's queued fire is marked skipped). */
static const char sql_queued[] =
    "SELECT f.schedule_id, FLOOR(UNIX_TIMESTAMP(f.fire_time)) FROM "
    "schedule_fires f JOIN schedules s ON s.id = f.schedule_id "
    "LEFT JOIN executions e ON e.id = s.last_execution_id "
    "WHERE f.outcome = 'queued' AND (s.enabled = 0 OR e.id IS NULL OR "
    "e.status NOT IN ('running', 'waiting', 'awaiting_approval')) "
    "ORDER BY f.fire_time LIMIT " SCHED_STR(DBT_SCHEDULES_BATCH);
/* Galera: SKIP LOCKED spreads the work on one node only; sql_fire_set is
 * conditional on outcome = 'queued', its count checked, so a queued fire
 * starts once (the later node is aborted at COMMIT or changes nothing). */
static const char sql_claim_queued[] =
    "SELECT name, workflow_id, params, enabled, last_execution_id "
    "FROM schedules WHERE id = ? FOR UPDATE SKIP LOCKED";
static const char sql_fire_set[] =
    "UPDATE schedule_fires SET outcome = ?, execution_id = ?, reason = ? "
    "WHERE schedule_id = ? AND fire_time = FROM_UNIXTIME(?) AND "
    "outcome = 'queued'";
/* A queued fire waits for its start, however old. */
static const char sql_prune[] =
    "DELETE FROM schedule_fires WHERE fire_time < NOW(3) - INTERVAL ? DAY "
    "AND outcome <> 'queued' LIMIT " SCHED_STR(DBT_FIRES_PRUNE_BATCH);
/* What a fire came to, once its row holds the key. */
static const char sql_fire_outcome[] =
    "UPDATE schedule_fires SET outcome = ?, execution_id = ?, reason = ? "
    "WHERE schedule_id = ? AND fire_time = FROM_UNIXTIME(?)";
/* A fire time found already in schedule_fires (next_run_at set from a
 * clock behind the last firer's): moved past it, if still that value. */
static const char sql_when_of[] =
    "SELECT name, cron, FLOOR(UNIX_TIMESTAMP(at)), timezone "
    "FROM schedules WHERE id = ?";
static const char sql_past_dup[] =
    "UPDATE schedules SET next_run_at = FROM_UNIXTIME(CAST(? AS SIGNED)), "
    "enabled = ?, disabled_reason = ? WHERE id = ? AND enabled = 1 AND "
    "FLOOR(UNIX_TIMESTAMP(next_run_at)) = ?";
static const char sql_last_set[] =
    "UPDATE schedules SET last_status = ?, last_execution_id = "
    "COALESCE(?, last_execution_id), locked_by = ? WHERE id = ?";

/* One schedule's fire, in and out of its transaction. */
struct fire {
	const char	*id;
	long long	 now;
	int		 fired;		/* an execution started */
	int		 lost;		/* another firer had it */
	long long	 first;		/* next_run_at as read */
	long long	 dup;		/* a fire time already recorded, or 0 */
	char		 eid[ID_LEN + 1];
};

/* The row of one fire time; a duplicate means another firer had it. */
static int
fire_row(struct db *db, struct fire *f, long long t, const char *eid,
    const char *outcome, const char *reason)
{
	if (db_exec(db, sql_fire_insert, NULL, "sissss", f->id, t, eid,
	    outcome, reason, dbt.node) == 0)
		return 0;
	if (db_errcode(db) == 1062) {	/* ER_DUP_ENTRY: fired elsewhere */
		f->lost = 1;
		f->dup = t;
	}
	return -1;
}

/* Is the schedule's last execution still going? 1, 0, -1 db error. */
static int
still_running(struct db *db, const char *eid)
{
	struct db_res	*r;
	long long	 n;

	if (eid == NULL)
		return 0;
	if (db_exec(db, sql_running, &r, "s", eid) == -1)
		return -1;
	n = db_res_int(r, 0, 0, 0);
	db_res_free(r);
	return n > 0;
}

/* Start the schedule's workflow: 0 started (eid), 1 refused (why), -1. */
static int
fire_start(struct db *db, const char *name, const char *workflow_id,
    const char *params, char eid[ID_LEN + 1], char *why, size_t whylen,
    int *gone)
{
	struct engine_start_req	 r;
	struct engine_err	 err;
	struct audit_actor	 who;
	struct json_object	*p = NULL;
	char			 actor[300], perr[128];
	int			 rc;

	*gone = 0;
	snprintf(actor, sizeof(actor), "schedule:%s", name);
	if (params != NULL && (p = pjson_parse(params, strlen(params),
	    API_JSON_DEPTH, perr, sizeof(perr))) == NULL) {
		snprintf(why, whylen, "stored params do not parse: %s", perr);
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.workflow_id = workflow_id;
	r.user = actor;
	r.params = p;
	memset(&who, 0, sizeof(who));
	who.name = actor;
	rc = engine_start_in_txn(db, &r, eid, &err, &who);
	json_object_put(p);
	if (rc == 0)
		return 0;
	if (err.code == ENGINE_DBERR)
		return -1;
	*gone = err.code == ENGINE_NOTFOUND;
	snprintf(why, whylen, "%s", err.msg);
	return 1;
}

/*
 * The missed fire times before `last` (from first, every one the cron
 * gives), as rows: the first PULSE_SCHEDULE_MISSED_ROWS_MAX - 1 one each,
 * the rest counted in one row at the last of them.
 */
static int
fire_missed(struct db *db, struct fire *f, const struct schedule_when *w,
    long long first, long long upto, const char *why)
{
	char		 reason[512], a[SCHEDULE_ISO_LEN + 1],
			 b[SCHEDULE_ISO_LEN + 1];
	long long	 t = first, n = 0, rest_first = 0, prev = 0;

	while (t <= upto) {
		if (n < PULSE_SCHEDULE_MISSED_ROWS_MAX - 1) {
			if (fire_row(db, f, t, NULL, "missed", why) == -1)
				return -1;
		} else if (rest_first == 0)
			rest_first = t;
		n++;
		prev = t;
		if (n >= PULSE_SCHEDULE_CATCHUP_MAX ||
		    schedule_when_next(w, t, &t) != 0)
			break;
	}
	if (rest_first != 0) {
		schedule_iso(rest_first, a, sizeof(a));
		schedule_iso(prev, b, sizeof(b));
		snprintf(reason, sizeof(reason), "%.300s (this row stands for "
		    "%lld fire times from %s to %s)", why,
		    n - PULSE_SCHEDULE_MISSED_ROWS_MAX + 1, a, b);
		if (fire_row(db, f, prev, NULL, "missed", reason) == -1)
			return -1;
	}
	return 0;
}

static int
fire_txn(struct db *db, void *arg)
{
	struct fire		*f = arg;
	struct schedule_when	 w;
	struct db_res		*r;
	const char		*name, *wf, *overlap, *misfire, *last_eid,
				*outcome, *eid = NULL;
	char			 field[32], why[512], reason[600],
				 iso[SCHEDULE_ISO_LEN + 1], nexts[24];
	long long		 first, latest, t, next = 0, k = 0, queued;
	int			 rc = -1, run, gone = 0, at, more, end;

	f->fired = f->lost = 0;
	f->dup = 0;
	f->eid[0] = '\0';
	if (db_exec(db, sql_claim, &r, "si", f->id, f->now) == -1)
		return -1;
	if (db_res_rows(r) == 0) {
		db_res_free(r);
		return 1;	/* fired, disabled, or locked by another */
	}
	name = db_res_get(r, 0, 0);
	wf = db_res_get(r, 0, 1);
	overlap = db_res_get(r, 0, 6);
	misfire = db_res_get(r, 0, 7);
	first = f->first = db_res_int(r, 0, 8, 0);
	last_eid = db_res_get(r, 0, 9);
	at = db_res_get(r, 0, 2) == NULL;
	schedule_iso(db_res_int(r, 0, 3, first), iso, sizeof(iso));
	if (schedule_when_load(&w, db_res_get(r, 0, 2), at ? iso : NULL,
	    db_res_get(r, 0, 4), field, sizeof(field), why,
	    sizeof(why)) == -1) {
		/* A zone gone from this host's zoneinfo, say: said, not fired. */
		log_warnx("schedule %s: %s: disabled", name, why);
		rc = db_exec(db, sql_disable, NULL, "ss", why, f->id);
		goto out;
	}
	/* Every fire time due now: first .. latest, k of them. */
	latest = t = first;
	for (k = 1; k < PULSE_SCHEDULE_CATCHUP_MAX; k++) {
		if (schedule_when_next(&w, t, &t) != 0 || t > f->now)
			break;
		latest = t;
	}
	more = (end = schedule_when_next(&w, f->now > latest ? f->now :
	    latest, &next)) == 0;
	if (k > 1 || f->now - latest > PULSE_SCHEDULE_MISFIRE_GRACE_S) {
		run = strcmp(misfire, "run_once") == 0;
		schedule_iso(latest, iso, sizeof(iso));
		snprintf(why, sizeof(why), "missed: due while no pushd fired "
		    "schedules; misfire %s %s", misfire, run ? "fired the "
		    "latest time only" : "fires none of them");
		if (fire_missed(db, f, &w, first, run ? latest - 1 : latest,
		    why) == -1)
			goto out;
		if (!run) {
			outcome = "missed";
			goto advance;
		}
	}
	/* Fire `latest`: the row first, so a second firer stops here. */
	if (fire_row(db, f, latest, NULL, "started", NULL) == -1)
		goto out;
	if ((run = still_running(db, last_eid)) == -1)
		goto out;
	/* queue: an older queued fire starts first, so it counts as busy
	 * even when its blocker has just ended. */
	queued = 0;
	if (strcmp(overlap, "queue") == 0) {
		struct db_res	*q;

		if (db_exec(db, sql_queued_one, &q, "s", f->id) == -1)
			goto out;
		queued = db_res_int(q, 0, 0, 0);
		db_res_free(q);
	}
	if ((run || queued > 0) && strcmp(overlap, "allow") != 0) {
		if (strcmp(overlap, "queue") == 0 && queued == 0) {
			outcome = "queued";
			snprintf(reason, sizeof(reason), "waits for execution "
			    "%s to end (overlap queue)", last_eid);
		} else {
			outcome = "skipped";
			snprintf(reason, sizeof(reason), queued ? "a run is "
			    "already queued behind execution %s (overlap queue "
			    "keeps one)" : "execution %s of this schedule is "
			    "still running (overlap skip)", last_eid);
		}
		if (db_exec(db, sql_fire_outcome, NULL, "ssssi", outcome, NULL,
		    reason, f->id, latest) == -1)
			goto out;
		goto advance;
	}
	switch (fire_start(db, name, wf, db_res_get(r, 0, 5), f->eid, why,
	    sizeof(why), &gone)) {
	case -1:
		goto out;
	case 0:
		outcome = "started";
		eid = f->eid;
		f->fired = 1;
		if (db_exec(db, sql_fire_outcome, NULL, "ssssi", outcome, eid,
		    NULL, f->id, latest) == -1)
			goto out;
		break;
	default:
		outcome = "failed";
		if (db_exec(db, sql_fire_outcome, NULL, "ssssi", outcome, NULL,
		    why, f->id, latest) == -1)
			goto out;
		break;
	}
advance:
	why[0] = '\0';
	if (at) {
		/* A one-shot is done once its time has passed. */
		more = 0;
		schedule_iso(latest, iso, sizeof(iso));
		snprintf(why, sizeof(why), "one-shot: its time %s has passed "
		    "(%s)", iso, outcome);
	} else if (gone)
		snprintf(why, sizeof(why), "workflow %s was deleted", wf);
	else if (!more)
		snprintf(why, sizeof(why), "no fire time %s", end == 2 ?
		    "before 2038-01-19T03:14:07Z, the last time a schedule "
		    "can hold" : "in the next 8 years");
	if (gone)
		more = 0;
	snprintf(nexts, sizeof(nexts), "%lld", next);
	rc = db_exec(db, sql_advance, NULL, "sisissssi", more ? nexts : NULL,
	    (long long)more, more ? NULL : why, latest, outcome, eid, dbt.node,
	    f->id, first);
	if (rc == 0 && db_affected(db) != 1) {
		f->lost = 1;
		rc = -1;
	}
out:
	schedule_when_clear(&w);
	db_res_free(r);
	return rc;
}

/* A queued fire whose previous run has ended: start it now. */
static int
queued_txn(struct db *db, void *arg)
{
	struct fire	*f = arg;
	struct db_res	*r;
	char		 why[512];
	const char	*outcome, *eid = NULL;
	int		 rc = -1, run, gone;

	f->fired = f->lost = 0;
	if (db_exec(db, sql_claim_queued, &r, "s", f->id) == -1)
		return -1;
	if (db_res_rows(r) == 0) {
		db_res_free(r);
		return 1;
	}
	if (db_res_int(r, 0, 3, 0) == 0) {
		outcome = "skipped";
		snprintf(why, sizeof(why), "the schedule was disabled before "
		    "its queued run could start");
	} else {
		if ((run = still_running(db, db_res_get(r, 0, 4))) != 0) {
			db_res_free(r);
			return run == -1 ? -1 : 1;
		}
		switch (fire_start(db, db_res_get(r, 0, 0), db_res_get(r, 0, 1),
		    db_res_get(r, 0, 2), f->eid, why, sizeof(why), &gone)) {
		case -1:
			goto out;
		case 0:
			outcome = "started";
			eid = f->eid;
			why[0] = '\0';
			f->fired = 1;
			break;
		default:
			outcome = "failed";
			break;
		}
	}
	if (db_exec(db, sql_fire_set, NULL, "ssssi", outcome, eid,
	    why[0] != '\0' ? why : NULL, f->id, f->now) == -1)
		goto out;
	if (db_affected(db) != 1) {
		f->lost = 1;
		goto out;
	}
	rc = db_exec(db, sql_last_set, NULL, "ssss", outcome, eid, dbt.node,
	    f->id);
out:
	db_res_free(r);
	return rc;
}

/*
 * fire_txn found f->dup already in schedule_fires: rolled back, it would
 * find it again every tick and, first in sql_due's order, hold up every
 * schedule behind it. Move next_run_at past that fire, once (only if it
 * is still the value read), and say so.
 */
static void
schedule_past_dup(struct fire *f)
{
	struct schedule_when	 w;
	struct db_res		*r;
	char			 iso[SCHEDULE_ISO_LEN + 1], field[32], why[512],
				 nexts[24], niso[SCHEDULE_ISO_LEN + 1];
	long long		 next = 0;
	int			 more, at;

	if (db_exec(dbt.db, sql_when_of, &r, "s", f->id) == -1) {
		dbt_failed("moving a schedule past a recorded fire");
		return;
	}
	if (db_res_rows(r) == 0) {
		db_res_free(r);
		return;
	}
	at = db_res_get(r, 0, 1) == NULL;
	schedule_iso(db_res_int(r, 0, 2, 0), iso, sizeof(iso));
	if (schedule_when_load(&w, db_res_get(r, 0, 1), at ? iso : NULL,
	    db_res_get(r, 0, 3), field, sizeof(field), why,
	    sizeof(why)) == -1) {
		db_res_free(r);
		return;		/* fire_txn disables it, saying why */
	}
	more = schedule_when_next(&w, f->dup, &next) == 0;
	schedule_when_clear(&w);
	schedule_iso(f->dup, iso, sizeof(iso));
	snprintf(why, sizeof(why), "%s: its fire time %s had already fired",
	    at ? "one-shot" : "no later fire time", iso);
	snprintf(nexts, sizeof(nexts), "%lld", next);
	if (db_exec(dbt.db, sql_past_dup, NULL, "sissi", more ? nexts : NULL,
	    (long long)more, more ? NULL : why, f->id, f->first) == -1)
		dbt_failed("moving a schedule past a recorded fire");
	else if (db_affected(dbt.db) == 1) {
		schedule_iso(next, niso, sizeof(niso));
		log_warnx("schedule %s: next run %s had already fired (set "
		    "from a clock behind the firer's?): %s%s",
		    db_res_get(r, 0, 0), iso, more ? "moved to " :
		    "disabled", more ? niso : "");
	}
	db_res_free(r);
}

/*
 * Each row of sql (a schedule id, and for a queued fire its time) in its
 * own transaction fn; an execution started sends its commands at once.
 */
static void
schedules_each(const char *sql, long long now, int (*fn)(struct db *,
    void *), const char *what)
{
	struct db_res	*r;
	struct fire	 f;
	size_t		 i;

	if ((now >= 0 ? db_exec(dbt.db, sql, &r, "i", now) :
	    db_exec(dbt.db, sql, &r, "")) == -1) {
		dbt_failed(what);
		return;
	}
	for (i = 0; i < db_res_rows(r); i++) {
		memset(&f, 0, sizeof(f));
		f.id = db_res_get(r, i, 0);
		f.now = now >= 0 ? now : db_res_int(r, i, 1, 0);
		if (db_txn(dbt.db, fn, &f) == -1 && !f.lost) {
			if (dbt_failed(what) == -1)
				break;
			continue;
		}
		if (f.dup != 0 && fn == fire_txn)
			schedule_past_dup(&f);
		if (f.fired) {
			dbt.claim_now = 1;
			dbt_busy();
		}
	}
	db_res_free(r);
}

/*
 * Fire rows older than RETENTION_DAYS go, a batch a minute (an every-
 * minute schedule writes 1,440 a day): the record of a fire lives as
 * long as the executions it started.
 */
static void
schedules_prune(void)
{
	if (db_exec(dbt.db, sql_prune, NULL, "i",
	    (long long)dbt.cfg->retention_days) == -1)
		dbt_failed("deleting old schedule fires");
	else if (db_affected(dbt.db) > 0)
		log_info("retention: deleted %llu schedule fire%s older than "
		    "%d days", db_affected(dbt.db), db_affected(dbt.db) == 1 ?
		    "" : "s", dbt.cfg->retention_days);
}

void
dbt_schedules(long long now_ms)
{
	const char	*clock;

	if (now_ms < dbt.next_schedules)
		return;
	dbt.next_schedules = now_ms + DBT_SCHEDULES_MS;
	if (!dbt.schedules_told) {
		dbt.schedules_told = 1;
		if ((clock = schedule_clock_file()) != NULL)
			log_info("schedules: test clock on: now is the real "
			    "clock plus the seconds in %s (%s)", clock,
			    SCHEDULE_CLOCK_ENV);
	}
	schedules_each(sql_due, schedule_now(), fire_txn, "firing schedules");
	/* A queued fire's "now" is its fire time (the row's key). */
	if (dbt.retry_at == 0)
		schedules_each(sql_queued, -1, queued_txn,
		    "starting queued schedule runs");
	if (dbt.retry_at == 0 && now_ms >= dbt.next_fires_prune) {
		dbt.next_fires_prune = now_ms + DBT_FIRES_PRUNE_MS;
		schedules_prune();
	}
}
