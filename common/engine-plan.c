/*
 * An approval's frozen plan (SPEC.md section 15): what approvers see and
 * sign, built when the execution starts. The steps are the definition's,
 * with every template expanded exactly as the step types will expand them
 * when they begin (engine_expand, engine_sub_given), and every workflow
 * step pinned to its child's version, so what runs is what was signed.
 * Part of the engine (engine-int.h).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "sbuf.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_child_version[] =
    "SELECT version FROM workflows WHERE id = ?";
static const char sql_version_def[] =
    "SELECT definition FROM workflow_versions "
    "WHERE workflow_id = ? AND version = ?";

/* The walk over the JSON steps and their checked structs, side by side. */
struct walk {
	struct db		*db;
	const struct exec	*ex;
	struct engine_err	*err;
	struct json_object	*pins;	/* the tree's map being built */
	struct json_object	*seen;	/* "id@version" walked already */
};

long long
engine_pin_version(struct db *db, struct json_object *pins,
    const char *workflow_id)
{
	struct json_object	*v;
	struct db_res		*res;
	long long		 version = 0;

	if (pins != NULL && json_object_object_get_ex(pins, workflow_id, &v))
		return json_object_get_int64(v);
	if (db_exec(db, sql_child_version, &res, "s", workflow_id) == -1)
		return -1;
	if (db_res_rows(res) > 0)
		version = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	return version;
}

/* Pin every workflow step of the list a (structs st) to a version. */
static int
pin_list(struct walk *w, struct json_object *a, const struct step *st,
    size_t n)
{
	struct json_object	*o, *sub;
	long long		 v;
	size_t			 i;

	for (i = 0; i < n && i < json_object_array_length(a); i++) {
		o = json_object_array_get_idx(a, i);
		if (st[i].type == STEP_WORKFLOW && st[i].workflow_version == 0) {
			if ((v = engine_pin_version(w->db, w->ex->pins,
			    st[i].workflow_id)) == -1)
				return engine_dberr(w->err, w->db);
			/* A child deleted since the save: left unpinned, its
			 * step fails when it begins, as it would have. */
			if (v > 0)
				json_object_object_add(o, "workflow_version",
				    json_object_new_int64(v));
		}
		if (st[i].nsteps > 0 &&
		    json_object_object_get_ex(o, "steps", &sub) &&
		    pin_list(w, sub, st[i].steps, st[i].nsteps) == -1)
			return -1;
	}
	return 0;
}

static int	tree_list(struct walk *, const struct step *, size_t, int);

/* Walk version v of workflow id (a step at depth runs it) once. */
static int
tree_version(struct walk *w, const char *id, long long v, int depth)
{
	struct workflow_error	 werr;
	struct workflow		*wf = NULL;
	struct json_object	*def;
	struct db_res		*res;
	char			 key[ID_LEN + 24], perr[128];
	int			 rc;

	snprintf(key, sizeof(key), "%s@%lld", id, v);
	/* Past the depth its step fails at run time; a cycle stops here. */
	if (depth >= PULSE_SUBWORKFLOW_DEPTH_MAX ||
	    json_object_object_get_ex(w->seen, key, NULL))
		return 0;
	if (json_object_object_length(w->seen) >= PULSE_PLAN_WORKFLOWS_MAX)
		return engine_fail(w->err, ENGINE_INVALID, "the plan reaches "
		    "more than %d workflow versions through its workflow "
		    "steps (PULSE_PLAN_WORKFLOWS_MAX)",
		    PULSE_PLAN_WORKFLOWS_MAX);
	json_object_object_add(w->seen, key, NULL);
	if (db_exec(w->db, sql_version_def, &res, "si", id, v) == -1)
		return engine_dberr(w->err, w->db);
	/* A version gone or unreadable: its step fails when it begins. */
	def = db_res_rows(res) == 0 ? NULL : pjson_parse(db_res_get(res, 0, 0),
	    db_res_len(res, 0, 0), API_JSON_DEPTH, perr, sizeof(perr));
	db_res_free(res);
	if (def == NULL || workflow_from_json(def, &wf, &werr) == -1) {
		json_object_put(def);
		return 0;
	}
	json_object_put(def);
	rc = tree_list(w, wf->steps, wf->nsteps, depth + 1);
	if (rc == 0)
		rc = tree_list(w, wf->on_failure, wf->non_failure, depth + 1);
	workflow_free(wf);
	return rc;
}

