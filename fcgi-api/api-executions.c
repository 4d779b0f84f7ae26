/*
 * /api/executions: list with paging, read one with its whole log, and the
 * three things people do to an execution (start, answer, cancel), which
 * all go through the engine in common/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include "api.h"
#include "audit.h"
#include "db.h"
#include "engine.h"
#include "id.h"
#include "jtext.h"
#include "log.h"
#include "pjson.h"
#include "report.h"
#include "status.h"

/*
 * A page of executions, newest first. The workflow's name is the one
 * the execution was started with; only rows from before that column
 * (version 1) look it up, and COALESCE runs the subquery for those alone:
 * a LEFT JOIN read the workflow of every row, half the pages the query
 * touched.
 */
#define SQL_PAGE \
    "SELECT e.id, e.workflow_id, COALESCE(e.workflow_name, " \
    "(SELECT w.name FROM workflows w WHERE w.id = e.workflow_id)), " \
    "e.kind, e.status, e.started_by, e.started_at, e.completed_at, " \
    "e.current_step, e.error, e.failed_steps, e.phase FROM executions e "
#define SQL_PAGE_ORDER	"ORDER BY e.started_at DESC, e.id DESC LIMIT ?"
static const char sql_page_first[] = SQL_PAGE SQL_PAGE_ORDER;
static const char sql_page_before[] = SQL_PAGE
    "WHERE e.started_at < ? OR (e.started_at = ? AND e.id < ?) "
    SQL_PAGE_ORDER;
/* The same with ?status= (one of status.h's names). */
static const char sql_page_first_status[] = SQL_PAGE
    "WHERE e.status = ? " SQL_PAGE_ORDER;
static const char sql_page_before_status[] = SQL_PAGE
    "WHERE e.status = ? AND (e.started_at < ? OR (e.started_at = ? "
    "AND e.id < ?)) " SQL_PAGE_ORDER;
static const char sql_cursor[] =
    "SELECT started_at FROM executions WHERE id = ?";
/* The answer a 409 on /respond shows: the step asked for, else the last. */
static const char sql_answer_at[] =
    "SELECT step_index, name, response, responded_by, responded_at "
    "FROM execution_steps WHERE execution_id = ? AND step_index = ? "
    "AND responded_at IS NOT NULL";
static const char sql_answer_last[] =
    "SELECT step_index, name, response, responded_by, responded_at "
    "FROM execution_steps WHERE execution_id = ? "
    "AND responded_at IS NOT NULL ORDER BY step_index DESC LIMIT 1";

void
reply_engine_error(struct request *req, const struct engine_err *err)
{
	struct json_object	*o;

	/* A fault in one field of the request names it (params.NAME,
	 * allowed_groups), so a form can show it beside the field. */
	if (err->field[0] != '\0' && (err->code == ENGINE_INVALID ||
	    err->code == ENGINE_FORBIDDEN)) {
		reply_error_field(req, err->code == ENGINE_INVALID ? 400 : 403,
		    err->field, "%s", err->msg);
		return;
	}
	switch (err->code) {
	case ENGINE_NOTFOUND:
		reply_error(req, 404, "%s", err->msg);
		break;
	case ENGINE_INVALID:
		reply_error(req, 400, "%s", err->msg);
		break;
	case ENGINE_CONFLICT:
		reply_error(req, 409, "%s", err->msg);
		break;
	case ENGINE_FORBIDDEN:
		reply_error(req, 403, "%s", err->msg);
		break;
	case ENGINE_LIMIT:
		o = json_object_new_object();
		json_object_object_add(o, "error",
		    json_object_new_string(err->msg));
		reply_json_headers(req, 429, "Retry-After: 10\r\n", o);
		break;
	case ENGINE_KEY_REUSED:
		reply_error_field(req, 422, "Idempotency-Key", "%s", err->msg);
		break;
	default:
		reply_db_error(req);
		break;
	}
}

/*
 * After a commit that ended commands (a worker deleted or replaced):
 * move their executions now rather than at pushd's next sweep. A failure
 * is only logged: the sweep tries again, nothing is lost.
 */
