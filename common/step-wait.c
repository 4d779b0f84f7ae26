/*
 * The wait step (SPEC section 5): done once its duration has passed. Its
 * wake_at is the timer pushd's sweep claims (dispatch_due_waits).
 */
#include <json-c/json.h>

#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "pulse-limits.h"
#include "step.h"
#include "wfcheck.h"
#include "workflow.h"

static const char *const wait_keys[] = { "duration", NULL };

static int
wait_validate(struct wf_check *ck, struct json_object *o, struct step *st)
{
	if (wf_ms(ck, o, "duration", 1, 0, WF_DURATION_MAX,
	    &st->duration_ms) == -1)
		return -1;
	return 0;
}

static int
wait_begin(struct db *db, struct exec *ex, const struct step *st)
{
	if (engine_step_begin(db, ex, STEP_RUNNING, st->duration_ms) == -1)
		return -1;
	if (st->duration_ms > 0)
		return STEP_RUNNING;
	/* Nothing to wait for: it ends now, as a poll would. */
	if (engine_step_end(db, ex, STEP_RUNNING, STEP_SUCCEEDED,
	    NULL) == -1)
		return -1;
	return STEP_SUCCEEDED;
}

static int
wait_poll(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p)
{
	(void)db;
	(void)ex;
	(void)st;
	p->status = p->due ? STEP_SUCCEEDED : STEP_RUNNING;
	p->reason[0] = '\0';
	return 0;
}

const struct step_type step_wait = {
	.name = "wait",
	.what = " for a wait step",
	.keys = wait_keys,
	.validate = wait_validate,
	.begin = wait_begin,
	.poll = wait_poll,
};
