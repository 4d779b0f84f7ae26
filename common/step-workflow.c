/*
 * The workflow step (SPEC.md section 14, sub-workflows): it starts a child
 * execution of another stored workflow, in the parent's transaction, and
 * ends as the child ends. The child is linked both ways (its
 * parent_execution_id and parent_step; the step's child_execution_id) and
 * nests at most PULSE_SUBWORKFLOW_DEPTH_MAX deep.
 *
 * Lock order is parent before child everywhere: the child never locks its
 * parent's execution row. When it ends it only sets the parent step's
 * wake_at (engine_sub_wake), the timer pushd's sweep claims as it does a
 * wait step's (dispatch_due_waits), and the parent's poll then reads the
 * child's status.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "id.h"
#include "params.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "step.h"
#include "wfcheck.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_depth[] =
    "SELECT depth FROM executions WHERE id = ?";
static const char sql_step_child[] =
    "UPDATE execution_steps SET child_execution_id = ? "
    "WHERE execution_id = ? AND step_index = ?";
static const char sql_child_status[] =
    "SELECT e.status, e.error, e.workflow_name FROM execution_steps s "
    "JOIN executions e ON e.id = s.child_execution_id "
    "WHERE s.execution_id = ? AND s.step_index = ?";
static const char sql_parent_of[] =
    "SELECT parent_execution_id, parent_step FROM executions WHERE id = ?";
/* By primary key only: a scan would lock other executions' steps. */
static const char sql_wake[] =
    "UPDATE execution_steps SET wake_at = NOW(3) WHERE execution_id = ? "
    "AND step_index = ? AND child_execution_id = ? AND status = 'running'";

static const char *const workflow_keys[] = { "workflow_id", "params",
	"workflow_version", NULL };

static int
ident(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > PULSE_PARAM_NAME_MAX ||
	    !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
	    (s[0] >= 'a' && s[0] <= 'z')))
		return 0;
	for (i = 1; i < len; i++)
		if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

int
workflow_sub_ref(const char *s, const char **name, size_t *len)
{
	const char	*p = s, *n;
	size_t		 l;

	if (strncmp(p, "{{", 2) != 0)
		return 0;
	for (p += 2; *p == ' '; p++)
		;
	if (strncmp(p, "params.", 7) != 0)
		return 0;
	for (n = p += 7; *p == '_' || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'); p++)
		;
	l = (size_t)(p - n);
	for (; *p == ' '; p++)
		;
	if (strcmp(p, "}}") != 0 || !ident(n, l))
		return 0;
	*name = n;
	*len = l;
	return 1;
}

/* One value of `params`: a JSON scalar, a string bounded; -1 refused. */
static int
value_check(struct wf_check *ck, const char *key, struct json_object *v)
{
	char		 f[96];
	const char	*s, *n;
	size_t		 l;

	snprintf(f, sizeof(f), "params.%s", key);
	switch (json_object_get_type(v)) {
	case json_type_boolean:
	case json_type_int:
	case json_type_double:
		return 0;
	case json_type_string:
		break;
	default:
		return wf_fail(ck, f, "%s: must be a string, a number or a "
		    "boolean", f);
	}
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) > PULSE_PARAM_STRING_MAX)
		return wf_fail(ck, f, "%s: longer than %d bytes", f,
		    PULSE_PARAM_STRING_MAX);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return wf_fail(ck, f, "%s: must not contain NUL", f);
	/* As in a command, any {{ is a template: here only a whole one. */
	if (strstr(s, "{{") != NULL && !workflow_sub_ref(s, &n, &l))
		return wf_fail(ck, f, "%s: a value holding {{ must be exactly "
		    "{{ params.NAME }}, the parent's parameter NAME", f);
	return 0;
}