void
executions_advance(struct request *req, struct dispatch_ids *ids)
{
	struct engine_err	 err;
	size_t			 i;

	for (i = 0; i < ids->n; i++)
		if (engine_advance(req->db, ids->id[i], &err) == -1 &&
		    err.code != ENGINE_NOTFOUND)
			log_warnx("advancing execution %s: %s", ids->id[i],
			    err.msg);
	dispatch_ids_clear(ids);
}

/*
 * A row of the list, in the SELECT's column order, written as JSON text
 * (dbjson_row_text(): what json-c printed, without 600 json-c objects
 * and their hash tables per page of 50).
 */
static const struct dbjson_col summary_cols[] = {
	{ "id", DBJSON_STRING }, { "workflow_id", DBJSON_STRING },
	{ "workflow_name", DBJSON_STRING }, { "kind", DBJSON_STRING },
	{ "status", DBJSON_STRING }, { "started_by", DBJSON_STRING },
	{ "started_at", DBJSON_TIME }, { "completed_at", DBJSON_TIME },
	{ "current_step", DBJSON_INT }, { "error", DBJSON_STRING },
	/* "completed, 1 step failed" in the list (SPEC section 14). */
	{ "failed_steps", DBJSON_INT }, { "phase", DBJSON_STRING },
	{ NULL, DBJSON_STRING }
};

/*
 * ?limit=N (1..EXEC_PAGE_MAX) and ?before=<id>: newest first; ?status=S
 * only those with status S (an execution status's name).
 */
int
executions_list(struct request *req)
{
	char			 before[ID_LEN + 2], status[32];
	long long		 limit;
	struct db_res		*res = NULL, *cur = NULL;
	struct jtext		 j;
	enum exec_status	 es;
	char			*text;
	size_t			 i, len;
	int			 rc, filter;

	if (request_query_int(req, "limit", 1, EXEC_PAGE_MAX,
	    EXEC_PAGE_DEFAULT, &limit) == -1)
		return 0;
	filter = request_query(req, "status", status, sizeof(status));
	if (filter == -1 || (filter == 1 &&
	    exec_status_from(status, &es) == -1)) {
		reply_error_field(req, 400, "status", "status must be an "
		    "execution status (running, waiting, awaiting_approval, "
		    "completed, failed, cancelled, rejected, expired)");
		return 0;
	}
	rc = request_query(req, "before", before, sizeof(before));
	if (rc == -1 || (rc == 1 && !id_valid(before))) {
		reply_error_field(req, 400, "before", "before must be an "
		    "execution id");
		return 0;
	}
	if (rc == 1) {
		if (db_exec(req->db, sql_cursor, &cur, "s", before) == -1)
			goto dberr;
		if (db_res_rows(cur) == 0) {
			db_res_free(cur);
			reply_error_field(req, 400, "before", "before: no such "
			    "execution");
			return 0;
		}
		if ((filter == 1 ? db_exec(req->db, sql_page_before_status,
		    &res, "ssssi", status, db_res_get(cur, 0, 0),
		    db_res_get(cur, 0, 0), before, limit) :
		    db_exec(req->db, sql_page_before, &res, "sssi",
		    db_res_get(cur, 0, 0), db_res_get(cur, 0, 0), before,
		    limit)) == -1)
			goto dberr;
	} else if ((filter == 1 ? db_exec(req->db, sql_page_first_status,
	    &res, "si", status, limit) : db_exec(req->db, sql_page_first, &res,
	    "i", limit)) == -1)
		goto dberr;
	jtext_init(&j, 400 * db_res_rows(res) + 2);
	jtext_raw(&j, "[", 1);
	for (i = 0; i < db_res_rows(res); i++) {
		if (i > 0)
			jtext_raw(&j, ",", 1);
		dbjson_row_text(&j, res, i, summary_cols);
	}
	jtext_raw(&j, "]", 1);
	db_res_free(res);
	db_res_free(cur);
	text = jtext_take(&j, &len);
	reply_json_text(req, text, len);
	free(text);
	return 0;
dberr:
	db_res_free(cur);
	reply_db_error(req);
	return 0;
}

