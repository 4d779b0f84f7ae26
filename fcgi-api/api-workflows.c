/*
 * /api/workflows: list, read, create, replace, delete. A definition is
 * checked by workflow_from_json() before it is stored, so everything in
 * the table is something the engine can run. Every save is also a new
 * numbered version (api-versions.c) and an audit row, in its transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "engine.h"
#include "events.h"
#include "id.h"
#include "pjson.h"
#include "workflow.h"

/* With the workflows' tag, read in the same read view as the rows
 * (wfcache.c): the kept list is then exactly the one of that tag. */
static const char sql_list[] =
    "SELECT id, name, description, definition, created_by, created_at, "
    "updated_at, version, "
    "(SELECT tag FROM read_versions WHERE name = 'workflows') "
    "FROM workflows ORDER BY name, id";
static const char sql_get[] =
    "SELECT id, name, description, definition, created_by, created_at, "
    "updated_at, version FROM workflows WHERE id = ?";
static const char sql_insert[] =
    "INSERT INTO workflows (id, name, description, definition, created_by) "
    "VALUES (?, ?, ?, ?, ?)";
static const char sql_update[] =
    "UPDATE workflows SET name = ?, description = ?, definition = ?, "
    "version = ? WHERE id = ?";
/* What the update replaces: the audit row's "before". Galera: the lock
 * is local, but the update writes the row and versions_add inserts
 * (workflow_id, version), a unique key: of two edits on two nodes the
 * later is aborted at COMMIT and rerun, numbered after the winner. */
static const char sql_before[] =
    "SELECT name, description, definition, version FROM workflows "
    "WHERE id = ? FOR UPDATE";
static const char sql_delete[] = "DELETE FROM workflows WHERE id = ?";
/* The row lock makes a start wait (its foreign key check) until we end.
 * Galera: a start on another node is not held by it, but its insert
 * references this row (a foreign key, certified against the delete). */
static const char sql_lock[] = "SELECT id FROM workflows WHERE id = ? "
    "FOR UPDATE";
static const char sql_unfinished[] =
    "SELECT COUNT(*) FROM executions WHERE workflow_id = ? "
    "AND status IN ('running', 'waiting', 'awaiting_approval')";

/*
 * Whether the caller may start a workflow whose definition is def (len
 * bytes): an admin always, anyone when it has no allowed_groups, else a
 * member of one. Only a definition that names the key is parsed.
 */
static int
can_start(const struct request *req, const char *def, size_t len)
{
	struct json_object	*d, *a, *g;
	char			 perr[64];
	size_t			 i, j;
	int			 ok = 0;

	if (req->user.role == ROLE_ADMIN ||
	    memmem(def, len, "allowed_groups", 14) == NULL)
		return 1;
	if ((d = pjson_parse(def, len, API_JSON_DEPTH, perr,
	    sizeof(perr))) == NULL)
		return 0;
	if (!json_object_object_get_ex(d, "allowed_groups", &a) ||
	    !json_object_is_type(a, json_type_array))
		ok = 1;
	for (i = 0; !ok && a != NULL && i < json_object_array_length(a); i++) {
		g = json_object_array_get_idx(a, i);
		for (j = 0; g != NULL && j < req->user.ngroups; j++)
			if (json_object_is_type(g, json_type_string) &&
			    strcmp(json_object_get_string(g),
			    req->user.groups[j]) == 0)
				ok = 1;
	}
	json_object_put(d);
	return ok;
}

/* A row's members but can_start, which depends on the caller. */
static struct json_object *
row_fields(const struct db_res *r, size_t i)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "id", pjson_string_or_null(
	    db_res_get(r, i, 0)));
	json_object_object_add(o, "name", pjson_string_or_null(
	    db_res_get(r, i, 1)));
	json_object_object_add(o, "description", pjson_string_or_null(
	    db_res_get(r, i, 2)));
	/*
	 * Valid JSON (the column's CHECK), embedded as stored: parsing a
	 * hundred definitions only to print them again was most of the
	 * cost of GET /api/workflows.
	 */
	json_object_object_add(o, "definition", pjson_raw(db_res_get(r, i, 3),
	    db_res_len(r, i, 3)));
	json_object_object_add(o, "created_by", pjson_string_or_null(
	    db_res_get(r, i, 4)));
	json_object_object_add(o, "created_at", pjson_time(
	    db_res_get(r, i, 5)));
	json_object_object_add(o, "updated_at", pjson_time(
	    db_res_get(r, i, 6)));
	json_object_object_add(o, "version",
	    json_object_new_int64(db_res_int(r, i, 7, 1)));
	return o;
}

