/*
 * How far behind this pushd is, published for pulse-api's admission of
 * starts (issue 20; fcgi-api/admit.c). Behind means work that could be
 * done and waits for this pushd: a command queued for a worker that is
 * attached here, from when it could first have gone (queued, its retry
 * due, its worker attached) until claimed; and the oldest report or
 * connect waiting in the db thread's own queue. A command waiting for a
 * busy worker is not lag (pushd sends it at once; the worker queues it),
 * nor one for an offline worker (counted from the attach). The highest
 * wait seen in each DBT_LOAD_MS is this pushd's row in control_load.
 */
#include <stdint.h>
#include <string.h>

#include "db.h"
#include "dbt.h"
#include "log.h"

static const char sql_publish[] =
    "INSERT INTO control_load (node_id, lag_ms, updated_at) "
    "VALUES (?, ?, NOW(3)) ON DUPLICATE KEY UPDATE "
    "lag_ms = VALUES(lag_ms), updated_at = VALUES(updated_at)";

static struct {
	struct idmap	 attached;	/* worker_id -> attach time (ms) */
	int		 ready;
	long long	 worst;		/* highest wait this window (ms) */
	long long	 last;		/* the value last written */
	long long	 next;		/* the next write is due */
	long long	 wrote;		/* when the last one was */
	struct log_every warned, behind;
} load;

static void
dbt_load_init(void)
{
	if (load.ready)
		return;
	idmap_init(&load.attached);
	load.ready = 1;
}

static void
dbt_load_note(long long wait_ms)
{
	if (wait_ms > load.worst)
		load.worst = wait_ms;
}

/* A worker is attached here from now: what it missed was not our lag. */
void
dbt_load_attached(const char *worker_id)
{
	struct idmap_node	*e;

	dbt_load_init();
	e = idmap_put(&load.attached, worker_id, ID_LEN);
	e->num = (uint64_t)pushd_now_ms();
}

void
dbt_load_gone(const char *worker_id)
{
	if (load.ready)
		idmap_del(&load.attached, worker_id, ID_LEN);
}

/*
 * Commands just claimed, in a claim that took took_ms (a lock waited
 * for is lag too: waited_ms was read before it): how long each could
 * have gone and did not.
 */
void
dbt_load_claimed(const struct dispatch_cmd *cmds, size_t n, long long took_ms)
{
	struct idmap_node	*e;
	long long		 now = pushd_now_ms(), wait, since;
	size_t			 i;

	dbt_load_init();
	for (i = 0; i < n; i++) {
		wait = cmds[i].waited_ms + took_ms;
		e = idmap_get(&load.attached, cmds[i].worker_id, ID_LEN);
		if (e != NULL && (since = now - (long long)e->num) < wait)
			wait = since;
		dbt_load_note(wait);
	}
}

/*
 * Each turn of the db thread, before its jobs: the oldest job's age,
 * and this window's worst written once it is due. Quiet (under
 * DBT_LOAD_QUIET_MS now and last time), the row is only kept fresh.
 */
void
dbt_load(long long now)
{
	struct job	*j;
	long long	 lag;
	unsigned	 quiet;

	dbt_load_init();
	if ((j = TAILQ_FIRST(&dbt.pending)) != NULL)
		dbt_load_note(now - j->queued_ms);
	/* Falling behind is told at once (at most every DBT_LOAD_MS). */
	if (dbt.away || (now < load.next && (load.worst < DBT_LOAD_QUIET_MS ||
	    now < load.wrote + DBT_LOAD_MS)))
		return;
	lag = load.worst;
	if (lag < 0)
		lag = 0;
	if (lag > DBT_LOAD_MAX_MS)
		lag = DBT_LOAD_MAX_MS;
	if (db_exec(dbt.db, sql_publish, NULL, "si", dbt.node, lag) == -1) {
		/* The row goes stale, and a stale row admits: no worse. */
		if (db_down(dbt.db))
			dbt_failed("publishing this pushd's lag");
		else if (log_every(&load.warned, 60, &quiet))
			log_warnx("publishing this pushd's lag: %s (%u more "
			    "not logged)", db_errmsg(dbt.db), quiet);
		load.next = now + DBT_LOAD_MS;
		return;
	}
	if (lag >= DBT_LOAD_QUIET_MS && load.last < DBT_LOAD_QUIET_MS &&
	    log_every(&load.behind, 10, &quiet))
		log_info("%lld ms behind (pulse-api refuses starts past "
		    "PULSE_ADMIT_LAG_MS; %u more times not logged)", lag, quiet);
	load.next = now + (lag >= DBT_LOAD_QUIET_MS ||
	    load.last >= DBT_LOAD_QUIET_MS ? DBT_LOAD_MS : DBT_LOAD_IDLE_MS);
	load.last = lag;
	load.wrote = now;
	load.worst = 0;
}

void
dbt_load_free(void)
{
	if (load.ready)
		idmap_free(&load.attached);
	memset(&load, 0, sizeof(load));
}
