/*
 * The workflow steps of a definition being saved (SPEC.md section 14,
 * sub-workflows), checked against the stored workflows: each workflow_id
 * must exist, its literal params must resolve against the child's
 * declarations, and following workflow steps through the stored
 * definitions must find no cycle and no chain deeper than
 * PULSE_SUBWORKFLOW_DEPTH_MAX. A workflow edited into a cycle later is
 * caught when it runs (the depth limit, step-workflow.c).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "id.h"
#include "params.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_wf[] =
    "SELECT name, definition FROM workflows WHERE id = ?";
static const char sql_version[] =
    "SELECT name, definition FROM workflow_versions WHERE workflow_id = ? "
    "AND version = ?";

/* Stored definitions read for one save, at most: a bound on the work. */
#define SUBS_LOADS_MAX	256

/* The walk: a path of workflows from the one saved, and what was read. */
struct walk {
	struct request	*req;
	const char	*self;		/* its id, NULL when it has none yet */
	const char	*ids[PULSE_SUBWORKFLOW_DEPTH_MAX + 2];
	char		*names[PULSE_SUBWORKFLOW_DEPTH_MAX + 2];
	int		 n;		/* on the path */
	int		 loads;
	int		 step;		/* the saved workflow's step at fault */
	char		 msg[1024];
};

static int
refuse(struct walk *w, const char *field)
{
	struct json_object *e = json_object_new_object();

	pjson_utf8_trim(w->msg);
	json_object_object_add(e, "error", json_object_new_string(w->msg));
	json_object_object_add(e, "field", json_object_new_string(field));
	json_object_object_add(e, "step", json_object_new_int(w->step));
	reply_error_obj(w->req, 400, e);
	return -1;
}

/* "A -> B -> C" of the path, then last, into w->msg after its prefix. */
static void
path_text(struct walk *w, const char *last, size_t o)
{
	int	 i, n;

	for (i = 0; i < w->n && o < sizeof(w->msg); i++) {
		n = snprintf(w->msg + o, sizeof(w->msg) - o, "%s -> ",
		    w->names[i]);
		if (n < 0)
			return;
		o += (size_t)n;
	}
	if (o < sizeof(w->msg))
		snprintf(w->msg + o, sizeof(w->msg) - o, "%s", last);
}

static int
prefix(struct walk *w, const struct step *st, const char *what)
{
	int	 n;

	n = snprintf(w->msg, sizeof(w->msg), "step %d (\"%.64s\"): "
	    "workflow_id: %s", w->step + 1, st->name, what);
	return n < 0 ? 0 : n;
}

/*
 * Read workflow id: 1 and *wf, *name (free both) if stored and valid, 0
 * if not stored, 2 if stored but unreadable (nothing to follow), -1
 * replied (db error).
 */
static int
load(struct walk *w, const char *id, long long version, struct workflow **wf,
    char **name)
{
	struct db_res		*res;
	struct json_object	*def;
	char			 perr[64];
	int			 rc = 2;

	*wf = NULL;
	*name = NULL;
	w->loads++;
	/* A step pinned to a version (workflow_version): that definition. */
	if ((version > 0 ? db_exec(w->req->db, sql_version, &res, "si", id,
	    version) : db_exec(w->req->db, sql_wf, &res, "s", id)) == -1) {
		reply_db_error(w->req);
		return -1;
	}
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return 0;
	}
	*name = xstrdup(db_res_get(res, 0, 0));
	def = pjson_parse(db_res_get(res, 0, 1), db_res_len(res, 0, 1),
	    API_JSON_DEPTH, perr, sizeof(perr));
	if (def != NULL && workflow_from_json(def, wf, NULL) == 0)
		rc = 1;
	json_object_put(def);
	db_res_free(res);
	return rc;
}

/*
 * The literal values of st's params against child's declarations: each
 * name declared, each literal valid alone, and every required one given
 * (a reference to a parent's parameter counts as given: its value is
 * known at run time, and checked then).
 */