static struct json_object *
row_json(const struct request *req, const struct db_res *r, size_t i)
{
	struct json_object	*o = row_fields(r, i);

	json_object_object_add(o, "can_start", json_object_new_boolean(
	    can_start(req, db_res_get(r, i, 3), db_res_len(r, i, 3))));
	return o;
}

/*
 * The list as this caller sees it: from the kept copy while the
 * workflows' tag has not changed (wfcache.c), else read, kept and sent.
 */
int
workflows_list(struct request *req)
{
	const struct wflist	*l;
	struct wflist		 fresh;
	struct db_res		*res;
	struct json_object	*o;
	char			*text;
	size_t			 i, len;

	memset(&fresh, 0, sizeof(fresh));
	if (wfcache_get(req->db, &l) == -1)
		goto dberr;
	if (l == NULL) {
		if (db_exec(req->db, sql_list, &res, "") == -1)
			goto dberr;
		for (i = 0; i < db_res_rows(res); i++) {
			o = row_fields(res, i);
			wflist_add(&fresh, o, db_res_get(res, i, 3),
			    db_res_len(res, i, 3));
			json_object_put(o);
		}
		l = wfcache_keep(&fresh, db_res_rows(res) > 0 ?
		    db_res_get(res, 0, 8) : NULL);
		db_res_free(res);
	}
	text = wflist_text(l, &req->user, &len);
	wflist_clear(&fresh);
	reply_json_text(req, text, len);
	free(text);
	return 0;
dberr:
	reply_db_error(req);
	return 0;
}