/*
 * For the caller: can_approve and approve_refusal, the reason a decision
 * would be refused (SPEC section 15), so a page shows it instead of a
 * button (one that needs no approval: "its approval is closed").
 */
static int
executions_can_approve(struct request *req, const char *id,
    struct json_object *o)
{
	struct engine_caller	 caller;
	char			 why[400];
	int			 rc;

	api_caller(req, &caller);
	if ((rc = engine_approve_refusal(req->db, id, req->user.name, &caller,
	    why, sizeof(why))) == -1)
		return -1;
	json_object_object_add(o, "can_approve",
	    json_object_new_boolean(rc == 0));
	json_object_object_add(o, "approve_refusal",
	    rc == 0 ? NULL : json_object_new_string(why));
	return 0;
}

/* Reply with o, report_*()'s answer (rc) on execution id, with the
 * caller's can_approve and approve_refusal added (and headers, or NULL). */
static int
executions_send(struct request *req, const char *id, int rc,
    struct json_object *o, int status, const char *headers)
{
	if (rc == 0 && executions_can_approve(req, id, o) == -1) {
		json_object_put(o);
		rc = -1;
	}
	if (rc == -1)
		reply_db_error(req);
	else if (rc == 1)
		reply_error(req, 404, "execution not found");
	else if (headers != NULL)
		reply_json_headers(req, status, headers, o);
	else
		reply_json(req, status, o);
	return 0;
}

/* Reply with the whole execution. */
int
executions_reply(struct request *req, const char *id, int status)
{
	struct json_object	*o;
	int			 rc;

	if (!id_valid(id)) {
		reply_error(req, 404, "execution not found");
		return 0;
	}
	rc = report_execution(req->db, id, &o);
	return executions_send(req, id, rc, o, status, NULL);
}

/*
 * ?view=groups (SPEC section 17): each execute step's groups without its
 * dispatches, and no logs: what the dashboard loads, so a step on 1,000
 * workers opens without 1,000 outputs. No view: the whole execution.
 */
int
executions_get(struct request *req)
{
	struct json_object	*o;
	const char		*id = req->params[0];
	char			 view[16];
	int			 rc;

	rc = request_query(req, "view", view, sizeof(view));
	if (rc == 0)
		return executions_reply(req, id, 200);
	if (rc == -1 || strcmp(view, "groups") != 0) {
		reply_error_field(req, 400, "view", "view must be groups "
		    "(or absent: the whole execution)");
		return 0;
	}
	if (!id_valid(id)) {
		reply_error(req, 404, "execution not found");
		return 0;
	}
	/* The view the dashboard loads: its approve buttons read these. */
	rc = report_execution_view(req->db, id, REPORT_VIEW_GROUPS, &o);
	return executions_send(req, id, rc, o, 200, NULL);
}

/*
 * The Idempotency-Key header (IETF draft-ietf-httpapi-idempotency-key,
 * Stripe's limits): 1 to EXEC_IDEM_KEY_MAX visible ASCII characters. NULL
 * in *key when absent; -1 after a 400 when malformed.
 */
