/*
 * The outside facts on a started execution: an answer to its prompt, a
 * cancel, an abort (a poison pushd gives up on). Part of the engine
 * (engine-int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "engine-int.h"
#include "events.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "workflow.h"
#include "xmalloc.h"

/* engine_abort(): without reading the definition, which may be the fault. */
static const char sql_exec_abort[] =
    "UPDATE executions SET status = 'failed', error = ?, "
    "completed_at = NOW(3) WHERE id = ? "
    "AND status IN ('running', 'waiting', 'awaiting_approval')";
static const char sql_exec_answer[] =
    "UPDATE executions SET prompt_response = ?, status = 'running', "
    "current_step = ? WHERE id = ? AND status = 'waiting'";
static const char sql_step_answer[] =
    "UPDATE execution_steps SET status = 'succeeded', response = ?, "
    "responded_by = ?, responded_at = NOW(3), finished_at = NOW(3) "
    "WHERE execution_id = ? AND step_index = ? AND status = 'waiting'";
static const char sql_steps_cancel[] =
    "UPDATE execution_steps SET status = 'cancelled', reason = ?, "
    "finished_at = NOW(3) WHERE execution_id = ? "
    "AND status IN ('pending', 'running', 'waiting')";

static int
respond_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct exec		 ex;
	const struct step	*st;
	struct json_object	*p;
	size_t			 i;
	int			 rc = -1, answered;

	if (engine_exec_lock(db, c->id, &ex, c->err) == -1)
		return -1;
	if (ex.status != EXEC_WAITING) {
		engine_fail(c->err, ENGINE_CONFLICT, "execution is %s, not "
		    "waiting for an answer", exec_status_name(ex.status));
		goto out;
	}
	if (engine_caller_check(ex.wf, c, "answer the prompts of") == -1)
		goto out;
	if (c->step >= 0 && c->step != ex.current) {
		engine_fail(c->err, ENGINE_CONFLICT, "step %lld is not the prompt "
		    "waiting for an answer (step %d is)", c->step, ex.current);
		goto out;
	}
	if (workflow_plan_at(ex.wf, ex.current) == NULL) {
		engine_fail(c->err, ENGINE_CONFLICT, "no step %d to answer",
		    ex.current);
		goto out;
	}
	st = workflow_plan_at(ex.wf, ex.current)->st;
	for (i = 0; i < st->noptions; i++)
		if (strcmp(st->options[i], c->response) == 0)
			break;
	if (st->type != STEP_PROMPT || i == st->noptions) {
		engine_fail(c->err, ENGINE_INVALID, "response must be one of the "
		    "prompt's options");
		goto out;
	}
	if (db_exec(db, sql_step_answer, NULL, "sssi", c->response, c->user,
	    ex.id, (long long)ex.current) == -1)
		goto dbfail;
	if (db_affected(db) != 1) {
		engine_fail(c->err, ENGINE_CONFLICT, "the prompt was already answered");
		goto out;
	}
	p = json_object_new_object();
	json_object_object_add(p, "execution_id", json_object_new_string(ex.id));
	json_object_object_add(p, "step", json_object_new_int(ex.current));
	json_object_object_add(p, "response",
	    json_object_new_string(c->response));
	json_object_object_add(p, "responded_by",
	    pjson_string_or_null(c->user));
	if (events_append(db, "execution_response", ex.id, NULL, p) == -1 ||
	    events_step(db, ex.id, ex.current,
	    step_status_name(STEP_SUCCEEDED), NULL) == -1)
		goto dbfail;
	answered = ex.current++;
	if (db_exec(db, sql_exec_answer, NULL, "sis", c->response,
	    (long long)ex.current, ex.id) == -1)
		goto dbfail;
	free(ex.prompt_response);
	ex.prompt_response = xstrdup(c->response);
	ex.status = EXEC_RUNNING;
	if (events_status(db, ex.id, exec_status_name(EXEC_RUNNING)) == -1 ||
	    engine_advance_locked(db, &ex) == -1)
		goto dbfail;
	p = json_object_new_object();
	json_object_object_add(p, "step", json_object_new_int(answered));
	json_object_object_add(p, "response",
	    json_object_new_string(c->response));
	rc = engine_call_audit(db, c, "execution.respond", "execution", ex.id, p);
	goto out;
dbfail:
	engine_dberr(c->err, db);
out:
	engine_exec_clear(&ex);
	return rc;
}

int
engine_respond(struct db *db, const char *execution_id, const char *response,
    const char *user, struct engine_err *err)
{
	return engine_respond_step(db, execution_id, -1, response, user, err,
	    NULL);
}

int
engine_respond_step(struct db *db, const char *execution_id, long long step,
    const char *response, const char *user, struct engine_err *err,
    const struct audit_actor *audit)
{
	return engine_respond_as(db, execution_id, step, response, user, NULL,
	    err, audit);
}

int
engine_respond_as(struct db *db, const char *execution_id, long long step,
    const char *response, const char *user, const struct engine_caller *who,
    struct engine_err *err, const struct audit_actor *audit)
{
	struct call	 c = { .id = execution_id, .response = response,
	    .step = step, .user = user, .caller = who, .err = err,
	    .audit = audit };

