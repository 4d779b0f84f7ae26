/*
 * Retries of an execute step (SPEC.md section 14, DESIGN.md section 9): a
 * target whose latest attempt failed gets its next attempt as a new
 * dispatch row (attempt + 1) that pushd claims once its not_before has
 * passed, like any timer. The decision is here; the row is dispatch.c's.
 */
#include <stdint.h>
#include <stdlib.h>

#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "engine-int.h"
#include "retry.h"
#include "status.h"
#include "workflow.h"

/*
 * failed and timed_out are retried; lost only when the step says so (the
 * command may have run to the end where nobody saw it); refused (the
 * worker's owner said no: it would say no again), cancelled and skipped
 * never.
 */
int
step_retry_wanted(const struct retry *r, int retry_lost,
    enum dispatch_status ds, int attempt)
{
	if (attempt < 1 || (uint32_t)attempt > r->attempts)
		return 0;
	switch (ds) {
	case DISP_FAILED:
	case DISP_TIMED_OUT:
		return 1;
	case DISP_LOST:
		return retry_lost != 0;
	default:
		return 0;
	}
}

int
step_retry(struct db *db, const struct step *st, const char *dispatch_id,
    enum dispatch_status ds, int attempt)
{
	uint32_t	 delay;
	int		 queued;

	if (!step_retry_wanted(&st->retry, st->retry_lost, ds, attempt))
		return 0;
	/* The jitter spreads retries of many targets that failed together. */
	delay = retry_delay_ms(&st->retry, attempt, arc4random());
	if (dispatch_retry(db, dispatch_id, attempt, delay, &queued) == -1)
		return -1;
	return queued;	/* 0: its worker is gone, the target failed */
}