static int
check_params(struct walk *w, const struct step *st,
    const struct workflow *child, const char *cname)
{
	struct json_object	*lit, *one, *res = NULL;
	struct fielderr		 ferr;
	const char		*n;
	size_t			 l;
	char			 f[96];
	int			 rc = 0;

	lit = json_object_new_object();
	if (st->sub_params != NULL) {
		json_object_object_foreach(st->sub_params, key, val) {
			snprintf(f, sizeof(f), "params.%s", key);
			if (params_find(child->params, key, strlen(key)) == -1) {
				snprintf(w->msg, sizeof(w->msg), "step %d "
				    "(\"%.64s\"): %s: workflow '%s' has no "
				    "parameter %s", w->step + 1, st->name, f,
				    cname, key);
				rc = refuse(w, f);
				break;
			}
			if (json_object_is_type(val, json_type_string) &&
			    workflow_sub_ref(json_object_get_string(val), &n,
			    &l))
				continue;
			json_object_object_add(lit, key, json_object_get(val));
			one = json_object_new_object();
			json_object_object_add(one, key, json_object_get(val));
			if (params_resolve(child->params, one, &res, &ferr) ==
			    -1 && strcmp(ferr.field, f) == 0) {
				snprintf(w->msg, sizeof(w->msg), "step %d "
				    "(\"%.64s\"): %s (for workflow '%.64s')",
				    w->step + 1, st->name, ferr.msg, cname);
				rc = refuse(w, f);
			}
			json_object_put(res);
			res = NULL;
			json_object_put(one);
			if (rc == -1)
				break;
		}
	}
	/* What is left: a required parameter given neither way. */
	if (rc == 0 && params_resolve(child->params, lit, &res,
	    &ferr) == -1 && (st->sub_params == NULL ||
	    strncmp(ferr.field, "params.", 7) != 0 ||
	    !json_object_object_get_ex(st->sub_params, ferr.field + 7,
	    NULL))) {
		snprintf(w->msg, sizeof(w->msg), "step %d (\"%.64s\"): %s "
		    "(for workflow '%.64s')", w->step + 1, st->name, ferr.msg,
		    cname);
		rc = refuse(w, ferr.field);
	}
	json_object_put(res);
	json_object_put(lit);
	return rc;
}

/*
 * Follow the workflow steps of wf, on the path at w->n - 1, for the
 * saved workflow's step st: -1 replied (a cycle, too deep, too many), 0.
 */
static int
follow(struct walk *w, const struct step *st, const struct workflow *wf)
{
	struct workflow	*child;
	char		*name;
	size_t		 i;
	int		 j, rc = 0, o;

	/* The plan: steps inside parallel groups and on_failure steps too. */
	for (i = 0; rc == 0 && i < wf->nplan; i++) {
		const char *id = wf->plan[i].st->workflow_id;

		if (wf->plan[i].st->type != STEP_WORKFLOW)
			continue;
		for (j = 0; j < w->n; j++)
			if (w->ids[j] != NULL && strcmp(w->ids[j], id) == 0)
				break;
		if (j < w->n) {
			o = prefix(w, st, "a cycle: ");
			path_text(w, w->names[j], (size_t)o);
			return refuse(w, "workflow_id");
		}
		if (w->loads >= SUBS_LOADS_MAX) {
			prefix(w, st, "");
			snprintf(w->msg + strlen(w->msg), sizeof(w->msg) -
			    strlen(w->msg), "its sub-workflows read more than "
			    "%d stored workflows; too many to check",
			    SUBS_LOADS_MAX);
			return refuse(w, "workflow_id");
		}
		if ((rc = load(w, id, wf->plan[i].st->workflow_version, &child,
		    &name)) == -1)
			return -1;
		if (rc == 0)
			continue;	/* deleted since: the run fails it */
		if (w->n > PULSE_SUBWORKFLOW_DEPTH_MAX) {
			o = snprintf(w->msg, sizeof(w->msg), "step %d "
			    "(\"%.64s\"): workflow_id: sub-workflows nest at "
			    "most %d deep: ", w->step + 1, st->name,
			    PULSE_SUBWORKFLOW_DEPTH_MAX);
			path_text(w, name, o < 0 ? 0 : (size_t)o);
			rc = refuse(w, "workflow_id");
		} else if (rc == 2)
			rc = 0;
		else {
			w->ids[w->n] = id;
			w->names[w->n++] = name;
			name = NULL;
			rc = follow(w, st, child);
			free(w->names[--w->n]);
		}
		free(name);
		workflow_free(child);
	}
	return rc;
}