	return engine_run(db, respond_txn, &c);
}

/* A parent's children still going: the cancel goes down to them. */
static const char sql_children[] =
    "SELECT child_execution_id FROM execution_steps WHERE execution_id = ? "
    "AND child_execution_id IS NOT NULL "
    "AND status IN ('running', 'waiting')";

static int	cancel_locked(struct db *, struct exec *, const char *, int);

/*
 * Cancel the running and waiting children of execution id, locked by the
 * caller (parent before child, each locked in turn, at most
 * PULSE_SUBWORKFLOW_DEPTH_MAX down): a cancel, and an abort, go down.
 */
static int
cancel_children(struct db *db, const char *id, const char *why, int level)
{
	struct engine_err	 err;
	struct db_res		*res;
	struct exec		 child;
	size_t			 i;
	int			 rc = 0;

	if (level >= PULSE_SUBWORKFLOW_DEPTH_MAX)
		return 0;
	if (db_exec(db, sql_children, &res, "s", id) == -1)
		return -1;
	for (i = 0; rc == 0 && i < db_res_rows(res); i++) {
		if (engine_exec_lock(db, db_res_get(res, i, 0), &child,
		    &err) == -1) {
			/* Gone or unreadable: nothing to stop there. */
			if (err.code == ENGINE_DBERR)
				rc = -1;
			continue;
		}
		if (child.status == EXEC_RUNNING ||
		    child.status == EXEC_WAITING ||
		    child.status == EXEC_AWAITING_APPROVAL)
			rc = cancel_locked(db, &child, why, level + 1);
		engine_exec_clear(&child);
	}
	db_res_free(res);
	return rc;
}

/* End ex (locked) cancelled for why: its children first, then its steps,
 * its dispatches and itself. */
static int
cancel_locked(struct db *db, struct exec *ex, const char *why, int level)
{
	if (cancel_children(db, ex->id, why, level) == -1 ||
	    db_exec(db, sql_steps_cancel, NULL, "ss", why, ex->id) == -1 ||
	    dispatch_cancel_execution(db, ex->id) == -1 ||
	    engine_finish(db, ex, EXEC_CANCELLED, why) == -1)
		return -1;
	return 0;
}

static int
cancel_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct exec		 ex;
	struct json_object	*d;
	char			 why[300];
	int			 rc = -1;

	if (engine_exec_lock(db, c->id, &ex, c->err) == -1)
		return -1;
	/* Only an admin may send one, so only an admin may stop one. */
	if (strcmp(ex.kind, "command") == 0 && !(c->flags & ENGINE_AS_ADMIN)) {
		engine_fail(c->err, ENGINE_FORBIDDEN, "cancelling a direct command "
		    "is for admins");
		goto out;
	}
	if (ex.status != EXEC_RUNNING && ex.status != EXEC_WAITING &&
	    ex.status != EXEC_AWAITING_APPROVAL) {
		engine_fail(c->err, ENGINE_CONFLICT, "execution is already %s",
		    exec_status_name(ex.status));
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "kind", json_object_new_string(ex.kind));
	json_object_object_add(d, "status_before",
	    json_object_new_string(exec_status_name(ex.status)));
	snprintf(why, sizeof(why), "cancelled by %s", c->user ? c->user : "?");
	if (cancel_locked(db, &ex, why, 0) == -1) {
		engine_dberr(c->err, db);
		json_object_put(d);
		goto out;
	}
	rc = engine_call_audit(db, c, "execution.cancel", "execution", ex.id, d);
out:
	engine_exec_clear(&ex);
	return rc;
}

static int
abort_txn(struct db *db, void *arg)
{
	struct call	*c = arg;

	if (db_exec(db, sql_exec_abort, NULL, "ss", c->response, c->id) == -1)
		return engine_dberr(c->err, db);
	if (db_affected(db) != 1)
		return 1;	/* it ended meanwhile */
	if (cancel_children(db, c->id, c->response, 0) == -1 ||
	    db_exec(db, sql_steps_cancel, NULL, "ss", c->response,
	    c->id) == -1 ||
	    dispatch_cancel_execution(db, c->id) == -1 ||
	    engine_sub_wake(db, c->id) == -1 ||
	    events_status(db, c->id, exec_status_name(EXEC_FAILED)) == -1)
		return engine_dberr(c->err, db);
	return 0;
}

int
engine_abort(struct db *db, const char *execution_id, const char *reason,
    struct engine_err *err)
{
	struct call	 c = { .id = execution_id, .response = reason,
	    .err = err };
	int		 rc;

	err->code = ENGINE_OK;
	err->msg[0] = '\0';
	if ((rc = db_txn(db, abort_txn, &c)) == -1 && err->code == ENGINE_OK)
		engine_dberr(err, db);
	return rc;	/* 1: it had ended meanwhile */
}

int
engine_cancel(struct db *db, const char *execution_id, const char *user,
    int flags, struct engine_err *err, const struct audit_actor *audit)
{
	struct call	 c = { .id = execution_id, .user = user, .flags = flags,
	    .err = err, .audit = audit };

	return engine_run(db, cancel_txn, &c);
}
