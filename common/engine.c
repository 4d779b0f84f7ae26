/*
 * The execution engine. Every entry point runs inside db_txn() with the
 * execution row locked FOR UPDATE and written (lock_rev), so two
 * processes advancing the same execution take turns, and every change
 * writes its event in the same transaction. Calling engine_advance() twice changes nothing the second
 * time: each step only moves on a fact recorded in the database.
 *
 * This file: loading and ending executions and steps, and
 * engine_advance(); the step types are step-*.c (step.h), starting is
 * engine-start.c, answers, cancels and aborts engine-answer.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cond.h"
#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "events.h"
#include "notify.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "report.h"
#include "step.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_exec_lock[] =
    "SELECT status, kind, current_step, workflow_id, definition, "
    "prompt_response, started_by, params, phase, failure FROM executions "
    "WHERE id = ? FOR UPDATE";
/*
 * Galera: FOR UPDATE locks on the local node only, and a call that only
 * inserts (a dispatch, a vote) under it would not conflict with the same
 * call on another node. Every call writes the row it locked, so
 * certification aborts the later of two (1213 at COMMIT) and db_txn runs
 * it again on the winner's state. updated_at = updated_at: the idle
 * sweep (dispatch-timer.c) ages executions by it, and a lock moves
 * nothing.
 */
static const char sql_exec_claim[] =
    "UPDATE executions SET lock_rev = lock_rev + 1, updated_at = updated_at "
    "WHERE id = ?";
static const char sql_exec_set[] =
    "UPDATE executions SET status = ?, current_step = ? WHERE id = ?";
static const char sql_exec_finish[] =
    "UPDATE executions SET status = ?, error = ?, current_step = ?, "
    "completed_at = NOW(3) WHERE id = ?";
static const char sql_exec_phase[] =
    "UPDATE executions SET phase = 'on_failure', failure = ?, "
    "current_step = ? WHERE id = ?";
static const char sql_exec_failed_steps[] =
    "UPDATE executions SET failed_steps = failed_steps + 1 WHERE id = ?";
static const char sql_step_reason[] =
    "SELECT reason FROM execution_steps WHERE execution_id = ? "
    "AND step_index = ?";
static const char sql_exec_logs[] =
    "UPDATE executions SET logs = ? WHERE id = ?";
static const char sql_step_get[] =
    "SELECT status, wake_at IS NOT NULL AND wake_at <= NOW(3) "
    "FROM execution_steps WHERE execution_id = ? AND step_index = ?";
static const char sql_step_begin[] =
    "UPDATE execution_steps SET status = ?, started_at = NOW(3), "
    "wake_at = IF(? < 0, NULL, NOW(3) + INTERVAL ? * 1000 MICROSECOND) "
    "WHERE execution_id = ? AND step_index = ? AND status = 'pending'";
static const char sql_step_end[] =
    "UPDATE execution_steps SET status = ?, reason = ?, "
    "started_at = COALESCE(started_at, NOW(3)), finished_at = NOW(3) "
    "WHERE execution_id = ? AND step_index = ? AND status = ?";

