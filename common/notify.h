/*
 * The notification outbox (SPEC section 16, DESIGN section 10): the one
 * writer of the `notifications` table. The engine calls notify_execution()
 * inside the transaction of the event, so a committed event always has its
 * messages waiting; pushd's delivery thread (pushd/notifier.c) claims and
 * settles them through the notify_claim()/notify_settle() below. Nothing
 * here sends or logs.
 */
#ifndef PULSE_NOTIFY_H
#define PULSE_NOTIFY_H

#include <stddef.h>

struct db;

/* What a workflow's `notify` rule listens to ("on"); one bit each. */
enum notify_event {
	NOTIFY_FAILED,		/* also rejected and expired */
	NOTIFY_COMPLETED,
	NOTIFY_PROMPT,		/* a prompt step starts waiting */
	NOTIFY_APPROVAL,	/* an approval is requested (issue 15) */
	NOTIFY_EVENT_COUNT
};

/* The channel types, as stored in channels.type. */
extern const char *const notify_channel_types[];	/* NULL-terminated */

const char	*notify_event_name(enum notify_event);
int		 notify_event_from(const char *, enum notify_event *out);

/*
 * Queue one message per `notify` rule of the execution's (frozen)
 * definition that listens to event, to each enabled channel it names.
 * Call inside the transaction that records the event. 0 (also when no
 * rule matches), -1 with the db error.
 */
int	notify_execution(struct db *, const char *exec_id, enum notify_event);

/* Queue a test message to one channel (POST /api/channels/:id/test). */
int	notify_test(struct db *, const char *channel_id, const char *user,
	    long long *id_out);

/*
 * An administrator's retry of a failed or dead delivery: pending again now,
 * with a fresh 24 h. 0; 1 if no such row is failed or dead; -1.
 */
int	notify_retry(struct db *, long long id);

/* One claimed delivery, with what sending it needs. */
struct notify_job {
	long long	 id;
	int		 attempts;	/* this one included */
	char		*type;		/* channel type */
	char		*channel;	/* channel name */
	char		*url;		/* NULL: email through SMTP_URL */
	char		*secret;	/* webhook only */
	char		*email_to;
	char		*event;
	char		*payload;	/* JSON text */
	char		*delivery_id;
};

/*
 * Claim up to max due deliveries for node (SKIP LOCKED, then a conditional
 * UPDATE to 'delivering'), also those left 'delivering' by a pushd that
 * stopped NOTIFY_RECLAIM_S ago. *jobs: an array of *n (free each with
 * notify_job_clear, then the array).
 */
int	notify_claim(struct db *, const char *node, size_t max,
	    struct notify_job **jobs, size_t *n);
void	notify_job_clear(struct notify_job *);

enum notify_outcome {
	NOTIFY_DELIVERED,
	NOTIFY_RETRY,		/* again after delay_ms, or dead past expiry */
	NOTIFY_REFUSED,		/* 'failed': the receiver refused it for good */
};

/*
 * Record one attempt's outcome for a job this node holds. error: what the
 * receiver or the transport said (no URL, no secret). 0; 1 if the row is
 * not ours any more (taken back meanwhile); -1.
 */
int	notify_settle(struct db *, const char *node, long long id,
	    enum notify_outcome, long long delay_ms, const char *error);

/*
 * Retention: delete up to limit delivered, failed or dead rows older than
 * days, and up to limit such rows of executions that no longer exist;
 * *deleted grows by what went. 0, -1.
 */
int	notify_prune(struct db *, int days, size_t limit, size_t *deleted);

#endif
