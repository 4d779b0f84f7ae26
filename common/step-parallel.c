/*
 * The parallel group (SPEC section 14): {"type":"parallel","name",
 * "steps":[...]} begins all of its steps at once and ends when every one
 * has. It succeeds when each succeeded, was skipped, or failed with
 * on_failure "continue"; else it fails naming the steps that failed.
 *
 * Its steps have their own step_index right after the group's (the flat
 * plan, workflow.h), their own rows and dispatches; ex->at points at each
 * in turn while the group begins or polls them, and back at the group
 * after. A result for one of them advances the execution as any result
 * does, and the group, the current step, polls them all.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "step.h"
#include "wfcheck.h"
#include "workflow.h"
#include "xmalloc.h"

static const char *const parallel_keys[] = { "steps", NULL };

static int
parallel_validate(struct wf_check *ck, struct json_object *o, struct step *st)
{
	struct json_object	*a;
	struct step		*c;
	size_t			 n, i;
	int			 rc = 0;

	if (ck->child >= 0)
		return wf_fail(ck, "type", "type: a parallel group cannot be "
		    "inside a parallel group");
	if (!json_object_object_get_ex(o, "steps", &a))
		return wf_fail(ck, "steps", "steps: missing");
	if (!json_object_is_type(a, json_type_array))
		return wf_fail(ck, "steps", "steps: must be an array of steps");
	n = json_object_array_length(a);
	if (n == 0)
		return wf_fail(ck, "steps", "steps: must not be empty");
	if (n > PULSE_PARALLEL_STEPS_MAX)
		return wf_fail(ck, "steps", "steps: more than %d steps",
		    PULSE_PARALLEL_STEPS_MAX);
	st->steps = xcalloc(n, sizeof(*st->steps));
	for (i = 0; i < n && rc == 0; i++) {
		ck->child = (int)i;
		ck->child_name = NULL;
		st->nsteps = i + 1;	/* so a half-built step is freed */
		c = &st->steps[i];
		rc = workflow_step_from_json(ck, json_object_array_get_idx(a, i),
		    c);
		/* Nobody answers a prompt while its siblings run on. */
		if (rc == 0 && c->type == STEP_PROMPT)
			rc = wf_fail(ck, "type", "type: a prompt cannot be inside "
			    "a parallel group");
	}
	if (rc == 0) {
		ck->child = -1;
		ck->child_name = NULL;
	}
	return rc;
}

/*
 * Move every step of the group at ex->at as far as it goes: p->status is
 * STEP_RUNNING while one still runs, else how the group ended, with the
 * failed steps named in p->reason.
 */
static int
parallel_steps(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p)
{
	const struct step	*c;
	struct step_poll	 cp;
	size_t			 i, o = 0, nfailed = 0;
	int			 group = ex->at, rc = 0, running = 0, s, now;

	p->reason[0] = '\0';
	for (i = 0; i < st->nsteps; i++) {
		c = &st->steps[i];
		ex->at = group + 1 + (int)i;
		/* A failure let go is counted once, when it happens. */
		if (engine_step_move(db, ex, c, &cp, &now) == -1 ||
		    (now && cp.status == STEP_FAILED && c->on_failure_continue &&
		    engine_count_failed(db, ex) == -1)) {
			rc = -1;
			break;
		}
		s = cp.status;
		if (s == STEP_RUNNING || s == STEP_PENDING || s == STEP_WAITING)
			running = 1;
		else if (s == STEP_FAILED && !c->on_failure_continue) {
			if (nfailed++ == 0)
				o = (size_t)snprintf(p->reason, sizeof(p->reason),
				    "steps failed: \"%s\"", c->name);
			else if (o < sizeof(p->reason))
				o += (size_t)snprintf(p->reason + o,
				    sizeof(p->reason) - o, ", \"%s\"", c->name);
		}
	}
	ex->at = group;
	pjson_utf8_trim(p->reason);	/* long names are cut */
	p->status = running ? STEP_RUNNING : nfailed > 0 ? STEP_FAILED :
	    STEP_SUCCEEDED;
	return rc;
}

static int
parallel_begin(struct db *db, struct exec *ex, const struct step *st)
{
	struct step_poll	 p;

	if (engine_step_begin(db, ex, STEP_RUNNING, -1) == -1 ||
	    parallel_steps(db, ex, st, &p) == -1)
		return -1;
	/* Every step may have ended at once (skipped, could not start). */
	return engine_step_settle(db, ex, &p);
}

static int
parallel_poll(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p)
{
	return parallel_steps(db, ex, st, p);
}

const struct step_type step_parallel = {
	.name = "parallel",
	.what = " for a parallel group",
	.keys = parallel_keys,
	.validate = parallel_validate,
	.begin = parallel_begin,
	.poll = parallel_poll,
};
