/*
 * Approvals on a frozen plan (SPEC.md section 15): a decision by one
 * person (approve or reject, against the plan's hash), the deadline that
 * ends an approval expired, and the event that tells browsers. Each
 * decision is one transaction with the execution row locked: its
 * approvals row, the move it makes, and its audit row. Part of the engine
 * (engine-int.h); the only writer of the approvals table.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "events.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_approval_get[] =
    "SELECT status, started_by, plan_hash, approval, approval_expires_at, "
    "approval_expires_at <= NOW(3), workflow_id, workflow_name "
    "FROM executions WHERE id = ?";
static const char sql_decided[] =
    "SELECT decision, at FROM approvals WHERE execution_id = ? "
    "AND approver = ?";
/*
 * The starter, compared by the column's collation (case-insensitive, as
 * the approvals key and sql_decided compare approver): "Alice" is alice.
 */
static const char sql_is_starter[] =
    "SELECT COUNT(*) FROM executions WHERE id = ? AND started_by = ?";
/* Galera: two votes on two nodes each count only their own; both calls
 * wrote the execution row (engine_exec_lock), so the later is aborted at
 * COMMIT and rerun, and counts both. */
static const char sql_approvals_count[] =
    "SELECT COUNT(*) FROM approvals WHERE execution_id = ? "
    "AND decision = 'approve'";
static const char sql_approval_insert[] =
    "INSERT INTO approvals (execution_id, approver, decision, comment, at, "
    "approver_groups) VALUES (?, ?, ?, ?, NOW(3), ?)";
/* Every move out of awaiting_approval is conditional on it. */
static const char sql_exec_approved[] =
    "UPDATE executions SET status = 'running' WHERE id = ? "
    "AND status = 'awaiting_approval'";
static const char sql_exec_closed[] =
    "UPDATE executions SET status = ?, error = ?, completed_at = NOW(3) "
    "WHERE id = ? AND status = 'awaiting_approval'";
static const char sql_exec_expired[] =
    "UPDATE executions SET status = 'expired', error = ?, "
    "completed_at = NOW(3) WHERE id = ? AND status = 'awaiting_approval' "
    "AND approval_expires_at <= NOW(3)";
static const char sql_steps_close[] =
    "UPDATE execution_steps SET status = 'cancelled', reason = ?, "
    "finished_at = NOW(3) WHERE execution_id = ? AND status = 'pending'";
/* Galera: candidates only; each expiry locks and writes its execution
 * (engine_exec_lock) and sql_exec_expired is conditional, its count
 * checked. */
static const char sql_due[] =
    "SELECT id FROM executions WHERE status = 'awaiting_approval' "
    "AND approval_expires_at <= NOW(3) "
    "ORDER BY approval_expires_at, id LIMIT ?";

/* What one decision needs, through db_txn(). */
struct decide {
	struct call			 c;	/* first: engine_run's */
	const struct engine_approve_req	*r;
	char				*hash_out;
};

/* The approval state of an execution, as read for a check. */
struct approval_row {
	struct db_res		*res;
	enum exec_status	 status;
	const char		*started_by;
	const char		*plan_hash;
	const char		*expires_at;
	int			 due;
	struct json_object	*approval;	/* parsed, or NULL */
};

static void
approval_row_free(struct approval_row *a)
{
	db_res_free(a->res);
	json_object_put(a->approval);
	memset(a, 0, sizeof(*a));
}

/* 0 read, 1 no such execution, -1 db error. */
static int
approval_row_read(struct db *db, const char *id, struct approval_row *a)
{
	const char	*s;
	char		 perr[64];

	memset(a, 0, sizeof(*a));
	if (db_exec(db, sql_approval_get, &a->res, "s", id) == -1)
		return -1;
	if (db_res_rows(a->res) == 0) {
		approval_row_free(a);
		return 1;
	}
	if (exec_status_from(db_res_get(a->res, 0, 0), &a->status) == -1)
		a->status = EXEC_STATUS_COUNT;
	a->started_by = db_res_get(a->res, 0, 1);
	a->plan_hash = db_res_get(a->res, 0, 2);
	if ((s = db_res_get(a->res, 0, 3)) != NULL)
		a->approval = pjson_parse(s, db_res_len(a->res, 0, 3),
		    API_JSON_DEPTH, perr, sizeof(perr));
	a->expires_at = db_res_get(a->res, 0, 4);
	a->due = db_res_int(a->res, 0, 5, 0) == 1;
	return 0;
}