/*
 * The pin map of the whole tree: every workflow a workflow step of the
 * list (at depth) reaches, at its version now (the tree's inherited pin
 * first). A step's own workflow_version wins for that step, and its
 * subtree is walked at that version.
 */
static int
tree_list(struct walk *w, const struct step *st, size_t n, int depth)
{
	long long	 v, cur;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (st[i].nsteps > 0 &&
		    tree_list(w, st[i].steps, st[i].nsteps, depth) == -1)
			return -1;
		if (st[i].type != STEP_WORKFLOW)
			continue;
		if ((cur = engine_pin_version(w->db, w->ex->pins,
		    st[i].workflow_id)) == -1)
			return engine_dberr(w->err, w->db);
		if (cur > 0 && !json_object_object_get_ex(w->pins,
		    st[i].workflow_id, NULL))
			json_object_object_add(w->pins, st[i].workflow_id,
			    json_object_new_int64(cur));
		v = st[i].workflow_version > 0 ? st[i].workflow_version : cur;
		if (v > 0 && tree_version(w, st[i].workflow_id, v,
		    depth) == -1)
			return -1;
	}
	return 0;
}

/* list[i] or list[i].steps[j]: the field a failed template names. */
static void
field_name(char *buf, size_t len, const char *list, size_t i, long j,
    const char *key)
{
	if (j < 0)
		snprintf(buf, len, "%s[%zu].%s", list, i, key);
	else
		snprintf(buf, len, "%s[%zu].steps[%ld].%s", list, i, j, key);
}

/* One step's templates expanded in place (o is the plan's copy). */
static int
expand_step(struct walk *w, struct json_object *o, const struct step *st,
    const char *list, size_t i, long j)
{
	struct json_object	*g;
	const char		*key = NULL, *src = NULL;
	char			*out, why[400];
	size_t			 max = 0;

	if (st->type == STEP_EXECUTE) {
		key = "command";
		src = st->command;
		max = WF_COMMAND_MAX;
	} else if (st->type == STEP_PROMPT) {
		key = "message";
		src = st->message;
		max = WF_MESSAGE_MAX;
	} else if (st->type == STEP_WORKFLOW && st->sub_params != NULL) {
		/* What the child will be given: the parent's values in. */
		g = engine_sub_given(w->ex, st);
		json_object_object_add(o, "params", g);
		return 0;
	}
	if (key == NULL)
		return 0;
	if (engine_expand(w->ex, src, max, &out, why, sizeof(why)) == -1) {
		if (j >= 0)
			engine_fail(w->err, ENGINE_INVALID, "%s[%zu].steps[%ld]."
			    "%s: %s", list, i, j, key, why);
		else
			engine_fail(w->err, ENGINE_INVALID, "%s[%zu].%s: %s",
			    list, i, key, why);
		field_name(w->err->field, sizeof(w->err->field), list, i, j,
		    key);
		return -1;
	}
	json_object_object_add(o, key, json_object_new_string(out));
	free(out);
	return 0;
}

