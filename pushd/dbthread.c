/*
 * The database thread, the only code in pushd that talks to MariaDB: it
 * records what the loop hands it, in order, and answers after the commit;
 * every PULSE_POLL_INTERVAL_MS it claims commands for the workers held
 * here, follows the events table, and runs the timers several pushd share.
 * This file owns the thread, its loop and its shared state (dbt.h); the
 * jobs are dbt-jobs.c's, the polls dbt-poll.c's, the timers
 * dbt-timers.c's, the schedules dbt-schedules.c's, the trust follow
 * dbt-trust.c's, the lag it publishes dbt-load.c's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

#include "config.h"
#include "db.h"
#include "dbt.h"
#include "dbthread.h"
#include "log.h"
#include "metrics.h"
#include "pjson.h"
#include "xmalloc.h"

struct dbt	 dbt;

/* ---------------------------------------------------------------- helpers */

void
dbt_close(uint64_t conn, int code, const char *fmt, ...)
{
	struct out	*o = out_new(OUT_CLOSE, conn);
	va_list		 ap;

	o->code = code;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
	outs_push(o);
}

void
dbt_send(uint64_t conn, struct json_object *msg)
{
	struct out	*o = out_new(OUT_SEND, conn);

	o->msg = msg_json(msg);
	json_object_put(msg);
	outs_push(o);
}

/*
 * Work came (commands, events, reports): poll every PULSE_POLL_BUSY_MS for
 * a while, since more tends to follow (the next execution, the next step
 * started by an answer); idle, every PULSE_POLL_INTERVAL_MS.
 */
void
dbt_busy(void)
{
	dbt.busy_until = pushd_now_ms() + DBT_BUSY_MS;
}

int
dbt_held(const char *worker_id, void *arg)
{
	(void)arg;
	return idmap_get(&dbt.held, worker_id, strlen(worker_id)) != NULL;
}

/* After a failure: is the database away (try later) or was it this job? */
int
dbt_failed(const char *what)
{
	metrics_db_error();
	if (db_down(dbt.db)) {
		if (!dbt.away)
			log_warnx("database unreachable (%s): %s", what,
			    db_errmsg(dbt.db));
		dbt.away = 1;
		dbt.retry_at = pushd_now_ms() + DBT_RETRY_MS;
		return -1;
	}
	log_warnx("%s: %s", what, db_errmsg(dbt.db));
	return 0;
}

/* Where a follower of a log table starts: after its last id now. */
int
dbt_start_at(const char *sql, long long *cursor, const char *what)
{
	struct db_res	*r;

	if (db_exec(dbt.db, sql, &r, "") == -1) {
		dbt_failed(what);
		return -1;
	}
	*cursor = db_res_int(r, 0, 0, 0);
	db_res_free(r);
	return 0;
}

/* From now on nothing from this socket is taken (a refused key). */
void
dbt_refuse(uint64_t conn)
{
	idmap_put(&dbt.refused, &conn, sizeof(conn));
}

int
dbt_is_refused(uint64_t conn)
{
	return idmap_get(&dbt.refused, &conn, sizeof(conn)) != NULL;
}

/* ------------------------------------------------------------------ thread */