/* "2026-12-07 15:00:00.123" as "2026-12-07T15:00:00.123Z". */
static void
iso_time(const char *ts, char *buf, size_t len)
{
	struct json_object *t = pjson_time(ts);

	snprintf(buf, len, "%s", t != NULL ? json_object_get_string(t) : "?");
	json_object_put(t);
}

/*
 * Checks 3 to 6 of a decision by user (the contract's order): closed,
 * the starter, outside the approver groups, decided already. 0 may
 * decide; -1 refused (err set, its code the answer's); -2 db error.
 */
static int
approve_check(struct db *db, const char *id, const struct approval_row *a,
    const char *user, const struct engine_caller *who,
    struct engine_err *err)
{
	struct json_object	*g = NULL, *v;
	struct db_res		*res;
	char			 names[300], at[40];
	size_t			 i, j, n, o = 0;
	int			 member = 0, k;
	long long		 starter;

	if (a->status != EXEC_AWAITING_APPROVAL)
		return engine_fail(err, ENGINE_CONFLICT, "execution is %s: its "
		    "approval is closed", exec_status_name(a->status));
	if (a->started_by != NULL && user != NULL) {
		if (db_exec(db, sql_is_starter, &res, "ss", id, user) == -1)
			return -2;
		starter = db_res_int(res, 0, 0, 0);
		db_res_free(res);
		if (starter > 0)
			return engine_fail(err, ENGINE_FORBIDDEN, "you started "
			    "this execution: another person must approve it");
	}
	if (a->approval != NULL)
		json_object_object_get_ex(a->approval, "approvers", &g);
	n = g != NULL && json_object_is_type(g, json_type_array) ?
	    json_object_array_length(g) : 0;
	names[0] = '\0';
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(g, i);
		for (j = 0; who != NULL && j < who->ngroups; j++)
			if (strcmp(json_object_get_string(v),
			    who->groups[j]) == 0)
				member = 1;
		if (o < sizeof(names)) {
			k = snprintf(names + o, sizeof(names) - o, "%s%s",
			    i ? ", " : "", json_object_get_string(v));
			o += k < 0 ? 0 : (size_t)k;
		}
	}
	/* Only the groups named: an admin is not an approver by role. */
	if (!member) {
		pjson_utf8_trim(names);
		return engine_fail(err, ENGINE_FORBIDDEN, "approving needs "
		    "membership of one of: %s", names);
	}
	if (db_exec(db, sql_decided, &res, "ss", id, user) == -1)
		return -2;
	if (db_res_rows(res) > 0) {
		iso_time(db_res_get(res, 0, 1), at, sizeof(at));
		engine_fail(err, ENGINE_CONFLICT, "you already %s this "
		    "execution at %s", strcmp(db_res_get(res, 0, 0),
		    "reject") == 0 ? "rejected" : "approved", at);
		db_res_free(res);
		return -1;
	}
	db_res_free(res);
	return 0;
}

int
engine_approval_event(struct db *db, const char *id, const char *event,
    const char *by)
{
	struct approval_row	 a;
	struct json_object	*p, *v;
	struct db_res		*res;
	long long		 count;
	int			 rc;

	if ((rc = approval_row_read(db, id, &a)) != 0)
		return rc == 1 ? 0 : -1;
	if (db_exec(db, sql_approvals_count, &res, "s", id) == -1) {
		approval_row_free(&a);
		return -1;
	}
	count = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	p = json_object_new_object();
	json_object_object_add(p, "execution_id", json_object_new_string(id));
	json_object_object_add(p, "workflow_id",
	    pjson_string_or_null(db_res_get(a.res, 0, 6)));
	json_object_object_add(p, "workflow_name",
	    pjson_string_or_null(db_res_get(a.res, 0, 7)));
	json_object_object_add(p, "plan_hash",
	    pjson_string_or_null(a.plan_hash));
	v = NULL;
	if (a.approval != NULL)
		json_object_object_get_ex(a.approval, "required", &v);
	json_object_object_add(p, "required", json_object_get(v));
	v = NULL;
	if (a.approval != NULL)
		json_object_object_get_ex(a.approval, "approvers", &v);
	json_object_object_add(p, "approvers", v != NULL ?
	    json_object_get(v) : json_object_new_array());
	json_object_object_add(p, "expires_at", pjson_time(a.expires_at));
	json_object_object_add(p, "approvals", json_object_new_int64(count));
	json_object_object_add(p, "event", json_object_new_string(event));
	if (by != NULL)
		json_object_object_add(p, "by", json_object_new_string(by));
	approval_row_free(&a);
	return events_append(db, "execution_approval", id, NULL, p);
}

