/*
 * The event log (DESIGN.md section 9): events.c is the only writer of the
 * `events` table, the feed pushd broadcasts and replays. Every other
 * module appends through it, inside its own transaction.
 */
#ifndef PULSE_EVENTS_H
#define PULSE_EVENTS_H

struct db;
struct json_object;

/* Append an event; payload is owned (its "type" is set to type). */
int	events_append(struct db *, const char *type, const char *execution_id,
	    const char *worker_id, struct json_object *payload);

/* execution_status: the execution's status changed. */
int	events_status(struct db *, const char *execution_id,
	    const char *status);

/* step_status: a step's status changed (reason NULL: none). */
int	events_step(struct db *, const char *execution_id, int step,
	    const char *status, const char *reason);

/*
 * Retention: one event older than the retention period by id, deleted
 * (common/retention.c picks the ids). 1 deleted, 0 gone meanwhile, -1
 * error.
 */
int	events_prune(struct db *, const char *id);

#endif