int
engine_fail(struct engine_err *err, int code, const char *fmt, ...)
{
	va_list	 ap;

	err->code = (enum engine_code)code;
	err->field[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* It may be stored (executions.error): whole characters only. */
	pjson_utf8_trim(err->msg);
	return -1;
}

int
engine_dberr(struct engine_err *err, struct db *db)
{
	return engine_fail(err, ENGINE_DBERR, "%s", db_errmsg(db));
}

void
engine_exec_clear(struct exec *ex)
{
	free(ex->workflow_id);
	free(ex->prompt_response);
	free(ex->started_by);
	json_object_put(ex->params);
	free(ex->failure);
	json_object_put(ex->pins);
	workflow_free(ex->wf);
	memset(ex, 0, sizeof(*ex));
}

/* Lock and load an execution; its definition is the snapshot taken at
 * start, so editing the workflow never changes a running execution. */
int
engine_exec_lock(struct db *db, const char *id, struct exec *ex,
    struct engine_err *err)
{
	struct db_res		*res = NULL;
	struct json_object	*def = NULL;
	struct workflow_error	 werr;
	const char		*s;
	char			 perr[128];
	int			 rc = -1;

	memset(ex, 0, sizeof(*ex));
	if (!id_valid(id))
		return engine_fail(err, ENGINE_NOTFOUND, "no execution %s", id);
	if (db_exec(db, sql_exec_lock, &res, "s", id) == -1)
		return engine_dberr(err, db);
	if (db_res_rows(res) == 0) {
		engine_fail(err, ENGINE_NOTFOUND, "no execution %s", id);
		goto out;
	}
	if (db_exec(db, sql_exec_claim, NULL, "s", id) == -1) {
		engine_dberr(err, db);
		goto out;
	}
	strlcpy_p(ex->id, id, sizeof(ex->id));
	/* A status this build does not know: not one it may move. */
	if (exec_status_from(db_res_get(res, 0, 0), &ex->status) == -1)
		ex->status = EXEC_STATUS_COUNT;
	strlcpy_p(ex->kind, db_res_get(res, 0, 1), sizeof(ex->kind));
	ex->current = (int)db_res_int(res, 0, 2, 0);
	ex->at = ex->current;
	if ((s = db_res_get(res, 0, 3)) != NULL)
		ex->workflow_id = xstrdup(s);
	if ((s = db_res_get(res, 0, 5)) != NULL)
		ex->prompt_response = xstrdup(s);
	if ((s = db_res_get(res, 0, 6)) != NULL)
		ex->started_by = xstrdup(s);
	if ((s = db_res_get(res, 0, 7)) != NULL)
		ex->params = pjson_parse(s, db_res_len(res, 0, 7),
		    API_JSON_DEPTH, perr, sizeof(perr));
	s = db_res_get(res, 0, 8);
	ex->phase = s != NULL && strcmp(s, "on_failure") == 0 ?
	    PHASE_ON_FAILURE : PHASE_MAIN;
	if ((s = db_res_get(res, 0, 9)) != NULL)
		ex->failure = xstrdup(s);
	s = db_res_get(res, 0, 4);
	if (s == NULL || (def = pjson_parse(s, db_res_len(res, 0, 4),
	    API_JSON_DEPTH, perr, sizeof(perr))) == NULL) {
		engine_fail(err, ENGINE_INVALID, "execution %s has no readable "
		    "definition", id);
		goto out;
	}
	if (workflow_from_json(def, &ex->wf, &werr) == -1) {
		engine_fail(err, ENGINE_INVALID, "stored definition is invalid: %s",
		    werr.msg);
		goto out;
	}
	rc = 0;
out:
	json_object_put(def);
	db_res_free(res);
	if (rc == -1)
		engine_exec_clear(ex);
	return rc;
}

int
engine_finish(struct db *db, struct exec *ex, enum exec_status status,
    const char *error)
{
	struct json_object	*logs = NULL;
	const char		*s;
	size_t			 len;
	int			 rc;

	if (db_exec(db, sql_exec_finish, NULL, "ssis",
	    exec_status_name(status), error, (long long)ex->current,
	    ex->id) == -1)
		return -1;
	ex->status = status;
	/* The assembled log, so the seed's SQL reports keep working. */
	if (report_steps(db, ex->id, &logs) != 0)
		return -1;
	s = pjson_str(logs, &len);
	rc = db_exec(db, sql_exec_logs, NULL, "bs", s, len, ex->id);
	json_object_put(logs);
	if (rc == -1 || engine_sub_wake(db, ex->id) == -1 ||
	    events_status(db, ex->id, exec_status_name(status)) == -1)
		return -1;
	/* The outbox row commits with the end it announces. */
	if (ex->wf == NULL || ex->wf->nnotify == 0)
		return 0;
	/* `failed` is every end that did not succeed but a cancel. */
	switch (status) {
	case EXEC_COMPLETED:
		return notify_execution(db, ex->id, NOTIFY_COMPLETED);
	case EXEC_FAILED:
	case EXEC_REJECTED:
	case EXEC_EXPIRED:
		return notify_execution(db, ex->id, NOTIFY_FAILED);
	default:
		return 0;
	}
}

int
engine_step_end(struct db *db, struct exec *ex, enum step_status from,
    enum step_status to, const char *reason)
{
	if (db_exec(db, sql_step_end, NULL, "sssis", step_status_name(to),
	    reason, ex->id, (long long)ex->at,
	    step_status_name(from)) == -1)
		return -1;
	return events_step(db, ex->id, ex->at, step_status_name(to),
	    reason);
}

int
engine_step_settle(struct db *db, struct exec *ex, const struct step_poll *p)
{
	if (p->status == STEP_RUNNING)
		return STEP_RUNNING;
	if (engine_step_end(db, ex, STEP_RUNNING, p->status,
	    p->reason[0] ? p->reason : NULL) == -1)
		return -1;
	return p->status;
}

int
engine_step_begin(struct db *db, struct exec *ex, enum step_status status,
    long long wake_ms)
{
	if (db_exec(db, sql_step_begin, NULL, "siisi", step_status_name(status),
	    wake_ms, wake_ms, ex->id, (long long)ex->at) == -1)
		return -1;
	return events_step(db, ex->id, ex->at, step_status_name(status),
	    NULL);
}

/*
 * Decide whether the step in hand (ex->at) runs. 1: run it; 0: skipped (recorded);
 * -1: db error.
 */
static int
step_condition(struct db *db, struct exec *ex, const struct step *st)
{
	struct json_object	*ctx, *state;
	char			 cerr[256], reason[512];
	int			 truth = 0, rc;

	if (st->cond == NULL)
		return 1;
	if ((state = engine_state(db, ex)) == NULL)
		return -1;
	ctx = json_object_new_object();
	json_object_object_add(ctx, "promptResponse",
	    pjson_string_or_null(ex->prompt_response));
	json_object_object_add(ctx, "state", state);
	cond_set_params(ctx, ex->params);
	rc = cond_eval(st->cond, ctx, &truth, cerr, sizeof(cerr));
	json_object_put(ctx);
	if (rc == 0 && truth)
		return 1;
	if (rc == 0)
		snprintf(reason, sizeof(reason), "condition is false: %s",
		    st->condition);
	else
		snprintf(reason, sizeof(reason), "condition could not be "
		    "evaluated: %s", cerr);
	pjson_utf8_trim(reason);	/* a long condition is cut */
	return engine_step_end(db, ex, STEP_PENDING, STEP_SKIPPED,
	    reason) == -1 ? -1 : 0;
}

int
engine_count_failed(struct db *db, struct exec *ex)
{
	return db_exec(db, sql_exec_failed_steps, NULL, "s", ex->id);
}

/*
 * The current step failed, for reason, or (NULL) for the reason recorded
 * on its row. A failure of the main steps turns to the workflow's
 * on_failure steps if it has any (1: ex->current is the first of them);
 * else, or a failure of an on_failure step, ends the execution failed
 * with the first failure as its error (0).
 */
static int
step_failed(struct db *db, struct exec *ex, const struct step *st,
    const char *reason)
{
	struct db_res	*res;
	char		 why[512], msg[700], both[1400];
	int		 n;

	if (reason == NULL) {
		if (db_exec(db, sql_step_reason, &res, "si", ex->id,
		    (long long)ex->current) == -1)
			return -1;
		snprintf(why, sizeof(why), "%s", db_res_get(res, 0, 0) ?
		    db_res_get(res, 0, 0) : "failed");
		pjson_utf8_trim(why);
		db_res_free(res);
		reason = why;
	}
	if (ex->phase == PHASE_ON_FAILURE) {
		n = ex->current - (int)ex->wf->nmain + 1;
		snprintf(both, sizeof(both), "%s (on_failure step %d also "
		    "failed: %s)", ex->failure ? ex->failure : "failed", n,
		    reason);
		pjson_utf8_trim(both);
		return engine_finish(db, ex, EXEC_FAILED, both) == -1 ? -1 : 0;
	}
	snprintf(msg, sizeof(msg), "step %d (\"%s\") failed: %s",
	    ex->current + 1, st->name, reason);
	pjson_utf8_trim(msg);
	if (ex->wf->non_failure == 0)
		return engine_finish(db, ex, EXEC_FAILED, msg) == -1 ? -1 : 0;
	ex->phase = PHASE_ON_FAILURE;
	free(ex->failure);
	ex->failure = xstrdup(msg);
	ex->current = (int)ex->wf->nmain;
	if (db_exec(db, sql_exec_phase, NULL, "sis", msg,
	    (long long)ex->current, ex->id) == -1)
		return -1;
	return 1;
}

/* The steps of the phase are done: how the execution ends. */
static int
phase_done(struct db *db, struct exec *ex)
{
	if (ex->phase == PHASE_ON_FAILURE)
		return engine_finish(db, ex, EXEC_FAILED, ex->failure ?
		    ex->failure : "failed");
	return engine_finish(db, ex, EXEC_COMPLETED, NULL);
}

/* The status of the step in hand and whether its wake_at has passed. */
static int
step_load(struct db *db, struct exec *ex, enum step_status *status,
    int *due)
{
	struct db_res	*res;
	int		 rc = 0;

	if (db_exec(db, sql_step_get, &res, "si", ex->id,
	    (long long)ex->at) == -1)
		return -1;
	if (db_res_rows(res) == 0) {
		db_seterr(db, 0, "execution %s has no step %d", ex->id,
		    ex->at);
		rc = -1;
	} else if (step_status_from(db_res_get(res, 0, 0), status) == -1)
		*status = STEP_SUCCEEDED;	/* not known: move on, as v1 */
	if (rc == 0)
		*due = db_res_int(res, 0, 1, 0) == 1;
	db_res_free(res);
	return rc;
}

int
engine_step_move(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p, int *now)
{
	const struct step_type	*type = step_type_of(st->type);
	enum step_status	 status;
	int			 rc, due;

	*now = 0;
	p->reason[0] = '\0';
	if (step_load(db, ex, &status, &due) == -1)
		return -1;
	p->status = status;
	if (status == STEP_PENDING) {
		if ((rc = step_condition(db, ex, st)) == 1)
			rc = type->begin(db, ex, st);
		else if (rc == 0)
			rc = STEP_SKIPPED;
		if (rc == -1)
			return -1;
		p->status = (enum step_status)rc;
		*now = p->status != STEP_RUNNING;
	} else if (status == STEP_RUNNING) {
		p->due = due;
		if (type->poll(db, ex, st, p) == -1)
			return -1;
		if (p->status == STEP_RUNNING)
			return 0;		/* not yet */
		*now = 1;
		if (engine_step_end(db, ex, STEP_RUNNING, p->status,
		    p->reason[0] ? p->reason : NULL) == -1)
			return -1;
	}
	return 0;
}

/*
 * The heart of DESIGN.md section 4, with the execution locked: for each
 * step from the current one, begin it if pending, poll it if running,
 * then move on, or stop where it must wait for a fact (a result, a timer,
 * an answer), saving how far it got.
 */
int
engine_advance_locked(struct db *db, struct exec *ex)
{
	int	 start_index = ex->current;

	if (ex->status != EXEC_RUNNING)
		return 0;
	for (;;) {
		const struct step	*st;
		enum step_status	 status;
		struct step_poll	 p;
		const char		*reason;
		int			 rc, now;

		if ((size_t)ex->current >= (ex->phase == PHASE_MAIN ?
		    ex->wf->nmain : ex->wf->nplan))
			return phase_done(db, ex);
		st = workflow_plan_at(ex->wf, ex->current)->st;
		ex->at = ex->current;
		if (engine_step_move(db, ex, st, &p, &now) == -1)
			return -1;
		status = p.status;
		if (status == STEP_RUNNING)
			break;		/* look again when a fact arrives */
		/* A failure the poll saw says why; else its row does. */
		reason = p.reason[0] ? p.reason : NULL;
		if (status == STEP_WAITING)
			return 0;
		if (status == STEP_FAILED && !st->on_failure_continue) {
			if ((rc = step_failed(db, ex, st, reason)) != 1)
				return rc;	/* ended, or a db error */
			continue;	/* the first on_failure step */
		}
		/* Failed with on_failure "continue": counted, and on. */
		if (status == STEP_FAILED && engine_count_failed(db, ex) == -1)
			return -1;
		/* succeeded, skipped, cancelled: the next step. */
		ex->current = workflow_plan_next(ex->wf, ex->current);
	}
	if (ex->current != start_index && db_exec(db, sql_exec_set, NULL,
	    "sis", exec_status_name(EXEC_RUNNING), (long long)ex->current,
	    ex->id) == -1)
		return -1;
	return 0;
}

/* ---------------------------------------------------------- entry points */

int
engine_call_audit(struct db *db, struct call *c, const char *action,
    const char *target_type, const char *target_id,
    struct json_object *details)
{
	int	 rc = 0;

	if (c->audit != NULL)
		rc = audit_append(db, c->audit, action, target_type,
		    target_id, details);
	json_object_put(details);
	return rc == -1 ? engine_dberr(c->err, db) : 0;
}

static int
advance_txn(struct db *db, void *arg)
{
	struct call	*c = arg;
	struct exec	 ex;
	int		 rc;

	if (engine_exec_lock(db, c->id, &ex, c->err) == -1)
		return -1;
	rc = engine_advance_locked(db, &ex);
	engine_exec_clear(&ex);
	return rc == -1 ? engine_dberr(c->err, db) : 0;
}

int
engine_run(struct db *db, int (*fn)(struct db *, void *), struct call *c)
{
	c->err->code = ENGINE_OK;
	c->err->field[0] = '\0';
	c->err->msg[0] = '\0';
	if (db_txn(db, fn, c) == -1) {
		if (c->err->code == ENGINE_OK)
			engine_dberr(c->err, db);
		return -1;
	}
	return 0;
}

int
engine_advance(struct db *db, const char *execution_id,
    struct engine_err *err)
{
	struct call	 c = { .id = execution_id, .err = err };

	return engine_run(db, advance_txn, &c);
}