/* End ex (locked, awaiting approval) as status for why; 0 ended, 1 it had
 * moved already, -1 db error. */
static int
close_locked(struct db *db, struct exec *ex, enum exec_status status,
    const char *why)
{
	if (status == EXEC_EXPIRED) {
		if (db_exec(db, sql_exec_expired, NULL, "ss", why, ex->id) == -1)
			return -1;
	} else if (db_exec(db, sql_exec_closed, NULL, "sss",
	    exec_status_name(status), why, ex->id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 1;
	if (db_exec(db, sql_steps_close, NULL, "ss", why, ex->id) == -1 ||
	    engine_finish(db, ex, status, why) == -1)
		return -1;
	return 0;
}

/* Expire ex (locked) if its deadline passed: 0 expired, 1 not, -1. */
static int
expire_locked(struct db *db, struct exec *ex, const struct approval_row *a)
{
	char	 why[96], at[40];

	if (a->status != EXEC_AWAITING_APPROVAL || !a->due)
		return 1;
	iso_time(a->expires_at, at, sizeof(at));
	snprintf(why, sizeof(why), "approval expired at %s", at);
	return close_locked(db, ex, EXEC_EXPIRED, why);
}

static int
decide_txn(struct db *db, void *arg)
{
	struct decide			*d = arg;
	const struct engine_approve_req	*r = d->r;
	struct engine_err		*err = d->c.err;
	struct approval_row		 a;
	struct exec			 ex;
	struct json_object		*det;
	struct db_res			*res;
	char				 why[PULSE_APPROVAL_COMMENT_MAX + 320];
	long long			 required = 1, n;
	int				 rc = -1;

	memset(&a, 0, sizeof(a));
	d->hash_out[0] = '\0';
	if (engine_exec_lock(db, r->execution_id, &ex, err) == -1)
		return -1;
	if (approval_row_read(db, ex.id, &a) != 0)
		goto dbfail;
	/* A deadline passed is an expiry first, committed; then closed. */
	if ((rc = expire_locked(db, &ex, &a)) == -1)
		goto dbfail;
	if (rc == 0) {
		engine_fail(err, ENGINE_CONFLICT, "execution is %s: its "
		    "approval is closed", exec_status_name(EXEC_EXPIRED));
		rc = 1;
		goto out;
	}
	if ((rc = approve_check(db, ex.id, &a, r->user, r->caller,
	    err)) == -2)
		goto dbfail;
	if (rc == -1) {
		rc = 1;		/* refused: nothing written */
		goto out;
	}
	if (a.plan_hash == NULL || strcmp(a.plan_hash, r->plan_hash) != 0) {
		snprintf(d->hash_out, 65, "%s", a.plan_hash ? a.plan_hash : "");
		engine_fail(err, ENGINE_CONFLICT, "plan_hash does not match the "
		    "plan awaiting approval");
		rc = 1;
		goto out;
	}
	/*
	 * The approval that starts it runs an execution of the starter's:
	 * their cap (PULSE_USER_EXECUTIONS_MAX) applies as at a start, or
	 * approvals would run any number at once. Refused, nothing
	 * recorded: the approver may decide again once one has ended.
	 */
	if (!r->reject) {
		if (a.approval != NULL) {
			struct json_object *v;

			if (json_object_object_get_ex(a.approval, "required",
			    &v))
				required = json_object_get_int64(v);
		}
		if (db_exec(db, sql_approvals_count, &res, "s", ex.id) == -1)
			goto dbfail;
		n = db_res_int(res, 0, 0, 0);
		db_res_free(res);
		if (n + 1 >= required &&
		    engine_user_capped(db, ex.started_by, err) == -1) {
			rc = err->code == ENGINE_DBERR ? -1 : 1;
			goto out;
		}
	}
	if (db_exec(db, sql_approval_insert, NULL, "sssss", ex.id, r->user,
	    r->reject ? "reject" : "approve", r->comment,
	    d->c.audit != NULL ? d->c.audit->groups : NULL) == -1)
		goto dbfail;
	if (engine_approval_event(db, ex.id, r->reject ? "rejected" :
	    "approved", r->user) == -1)
		goto dbfail;
	if (r->reject) {
		snprintf(why, sizeof(why), "rejected by %s%s%s", r->user,
		    r->comment != NULL ? ": " : "",
		    r->comment != NULL ? r->comment : "");
		pjson_utf8_trim(why);
		if (close_locked(db, &ex, EXEC_REJECTED, why) == -1)
			goto dbfail;
	} else {
		if (db_exec(db, sql_approvals_count, &res, "s", ex.id) == -1)
			goto dbfail;
		n = db_res_int(res, 0, 0, 0);
		db_res_free(res);
		if (n >= required) {
			if (db_exec(db, sql_exec_approved, NULL, "s",
			    ex.id) == -1)
				goto dbfail;
			if (db_affected(db) == 1) {
				ex.status = EXEC_RUNNING;
				if (events_status(db, ex.id,
				    exec_status_name(EXEC_RUNNING)) == -1 ||
				    engine_advance_locked(db, &ex) == -1)
					goto dbfail;
			}
		}
	}
	det = json_object_new_object();
	json_object_object_add(det, "plan_hash",
	    json_object_new_string(r->plan_hash));
	json_object_object_add(det, "comment",
	    pjson_string_or_null(r->comment));
	rc = engine_call_audit(db, &d->c, r->reject ? "execution.reject" :
	    "execution.approve", "execution", ex.id, det);
	goto out;
dbfail:
	rc = engine_dberr(err, db);
out:
	approval_row_free(&a);
	engine_exec_clear(&ex);
	return rc;
}

int
engine_approve(struct db *db, const struct engine_approve_req *r,
    char current_hash[65], struct engine_err *err,
    const struct audit_actor *audit)
{
	struct decide	 d = { .c = { .id = r->execution_id, .user = r->user,
	    .err = err, .audit = audit }, .r = r, .hash_out = current_hash };
	int		 rc;

	err->code = ENGINE_OK;
	err->field[0] = '\0';
	err->msg[0] = '\0';
	rc = db_txn(db, decide_txn, &d);
	if (rc == -1 && err->code == ENGINE_OK)
		engine_dberr(err, db);
	return rc == 0 ? 0 : -1;	/* 1: refused, committed nothing */
}

int
engine_approve_refusal(struct db *db, const char *id, const char *user,
    const struct engine_caller *who, char *why, size_t len)
{
	struct approval_row	 a;
	struct engine_err	 err;
	int			 rc;

	why[0] = '\0';
	if ((rc = approval_row_read(db, id, &a)) != 0)
		return rc == 1 ? 1 : -1;
	/* Past the deadline, not yet swept: closed all the same. */
	if (a.status == EXEC_AWAITING_APPROVAL && a.due)
		a.status = EXEC_EXPIRED;
	rc = approve_check(db, id, &a, user, who, &err);
	approval_row_free(&a);
	if (rc == -2)
		return -1;
	if (rc == -1)
		snprintf(why, len, "%s", err.msg);
	return rc == 0 ? 0 : 1;
}

static int
expire_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct approval_row	 a;
	struct exec		 ex;
	int			 rc;

	if (engine_exec_lock(db, c->id, &ex, c->err) == -1) {
		if (c->err->code != ENGINE_INVALID)
			return c->err->code == ENGINE_NOTFOUND ? 1 : -1;
		/*
		 * A stored definition that no longer reads (the row is locked
		 * all the same): the expiry needs none, only the row. Without
		 * it no notification is written (notify reads it), but the
		 * approval still ends; it would otherwise stay due forever.
		 */
		memset(&ex, 0, sizeof(ex));
		strlcpy_p(ex.id, c->id, sizeof(ex.id));
		c->err->code = ENGINE_OK;
		c->err->msg[0] = '\0';
	}
	if ((rc = approval_row_read(db, ex.id, &a)) == 0) {
		rc = expire_locked(db, &ex, &a);
		approval_row_free(&a);
	} else if (rc == 1)
		rc = 1;
	engine_exec_clear(&ex);
	return rc == -1 ? engine_dberr(c->err, db) : rc;
}

int
engine_approval_expire(struct db *db, const char *id, struct engine_err *err)
{
	struct call	 c = { .id = id, .err = err };
	int		 rc;

	err->code = ENGINE_OK;
	err->msg[0] = '\0';
	if ((rc = db_txn(db, expire_txn, &c)) == -1 && err->code == ENGINE_OK)
		engine_dberr(err, db);
	return rc;
}

int
engine_approval_expire_due(struct db *db, size_t *n)
{
	struct engine_err	 err;
	struct db_res		*res;
	size_t			 i;
	int			 rc = 0;

	*n = 0;
	if (db_exec(db, sql_due, &res, "i",
	    (long long)PULSE_APPROVAL_EXPIRE_BATCH) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		/* Each in its own transaction: one bad row stops no other. */
		switch (engine_approval_expire(db, db_res_get(res, i, 0),
		    &err)) {
		case -1:
			rc = -1;
			break;
		case 0:
			(*n)++;
			break;
		}
	}
	db_res_free(res);
	return rc;
}
