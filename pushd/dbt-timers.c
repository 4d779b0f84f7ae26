/*
 * The db thread's timers, shared by every pushd (each claimed with FOR
 * UPDATE SKIP LOCKED in dispatch.c): wait steps woken, deadlines expired,
 * an earlier run's workers detached, silent workers marked offline,
 * heartbeats, the sweep, retention, and the counts for the metrics page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "dbt.h"
#include "dispatch.h"
#include "engine.h"
#include "log.h"
#include "metrics.h"
#include "retention.h"
#include "xmalloc.h"

static const char sql_m_workers[] =
    "SELECT status, COUNT(*) FROM workers GROUP BY status";
static const char sql_m_executions[] =
    "SELECT status, COUNT(*) FROM executions GROUP BY status";
static const char sql_m_dispatches[] =
    "SELECT status, COUNT(*) FROM dispatches "
    "WHERE status IN ('queued', 'sent', 'running') GROUP BY status";
static const char sql_m_now[] =
    "SELECT NOW(3) - INTERVAL " DBT_LATENCY_LAG " SECOND";
static const char sql_m_latency[] =
    "SELECT TIMESTAMPDIFF(MICROSECOND, queued_at, sent_at), "
    "IF(status = 'lost', NULL, "
    "TIMESTAMPDIFF(MICROSECOND, sent_at, finished_at)) "
    "FROM dispatches WHERE finished_at > ? AND finished_at <= ? "
    "LIMIT 10000";	/* per refresh: a flood is sampled */

static void
dbt_touch_one(struct idmap_node *e, void *arg)
{
	const char	***pp = arg;

	*(*pp)++ = (const char *)e->key;
}

/*
 * One batch of each kind per poll while there is more, so results and
 * claims go on between batches; a line once a sweep deleted something.
 */
static void
dbt_retain(long long now)
{
	struct retention_counts	*c = &dbt.retained;
	size_t			 ex = c->executions, ev = c->events,
				 wk = c->workers;
	char			 workers[96] = "";

	c->more = 0;
	if (retention_sweep(dbt.db, dbt.cfg->retention_days,
	    dbt.cfg->worker_prune_days, RETENTION_BATCH, c) == -1) {
		dbt_failed("deleting old rows");
		c->more = 0;
	}
	dbt.retain_rounds++;
	dbt.retain_ms += pushd_now_ms() - now;
	metrics_retention(c->executions - ex, c->events - ev,
	    c->workers - wk);
	if (c->more) {
		dbt.next_retain = now + DBT_RETAIN_MORE_MS;
		return;
	}
	dbt.next_retain = now + (long long)dbt.cfg->retention_interval_s *
	    1000;
	if (dbt.cfg->worker_prune_days > 0)
		snprintf(workers, sizeof(workers), ", %zu worker%s offline "
		    "for over %d days", c->workers, c->workers == 1 ? "" : "s",
		    dbt.cfg->worker_prune_days);
	if (c->executions + c->events + c->workers > 0)
		log_info("retention: deleted %zu execution%s and %zu event%s "
		    "older than %d days%s (%zu round%s, %lld ms)",
		    c->executions, c->executions == 1 ? "" : "s", c->events,
		    c->events == 1 ? "" : "s", dbt.cfg->retention_days,
		    workers, dbt.retain_rounds, dbt.retain_rounds == 1 ? "" :
		    "s", dbt.retain_ms);
	memset(c, 0, sizeof(*c));
	dbt.retain_rounds = 0;
	dbt.retain_ms = 0;
}

/* Status counts, statuses as labels: [a-z_] only, 16 at most. */
static int
dbt_counts(const char *sql, const char *const *known,
    struct metrics_count *v, size_t *np)
{
	struct db_res	*r;
	size_t		 i, k, n = 0;
	const char	*st;

	for (; *known != NULL && n < METRICS_STATUS_MAX; known++, n++) {
		strlcpy_p(v[n].status, *known, sizeof(v[n].status));
		v[n].n = 0;
	}
	if (db_exec(dbt.db, sql, &r, "") == -1)
		return -1;
	for (i = 0; i < db_res_rows(r); i++) {
		st = db_res_get(r, i, 0);
		if (st == NULL || st[0] == '\0' ||
		    strlen(st) >= sizeof(v[0].status) ||
		    st[strspn(st, "abcdefghijklmnopqrstuvwxyz_")] != '\0')
			continue;
		for (k = 0; k < n && strcmp(v[k].status, st) != 0; k++)
			;
		if (k == n) {
			if (n == METRICS_STATUS_MAX)
				continue;
			strlcpy_p(v[n++].status, st, sizeof(v[0].status));
		}
		v[k].n = db_res_int(r, i, 1, 0);
	}
	db_res_free(r);
	*np = n;
	return 0;
}

/*
 * What the metrics page shows from the database, read here every
 * DBT_METRICS_MS rather than per scrape; latencies of the commands that
 * finished since the last read (DBT_LATENCY_LAG behind, for late commits).
 */
