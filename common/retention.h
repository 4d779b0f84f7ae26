/*
 * Retention: finished executions (with their steps, dispatches and output,
 * by foreign-key cascade), events, and long-offline workers older than a
 * limit are deleted in small batches. Several pushd may sweep at once:
 * each batch locks its rows with SKIP LOCKED, so they share the work.
 */
#ifndef PULSE_RETENTION_H
#define PULSE_RETENTION_H

#include <stddef.h>

struct db;

#define RETENTION_BATCH		500	/* rows per transaction */

struct retention_counts {
	size_t	 executions;
	size_t	 events;
	size_t	 workers;
	size_t	 keys;		/* idempotency keys past 24 hours */
	size_t	 deliveries;	/* trigger_deliveries rows (trigger-log.h) */
	size_t	 notifications;	/* final outbox rows (notify.h) */
	int	 more;		/* a batch was full: sweep again soon */
};

/*
 * One batch of at most batch rows of each kind, each kind in its own
 * transaction. Executions that are not completed, failed or cancelled are
 * never deleted, whatever their age. worker_days 0 keeps every worker.
 * Idempotency keys go after 24 hours (ENGINE_KEY_TTL_HOURS).
 * Adds what it deleted to *c; -1 on a database error (db_errmsg()).
 */
int	retention_sweep(struct db *, int days, int worker_days, size_t batch,
	    struct retention_counts *);

#endif