/* Reply with one workflow; 404 when it is not there. */
static int
reply_workflow(struct request *req, const char *id, int status)
{
	struct db_res	*res;

	if (!id_valid(id)) {
		reply_error(req, 404, "workflow not found");
		return 0;
	}
	if (db_exec(req->db, sql_get, &res, "s", id) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (db_res_rows(res) == 0)
		reply_error(req, 404, "workflow not found");
	else
		reply_json(req, status, row_json(req, res, 0));
	db_res_free(res);
	return 0;
}

int
workflows_get(struct request *req)
{
	return reply_workflow(req, req->params[0], 200);
}

/* A checked body of POST or PUT. */
struct wf_input {
	const char	*id;
	const char	*name;
	const char	*description;
	const char	*def;		/* serialized definition */
	size_t		 deflen;
	const char	*user;
	int		 found;
	struct request	*req;
};

/* name, description and definition (parsed: valid, it was stored) as
 * an audit row shows them. */
static struct json_object *
wf_json(const char *name, const char *description, const char *def,
    size_t deflen, long long version)
{
	struct json_object	*o = json_object_new_object();
	char			 err[64];

	json_object_object_add(o, "name", pjson_string_or_null(name));
	json_object_object_add(o, "description",
	    pjson_string_or_null(description));
	json_object_object_add(o, "definition", def == NULL ? NULL :
	    pjson_parse(def, deflen, API_JSON_DEPTH, err, sizeof(err)));
	json_object_object_add(o, "version", json_object_new_int64(version));
	return o;
}

/*
 * A plain target that is both a worker's name and a group of other
 * workers would run on more servers than one reading meant (issue 12):
 * 400 naming the step, and how to say which.
 */
static int
check_step_targets(struct request *req, const struct step *st, size_t i,
    const char *list, int child)
{
	struct json_object	*e;
	size_t			 j;
	int			 both;
	char			 msg[3 * WF_TARGET_MAX + 128], field[64], at[48];

	/* Where: as workflow_from_json names it (on_failure[i]., steps[c].). */
	at[0] = '\0';
	if (list != NULL)
		snprintf(at, sizeof(at), "%s[%zu].", list, i);
	if (child >= 0)
		snprintf(at + strlen(at), sizeof(at) - strlen(at), "steps[%d].",
		    child);
	snprintf(field, sizeof(field), "%stargets", at);
	for (j = 0; j < st->ntargets; j++) {
		const char *t = st->targets[j];

		if (engine_target_ambiguous(req->db, t, &both) == -1) {
			reply_db_error(req);
			return -1;
		}
		if (!both)
			continue;
		snprintf(msg, sizeof(msg), "%sstep %zu: %s%starget '%s' is both "
		    "a worker name and a group name: write name:%s or group:%s",
		    list ? "on_failure " : "", i, at[0] ? field : "",
		    at[0] ? ": " : "", t, t, t);
		e = json_object_new_object();
		json_object_object_add(e, "error", json_object_new_string(msg));
		json_object_object_add(e, "field", json_object_new_string(field));
		json_object_object_add(e, "step", json_object_new_int((int)i));
		reply_error_obj(req, 400, e);
		return -1;
	}
	return 0;
}

/* Every step of a list, a parallel group's steps too. */
static int
check_list_targets(struct request *req, const struct step *steps, size_t n,
    const char *list)
{
	size_t	 i, c;

	for (i = 0; i < n; i++) {
		if (check_step_targets(req, &steps[i], i, list, -1) == -1)
			return -1;
		for (c = 0; c < steps[i].nsteps; c++)
			if (check_step_targets(req, &steps[i].steps[c], i, list,
			    (int)c) == -1)
				return -1;
	}
	return 0;
}

static int
check_targets(struct request *req, const struct workflow *wf)
{
	if (check_list_targets(req, wf->steps, wf->nsteps, NULL) == -1)
		return -1;
	return check_list_targets(req, wf->on_failure, wf->non_failure,
	    "on_failure");
}

static int
read_input(struct request *req, struct wf_input *in, const char *self)
{
	static const char *const allowed[] = { "name", "description",
	    "definition", NULL };
	struct json_object	*def;
	struct workflow		*wf;
	struct workflow_error	 werr;
	int			 rc;

	memset(in, 0, sizeof(*in));
	if (body_only(req, allowed) == -1 ||
	    body_name(req, "name", WF_NAME_CHARS, 1, &in->name) == -1 ||
	    body_string(req, "description", WF_DESCRIPTION_MAX, 0,
	    &in->description) == -1)
		return -1;
	rc = pjson_get_object(req->json, "definition", &def);
	if (rc != 1) {
		reply_error_field(req, 400, "definition", rc == 0 ?
		    "definition is required" :
		    "definition must be an object with a \"steps\" array");
		return -1;
	}
	if (workflow_from_json(def, &wf, &werr) == -1) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "error",
		    json_object_new_string(werr.msg));
		json_object_object_add(e, "field",
		    json_object_new_string(werr.field));
		json_object_object_add(e, "step", werr.step < 0 ? NULL :
		    json_object_new_int(werr.step));
		reply_error_obj(req, 400, e);
		return -1;
	}
	if (check_targets(req, wf) == -1 ||
	    workflows_check_subs(req, wf, self, in->name) == -1 ||
	    channels_check_rules(req, wf->notify, wf->nnotify) == -1) {
		workflow_free(wf);
		return -1;
	}
	workflow_free(wf);
	in->def = pjson_str(def, &in->deflen);
	if (in->deflen > WF_DEFINITION_MAX) {
		reply_error_field(req, 400, "definition", "definition is "
		    "longer than %d bytes", WF_DEFINITION_MAX);
		return -1;
	}
	in->user = req->user.name;
	in->req = req;
	return 0;
}

/*
 * Every write to workflows (create, update, delete) announces itself
 * here, in its transaction: the announcement, and a new tag for the kept
 * lists (wfcache.c), which then commits with the change.
 */
static int
event_workflow(struct db *db, const char *type, const char *id)
{
	struct json_object *p = json_object_new_object();

	if (wfcache_bump(db) == -1) {
		json_object_put(p);
		return -1;
	}
	json_object_object_add(p, "workflow_id", json_object_new_string(id));
	return events_append(db, type, NULL, NULL, p);
}