static int
executions_key(struct request *req, const char **key)
{
	const char	*k = request_header(req, "HTTP_IDEMPOTENCY_KEY");
	size_t		 i;

	*key = NULL;
	if (k == NULL)
		return 0;
	for (i = 0; k[i] != '\0' && i <= EXEC_IDEM_KEY_MAX; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			break;
	if (i == 0 || i > EXEC_IDEM_KEY_MAX || k[i] != '\0') {
		reply_error_field(req, 400, "Idempotency-Key",
		    "Idempotency-Key must be 1 to %d visible ASCII characters",
		    EXEC_IDEM_KEY_MAX);
		return -1;
	}
	*key = k;
	return 0;
}

/*
 * With an Idempotency-Key, a repeated request gets what the first got:
 * 201 and the same execution (as it is now), marked Idempotent-Replayed.
 */
int
executions_start(struct request *req)
{
	static const char *const allowed[] = { "workflow_id", "params", NULL };
	struct audit_actor	 who;
	struct engine_caller	 caller;
	struct engine_start_req	 r;
	struct engine_err	 err;
	struct json_object	*o;
	const char		*wid, *key;
	char			 id[ID_LEN + 1];
	int			 replayed = 0, rc;

	/* Behind already: refused before any work (admit.c). */
	if (admit_check(req) == -1)
		return 0;
	if (executions_key(req, &key) == -1 ||
	    body_only(req, allowed) == -1 ||
	    body_string(req, "workflow_id", ID_LEN + 64, 1, &wid) == -1)
		return 0;
	/* params: an object (its size is the body's limits'), or absent. */
	memset(&r, 0, sizeof(r));
	if (json_object_object_get_ex(req->json, "params", &r.params) &&
	    !json_object_is_type(r.params, json_type_object)) {
		reply_error_field(req, 400, "params", "params must be an object "
		    "of parameter values");
		return 0;
	}
	api_actor(req, &who);
	api_caller(req, &caller);
	r.workflow_id = wid;
	r.user = req->user.name;
	r.key = key;
	r.caller = &caller;
	if (engine_start_with(req->db, &r, id, &replayed, &err, &who) == -1) {
		reply_engine_error(req, &err);
		return 0;
	}
	if (!replayed)
		return executions_reply(req, id, 201);
	rc = report_execution(req->db, id, &o);
	return executions_send(req, id, rc, o, 201,
	    "Idempotent-Replayed: true\r\n");
}

/* 409 on /respond: say which answer the prompt has, and from whom, so a
 * client retrying after a lost response can tell its own answer. */
static void
executions_answered(struct request *req, long long step,
    const struct engine_err *err)
{
	struct json_object	*o, *a;
	struct db_res		*res = NULL;
	int			 rc;

	if (step >= 0)
		rc = db_exec(req->db, sql_answer_at, &res, "si",
		    req->params[0], step);
	else
		rc = db_exec(req->db, sql_answer_last, &res, "s",
		    req->params[0]);
	if (rc == -1) {
		reply_db_error(req);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(err->msg));
	if (db_res_rows(res) == 1) {
		a = json_object_new_object();
		json_object_object_add(a, "step",
		    json_object_new_int64(db_res_int(res, 0, 0, -1)));
		json_object_object_add(a, "name",
		    pjson_string_or_null(db_res_get(res, 0, 1)));
		json_object_object_add(a, "response",
		    pjson_string_or_null(db_res_get(res, 0, 2)));
		json_object_object_add(a, "responded_by",
		    pjson_string_or_null(db_res_get(res, 0, 3)));
		json_object_object_add(a, "responded_at",
		    pjson_time(db_res_get(res, 0, 4)));
		json_object_object_add(o, "answered", a);
	}
	db_res_free(res);
	reply_error_obj(req, 409, o);
}

int
executions_respond(struct request *req)
{
	static const char *const allowed[] = { "response", "step", NULL };
	struct audit_actor	 who;
	struct engine_caller	 caller;
	struct engine_err	 err;
	const char		*resp;
	long long		 step;

	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "execution not found");
		return 0;
	}
	if (body_only(req, allowed) == -1 ||
	    body_name(req, "response", EXEC_RESPONSE_CHARS, 1, &resp) == -1 ||
	    body_int(req, "step", 0, WF_PLAN_MAX - 1, -1, &step) == -1)
		return 0;
	api_actor(req, &who);
	api_caller(req, &caller);
	if (engine_respond_as(req->db, req->params[0], step, resp,
	    req->user.name, &caller, &err, &who) == -1) {
		if (err.code == ENGINE_CONFLICT)
			executions_answered(req, step, &err);
		else
			reply_engine_error(req, &err);
		return 0;
	}
	return executions_reply(req, req->params[0], 200);
}

int
executions_cancel(struct request *req)
{
	struct audit_actor	 who;
	struct engine_err	 err;

	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "execution not found");
		return 0;
	}
	api_actor(req, &who);
	if (engine_cancel(req->db, req->params[0], req->user.name,
	    req->user.role == ROLE_ADMIN ? ENGINE_AS_ADMIN : 0, &err,
	    &who) == -1) {
		reply_engine_error(req, &err);
		return 0;
	}
	return executions_reply(req, req->params[0], 200);
}