static void
dbt_metrics(void)
{
	static const char *const wk[] = { "online", "offline", NULL };
	static const char *const ex[] = { "running", "waiting", "completed",
	    "failed", "cancelled", "awaiting_approval", "rejected", "expired",
	    NULL };
	static const char *const di[] = { "queued", "sent", "running",
	    NULL };
	struct metrics_db	 m;
	struct db_res		*r;
	size_t			 i;
	char			 wm[32];

	memset(&m, 0, sizeof(m));
	if (dbt_counts(sql_m_workers, wk, m.workers, &m.nworkers) == -1 ||
	    dbt_counts(sql_m_executions, ex, m.executions,
	    &m.nexecutions) == -1 ||
	    dbt_counts(sql_m_dispatches, di, m.dispatches,
	    &m.ndispatches) == -1) {
		dbt_failed("reading counts for metrics");
		return;
	}
	for (i = 0; i < m.ndispatches; i++)
		if (strcmp(m.dispatches[i].status, "queued") == 0)
			m.queued = m.dispatches[i].n;
	metrics_db_set(&m);

	if (db_exec(dbt.db, sql_m_now, &r, "") == -1) {
		dbt_failed("reading the time");
		return;
	}
	wm[0] = '\0';
	if (db_res_rows(r) == 1 && db_res_get(r, 0, 0) != NULL)
		strlcpy_p(wm, db_res_get(r, 0, 0), sizeof(wm));
	db_res_free(r);
	if (dbt.latency_wm[0] == '\0' || wm[0] == '\0') {
		/* Only what finishes from now on. */
		strlcpy_p(dbt.latency_wm, wm, sizeof(dbt.latency_wm));
		return;
	}
	if (db_exec(dbt.db, sql_m_latency, &r, "ss", dbt.latency_wm, wm) ==
	    -1) {
		dbt_failed("reading command latencies");
		return;
	}
	for (i = 0; i < db_res_rows(r); i++) {
		if (db_res_get(r, i, 0) != NULL)
			metrics_dispatch(0, db_res_int(r, i, 0, 0) / 1e6);
		if (db_res_get(r, i, 1) != NULL)
			metrics_dispatch(1, db_res_int(r, i, 1, 0) / 1e6);
	}
	db_res_free(r);
	strlcpy_p(dbt.latency_wm, wm, sizeof(dbt.latency_wm));
}

void
dbt_timers(long long now)
{
	const char		**ids, **p;
	struct dispatch_cmd	*cancels;
	size_t			 n;

	/* Every poll: a wait step of 10 s should last 10 s, not 11. */
	if (dispatch_due_waits(dbt.db, &dbt.advance) == -1)
		dbt_failed("waking wait steps");
	/* And an approval's deadline (SPEC section 15) on time too. */
	if (engine_approval_expire_due(dbt.db, &n) == -1)
		dbt_failed("expiring approvals");
	if (now >= dbt.next_timers) {
		dbt.next_timers = now + DBT_TIMERS_MS;
		if (dispatch_expire(dbt.db, dbt.grace_ms, &dbt.advance,
		    &cancels, &n) == -1)
			dbt_failed("expiring commands");
		/* Past its deadline: the worker stops it, if it runs. */
		dbt_send_cmds(cancels, n, 0);
	}
	if (dbt.detach_at == 0)
		dbt.detach_at = now + DBT_REATTACH_MS;
	if (!dbt.detached && now >= dbt.detach_at) {
		/*
		 * Attached here by a pushd of this node that died, and not
		 * back within a minute: no command channel. Not at once: a
		 * restarted pushd has its workers back in seconds, and steps
		 * that start meanwhile should wait for them, not skip them.
		 */
		if (dispatch_worker_detach_others(dbt.db, dbt.node, dbt_held,
		    NULL, &n) == -1)
			dbt_failed("detaching workers of an earlier run");
		else {
			dbt.detached = 1;
			if (n > 0)
				log_info("%zu worker%s of an earlier run "
				    "detached until they reconnect", n,
				    n == 1 ? "" : "s");
		}
	}
	if (now >= dbt.next_stale) {
		dbt.next_stale = now + DBT_STALE_MS;
		if (dispatch_workers_stale(dbt.db, dbt.cfg->worker_stale_s,
		    &n) == -1)
			dbt_failed("marking stale workers offline");
		else if (n > 0)
			log_info("%zu silent worker%s marked offline", n,
			    n == 1 ? "" : "s");
	}
	if (now >= dbt.next_touch) {
		dbt.next_touch = now + DBT_TOUCH_MS;
		dbt_untrusted();
		ids = p = xreallocarray(NULL, dbt.held.n + 1, sizeof(*ids));
		idmap_each(&dbt.held, dbt_touch_one, &p);
		if (dispatch_worker_touch(dbt.db, dbt.node, ids,
		    dbt.held.n) == -1)
			dbt_failed("refreshing worker heartbeats");
		free(ids);
	}
	if (now >= dbt.next_sweep) {
		dbt.next_sweep = now + DBT_SWEEP_MS;
		if (dispatch_sweep(dbt.db, DBT_SWEEP_IDLE_S, &dbt.advance) ==
		    -1)
			dbt_failed("sweeping executions");
	}
	if (now >= dbt.next_retain)
		dbt_retain(now);
	if (now >= dbt.next_metrics) {
		dbt.next_metrics = now + DBT_METRICS_MS;
		dbt_metrics();
	}
}
