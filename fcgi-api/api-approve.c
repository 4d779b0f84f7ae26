/*
 * POST /api/executions/:id/approve (SPEC.md section 15): one person's
 * decision on an execution awaiting approval, against the hash of the
 * plan they saw. The checks and the move are the engine's
 * (engine_approve); this file reads the body and says what was refused.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "audit.h"
#include "db.h"
#include "engine.h"
#include "id.h"
#include "pulse-limits.h"

static const char sql_exists[] = "SELECT 1 FROM executions WHERE id = ?";

/* 0 when it exists, -1 replied (404 or a db error). */
static int
approve_exists(struct request *req, const char *id)
{
	struct db_res	*res;
	size_t		 n;

	if (!id_valid(id)) {
		reply_error(req, 404, "no execution %.64s", id);
		return -1;
	}
	if (db_exec(req->db, sql_exists, &res, "s", id) == -1) {
		reply_db_error(req);
		return -1;
	}
	n = db_res_rows(res);
	db_res_free(res);
	if (n == 0) {
		reply_error(req, 404, "no execution %s", id);
		return -1;
	}
	return 0;
}

/* The body: plan_hash (64 lowercase hex), decision, comment. */
static int
approve_body(struct request *req, struct engine_approve_req *r)
{
	static const char *const allowed[] = { "plan_hash", "decision",
	    "comment", NULL };
	const char	*h, *d, *c;
	size_t		 i, chars = 0;

	if (body_only(req, allowed) == -1 ||
	    body_string(req, "plan_hash", 64, 1, &h) == -1)
		return -1;
	if (strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64) {
		reply_error_field(req, 400, "plan_hash", "plan_hash must be the "
		    "plan's SHA-256: 64 lowercase hex digits");
		return -1;
	}
	if (body_string(req, "decision", 16, 1, &d) == -1)
		return -1;
	if (strcmp(d, "approve") != 0 && strcmp(d, "reject") != 0) {
		reply_error_field(req, 400, "decision", "decision must be "
		    "\"approve\" or \"reject\"");
		return -1;
	}
	if (body_string(req, "comment", PULSE_APPROVAL_COMMENT_MAX, 0,
	    &c) == -1)
		return -1;
	for (i = 0; c != NULL && c[i] != '\0'; i++)
		if (((unsigned char)c[i] & 0xc0) != 0x80)
			chars++;
	if (chars > PULSE_APPROVAL_COMMENT_CHARS) {
		reply_error_field(req, 400, "comment", "comment is longer than "
		    "%d characters", PULSE_APPROVAL_COMMENT_CHARS);
		return -1;
	}
	r->plan_hash = h;
	r->reject = strcmp(d, "reject") == 0;
	r->comment = c != NULL && c[0] != '\0' ? c : NULL;
	return 0;
}

int
executions_approve(struct request *req)
{
	struct engine_approve_req	 r;
	struct engine_caller		 caller;
	struct audit_actor		 who;
	struct engine_err		 err;
	struct json_object		*o;
	char				 hash[65];

	memset(&r, 0, sizeof(r));
	if (approve_exists(req, req->params[0]) == -1 ||
	    approve_body(req, &r) == -1)
		return 0;
	api_actor(req, &who);
	api_caller(req, &caller);
	r.execution_id = req->params[0];
	r.user = req->user.name;
	r.caller = &caller;
	if (engine_approve(req->db, &r, hash, &err, &who) == -1) {
		if (err.code == ENGINE_CONFLICT && hash[0] != '\0') {
			/* A stale plan: the one awaiting approval now. */
			o = json_object_new_object();
			json_object_object_add(o, "error",
			    json_object_new_string(err.msg));
			json_object_object_add(o, "plan_hash",
			    json_object_new_string(hash));
			reply_error_obj(req, 409, o);
		} else
			reply_engine_error(req, &err);
		return 0;
	}
	return executions_reply(req, req->params[0], 200);
}