static int
expand_list(struct walk *w, struct json_object *a, const struct step *st,
    size_t n, const char *list)
{
	struct json_object	*o, *sub;
	size_t			 i, j;

	for (i = 0; i < n && i < json_object_array_length(a); i++) {
		o = json_object_array_get_idx(a, i);
		if (expand_step(w, o, &st[i], list, i, -1) == -1)
			return -1;
		if (st[i].nsteps == 0 ||
		    !json_object_object_get_ex(o, "steps", &sub))
			continue;
		for (j = 0; j < st[i].nsteps &&
		    j < json_object_array_length(sub); j++)
			if (expand_step(w, json_object_array_get_idx(sub, j),
			    &st[i].steps[j], list, i, (long)j) == -1)
				return -1;
	}
	return 0;
}

int
engine_plan_build(struct db *db, const struct exec *ex,
    struct json_object *def, const char *workflow_id, long long version,
    struct json_object **pinned, char **plan, char hash[65],
    struct json_object **pins, struct engine_err *err)
{
	struct walk		 w = { .db = db, .ex = ex, .err = err };
	struct json_object	*p = NULL, *steps = NULL, *onf, *a;
	struct sbuf		 b;
	char			 why[128];
	int			 rc = -1;

	*pinned = NULL;
	*plan = NULL;
	*pins = NULL;
	w.pins = json_object_new_object();
	w.seen = json_object_new_object();
	if (json_object_deep_copy(def, pinned, NULL) != 0 || *pinned == NULL)
		return engine_fail(err, ENGINE_INVALID, "the definition cannot "
		    "be copied");
	if (json_object_object_get_ex(*pinned, "steps", &steps) &&
	    pin_list(&w, steps, ex->wf->steps, ex->wf->nsteps) == -1)
		goto fail;
	if (json_object_object_get_ex(*pinned, "on_failure", &onf) &&
	    pin_list(&w, onf, ex->wf->on_failure, ex->wf->non_failure) == -1)
		goto fail;
	/* The whole tree pinned, in the plan so that its hash binds it. */
	if (tree_list(&w, ex->wf->steps, ex->wf->nsteps, ex->depth) == -1 ||
	    tree_list(&w, ex->wf->on_failure, ex->wf->non_failure,
	    ex->depth) == -1)
		goto fail;
	p = json_object_new_object();
	if (json_object_object_length(w.pins) > 0)
		json_object_object_add(p, "subworkflows",
		    json_object_get(w.pins));
	json_object_object_add(p, "workflow_id",
	    pjson_string_or_null(workflow_id));
	json_object_object_add(p, "version", json_object_new_int64(version));
	json_object_object_add(p, "params", ex->params != NULL ?
	    json_object_get(ex->params) : json_object_new_object());
	a = NULL;
	if (json_object_deep_copy(steps, &a, NULL) != 0)
		goto copyfail;
	json_object_object_add(p, "steps", a);
	if (expand_list(&w, a, ex->wf->steps, ex->wf->nsteps, "steps") == -1)
		goto fail;
	if (json_object_object_get_ex(*pinned, "on_failure", &onf)) {
		a = NULL;
		if (json_object_deep_copy(onf, &a, NULL) != 0)
			goto copyfail;
		json_object_object_add(p, "on_failure", a);
		if (expand_list(&w, a, ex->wf->on_failure, ex->wf->non_failure,
		    "on_failure") == -1)
			goto fail;
	}
	sbuf_init(&b, 4096, 0);
	if (canon_json(&b, p, why, sizeof(why)) == -1) {
		free(b.s);
		engine_fail(err, ENGINE_INVALID, "the plan cannot be written "
		    "as canonical JSON: %s", why);
		goto fail;
	}
	canon_sha256_hex(b.s, b.len, hash);
	*plan = b.s;
	if (json_object_object_length(w.pins) > 0)
		*pins = json_object_get(w.pins);
	rc = 0;
	goto out;
copyfail:
	engine_fail(err, ENGINE_INVALID, "the definition cannot be copied");
fail:
	json_object_put(*pinned);
	*pinned = NULL;
out:
	json_object_put(p);
	json_object_put(w.pins);
	json_object_put(w.seen);
	return rc;
}
