/*
 * Workflow definitions (SPEC.md section 5): the one place where untrusted
 * JSON becomes a checked struct workflow. Every refusal names the step and
 * the field, in words an administrator can act on without reading code.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "step.h"
#include "wfcheck.h"
#include "workflow.h"
#include "xmalloc.h"

static const char *const common_keys[] = {
	"name", "type", "condition", "description", "on_failure",
};
/* The definition's own keys. */
static const char *const top_keys[] = {
	"steps", "params", "allowed_groups", "on_failure", "approval",
	"notify",
};

static int
check_keys(struct wf_check *ck, struct json_object *o,
    const struct step_type *t)
{
	struct json_object_iterator	 it, end;
	const char			*key;
	size_t				 nkeys;

	for (nkeys = 0; t->keys[nkeys] != NULL; nkeys++)
		;
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		if (wf_in_list(common_keys, NITEMS(common_keys), key) ||
		    wf_in_list(t->keys, nkeys, key))
			continue;
		return wf_fail_unknown(ck, key, t->what);
	}
	return 0;
}

static int
get_type(struct wf_check *ck, struct json_object *o, enum step_kind *type)
{
	struct json_object	*v;
	const char		*s;
	char			 q[WF_QUOTE_MAX + 4], names[128];
	int			 k;

	if (!json_object_object_get_ex(o, "type", &v))
		return wf_fail(ck, "type", "type: missing");
	if (!json_object_is_type(v, json_type_string))
		return wf_fail(ck, "type", "type: must be a string");
	s = json_object_get_string(v);
	if ((k = step_type_find(s)) == -1) {
		wf_clip(q, sizeof(q), s, WF_QUOTE_MAX);
		step_type_names(names, sizeof(names));
		return wf_fail(ck, "type", "type: must be %s, not '%s'", names,
		    q);
	}
	*type = (enum step_kind)k;
	return 0;
}

static int
get_condition(struct wf_check *ck, struct json_object *o, struct step *st)
{
	struct cond_error	 cerr;
	const char		*src;
	int			 rc;

	if ((rc = wf_text(ck, o, "condition", 0, COND_SOURCE_MAX, 0,
	    &src)) < 1)
		return rc;
	if ((st->cond = cond_parse(src, strlen(src), &cerr)) == NULL)
		return wf_fail(ck, "condition", "condition: at column %d: %s",
		    cerr.pos, cerr.msg);
	st->condition = xstrdup(src);
	return 0;
}

/*
 * A step's "on_failure": "fail" (the default: the execution fails) or
 * "continue" (recorded failed and counted, the execution goes on). A
 * prompt never fails, so it has none.
 */
static int
get_on_failure(struct wf_check *ck, struct json_object *o, struct step *st)
{
	struct json_object	*v;
	const char		*s;

	if (!json_object_object_get_ex(o, "on_failure", &v))
		return 0;
	if (st->type == STEP_PROMPT)
		return wf_fail(ck, "on_failure", "on_failure: a prompt step "
		    "cannot have one (a prompt does not fail)");
	if (!json_object_is_type(v, json_type_string))
		return wf_fail(ck, "on_failure", "on_failure: must be "
		    "\"continue\" or \"fail\"");
	s = json_object_get_string(v);
	if (strcmp(s, "continue") != 0 && strcmp(s, "fail") != 0)
		return wf_fail(ck, "on_failure", "on_failure: must be "
		    "\"continue\" or \"fail\"");
	st->on_failure_continue = strcmp(s, "continue") == 0;
	return 0;
}

int
workflow_step_from_json(struct wf_check *ck, struct json_object *o,
    struct step *st)
{
	const struct step_type	*t;
	struct json_object	*v;
	const char		*s;

	if (!json_object_is_type(o, json_type_object))
		return wf_fail(ck, "steps", "must be an object");
	if (wf_text(ck, o, "name", 1, WF_STEP_NAME_MAX,
	    WF_STEP_NAME_CHARS, &s) == -1)
		return -1;
	st->name = xstrdup(s);
	if (ck->child >= 0)
		ck->child_name = st->name;
	else
		ck->name = st->name;
	if (get_type(ck, o, &st->type) == -1)
		return -1;
	t = step_type_of(st->type);
	if (check_keys(ck, o, t) == -1 || t->validate(ck, o, st) == -1)
		return -1;
	if (get_condition(ck, o, st) == -1 || get_on_failure(ck, o, st) == -1)
		return -1;
	/* A description is for readers of the JSON; only its type counts. */
	if (json_object_object_get_ex(o, "description", &v) &&
	    !json_object_is_type(v, json_type_string))
		return wf_fail(ck, "description",
		    "description: must be a string");
	return 0;
}

/*
 * One list of steps, "steps" or "on_failure", into *out: 1..WF_STEPS_MAX
 * steps. The on_failure list has no prompt (nobody may be there to
 * answer while something is broken).
 */
static int
steps_from_json(struct wf_check *ck, struct json_object *def,
    const char *key, struct step **out, size_t *nout)
{
	struct json_object	*steps, *o;
	size_t			 n, i;

	if (!json_object_object_get_ex(def, key, &steps))
		return wf_fail(ck, key, "%s: missing", key);
	if (!json_object_is_type(steps, json_type_array))
		return wf_fail(ck, key, "%s: must be an array", key);
	n = json_object_array_length(steps);
	if (n == 0)
		return wf_fail(ck, key, "%s: must not be empty", key);
	if (n > WF_STEPS_MAX)
		return wf_fail(ck, key, "%s: more than %d steps", key,
		    WF_STEPS_MAX);
	*out = xcalloc(n, sizeof(**out));
	for (i = 0; i < n; i++) {
		ck->step = (int)i;
		ck->name = NULL;
		*nout = i + 1;	/* so a half-built step is freed */
		o = json_object_array_get_idx(steps, i);
		if (workflow_step_from_json(ck, o, &(*out)[i]) == -1)
			return -1;
		if (ck->list != NULL && (*out)[i].type == STEP_PROMPT)
			return wf_fail(ck, "type", "type: a prompt cannot be an "
			    "on_failure step");
	}
	ck->step = -1;
	ck->name = NULL;
	return 0;
}

