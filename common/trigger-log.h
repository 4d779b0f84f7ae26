/*
 * The record of every call of an inbound trigger's hook (SPEC section 16),
 * refused ones too: trigger-log.c is the one writer of trigger_deliveries.
 * pulse-api appends; retention prunes old rows through it.
 */
#ifndef PULSE_TRIGGER_LOG_H
#define PULSE_TRIGGER_LOG_H

#include <stddef.h>

struct db;

#define TRIGGER_LOG_KEEP	1000	/* rows kept per trigger */
#define TRIGGER_REASON_MAX	512	/* bytes of a reason kept */
#define TRIGGER_DELIVERY_MAX	128	/* bytes of a delivery id */

/* The outcomes, as stored and shown. */
#define TRIGGER_STARTED		"started"
#define TRIGGER_REFUSED		"refused"
#define TRIGGER_REPLAYED	"replayed"
#define TRIGGER_ERROR		"error"

struct trigger_attempt {
	const char	*trigger_id;
	const char	*delivery_id;	/* NULL: none sent */
	int		 status;	/* the HTTP answer */
	const char	*outcome;	/* TRIGGER_* */
	const char	*reason;	/* NULL for a start; cut to the limit */
	const char	*execution_id;	/* NULL when nothing started */
};

/*
 * Append one attempt and drop that trigger's rows past the newest
 * TRIGGER_LOG_KEEP, in one transaction. 0, or -1 (db_errmsg()).
 */
int	trigger_log_add(struct db *, const struct trigger_attempt *);
/* Every row of a trigger (its deletion); 0 or -1. */
int	trigger_log_forget(struct db *, const char *trigger_id);
/* At most limit rows older than days; adds the count to *deleted. */
int	trigger_log_prune(struct db *, int days, size_t limit,
	    size_t *deleted);

#endif
