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
	"name", "type", "condition", "description",
};

/* The keys of a definition (SPEC.md section 14 beside section 5's). */
static const char *const workflow_keys[] = {
	"steps", "params", "allowed_groups",
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

static int
step_from_json(struct wf_check *ck, struct json_object *o, struct step *st)
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
	ck->name = st->name;
	if (get_type(ck, o, &st->type) == -1)
		return -1;
	t = step_type_of(st->type);
	if (check_keys(ck, o, t) == -1 || t->validate(ck, o, st) == -1)
		return -1;
	if (get_condition(ck, o, st) == -1)
		return -1;
	/* A description is for readers of the JSON; only its type counts. */
	if (json_object_object_get_ex(o, "description", &v) &&
	    !json_object_is_type(v, json_type_string))
		return wf_fail(ck, "description",
		    "description: must be a string");
	return 0;
}

int
workflow_from_json(struct json_object *def, struct workflow **out,
    struct workflow_error *err)
{
	struct workflow_error		 dummy;
	struct wf_check			 ck;
	struct workflow			*wf = NULL;
	struct json_object		*steps;
	struct json_object_iterator	 it, end;
	size_t				 n, i;

	if (err == NULL)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	err->step = -1;
	*out = NULL;
	ck.err = err;
	ck.step = -1;
	ck.name = NULL;

	if (!json_object_is_type(def, json_type_object)) {
		wf_fail(&ck, "definition", "definition: must be an object");
		goto fail;
	}
	it = json_object_iter_begin(def);
	end = json_object_iter_end(def);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if (!wf_in_list(workflow_keys, NITEMS(workflow_keys),
		    json_object_iter_peek_name(&it))) {
			wf_fail_unknown(&ck, json_object_iter_peek_name(&it),
			    " in the definition (allowed: steps, params, "
			    "allowed_groups)");
			goto fail;
		}
	if (!json_object_object_get_ex(def, "steps", &steps)) {
		wf_fail(&ck, "steps", "steps: missing");
		goto fail;
	}
	if (!json_object_is_type(steps, json_type_array)) {
		wf_fail(&ck, "steps", "steps: must be an array");
		goto fail;
	}
	n = json_object_array_length(steps);
	if (n == 0) {
		wf_fail(&ck, "steps", "steps: must not be empty");
		goto fail;
	}
	if (n > WF_STEPS_MAX) {
		wf_fail(&ck, "steps", "steps: more than %d steps", WF_STEPS_MAX);
		goto fail;
	}

	wf = xcalloc(1, sizeof(*wf));
	wf->steps = xcalloc(n, sizeof(*wf->steps));
	if (workflow_params_read(&ck, def, wf) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		ck.step = (int)i;
		ck.name = NULL;
		wf->nsteps = i + 1;	/* so a half-built step is freed */
		if (step_from_json(&ck, json_object_array_get_idx(steps, i),
		    &wf->steps[i]) == -1)
			goto fail;
	}
	if (workflow_params_check(&ck, wf) == -1)
		goto fail;
	*out = wf;
	return 0;
fail:
	workflow_free(wf);
	return -1;
}

void
workflow_free(struct workflow *wf)
{
	struct step	*st;
	size_t		 i, j;

	if (wf == NULL)
		return;
	for (i = 0; i < wf->nsteps; i++) {
		st = &wf->steps[i];
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
	}
	free(wf->steps);
	workflow_params_free(wf);
	free(wf);
}

const char *
step_type_name(enum step_kind type)
{
	const struct step_type *t = step_type_of((int)type);

	return t != NULL ? t->name : "unknown";
}