static void
plan_add(struct workflow *wf, const struct step *st, int parent,
    enum plan_phase phase)
{
	wf->plan[wf->nplan].st = st;
	wf->plan[wf->nplan].parent = parent;
	wf->plan[wf->nplan].phase = phase;
	wf->nplan++;
}

/* The flat plan (workflow.h) of a checked workflow. */
static void
plan_build(struct workflow *wf)
{
	size_t	 n = wf->nsteps + wf->non_failure, i, j;
	int	 group;

	for (i = 0; i < wf->nsteps; i++)
		n += wf->steps[i].nsteps;
	for (i = 0; i < wf->non_failure; i++)
		n += wf->on_failure[i].nsteps;
	wf->plan = xcalloc(n, sizeof(*wf->plan));
	for (i = 0; i < wf->nsteps; i++) {
		group = (int)wf->nplan;
		plan_add(wf, &wf->steps[i], -1, PHASE_MAIN);
		for (j = 0; j < wf->steps[i].nsteps; j++)
			plan_add(wf, &wf->steps[i].steps[j], group, PHASE_MAIN);
	}
	wf->nmain = wf->nplan;
	for (i = 0; i < wf->non_failure; i++) {
		group = (int)wf->nplan;
		plan_add(wf, &wf->on_failure[i], -1, PHASE_ON_FAILURE);
		for (j = 0; j < wf->on_failure[i].nsteps; j++)
			plan_add(wf, &wf->on_failure[i].steps[j], group,
			    PHASE_ON_FAILURE);
	}
}

int
workflow_from_json(struct json_object *def, struct workflow **out,
    struct workflow_error *err)
{
	struct workflow_error		 dummy;
	struct wf_check			 ck;
	struct workflow			*wf = NULL;
	struct json_object		*v;
	struct json_object_iterator	 it, end;
	const char			*key;

	if (err == NULL)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	err->step = -1;
	*out = NULL;
	memset(&ck, 0, sizeof(ck));
	ck.err = err;
	ck.step = -1;
	ck.child = -1;

	if (!json_object_is_type(def, json_type_object)) {
		wf_fail(&ck, "definition", "definition: must be an object");
		goto fail;
	}
	it = json_object_iter_begin(def);
	end = json_object_iter_end(def);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		if (!wf_in_list(top_keys, NITEMS(top_keys), key)) {
			wf_fail_unknown(&ck, key, " in the definition "
			    "(allowed: \"steps\", \"params\", "
			    "\"allowed_groups\", \"on_failure\", \"approval\", "
			    "\"notify\")");
			goto fail;
		}
	}
	wf = xcalloc(1, sizeof(*wf));
	if (workflow_params_read(&ck, def, wf) == -1)
		goto fail;
	if (steps_from_json(&ck, def, "steps", &wf->steps, &wf->nsteps) == -1)
		goto fail;
	if (json_object_object_get_ex(def, "on_failure", &v)) {
		ck.list = "on_failure";
		if (!json_object_is_type(v, json_type_array)) {
			wf_fail(&ck, "on_failure", "on_failure: must be an array "
			    "of steps");
			goto fail;
		}
		if (steps_from_json(&ck, def, "on_failure", &wf->on_failure,
		    &wf->non_failure) == -1)
			goto fail;
		ck.list = NULL;
	}
	if (workflow_params_check(&ck, wf) == -1 ||
	    workflow_notify_read(&ck, def, wf) == -1)
		goto fail;
	plan_build(wf);
	*out = wf;
	return 0;
fail:
	workflow_free(wf);
	return -1;
}

const struct plan_entry *
workflow_plan_at(const struct workflow *wf, int index)
{
	if (index < 0 || (size_t)index >= wf->nplan)
		return NULL;
	return &wf->plan[index];
}

int
workflow_plan_next(const struct workflow *wf, int index)
{
	const struct plan_entry *pe = workflow_plan_at(wf, index);

	return pe == NULL ? index + 1 : index + 1 + (int)pe->st->nsteps;
}

const char *
plan_phase_name(enum plan_phase phase)
{
	return phase == PHASE_ON_FAILURE ? "on_failure" : "main";
}

static void
steps_free(struct step *steps, size_t n)
{
	struct step	*st;
	size_t		 i, j;

	for (i = 0; i < n; i++) {
		st = &steps[i];
		free(st->name);
		for (j = 0; j < st->ntargets; j++)
			free(st->targets[j]);
		free(st->targets);
		free(st->command);
		free(st->message);
		for (j = 0; j < st->noptions; j++)
			free(st->options[j]);
		free(st->options);
		free(st->condition);
		free(st->workflow_id);
		json_object_put(st->sub_params);
		cond_free(st->cond);
		steps_free(st->steps, st->nsteps);
	}
	free(steps);
}

void
workflow_free(struct workflow *wf)
{
	if (wf == NULL)
		return;
	steps_free(wf->steps, wf->nsteps);
	steps_free(wf->on_failure, wf->non_failure);
	free(wf->plan);
	workflow_params_free(wf);
	workflow_notify_free(wf);
	free(wf);
}

const char *
step_type_name(enum step_kind type)
{
	const struct step_type *t = step_type_of((int)type);

	return t != NULL ? t->name : "unknown";
}
