/*
 * How far behind this pushd is, published for pulse-api's admission of
 * starts (issue 20; fcgi-api/admit.c). Behind means work that could be
 * done and waits for this pushd: a command queued for a worker that is
 * attached here, from when it could first have gone (queued, its retry
 * due, its worker attached) until claimed, or until now for the oldest
 * still queued; and the oldest report or connect waiting in the db
 * thread's own queue. A command waiting for a busy worker is not lag
 * (pushd sends it at once; the worker queues it), nor one for an offline
 * worker (counted from the attach). The highest wait seen in each
 * DBT_LOAD_MS is this pushd's row in control_load.
 */
#include <stdint.h>
#include <string.h>

#include "db.h"
#include "dbt.h"
#include "log.h"

/*
 * The oldest commands still queued for workers here, at each write: a
 * claim shows a wait only once it is over, and under overload the db
 * thread may not claim for a while (it records results first). The
 * same join and order as the claim's (common/dispatch.c).
 */
static const char sql_oldest[] =
    "SELECT d.worker_id, TIMESTAMPDIFF(MICROSECOND, GREATEST(d.queued_at, "
    "COALESCE(d.not_before, d.queued_at)), NOW(3)) DIV 1000 "
    "FROM workers w JOIN dispatches d ON d.worker_id = w.id "
    "AND d.status = 'queued' AND (d.not_before IS NULL "
    "OR d.not_before <= NOW(3)) WHERE w.pushd_node = ? "
    "AND w.state = 'accepted' ORDER BY d.queued_at LIMIT "
    DBT_STR(DBT_LOAD_OLDEST);
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

/* A command for worker_id waited wait_ms: from its attach at most. */
static void
dbt_load_wait(const char *worker_id, long long wait_ms, long long now)
{
	struct idmap_node	*e;
	long long		 since;

	e = idmap_get(&load.attached, worker_id, ID_LEN);
	if (e != NULL && (since = now - (long long)e->num) < wait_ms)
		wait_ms = since;
	dbt_load_note(wait_ms);
}

/* What waits unclaimed now; a read that fails only loses this look. */
static void
dbt_load_oldest(long long now)
{
	struct db_res	*r;
	const char	*w;
	size_t		 i;

	if (dbt.held.n == 0 ||
	    db_exec(dbt.db, sql_oldest, &r, "s", dbt.node) == -1)
		return;
	for (i = 0; i < db_res_rows(r); i++) {
		w = db_res_get(r, i, 0);
		/* On record here, not (yet) attached: not ours to send. */
		if (w != NULL && dbt_held(w, NULL))
			dbt_load_wait(w, db_res_int(r, i, 1, 0), now);
	}
	db_res_free(r);
}

/*
 * Commands just claimed, in a claim that took took_ms (a lock waited
 * for is lag too: waited_ms was read before it): how long each could
 * have gone and did not.
 */
void
dbt_load_claimed(const struct dispatch_cmd *cmds, size_t n, long long took_ms)
{
	long long	 now = pushd_now_ms();
	size_t		 i;

	dbt_load_init();
	for (i = 0; i < n; i++)
		dbt_load_wait(cmds[i].worker_id, cmds[i].waited_ms + took_ms,
		    now);
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
	dbt_load_oldest(now);
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