/*
 * A step pinned to workflow_version: its parameters and its own workflow
 * steps are checked in that version, which must exist (1: *child and
 * *name are now that version's; 0: not pinned; -1 replied).
 */
static int
load_pinned(struct walk *w, const struct step *st, struct workflow **child,
    char **name)
{
	struct workflow	*v;
	char		*vname;
	int		 rc;

	if (st->workflow_version == 0)
		return 0;
	if ((rc = load(w, st->workflow_id, st->workflow_version, &v,
	    &vname)) == -1)
		return -1;
	if (rc == 0) {
		snprintf(w->msg, sizeof(w->msg), "step %d (\"%.64s\"): "
		    "workflow_version: workflow '%.64s' has no version %lld",
		    w->step + 1, st->name, *name, st->workflow_version);
		return refuse(w, "workflow_version");
	}
	if (rc == 2) {
		/* Stored but unreadable: checked as the current one. */
		free(vname);
		return 0;
	}
	workflow_free(*child);
	free(*name);
	*child = v;
	*name = vname;
	return 1;
}

int
workflows_check_subs(struct request *req, const struct workflow *wf,
    const char *self_id, const char *self_name)
{
	struct walk	 w;
	struct workflow	*child;
	char		*name;
	size_t		 i;
	int		 rc = 0;

	memset(&w, 0, sizeof(w));
	w.req = req;
	w.self = self_id;
	/*
	 * Every workflow step of the plan: inside parallel groups and among
	 * the on_failure steps too (step numbers count the flat plan, which
	 * for a workflow without either is the steps' own).
	 */
	for (i = 0; rc == 0 && i < wf->nplan; i++) {
		const struct step *st = wf->plan[i].st;

		if (st->type != STEP_WORKFLOW)
			continue;
		w.step = (int)i;
		if ((rc = load(&w, st->workflow_id, 0, &child, &name)) == -1)
			return -1;
		if (rc == 0) {
			prefix(&w, st, "");
			snprintf(w.msg + strlen(w.msg), sizeof(w.msg) -
			    strlen(w.msg), "no workflow %s", st->workflow_id);
			return refuse(&w, "workflow_id");
		}
		if (rc == 2) {
			free(name);
			prefix(&w, st, "");
			snprintf(w.msg + strlen(w.msg), sizeof(w.msg) -
			    strlen(w.msg), "the definition of workflow %s "
			    "cannot be read", st->workflow_id);
			return refuse(&w, "workflow_id");
		}
		if (load_pinned(&w, st, &child, &name) == -1) {
			free(name);
			workflow_free(child);
			return -1;
		}
		w.n = 0;
		w.ids[w.n] = self_id;
		w.names[w.n++] = xstrdup(self_name);
		if (self_id != NULL && strcmp(self_id, st->workflow_id) == 0) {
			rc = prefix(&w, st, "a cycle: ");
			path_text(&w, self_name, (size_t)rc);
			rc = refuse(&w, "workflow_id");
		} else if ((rc = check_params(&w, st, child, name)) == 0) {
			w.ids[w.n] = st->workflow_id;
			w.names[w.n++] = name;
			name = NULL;
			rc = follow(&w, st, child);
			free(w.names[--w.n]);
		}
		free(w.names[0]);
		free(name);
		workflow_free(child);
	}
	return rc;
}