static void *
dbt_main(void *arg)
{
	struct timespec	 ts, t0, t1;
	struct job	*j;
	long long	 now, stop_by = 0, next_poll = 0, wait;
	size_t		 njobs = 0;
	int		 stopped;

	(void)arg;
	mysql_thread_init();
	for (;;) {
		/* Sleep until the next poll, a retry, or a job. */
		now = pushd_now_ms();
		wait = next_poll - now;
		if (dbt.retry_at > now)
			wait = dbt.retry_at - now;
		else if (!TAILQ_EMPTY(&dbt.pending))
			wait = 0;
		stopped = jobs_take(&dbt.pending, wait < 0 ? 0 : (int)wait);
		now = pushd_now_ms();
		/*
		 * The backlog as it stands before this round works on it
		 * (the metric read 0 through a four-hour backlog when it was
		 * counted after the work; issue 12); jobs_depth() adds what
		 * came since.
		 */
		TAILQ_FOREACH(j, &dbt.pending, entry)
			njobs++;
		metrics_db_jobs(njobs);
		njobs = 0;
		if (stopped && stop_by == 0)
			stop_by = now + PUSHD_STOP_MS - 500;
		/*
		 * With the database away, waiting for it only delays the
		 * exit to the last moment (9 s seen under load, against a
		 * 10 s bound): the workers send unacknowledged results again.
		 */
		if (stopped && (now >= stop_by || dbt.away))
			break;
		if (dbt.retry_at > now) {
			/* jobs_take() no longer waits once stopped. */
			if (stopped) {
				ts.tv_sec = 0;
				ts.tv_nsec = (dbt.retry_at - now) * 1000000;
				nanosleep(&ts, NULL);
			}
			continue;
		}
		dbt.retry_at = 0;
		if (!stopped)
			dbt_load(now);
		dbt_jobs();
		dbt_advance();
		if (stopped) {
			/* What came before the stop is done: nothing new. */
			if (TAILQ_EMPTY(&dbt.pending))
				break;
			continue;
		}
		if (dbt.retry_at != 0)
			continue;
		if (now < dbt.busy_until &&
		    next_poll > now + dbt.cfg->poll_busy_ms)
			next_poll = now + dbt.cfg->poll_busy_ms;
		if (now >= next_poll) {
			next_poll = now + (now < dbt.busy_until ?
			    dbt.cfg->poll_busy_ms : dbt.cfg->poll_interval_ms);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			dbt_trust();
			dbt_claim(1);
			dbt_tail();
			dbt_timers(now);
			dbt_schedules(now);
			dbt_advance();
			clock_gettime(CLOCK_MONOTONIC, &t1);
			metrics_poll((double)(t1.tv_sec - t0.tv_sec) +
			    (t1.tv_nsec - t0.tv_nsec) / 1e9);
		}
		/* An advance queued commands: send them now, not next poll. */
		if (dbt.claim_now)
			dbt_claim(0);
		if (dbt.away && dbt.retry_at == 0) {
			log_info("database reachable again");
			dbt.away = 0;
		}
	}
	if (!TAILQ_EMPTY(&dbt.pending))
		log_warnx("stopping with database work undone: the workers "
		    "send their results again");
	while ((j = TAILQ_FIRST(&dbt.pending)) != NULL) {
		TAILQ_REMOVE(&dbt.pending, j, entry);
		job_free(j);
	}
	dispatch_ids_clear(&dbt.advance);
	dbt_load_free();
	idmap_free(&dbt.held);
	idmap_free(&dbt.refused);
	idtail_free(&dbt.feed);
	idtail_free(&dbt.trust);
	db_free(dbt.db);
	dbt.db = NULL;
	mysql_thread_end();
	outs_push(out_new(OUT_DB_DONE, 0));
	return NULL;
}

int
dbthread_start(const struct config *cfg, const char *node)
{
	int		 rc;

	memset(&dbt, 0, sizeof(dbt));
	dbt.cfg = cfg;
	strlcpy_p(dbt.node, node, sizeof(dbt.node));
	dbt.grace_ms = cfg->dispatch_grace_ms;
	TAILQ_INIT(&dbt.pending);
	idmap_init(&dbt.held);
	idmap_init(&dbt.refused);
	dbt.db = db_new_config(cfg);
	rc = pthread_create(&dbt.thread, NULL, dbt_main, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("pthread_create");
		db_free(dbt.db);
		idmap_free(&dbt.held);
		idmap_free(&dbt.refused);
		return -1;
	}
	dbt.started = 1;
	return 0;
}

/* Wait up to wait_ms for the thread: 0 once joined, -1 if still busy. */
int
dbthread_join(int wait_ms)
{
	if (!dbt.started)
		return 0;
	if (thread_join_ms(dbt.thread, wait_ms) == -1)
		return -1;
	dbt.started = 0;
	return 0;
}
