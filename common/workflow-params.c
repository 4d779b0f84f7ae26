/*
 * A workflow's parameters and who may start it (SPEC.md section 14): the
 * keys `params` and `allowed_groups` beside `steps`, and the check that
 * every template and condition of the steps names a declared parameter.
 * Part of the definition checks (workflow.c).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond.h"
#include "params.h"
#include "pulse-limits.h"
#include "template.h"
#include "wfcheck.h"
#include "workflow.h"

static const char *const approval_keys[] = {
	"required", "approvers", "expires_in",
};

/*
 * `approval` (SPEC section 15): {"required": 1..10, "approvers": [groups],
 * "expires_in": ms}. The approvers are group names checked as
 * allowed_groups' are; every refusal names approval.KEY.
 */
static int
approval_read(struct wf_check *ck, struct json_object *a, struct workflow *wf)
{
	struct json_object	*v;
	long long		 n;
	char			 f[64];

	if (!json_object_is_type(a, json_type_object))
		return wf_fail(ck, "approval", "approval: must be an object "
		    "{\"required\", \"approvers\", \"expires_in\"}");
	json_object_object_foreach(a, key, val) {
		(void)val;
		if (!wf_in_list(approval_keys, NITEMS(approval_keys), key)) {
			snprintf(f, sizeof(f), "approval.%.*s", WF_FIELD_QUOTE,
			    key);
			return wf_fail(ck, f, "%s: unknown field (allowed: "
			    "\"required\", \"approvers\", \"expires_in\")", f);
		}
	}
	wf->approval_required = PULSE_APPROVAL_REQUIRED_DEFAULT;
	if (json_object_object_get_ex(a, "required", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return wf_fail(ck, "approval.required",
			    "approval.required: must be an integer");
		n = (long long)json_object_get_int64(v);
		if (n < 1 || n > PULSE_APPROVAL_REQUIRED_MAX)
			return wf_fail(ck, "approval.required",
			    "approval.required: must be between 1 and %d",
			    PULSE_APPROVAL_REQUIRED_MAX);
		wf->approval_required = (int)n;
	}
	if (wf_texts_as(ck, a, "approvers", "approval.approvers",
	    PULSE_APPROVAL_APPROVERS_MAX, WF_TARGET_MAX, WF_TARGET_CHARS, 1,
	    &wf->approvers, &wf->napprovers) == -1)
		return -1;
	wf->approval_expires_ms = PULSE_APPROVAL_EXPIRES_DEFAULT;
	if (json_object_object_get_ex(a, "expires_in", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return wf_fail(ck, "approval.expires_in",
			    "approval.expires_in: must be an integer "
			    "(milliseconds)");
		n = (long long)json_object_get_int64(v);
		if (n < PULSE_APPROVAL_EXPIRES_MIN ||
		    n > PULSE_APPROVAL_EXPIRES_MAX)
			return wf_fail(ck, "approval.expires_in",
			    "approval.expires_in: must be between %lld and "
			    "%lld ms", PULSE_APPROVAL_EXPIRES_MIN,
			    PULSE_APPROVAL_EXPIRES_MAX);
		wf->approval_expires_ms = n;
	}
	wf->has_approval = 1;
	return 0;
}

int
workflow_params_read(struct wf_check *ck, struct json_object *def,
    struct workflow *wf)
{
	struct fielderr		 ferr;
	struct json_object	*v;

	if (json_object_object_get_ex(def, "params", &v)) {
		wf->templates = 1;
		if (params_from_json(v, &wf->params, &ferr) == -1)
			return wf_fail(ck, ferr.field, "%s", ferr.msg);
	}
	/* The same names as a worker's groups: no repeats, at most 64. */
	if (json_object_object_get_ex(def, "allowed_groups", NULL) &&
	    wf_texts(ck, def, "allowed_groups", WORKER_GROUPS_COUNT,
	    WF_TARGET_MAX, WF_TARGET_CHARS, 1, &wf->allowed_groups,
	    &wf->nallowed_groups) == -1)
		return -1;
	if (json_object_object_get_ex(def, "approval", &v) &&
	    approval_read(ck, v, wf) == -1)
		return -1;
	return 0;
}

static int
known(const char *name, size_t len, void *arg)
{
	return params_find(arg, name, len) != -1;
}

static int
check_template(struct wf_check *ck, const struct workflow *wf,
    const char *field, const char *src, int flags)
{
	struct template_err	 terr;

	if (src == NULL || !wf->templates || template_check(src,
	    strlen(src), wf->params, flags, &terr) == 0)
		return 0;
	return wf_fail(ck, field, "%s: at byte %zu: %s", field, terr.off,
	    terr.msg);
}

/* One step's templates and condition against the parameters declared. */
static int
check_step(struct wf_check *ck, const struct workflow *wf,
    const struct step *st)
{
	struct cond_error	 cerr;

	if (check_template(ck, wf, "command", st->command,
	    TEMPLATE_SH) == -1 ||
	    check_template(ck, wf, "message", st->message, 0) == -1 ||
	    workflow_sub_check(ck, wf, st) == -1)
		return -1;
	if (st->cond != NULL && cond_check_params(st->cond, known,
	    wf->params, &cerr) == -1)
		return wf_fail(ck, "condition", "condition: at column %d: %s",
		    cerr.pos, cerr.msg);
	return 0;
}

/* A list of steps ("steps" or "on_failure") and the steps of its groups. */
static int
check_list(struct wf_check *ck, const struct workflow *wf,
    const struct step *steps, size_t n, const char *list)
{
	size_t	 i, j;

	ck->list = list;
	for (i = 0; i < n; i++) {
		ck->step = (int)i;
		ck->name = steps[i].name;
		ck->child = -1;
		ck->child_name = NULL;
		if (check_step(ck, wf, &steps[i]) == -1)
			return -1;
		for (j = 0; j < steps[i].nsteps; j++) {
			ck->child = (int)j;
			ck->child_name = steps[i].steps[j].name;
			if (check_step(ck, wf, &steps[i].steps[j]) == -1)
				return -1;
		}
	}
	return 0;
}

int
workflow_params_check(struct wf_check *ck, struct workflow *wf)
{
	if (check_list(ck, wf, wf->steps, wf->nsteps, NULL) == -1 ||
	    check_list(ck, wf, wf->on_failure, wf->non_failure,
	    "on_failure") == -1)
		return -1;
	ck->list = NULL;
	ck->step = -1;
	ck->name = NULL;
	ck->child = -1;
	ck->child_name = NULL;
	return 0;
}

void
workflow_params_free(struct workflow *wf)
{
	size_t	 i;

	params_free(wf->params);
	for (i = 0; i < wf->nallowed_groups; i++)
		free(wf->allowed_groups[i]);
	free(wf->allowed_groups);
	for (i = 0; i < wf->napprovers; i++)
		free(wf->approvers[i]);
	free(wf->approvers);
}
