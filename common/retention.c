/*
 * Retention (DESIGN.md section 3: events are pruned by age): one batch of
 * old rows per kind and per call, so the caller (pushd's database thread)
 * interleaves it with live work instead of holding the table for minutes.
 */
#include <string.h>

#include "db.h"
#include "events.h"
#include "notify.h"
#include "registry.h"
#include "retention.h"
#include "trigger-log.h"

/*
 * Only final states; completed_at NULL (never ended) is never old. No
 * ORDER BY: each batch is an index range, not a sort of the whole backlog.
 */
/* Galera: SKIP LOCKED only spreads the batches on one node; each delete
 * is counted from its own affected rows, and two nodes deleting one row
 * both write it (one is aborted and rerun, and then deletes nothing). */
static const char sql_old_executions[] =
    "SELECT id FROM executions "
    "WHERE status IN ('completed', 'failed', 'cancelled', 'rejected', "
    "'expired') "
    "AND completed_at < NOW(3) - INTERVAL ? DAY "
    "LIMIT ? FOR UPDATE SKIP LOCKED";
static const char sql_delete_execution[] =
    "DELETE FROM executions WHERE id = ? "
    "AND status IN ('completed', 'failed', 'cancelled', 'rejected', "
    "'expired')";
static const char sql_old_events[] =
    "SELECT id FROM events WHERE created_at < NOW(3) - INTERVAL ? DAY "
    "LIMIT ? FOR UPDATE SKIP LOCKED";
static const char sql_old_workers[] =
    "SELECT id FROM workers WHERE status = 'offline' "
    "AND COALESCE(last_heartbeat, created_at) < NOW() - INTERVAL ? DAY "
    "LIMIT ? FOR UPDATE SKIP LOCKED";

/* Idempotency keys live a day (sql/005), whatever RETENTION_DAYS says:
 * a client retries within minutes, and a key kept for longer only makes
 * a reused key fail. One statement: a key row has nothing to cascade. */
static const char sql_delete_keys[] =
    "DELETE FROM idempotency_keys "
    "WHERE created_at < NOW(3) - INTERVAL 24 HOUR LIMIT ?";

/* Delete one old row by id: 1 deleted, 0 gone meanwhile, -1 error. */
typedef int (*prune_fn)(struct db *, const char *id);

static int
prune_execution(struct db *db, const char *id)
{
	if (db_exec(db, sql_delete_execution, NULL, "s", id) == -1)
		return -1;
	return db_affected(db) == 1;
}

struct batch {
	const char	*select;
	prune_fn	 prune;
	long long	 days;
	long long	 limit;
	size_t		 seen, deleted;
};

static int
batch_txn(struct db *db, void *arg)
{
	struct batch	*b = arg;
	struct db_res	*res;
	size_t		 i;
	int		 rc = -1;

	b->seen = b->deleted = 0;
	if (db_exec(db, b->select, &res, "ii", b->days, b->limit) == -1)
		return -1;
	b->seen = db_res_rows(res);
	for (i = 0; i < b->seen; i++) {
		int	 rc1 = b->prune(db, db_res_get(res, i, 0));

		if (rc1 == -1)
			goto fail;
		b->deleted += (size_t)rc1;
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

static int
retention_batch(struct db *db, const char *select, prune_fn prune, int days,
    size_t limit, size_t *deleted, int *more)
{
	struct batch	 b;

	memset(&b, 0, sizeof(b));
	b.select = select;
	b.prune = prune;
	b.days = days;
	b.limit = (long long)limit;
	if (db_txn(db, batch_txn, &b) == -1)
		return -1;
	*deleted += b.deleted;
	if (b.seen >= limit)
		*more = 1;
	return 0;
}

int
retention_sweep(struct db *db, int days, int worker_days, size_t batch,
    struct retention_counts *c)
{
	size_t	 before;

	if (batch == 0)
		batch = RETENTION_BATCH;
	if (retention_batch(db, sql_old_executions, prune_execution, days,
	    batch, &c->executions, &c->more) == -1)
		return -1;
	if (retention_batch(db, sql_old_events, events_prune, days,
	    batch, &c->events, &c->more) == -1)
		return -1;
	if (db_exec(db, sql_delete_keys, NULL, "i", (long long)batch) == -1)
		return -1;
	c->keys += (size_t)db_affected(db);
	if (db_affected(db) >= batch)
		c->more = 1;
	/* A hook's attempts age like events; each trigger also keeps
	 * only its newest TRIGGER_LOG_KEEP (trigger-log.c). */
	before = c->deliveries;
	if (trigger_log_prune(db, days, batch, &c->deliveries) == -1)
		return -1;
	if (c->deliveries - before >= batch)
		c->more = 1;
	before = c->notifications;
	if (notify_prune(db, days, batch, &c->notifications) == -1)
		return -1;
	if (c->notifications - before >= batch)
		c->more = 1;
	if (worker_days > 0 && retention_batch(db, sql_old_workers,
	    registry_prune, worker_days, batch, &c->workers,
	    &c->more) == -1)
		return -1;
	return 0;
}