static int
create_txn(struct db *db, void *arg)
{
	struct wf_input		*in = arg;
	struct json_object	*d;
	int			 rc;

	if (db_exec(db, sql_insert, NULL, "sssbs", in->id, in->name,
	    in->description, in->def, in->deflen, in->user) == -1 ||
	    versions_add(db, in->id, 1, in->name, in->description, in->def,
	    in->deflen, in->user) == -1 ||
	    event_workflow(db, "workflow_created", in->id) == -1)
		return -1;
	d = wf_json(in->name, in->description, in->def, in->deflen, 1);
	rc = api_audit(in->req, "workflow.create", "workflow", in->id, d);
	json_object_put(d);
	return rc;
}

int
workflows_create(struct request *req)
{
	struct wf_input	 in;
	char		 id[ID_LEN + 1];

	if (read_input(req, &in, NULL) == -1)
		return 0;
	id_new(id);
	in.id = id;
	if (db_txn(req->db, create_txn, &in) == -1) {
		reply_db_error(req);
		return 0;
	}
	return reply_workflow(req, id, 201);
}

static int
update_txn(struct db *db, void *arg)
{
	struct wf_input		*in = arg;
	struct db_res		*res;
	struct json_object	*d;
	long long		 version;
	int			 rc = -1;

	if (db_exec(db, sql_before, &res, "s", in->id) == -1)
		return -1;
	if ((in->found = db_res_rows(res) > 0) == 0) {
		db_res_free(res);
		return 1;
	}
	version = db_res_int(res, 0, 3, 1) + 1;
	d = json_object_new_object();
	json_object_object_add(d, "before", wf_json(db_res_get(res, 0, 0),
	    db_res_get(res, 0, 1), db_res_get(res, 0, 2),
	    db_res_len(res, 0, 2), version - 1));
	db_res_free(res);
	json_object_object_add(d, "after", wf_json(in->name, in->description,
	    in->def, in->deflen, version));
	if (db_exec(db, sql_update, NULL, "ssbis", in->name, in->description,
	    in->def, in->deflen, version, in->id) == -1 ||
	    versions_add(db, in->id, version, in->name, in->description,
	    in->def, in->deflen, in->user) == -1 ||
	    event_workflow(db, "workflow_updated", in->id) == -1)
		goto out;
	rc = api_audit(in->req, "workflow.update", "workflow", in->id, d);
out:
	json_object_put(d);
	return rc;
}

int
workflows_update(struct request *req)
{
	struct wf_input	 in;

	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "workflow not found");
		return 0;
	}
	if (read_input(req, &in, req->params[0]) == -1)
		return 0;
	in.id = req->params[0];
	if (db_txn(req->db, update_txn, &in) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (!in.found) {
		reply_error(req, 404, "workflow not found");
		return 0;
	}
	return reply_workflow(req, in.id, 200);
}

static int
announce_deleted(struct db *db, const char *id)
{
	return event_workflow(db, "workflow_deleted", id);
}

/*
 * Deleting a workflow deletes its executions (SPEC section 4): one that
 * still runs would vanish under a command in flight, and its worker's
 * result would come back for nothing. Refused until they end (issue 11).
 * Not refused: its schedules are disabled in the same transaction.
 */
static int
refuse_unfinished(struct db *db, const char *id, struct delete_ctx *ctx)
{
	struct db_res	*res;
	long long	 n;

	if (db_exec(db, sql_lock, NULL, "s", id) == -1 ||
	    db_exec(db, sql_unfinished, &res, "s", id) == -1)
		return -1;
	n = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	if (n > 0)
		delete_refuse(ctx, "workflow has %lld unfinished execution%s "
		    "(running, waiting or awaiting approval): cancel %s first",
		    n, n == 1 ? "" : "s", n == 1 ? "it" : "them");
	/* Its schedules stay, disabled and saying why (SPEC section 16). */
	else if (schedules_workflow_deleted(db, id) == -1)
		return -1;
	return 0;
}

int
workflows_delete(struct request *req)
{
	static const struct delete_ops ops = { "workflow", sql_delete,
	    NULL, refuse_unfinished, announce_deleted };

	return delete_by_id(req, &ops);
}