static int
sub_validate(struct wf_check *ck, struct json_object *o, struct step *st)
{
	struct json_object	*v;
	const char		*s;

	if (wf_text(ck, o, "workflow_id", 1, ID_LEN, 0, &s) == -1)
		return -1;
	if (!id_valid(s))
		return wf_fail(ck, "workflow_id", "workflow_id: must be a "
		    "workflow id (36 characters, as the API returns it)");
	st->workflow_id = xstrdup(s);
	/* A version of the child pinned (an approval's plan pins each). */
	if (json_object_object_get_ex(o, "workflow_version", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 1 ||
		    json_object_get_int64(v) > INT32_MAX)
			return wf_fail(ck, "workflow_version", "workflow_version: "
			    "must be an integer of at least 1 (a version of "
			    "the child workflow)");
		st->workflow_version = (long long)json_object_get_int64(v);
	}
	if (!json_object_object_get_ex(o, "params", &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return wf_fail(ck, "params", "params: must be an object of "
		    "the child's parameter values");
	if (json_object_object_length(v) > PULSE_PARAMS_MAX)
		return wf_fail(ck, "params", "params: more than %d values",
		    PULSE_PARAMS_MAX);
	json_object_object_foreach(v, key, val) {
		if (!ident(key, strlen(key)))
			return wf_fail(ck, "params", "params: '%.64s' is not a "
			    "parameter name", key);
		if (value_check(ck, key, val) == -1)
			return -1;
	}
	st->sub_params = json_object_get(v);
	return 0;
}

int
workflow_sub_check(struct wf_check *ck, const struct workflow *wf,
    const struct step *st)
{
	const char	*n;
	size_t		 l;
	char		 f[96];

	if (st->type != STEP_WORKFLOW || st->sub_params == NULL)
		return 0;
	json_object_object_foreach(st->sub_params, key, val) {
		if (!json_object_is_type(val, json_type_string) ||
		    !workflow_sub_ref(json_object_get_string(val), &n, &l) ||
		    params_find(wf->params, n, l) != -1)
			continue;
		snprintf(f, sizeof(f), "params.%s", key);
		return wf_fail(ck, f, "%s: {{ params.%.*s }} is not a parameter "
		    "of this workflow", f, (int)l, n);
	}
	return 0;
}

/* The values the child is given: references replaced by the parent's. */
struct json_object *
engine_sub_given(const struct exec *ex, const struct step *st)
{
	struct json_object	*g, *pv;
	const char		*n;
	char			 name[PULSE_PARAM_NAME_MAX + 1];
	size_t			 l;

	if (st->sub_params == NULL)
		return NULL;
	g = json_object_new_object();
	json_object_object_foreach(st->sub_params, key, val) {
		if (!json_object_is_type(val, json_type_string) ||
		    !workflow_sub_ref(json_object_get_string(val), &n, &l)) {
			json_object_object_add(g, key, json_object_get(val));
			continue;
		}
		/* Absent in the parent: not given to the child either. */
		snprintf(name, sizeof(name), "%.*s", (int)l, n);
		if (ex->params != NULL &&
		    json_object_object_get_ex(ex->params, name, &pv))
			json_object_object_add(g, key, json_object_get(pv));
	}
	return g;
}

/* The child's status as the parent's step status, with why it failed. */
static int
child_poll(struct db *db, struct exec *ex, struct step_poll *p)
{
	struct db_res		*res;
	enum exec_status	 es;
	const char		*err, *name;

	p->status = STEP_RUNNING;
	p->reason[0] = '\0';
	if (db_exec(db, sql_child_status, &res, "si", ex->id,
	    (long long)ex->at) == -1)
		return -1;
	if (db_res_rows(res) == 0) {
		/* Deleted under us (it cannot be while it runs): failed. */
		p->status = STEP_FAILED;
		snprintf(p->reason, sizeof(p->reason), "the sub-workflow's "
		    "execution is gone");
	} else if (exec_status_from(db_res_get(res, 0, 0), &es) == 0 &&
	    !(es == EXEC_RUNNING || es == EXEC_WAITING ||
	    es == EXEC_AWAITING_APPROVAL)) {
		err = db_res_get(res, 0, 1);
		name = db_res_get(res, 0, 2) ? db_res_get(res, 0, 2) : "?";
		if (es == EXEC_COMPLETED)
			p->status = STEP_SUCCEEDED;
		else {
			p->status = STEP_FAILED;
			snprintf(p->reason, sizeof(p->reason), "sub-workflow "
			    "'%s' %s: %s", name, es == EXEC_CANCELLED ?
			    "was cancelled" : es == EXEC_REJECTED ?
			    "was rejected" : es == EXEC_EXPIRED ?
			    "expired awaiting approval" : "failed",
			    err ? err : "no reason");
			pjson_utf8_trim(p->reason);
		}
	}
	db_res_free(res);
	return 0;
}

/* The step fails before its child exists, for why. */
static int
refuse(struct db *db, struct exec *ex, const char *why)
{
	if (engine_step_end(db, ex, STEP_PENDING, STEP_FAILED, why) == -1)
		return -1;
	return STEP_FAILED;
}

static int
sub_begin(struct db *db, struct exec *ex, const struct step *st)
{
	struct engine_err	 err;
	struct db_res		*res;
	struct json_object	*g;
	struct step_poll	 p;
	char			 child[ID_LEN + 1], why[512];
	long long		 depth;
	int			 rc, *budget;

	if (db_exec(db, sql_depth, &res, "s", ex->id) == -1)
		return -1;
	depth = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	if (depth + 1 > PULSE_SUBWORKFLOW_DEPTH_MAX) {
		/* Only a workflow edited into a cycle after its save gets here. */
		snprintf(why, sizeof(why), "sub-workflows nest at most %d deep "
		    "(PULSE_SUBWORKFLOW_DEPTH_MAX): this execution is at depth "
		    "%lld; is there a cycle of workflow steps?",
		    PULSE_SUBWORKFLOW_DEPTH_MAX, depth);
		return refuse(db, ex, why);
	}
	budget = ex->budget != NULL ? ex->budget : &ex->spawned;
	if (*budget >= PULSE_SUBWORKFLOW_START_MAX) {
		snprintf(why, sizeof(why), "more than %d sub-workflows would "
		    "start at once (PULSE_SUBWORKFLOW_START_MAX): nest fewer "
		    "workflow steps in parallel groups",
		    PULSE_SUBWORKFLOW_START_MAX);
		return refuse(db, ex, why);
	}
	(*budget)++;
	g = engine_sub_given(ex, st);
	rc = engine_start_child(db, ex, st->workflow_id, st->workflow_version,
	    g, (int)depth + 1, budget, child, &err);
	json_object_put(g);
	if (rc == -1 && err.code == ENGINE_DBERR)
		return -1;
	if (rc == -1) {
		snprintf(why, sizeof(why), "the sub-workflow cannot start: %s",
		    err.msg);
		pjson_utf8_trim(why);
		return refuse(db, ex, why);
	}
	if (engine_step_begin(db, ex, STEP_RUNNING, -1) == -1 ||
	    db_exec(db, sql_step_child, NULL, "ssi", child, ex->id,
	    (long long)ex->at) == -1)
		return -1;
	/* It may have ended at once (every step skipped, say). */
	if (child_poll(db, ex, &p) == -1)
		return -1;
	return engine_step_settle(db, ex, &p);
}

static int
sub_poll(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p)
{
	(void)st;
	return child_poll(db, ex, p);
}

int
engine_sub_wake(struct db *db, const char *id)
{
	struct db_res	*res;
	int		 rc = 0;

	if (db_exec(db, sql_parent_of, &res, "s", id) == -1)
		return -1;
	if (db_res_rows(res) > 0 && db_res_get(res, 0, 0) != NULL)
		rc = db_exec(db, sql_wake, NULL, "sis", db_res_get(res, 0, 0),
		    db_res_int(res, 0, 1, 0), id);
	db_res_free(res);
	return rc;
}

const struct step_type step_workflow = {
	.name = "workflow",
	.what = " for a workflow step",
	.keys = workflow_keys,
	.validate = sub_validate,
	.begin = sub_begin,
	.poll = sub_poll,
};
