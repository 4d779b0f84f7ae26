/*
 * Unit tests for common/engine.c against a real MariaDB: every step type,
 * conditions, targets, answers, cancel, and idempotent advancing. Dispatch
 * results are written the way pushd will write them.
 */
#include <string.h>

#include "dbtest.h"
#include "dispatch.h"
#include "engine.h"
#include "pulse-limits.h"
#include "pjson.h"
#include "report.h"
#include "test.h"

static const char sql_wf[] =
    "INSERT INTO workflows (id, name, definition) VALUES (?, ?, ?)";
/* Attached to a pushd (a command channel), unless node is NULL. */
static const char sql_worker[] =
    "INSERT INTO workers (id, name, status, last_heartbeat, pushd_node) "
    "VALUES (?, ?, ?, NOW(), ?)";
static const char sql_worker_del[] = "DELETE FROM workers WHERE id = ?";
static const char sql_group[] =
    "INSERT INTO worker_groups (worker_id, group_name) VALUES (?, ?)";
static const char sql_status[] =
    "SELECT status, error, current_step, logs IS NOT NULL FROM executions "
    "WHERE id = ?";
static const char sql_step[] =
    "SELECT status, reason, response, responded_by FROM execution_steps "
    "WHERE execution_id = ? AND step_index = ?";
static const char sql_disp[] =
    "SELECT worker_name, status FROM dispatches WHERE execution_id = ? "
    "AND step_index = ? ORDER BY worker_name";
static const char sql_result[] =
    "UPDATE dispatches SET status = ?, exit_code = ?, stdout = ?, "
    "finished_at = NOW(3) WHERE execution_id = ? AND step_index = ?";
static const char sql_events[] =
    "SELECT type FROM events WHERE execution_id = ? ORDER BY id";
static const char sql_wake[] =
    "UPDATE execution_steps SET wake_at = NOW(3) - INTERVAL 1 SECOND "
    "WHERE execution_id = ? AND step_index = ?";
static const char sql_lang[] =
    "SELECT CONCAT(phase, ' ', failed_steps, ' ', COALESCE(failure, '-')) "
    "FROM executions WHERE id = ?";
static const char sql_attempts[] =
    "SELECT attempt, status, not_before > NOW(3) + INTERVAL 50 SECOND, "
    "not_before IS NULL FROM dispatches WHERE execution_id = ? "
    "ORDER BY attempt";
static const char sql_clean[] = "DELETE FROM workers WHERE name LIKE 'et-%'";
/* Rolling batches (issue 14): one worker's latest attempt ends; a retry
 * queued as F2's engine will queue it. */
static const char sql_result_one[] =
    "UPDATE dispatches SET status = ?, exit_code = ?, finished_at = NOW(3) "
    "WHERE execution_id = ? AND step_index = ? AND worker_name = ? "
    "ORDER BY attempt DESC LIMIT 1";
static const char sql_retry[] =
    "INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
    "worker_name, attempt, command, timeout_ms, batch) SELECT ?, "
    "execution_id, step_index, worker_id, worker_name, 2, command, "
    "timeout_ms, batch FROM dispatches WHERE execution_id = ? "
    "AND step_index = ? AND worker_name = ?";
static const char sql_batch_row[] =
    "SELECT batch_index, batch_count, failures, wake_at IS NOT NULL "
    "FROM execution_steps WHERE execution_id = ? AND step_index = ?";
static const char sql_skipped[] =
    "SELECT COUNT(*) FROM dispatches WHERE execution_id = ? "
    "AND status = 'skipped' AND batch = 3 AND worker_name = 'et-b3' "
    "AND error = 'skipped: 2 failures exceeded max_failures 1'";

static struct db	*db;
static struct engine_err err;

static void
workflow(char id[ID_LEN + 1], const char *def)
{
	id_new(id);
	if (db_exec(db, sql_wf, NULL, "sss", id, "engine test", def) == -1)
		fprintf(stderr, "insert workflow: %s\n", db_errmsg(db));
}

static int
exec_is(const char *id, const char *status, int step)
{
	struct db_res	*r;
	int		 ok;

	if (db_exec(db, sql_status, &r, "s", id) == -1)
		return 0;
	ok = db_res_rows(r) == 1 && strcmp(db_res_get(r, 0, 0), status) == 0 &&
	    (step < 0 || db_res_int(r, 0, 2, -1) == step);
	if (!ok && db_res_rows(r) == 1)
		fprintf(stderr, "# execution is %s at step %lld (%s)\n",
		    db_res_get(r, 0, 0), db_res_int(r, 0, 2, -1),
		    db_res_get(r, 0, 1) ? db_res_get(r, 0, 1) : "");
	db_res_free(r);
	return ok;
}

static char *
exec_field(const char *id, int col)
{
	static char	 buf[1024];
	struct db_res	*r;

	buf[0] = '\0';
	if (db_exec(db, sql_status, &r, "s", id) == 0 && db_res_get(r, 0, col))
		snprintf(buf, sizeof(buf), "%s", db_res_get(r, 0, col));
	db_res_free(r);
	return buf;
}

static char *
step_field(const char *id, int step, int col)
{
	static char	 buf[1024];
	struct db_res	*r;

	buf[0] = '\0';
	if (db_exec(db, sql_step, &r, "si", id, (long long)step) == 0 &&
	    db_res_get(r, 0, col))
		snprintf(buf, sizeof(buf), "%s", db_res_get(r, 0, col));
	db_res_free(r);
	return buf;
}

static char *
dispatch_names(const char *id, int step)
{
	static char	 buf[1024];
	struct db_res	*r;
	size_t		 i, o = 0;

	buf[0] = '\0';
	if (db_exec(db, sql_disp, &r, "si", id, (long long)step) == 0)
		for (i = 0; i < db_res_rows(r); i++)
			o += snprintf(buf + o, sizeof(buf) - o, "%s%s",
			    i ? "," : "", db_res_get(r, i, 0));
	db_res_free(r);
	return buf;
}

/* "phase failed_steps failure" of an execution (issue 14). */
static char *
exec_lang(const char *id)
{
	static char	 buf[1024];
	struct db_res	*r;

	buf[0] = '\0';
	if (db_exec(db, sql_lang, &r, "s", id) == 0 && db_res_get(r, 0, 0))
		snprintf(buf, sizeof(buf), "%s", db_res_get(r, 0, 0));
	db_res_free(r);
	return buf;
}

/* "index/count/failures/paused" of a batched step's row. */
static char *
batch_row(const char *id, int step)
{
	static char	 buf[64];
	struct db_res	*r;

	buf[0] = '\0';
	if (db_exec(db, sql_batch_row, &r, "si", id, (long long)step) == 0 &&
	    db_res_rows(r) == 1)
		snprintf(buf, sizeof(buf), "%lld/%lld/%lld/%lld",
		    db_res_int(r, 0, 0, -1), db_res_int(r, 0, 1, -1),
		    db_res_int(r, 0, 2, -1), db_res_int(r, 0, 3, -1));
	db_res_free(r);
	return buf;
}

static void
finish_one(const char *id, int step, const char *worker, const char *status,
    int code)
{
	db_exec(db, sql_result_one, NULL, "sisis", status, (long long)code,
	    id, (long long)step, worker);
}

static void
finish_step(const char *id, int step, const char *status, int code)
{
	db_exec(db, sql_result, NULL, "sissi", status, (long long)code,
	    "out", id, (long long)step);
}

static int
always_held(const char *worker_id, void *arg)
{
	(void)worker_id;
	(void)arg;
	return 1;
}

/* Whether the ids of dispatch_due_waits() hold id. */
static int
due(const char *id)
{
	struct dispatch_ids	 ids;
	size_t			 i;
	int			 found = 0;

	memset(&ids, 0, sizeof(ids));
	if (dispatch_due_waits(db, &ids) == -1)
		return 0;
	for (i = 0; i < ids.n; i++)
		if (strcmp(ids.id[i], id) == 0)
			found = 1;
	dispatch_ids_clear(&ids);
	return found;
}

/*
 * Sub-workflows (SPEC.md section 14), without pushd: the child created
 * in the parent's transaction and linked, its end waking the parent's
 * step for the timer sweep, and the parent's poll reading it; a child
 * ending at once; cancel going down; the depth limit.
 */
/* The plan's hash as stored, into h (65 bytes). */
static void
plan_hash_of(const char *id, char *h)
{
	struct db_res	*r;

	h[0] = '\0';
	if (db_exec(db, "SELECT plan_hash FROM executions WHERE id = ?", &r,
	    "s", id) == -1)
		return;
	if (db_res_rows(r) == 1 && db_res_get(r, 0, 0) != NULL)
		snprintf(h, 65, "%s", db_res_get(r, 0, 0));
	db_res_free(r);
}

static long long
approvals_of(const char *id)
{
	struct db_res	*r;
	long long	 n = -1;

	if (db_exec(db, "SELECT COUNT(*) FROM approvals WHERE execution_id = ?",
	    &r, "s", id) == -1)
		return -1;
	n = db_res_int(r, 0, 0, -1);
	db_res_free(r);
	return n;
}

/*
 * An awaiting execution whose stored definition no longer reads still
 * expires (the expiry needs only its row), and the sweep goes on to the
 * one due behind it.
 */
static void
test_expire_unreadable(const char *wf)
{
	char	 bad[ID_LEN + 1], next[ID_LEN + 1];
	size_t	 n = 0;

	if (engine_start(db, wf, "alice", bad, &err) == -1 ||
	    engine_start(db, wf, "alice", next, &err) == -1) {
		test_cond("approval: two starts to expire", 0);
		return;
	}
	db_exec(db, "UPDATE executions SET definition = '{\"steps\":7}', "
	    "approval_expires_at = NOW(3) - INTERVAL 2 SECOND WHERE id = ?",
	    NULL, "s", bad);
	db_exec(db, "UPDATE executions SET approval_expires_at = NOW(3) - "
	    "INTERVAL 1 SECOND WHERE id = ?", NULL, "s", next);
	/* pushd's sweep on the same database may get there first: 1. */
	test_cond("approval: an unreadable definition expires all the same",
	    engine_approval_expire(db, bad, &err) != -1 &&
	    exec_is(bad, "expired", 0));
	db_exec(db, "UPDATE executions SET status = 'awaiting_approval', "
	    "completed_at = NULL WHERE id = ?", NULL, "s", bad);
	test_cond("approval: the sweep expires it and the one behind it",
	    engine_approval_expire_due(db, &n) == 0 &&
	    exec_is(bad, "expired", 0) && exec_is(next, "expired", 0));
}

/* Approvals (SPEC section 15): the checks in order, two of two, a
 * rejection, and an expiry that happens once. */
static void
test_approvals(void)
{
	const char *const leads[] = { "employee", "leads" },
	    *const staff[] = { "employee" };
	struct engine_caller	 lead = { leads, 2, 0 }, emp = { staff, 1, 0 },
				 admin = { NULL, 0, 1 };
	struct engine_approve_req q;
	char			 wf[ID_LEN + 1], ex[ID_LEN + 1], h[65], cur[65],
				 why[400];

	workflow(wf, "{\"approval\":{\"required\":2,\"approvers\":[\"leads\"]},"
	    "\"steps\":[{\"name\":\"Q\",\"type\":\"prompt\",\"message\":\"Go?\","
	    "\"options\":[\"Yes\"]}]}");
	test_cond("approval: the start awaits approval", engine_start(db, wf,
	    "alice", ex, &err) == 0 && exec_is(ex, "awaiting_approval", 0) &&
	    strcmp(step_field(ex, 0, 0), "pending") == 0);
	plan_hash_of(ex, h);
	test_cond("approval: a plan hash of 64 hex", strlen(h) == 64);
	memset(&q, 0, sizeof(q));
	q.execution_id = ex;
	q.plan_hash = h;
	q.user = "alice";
	q.caller = &lead;
	test_cond("approval: the starter is refused", engine_approve(db, &q,
	    cur, &err, NULL) == -1 && err.code == ENGINE_FORBIDDEN &&
	    strstr(err.msg, "another person must approve it") != NULL);
	/* The approvals key compares names case-insensitively: so must
	 * the starter check, or Alice approves what alice started. */
	q.user = "ALICE";
	test_cond("approval: the starter in other case is refused",
	    engine_approve(db, &q, cur, &err, NULL) == -1 &&
	    err.code == ENGINE_FORBIDDEN &&
	    strstr(err.msg, "another person must approve it") != NULL &&
	    approvals_of(ex) == 0);
	test_cond("approval: and told so before trying",
	    engine_approve_refusal(db, ex, "Alice", &lead, why,
	    sizeof(why)) == 1 && strstr(why, "you started this") != NULL);
	q.user = "bob";
	q.caller = &emp;
	test_cond("approval: outside the groups is refused", engine_approve(db,
	    &q, cur, &err, NULL) == -1 && err.code == ENGINE_FORBIDDEN &&
	    strcmp(err.msg, "approving needs membership of one of: leads") == 0);
	q.caller = &admin;
	test_cond("approval: an admin is no approver by role",
	    engine_approve(db, &q, cur, &err, NULL) == -1 &&
	    err.code == ENGINE_FORBIDDEN);
	q.caller = &lead;
	q.plan_hash = "00000000000000000000000000000000"
	    "00000000000000000000000000000000";
	test_cond("approval: a wrong hash is refused with the current one",
	    engine_approve(db, &q, cur, &err, NULL) == -1 &&
	    err.code == ENGINE_CONFLICT && strcmp(cur, h) == 0 &&
	    approvals_of(ex) == 0);
	q.plan_hash = h;
	test_cond("approval: bob may (refusal check)",
	    engine_approve_refusal(db, ex, "bob", &lead, why,
	    sizeof(why)) == 0);
	test_cond("approval: bob approves, 1 of 2", engine_approve(db, &q, cur,
	    &err, NULL) == 0 && exec_is(ex, "awaiting_approval", 0) &&
	    approvals_of(ex) == 1);
	test_cond("approval: bob again is refused", engine_approve(db, &q, cur,
	    &err, NULL) == -1 && err.code == ENGINE_CONFLICT &&
	    strstr(err.msg, "you already approved this execution at ") !=
	    NULL && approvals_of(ex) == 1);
	q.user = "carol";
	test_cond("approval: carol approves, 2 of 2: it runs to its prompt",
	    engine_approve(db, &q, cur, &err, NULL) == 0 &&
	    exec_is(ex, "waiting", 0));
	q.user = "dave";
	test_cond("approval: closed once it runs", engine_approve(db, &q, cur,
	    &err, NULL) == -1 && err.code == ENGINE_CONFLICT && strcmp(err.msg,
	    "execution is waiting: its approval is closed") == 0);

	test_cond("approval: another start", engine_start(db, wf, "alice", ex,
	    &err) == 0);
	plan_hash_of(ex, h);
	q.user = "bob";
	q.plan_hash = h;
	q.reject = 1;
	q.comment = "not today";
	test_cond("approval: one rejection ends it", engine_approve(db, &q, cur,
	    &err, NULL) == 0 && exec_is(ex, "rejected", 0) &&
	    strcmp(step_field(ex, 0, 0), "cancelled") == 0);

	test_cond("approval: a third start", engine_start(db, wf, "alice", ex,
	    &err) == 0);
	test_cond("approval: not due: nothing expires",
	    engine_approval_expire(db, ex, &err) == 1 &&
	    exec_is(ex, "awaiting_approval", 0));
	db_exec(db, "UPDATE executions SET approval_expires_at = NOW(3) - "
	    "INTERVAL 1 SECOND WHERE id = ?", NULL, "s", ex);
	test_cond("approval: past its deadline, the refusal says closed",
	    engine_approve_refusal(db, ex, "bob", &lead, why,
	    sizeof(why)) == 1 && strcmp(why, "execution is expired: its "
	    "approval is closed") == 0);
	/* pushd's sweep on the same database may get there first (1). */
	test_cond("approval: it expires", engine_approval_expire(db, ex,
	    &err) != -1 && exec_is(ex, "expired", 0));
	test_cond("approval: and only once", engine_approval_expire(db, ex,
	    &err) == 1 && exec_is(ex, "expired", 0));
	test_expire_unreadable(wf);
}

/*
 * The approval that would start an execution counts against its
 * starter's cap (PULSE_USER_EXECUTIONS_MAX) as a start does: refused,
 * nothing recorded; once one of theirs ended, it starts.
 */
static void
test_approval_cap(void)
{
	const char *const leads[] = { "employee", "leads" };
	struct engine_caller	 lead = { leads, 2, 0 };
	struct engine_approve_req q;
	char			 gated[ID_LEN + 1], nap[ID_LEN + 1],
				 held[ID_LEN + 1], busy[ID_LEN + 1], h[65],
				 cur[65];

	workflow(gated, "{\"approval\":{\"approvers\":[\"leads\"]},"
	    "\"steps\":[{\"name\":\"Nap\",\"type\":\"wait\","
	    "\"duration\":3600000}]}");
	workflow(nap, "{\"steps\":[{\"name\":\"Nap\",\"type\":\"wait\","
	    "\"duration\":3600000}]}");
	engine_set_user_max(1);
	test_cond("cap: an approval awaits, one more runs",
	    engine_start(db, gated, "et-cap", held, &err) == 0 &&
	    engine_start(db, nap, "et-cap", busy, &err) == 0);
	plan_hash_of(held, h);
	memset(&q, 0, sizeof(q));
	q.execution_id = held;
	q.plan_hash = h;
	q.user = "bob";
	q.caller = &lead;
	test_cond("cap: an approval past the starter's cap: ENGINE_LIMIT",
	    engine_approve(db, &q, cur, &err, NULL) == -1 &&
	    err.code == ENGINE_LIMIT && strstr(err.msg, "et-cap has 1 "
	    "running execution") != NULL && approvals_of(held) == 0 &&
	    exec_is(held, "awaiting_approval", 0));
	engine_cancel(db, busy, "et-cap", 0, &err, NULL);
	test_cond("cap: one ended, the approval starts it",
	    engine_approve(db, &q, cur, &err, NULL) == 0 &&
	    exec_is(held, "running", 0) && approvals_of(held) == 1);
	engine_cancel(db, held, "et-cap", 0, &err, NULL);
	engine_set_user_max(0);
}

static void
test_subworkflow(void)
{
	char	 child[ID_LEN + 1], parent[ID_LEN + 1], ex[ID_LEN + 1],
		 cid[ID_LEN + 1], def[512];
	struct db_res *r;

	workflow(child, "{\"steps\":[{\"name\":\"Ask\",\"type\":\"prompt\","
	    "\"message\":\"?\",\"options\":[\"Yes\",\"No\"]},"
	    "{\"name\":\"Fail\",\"type\":\"wait\",\"duration\":0,"
	    "\"condition\":\"promptResponse === 'No'\"}]}");
	snprintf(def, sizeof(def), "{\"steps\":[{\"name\":\"Sub\","
	    "\"type\":\"workflow\",\"workflow_id\":\"%s\"}]}", child);
	workflow(parent, def);
	test_cond("sub: the parent starts", engine_start(db, parent, "alice",
	    ex, &err) == 0 && exec_is(ex, "running", 0) &&
	    strcmp(step_field(ex, 0, 0), "running") == 0);
	cid[0] = '\0';
	if (db_exec(db, "SELECT e.id, e.parent_step, e.depth, e.started_by, "
	    "s.child_execution_id = e.id FROM executions e JOIN "
	    "execution_steps s ON s.execution_id = e.parent_execution_id "
	    "AND s.step_index = e.parent_step WHERE e.parent_execution_id = ?",
	    &r, "s", ex) == 0 && db_res_rows(r) == 1) {
		snprintf(cid, sizeof(cid), "%s", db_res_get(r, 0, 0));
		test_cond("sub: the child linked both ways, depth 1, "
		    "started by the parent's starter",
		    db_res_int(r, 0, 1, -1) == 0 &&
		    db_res_int(r, 0, 2, -1) == 1 &&
		    strcmp(db_res_get(r, 0, 3), "alice") == 0 &&
		    db_res_int(r, 0, 4, 0) == 1);
	} else
		test_cond("sub: one child", 0);
	db_res_free(r);
	test_cond("sub: the child waits on its prompt",
	    exec_is(cid, "waiting", 0));
	test_cond("sub: the parent's step is not due yet", !due(ex));
	{
		struct dispatch_ids	 ids;
		size_t			 i;
		int			 found = 0;

		/* Waiting days on a child's prompt is not stuck. */
		db_exec(db, "UPDATE executions SET updated_at = NOW(3) - "
		    "INTERVAL 1 HOUR WHERE id = ?", NULL, "s", ex);
		memset(&ids, 0, sizeof(ids));
		if (dispatch_sweep(db, 10, &ids) == 0)
			for (i = 0; i < ids.n; i++)
				found |= strcmp(ids.id[i], ex) == 0;
		dispatch_ids_clear(&ids);
		test_cond("sub: a parent waiting on its child is not idle",
		    !found);
	}
	test_cond("sub: answered on the child, it completes",
	    engine_respond(db, cid, "Yes", "bob", &err) == 0 &&
	    exec_is(cid, "completed", -1));
	/* A pushd on this database may have advanced it already: then the
	 * step has ended, its wake_at kept. */
	test_cond("sub: its end makes the parent's step due for the sweep",
	    db_exec(db, "SELECT wake_at IS NOT NULL AND wake_at <= NOW(3) "
	    "FROM execution_steps WHERE execution_id = ? AND step_index = 0",
	    &r, "s", ex) == 0 && db_res_int(r, 0, 0, 0) == 1 &&
	    (due(ex) || exec_is(ex, "completed", 1)));
	db_res_free(r);
	test_cond("sub: the parent advanced completes",
	    engine_advance(db, ex, &err) == 0 && exec_is(ex, "completed", 1) &&
	    strcmp(step_field(ex, 0, 0), "succeeded") == 0 && !due(ex));

	/* Cancel goes down; a child cancelled alone fails the step. */
	engine_start(db, parent, "alice", ex, &err);
	test_cond("sub: cancelling the parent cancels the child",
	    engine_cancel(db, ex, "carol", 0, &err, NULL) == 0 &&
	    exec_is(ex, "cancelled", -1) &&
	    db_exec(db, "SELECT COUNT(*) FROM executions WHERE "
	    "parent_execution_id = ? AND status = 'cancelled'", &r, "s",
	    ex) == 0 && db_res_int(r, 0, 0, 0) == 1);
	db_res_free(r);
	engine_start(db, parent, "alice", ex, &err);
	db_exec(db, "SELECT id FROM executions WHERE parent_execution_id = ?",
	    &r, "s", ex);
	snprintf(cid, sizeof(cid), "%s", db_res_get(r, 0, 0) ?
	    db_res_get(r, 0, 0) : "");
	db_res_free(r);
	test_cond("sub: a child cancelled alone fails the parent's step",
	    engine_cancel(db, cid, "carol", 0, &err, NULL) == 0 &&
	    engine_advance(db, ex, &err) == 0 &&
	    exec_is(ex, "failed", 0) && strstr(step_field(ex, 0, 1),
	    "was cancelled: cancelled by carol") != NULL);

	/* A tree too wide to start in one move: 16 x 16 sub-workflows. */
	{
		char	 leaf[ID_LEN + 1], mid[ID_LEN + 1], top[ID_LEN + 1],
			 big[4096];
		int	 o, k;

		workflow(leaf, "{\"steps\":[{\"name\":\"Nap\","
		    "\"type\":\"wait\",\"duration\":0}]}");
#define FANOUT(to, id) do {						\
		o = snprintf(big, sizeof(big), "{\"steps\":[{\"name\":"	\
		    "\"G\",\"type\":\"parallel\",\"steps\":[");		\
		for (k = 0; k < 16; k++)					\
			o += snprintf(big + o, sizeof(big) - o, "%s{\"name\":"	\
			    "\"S%d\",\"type\":\"workflow\",\"workflow_id\":"	\
			    "\"%s\"}", k ? "," : "", k, id);			\
		snprintf(big + o, sizeof(big) - o, "]}]}");			\
		workflow(to, big);						\
	} while (0)
		FANOUT(mid, leaf);
		FANOUT(top, mid);
#undef FANOUT
		test_cond("sub: 16 x 16 sub-workflows: it fails, saying why",
		    engine_start(db, top, "alice", ex, &err) == 0 &&
		    exec_is(ex, "failed", -1) && db_exec(db, "SELECT COUNT(*) "
		    "FROM executions WHERE workflow_id IN (?, ?)", &r, "ss", mid,
		    leaf) == 0);
		test_cond("sub: at most PULSE_SUBWORKFLOW_START_MAX started",
		    db_res_int(r, 0, 0, 0) == PULSE_SUBWORKFLOW_START_MAX);
		db_res_free(r);
		test_cond("sub: the reason names the limit", db_exec(db,
		    "SELECT COUNT(*) FROM execution_steps WHERE reason LIKE "
		    "'%PULSE_SUBWORKFLOW_START_MAX%' AND execution_id IN "
		    "(SELECT id FROM executions WHERE workflow_id = ?)", &r,
		    "s", mid) == 0 && db_res_int(r, 0, 0, 0) > 0);
		db_res_free(r);
	}

	/* An abort (pushd giving up on a poison execution) goes down too. */
	engine_start(db, parent, "alice", ex, &err);
	test_cond("sub: aborting the parent cancels the child",
	    engine_abort(db, ex, "poison", &err) == 0 &&
	    exec_is(ex, "failed", -1) &&
	    db_exec(db, "SELECT COUNT(*) FROM executions WHERE "
	    "parent_execution_id = ? AND status = 'cancelled'", &r, "s",
	    ex) == 0 && db_res_int(r, 0, 0, 0) == 1);
	db_res_free(r);

	/* A child that ends at once: the step ends in the same call. */
	workflow(child, "{\"steps\":[{\"name\":\"Nap\",\"type\":\"wait\","
	    "\"duration\":0}]}");
	snprintf(def, sizeof(def), "{\"steps\":[{\"name\":\"Sub\","
	    "\"type\":\"workflow\",\"workflow_id\":\"%s\"}]}", child);
	workflow(parent, def);
	test_cond("sub: a child done at once completes the parent at once",
	    engine_start(db, parent, "alice", ex, &err) == 0 &&
	    exec_is(ex, "completed", 1));

	/* A workflow that calls itself (edited behind the save's checks). */
	id_new(parent);
	snprintf(def, sizeof(def), "{\"steps\":[{\"name\":\"Loop\","
	    "\"type\":\"workflow\",\"workflow_id\":\"%s\"}]}", parent);
	db_exec(db, sql_wf, NULL, "sss", parent, "engine test", def);
	test_cond("sub: a cycle stops at the depth limit, every level failed",
	    engine_start(db, parent, "alice", ex, &err) == 0 &&
	    exec_is(ex, "failed", 0) && db_exec(db, "SELECT COUNT(*), "
	    "MAX(depth), SUM(status = 'failed') FROM executions WHERE "
	    "workflow_id = ?", &r, "s", parent) == 0 &&
	    db_res_int(r, 0, 0, 0) == 6 && db_res_int(r, 0, 1, 0) == 5 &&
	    db_res_int(r, 0, 2, 0) == 6);
	db_res_free(r);
}

int
main(void)
{
	char	 wf[ID_LEN + 1], wf1[ID_LEN + 1], ex[ID_LEN + 1], ex2[ID_LEN + 1],
		 asked[ID_LEN + 1], spare[ID_LEN + 1], w1[ID_LEN + 1],
		 w2[ID_LEN + 1], w3[ID_LEN + 1], w4[ID_LEN + 1];
	struct db_res *r;
	struct json_object *rep;

	db = dbtest_open();
	db_exec(db, sql_clean, NULL, "");

	/* Prompts only: start, answer, next prompt, completed. */
	workflow(wf, "{\"steps\":["
	    "{\"name\":\"Q1\",\"type\":\"prompt\",\"message\":\"Go?\","
	    "\"options\":[\"Yes\",\"No\"]},"
	    "{\"name\":\"Only if yes\",\"type\":\"prompt\",\"message\":\"Sure?\","
	    "\"options\":[\"A\",\"B\"],\"condition\":\"promptResponse === 'Yes'\"},"
	    "{\"name\":\"Last\",\"type\":\"prompt\",\"message\":\"End?\","
	    "\"options\":[\"End\"]}]}");
	test_cond("start", engine_start(db, wf, "alice", ex, &err) == 0);
	test_cond("waits on the first prompt", exec_is(ex, "waiting", 0));
	test_cond("first step is waiting",
	    strcmp(step_field(ex, 0, 0), "waiting") == 0);
	test_cond("an answer outside the options is invalid",
	    engine_respond(db, ex, "Maybe", "bob", &err) == -1 &&
	    err.code == ENGINE_INVALID);
	test_cond("still waiting after a bad answer", exec_is(ex, "waiting", 0));
	test_cond("answer No", engine_respond(db, ex, "No", "bob", &err) == 0);
	test_cond("answer and who gave it recorded",
	    strcmp(step_field(ex, 0, 2), "No") == 0 &&
	    strcmp(step_field(ex, 0, 3), "bob") == 0);
	test_cond("condition false skips step 2",
	    strcmp(step_field(ex, 1, 0), "skipped") == 0 &&
	    strstr(step_field(ex, 1, 1), "condition is false") != NULL);
	test_cond("waits on step 3", exec_is(ex, "waiting", 2));
	test_cond("a second answer to an answered prompt cannot land on it",
	    engine_respond(db, ex, "No", "eve", &err) == -1 &&
	    err.code == ENGINE_INVALID);
	test_cond("answer End", engine_respond(db, ex, "End", "bob",
	    &err) == 0);
	test_cond("completed", exec_is(ex, "completed", 3));
	test_cond("logs assembled at the end",
	    strcmp(exec_field(ex, 3), "1") == 0);
	test_cond("answer after completion conflicts",
	    engine_respond(db, ex, "End", "bob", &err) == -1 &&
	    err.code == ENGINE_CONFLICT);
	test_cond("advance of a finished execution changes nothing",
	    engine_advance(db, ex, &err) == 0 && exec_is(ex, "completed", 3));
	db_exec(db, sql_events, &r, "s", ex);
	{
		static const char *const want[] = { "execution_started",
		    "step_status", "execution_prompt", "execution_status",
		    "execution_response", "step_status", "execution_status",
		    "step_status", "step_status", "execution_prompt",
		    "execution_status", "execution_response", "step_status",
		    "execution_status", "execution_status" };
		size_t	 i, n = sizeof(want) / sizeof(want[0]);
		int	 same = db_res_rows(r) == n;

		for (i = 0; same && i < n; i++)
			same = strcmp(db_res_get(r, i, 0), want[i]) == 0;
		for (i = 0; !same && i < db_res_rows(r); i++)
			fprintf(stderr, "# event %zu: %s\n", i,
			    db_res_get(r, i, 0));
		test_cond("every change wrote its event, in order", same);
	}
	db_res_free(r);
	test_cond("report", report_execution(db, ex, &rep) == 0 &&
	    json_object_array_length(json_object_object_get(rep, "steps")) ==
	    3);
	json_object_put(rep);

	/* Yes path runs the conditional prompt. */
	test_cond("start again", engine_start(db, wf, "alice", ex, &err) == 0);
	engine_respond(db, ex, "Yes", "bob", &err);
	test_cond("condition true runs step 2", exec_is(ex, "waiting", 1));
	test_cond("cancel", engine_cancel(db, ex, "carol", 0, &err, NULL) == 0 &&
	    exec_is(ex, "cancelled", -1));
	test_cond("cancel twice conflicts", engine_cancel(db, ex, "carol", 0,
	    &err, NULL) == -1 && err.code == ENGINE_CONFLICT);
	test_cond("cancelled step recorded",
	    strcmp(step_field(ex, 1, 0), "cancelled") == 0);

	/* Unknown ids. */
	test_cond("unknown workflow", engine_start(db,
	    "00000000-0000-4000-8000-000000000000", "a", ex, &err) == -1 &&
	    err.code == ENGINE_NOTFOUND);
	test_cond("malformed workflow id", engine_start(db, "nope", "a", ex,
	    &err) == -1 && err.code == ENGINE_NOTFOUND);
	test_cond("unknown execution", engine_respond(db,
	    "00000000-0000-4000-8000-000000000000", "x", "a", &err) == -1 &&
	    err.code == ENGINE_NOTFOUND);

	/* Execute: no worker matches. */
	workflow(wf, "{\"steps\":[{\"name\":\"Run\",\"type\":\"execute\","
	    "\"targets\":[\"et-nobody\"],\"command\":\"true\"}]}");
	engine_start(db, wf, "alice", ex, &err);
	test_cond("no online worker fails the execution",
	    exec_is(ex, "failed", 0) &&
	    strstr(exec_field(ex, 1), "et-nobody") != NULL);

	/* Targets by name, group and all. */
	id_new(w1);
	id_new(w2);
	id_new(w3);
	id_new(w4);
	db_exec(db, sql_worker, NULL, "ssss", w1, "et-a", "online", "et-node");
	db_exec(db, sql_worker, NULL, "ssss", w2, "et-b", "online", "et-node");
	db_exec(db, sql_worker, NULL, "ssss", w3, "et-c", "offline", "et-node");
	db_exec(db, sql_worker, NULL, "ssss", w4, "et-d", "online", NULL);
	db_exec(db, sql_group, NULL, "ss", w2, "et-db");
	db_exec(db, sql_group, NULL, "ss", w3, "et-db");
	db_exec(db, sql_group, NULL, "ss", w4, "et-db");
	workflow(wf, "{\"steps\":["
	    "{\"name\":\"By name\",\"type\":\"execute\",\"targets\":[\"et-a\"],"
	    "\"command\":\"true\"},"
	    "{\"name\":\"By group\",\"type\":\"execute\",\"targets\":[\"et-db\","
	    "\"et-b\"],\"command\":\"true\"},"
	    "{\"name\":\"Pause\",\"type\":\"wait\",\"duration\":60000},"
	    "{\"name\":\"Check\",\"type\":\"execute\",\"targets\":[\"et-a\"],"
	    "\"command\":\"false\","
	    "\"condition\":\"state.steps[0].status === 'succeeded' && "
	    "state.steps[1].results['et-b'].exitCode === 0\"}]}");
	engine_start(db, wf, "alice", ex, &err);
	test_cond("running on step 1", exec_is(ex, "running", 0));
	test_cond("dispatch by name", strcmp(dispatch_names(ex, 0),
	    "et-a") == 0);
	test_cond("advance before results changes nothing",
	    engine_advance(db, ex, &err) == 0 && exec_is(ex, "running", 0));
	finish_step(ex, 0, "succeeded", 0);
	engine_advance(db, ex, &err);
	test_cond("step 2 after step 1 succeeded", exec_is(ex, "running", 1));
	test_cond("group and name deduplicated, offline and online without "
	    "a command channel skipped",
	    strcmp(dispatch_names(ex, 1), "et-b") == 0);
	finish_step(ex, 1, "succeeded", 0);
	engine_advance(db, ex, &err);
	test_cond("wait step running", exec_is(ex, "running", 2));
	engine_advance(db, ex, &err);
	test_cond("wait not due yet", exec_is(ex, "running", 2));
	db_exec(db, sql_wake, NULL, "si", ex, 2LL);
	engine_advance(db, ex, &err);
	test_cond("wait due moves on; condition on state is true",
	    exec_is(ex, "running", 3) && strcmp(dispatch_names(ex, 3),
	    "et-a") == 0);
	finish_step(ex, 3, "failed", 2);
	engine_advance(db, ex, &err);
	test_cond("a failed step fails the execution", exec_is(ex, "failed",
	    3) && strstr(exec_field(ex, 1), "exit code 2") != NULL);
	test_cond("advance twice is harmless",
	    engine_advance(db, ex, &err) == 0 && exec_is(ex, "failed", 3));

	/*
	 * Issue 14: on_failure "continue" counts and goes on; a parallel
	 * group dispatches its steps at once (indexes 2 and 3, after the
	 * group's 1) and fails naming the one that failed; the on_failure
	 * step (index 5) runs, its condition reading state, and the
	 * execution ends failed with the group's failure.
	 */
	workflow(wf, "{\"steps\":["
	    "{\"name\":\"May fail\",\"type\":\"execute\",\"targets\":[\"et-a\"],"
	    "\"command\":\"false\",\"on_failure\":\"continue\"},"
	    "{\"name\":\"Both\",\"type\":\"parallel\",\"steps\":["
	    "{\"name\":\"On a\",\"type\":\"execute\",\"targets\":[\"et-a\"],"
	    "\"command\":\"true\"},"
	    "{\"name\":\"On b\",\"type\":\"execute\",\"targets\":[\"et-b\"],"
	    "\"command\":\"true\"}]},"
	    "{\"name\":\"Last\",\"type\":\"execute\",\"targets\":[\"et-a\"],"
	    "\"command\":\"true\"}],"
	    "\"on_failure\":[{\"name\":\"Undo\",\"type\":\"wait\","
	    "\"duration\":0,\"condition\":\"state.steps[3].status === "
	    "'failed'\"}]}");
	engine_start(db, wf, "alice", ex, &err);
	finish_step(ex, 0, "failed", 1);
	engine_advance(db, ex, &err);
	test_cond("on_failure continue: counted, the group is next",
	    exec_is(ex, "running", 1) && strcmp(exec_lang(ex),
	    "main 1 -") == 0 && strcmp(step_field(ex, 0, 0), "failed") == 0);
	test_cond("the group's steps dispatched at once",
	    strcmp(dispatch_names(ex, 2), "et-a") == 0 &&
	    strcmp(dispatch_names(ex, 3), "et-b") == 0 &&
	    strcmp(dispatch_names(ex, 1), "") == 0);
	finish_step(ex, 2, "succeeded", 0);
	engine_advance(db, ex, &err);
	test_cond("one step ended: the group runs on",
	    exec_is(ex, "running", 1) &&
	    strcmp(step_field(ex, 2, 0), "succeeded") == 0 &&
	    strcmp(step_field(ex, 1, 0), "running") == 0);
	finish_step(ex, 3, "failed", 3);
	engine_advance(db, ex, &err);
	test_cond("the group failed naming its step",
	    strcmp(step_field(ex, 1, 0), "failed") == 0 &&
	    strcmp(step_field(ex, 1, 1), "steps failed: \"On b\"") == 0);
	test_cond("the on_failure step ran, the step after did not",
	    strcmp(step_field(ex, 5, 0), "succeeded") == 0 &&
	    strcmp(step_field(ex, 4, 0), "pending") == 0);
	test_cond("failed with the group's failure, phase on_failure",
	    exec_is(ex, "failed", 6) && strcmp(exec_field(ex, 1),
	    "step 2 (\"Both\") failed: steps failed: \"On b\"") == 0 &&
	    strcmp(exec_lang(ex), "on_failure 1 step 2 (\"Both\") failed: "
	    "steps failed: \"On b\"") == 0);
	test_cond("advance after the end changes nothing",
	    engine_advance(db, ex, &err) == 0 && exec_is(ex, "failed", 6));
	/* Retries (SPEC section 14): attempt 2 waits for its delay. */
	workflow(wf1, "{\"steps\":[{\"name\":\"R\",\"type\":\"execute\","
	    "\"targets\":[\"et-a\"],\"command\":\"false\",\"retry\":"
	    "{\"attempts\":1,\"delay\":60000}}]}");
	test_cond("retry: start", engine_start(db, wf1, "alice", ex,
	    &err) == 0);
	finish_step(ex, 0, "failed", 3);
	engine_advance(db, ex, &err);
	engine_advance(db, ex, &err);	/* twice: still one retry */
	db_exec(db, sql_attempts, &r, "s", ex);
	test_cond("retry: attempt 2 queued with its not_before, once",
	    exec_is(ex, "running", 0) && db_res_rows(r) == 2 &&
	    db_res_int(r, 0, 3, 0) == 1 && db_res_int(r, 1, 0, 0) == 2 &&
	    strcmp(db_res_get(r, 1, 1), "queued") == 0 &&
	    db_res_int(r, 1, 2, 0) == 1);
	db_res_free(r);
	{
		struct dispatch_cmd	*cmds;
		size_t			 n, i;
		int			 mine = 0;

		test_cond("retry: not claimed before its not_before",
		    dispatch_claim(db, "et-node", 0, always_held, NULL, &cmds,
		    &n) == 0);
		for (i = 0; i < n; i++)
			mine += strcmp(cmds[i].execution_id, ex) == 0;
		test_cond("retry: none of its commands was sent", mine == 0);
		dispatch_cmds_free(cmds, n);
	}
	finish_step(ex, 0, "failed", 3);
	engine_advance(db, ex, &err);
	test_cond("retry: out of attempts, the reason counts them",
	    exec_is(ex, "failed", 0) && strcmp(step_field(ex, 0, 1),
	    "failed on worker 'et-a' (exit code 3) after 2 attempts") == 0);
	{
		char	 wr[ID_LEN + 1];

		id_new(wr);
		db_exec(db, sql_worker, NULL, "ssss", wr, "et-r", "online",
		    "et-node");
		workflow(wf1, "{\"steps\":[{\"name\":\"R\",\"type\":"
		    "\"execute\",\"targets\":[\"et-r\"],\"command\":"
		    "\"false\",\"retry\":{\"attempts\":2,\"delay\":10}}]}");
		engine_start(db, wf1, "alice", ex, &err);
		finish_step(ex, 0, "failed", 3);
		db_exec(db, sql_worker_del, NULL, "s", wr);
		engine_advance(db, ex, &err);
		db_exec(db, sql_attempts, &r, "s", ex);
		test_cond("retry: none for a worker no longer on record",
		    exec_is(ex, "failed", 0) && db_res_rows(r) == 1 &&
		    strcmp(step_field(ex, 0, 1),
		    "failed on worker 'et-r' (exit code 3)") == 0);
		db_res_free(r);
	}

	/* Direct command: that worker only, even if another has a group of
	 * its name (issue 12). */
	db_exec(db, sql_group, NULL, "ss", w2, "et-a");
	test_cond("command on an online worker runs there only",
	    engine_start_command(db, w1, "uptime", 1000, "root", ex, &err,
	    NULL) == 0 && strcmp(dispatch_names(ex, 0), "et-a") == 0);
	test_cond("command on an offline worker conflicts",
	    engine_start_command(db, w3, "uptime", 1000, "root", ex,
	    &err, NULL) == -1 && err.code == ENGINE_CONFLICT);
	test_cond("command on a worker without a command channel conflicts",
	    engine_start_command(db, w4, "uptime", 1000, "root", ex2,
	    &err, NULL) == -1 && err.code == ENGINE_CONFLICT &&
	    strstr(err.msg, "command channel") != NULL);
	{
		/* A worker name of 255 characters, two bytes each: the step
		 * name "Command on ..." is cut to 255 characters, whole ones. */
		char	 longname[2 * 255 + 1], lid[ID_LEN + 1];
		size_t	 i;

		for (i = 0; i < 255; i++)
			memcpy(longname + 2 * i, "\xc3\xa9", 2);
		longname[2 * 255] = '\0';
		id_new(lid);
		db_exec(db, sql_worker, NULL, "ssss", lid, longname, "online",
		    "et-node");
		test_cond("a direct command to a worker named with 255 "
		    "characters starts", engine_start_command(db, lid, "true",
		    1000, "root", spare, &err, NULL) == 0);
		engine_cancel(db, spare, "root", ENGINE_AS_ADMIN, &err, NULL);
		db_exec(db, sql_worker_del, NULL, "s", lid);
	}
	test_cond("an employee may not cancel a direct command (issue 12)",
	    engine_cancel(db, ex, "emp", 0, &err, NULL) == -1 &&
	    err.code == ENGINE_FORBIDDEN && exec_is(ex, "running", 0));
	test_cond("an admin may", engine_cancel(db, ex, "root",
	    ENGINE_AS_ADMIN, &err, NULL) == 0 && exec_is(ex, "cancelled", -1));

	/* The per-user cap on running executions (issue 12); one waiting on
	 * a prompt holds no worker and does not count. */
	workflow(wf1, "{\"steps\":[{\"name\":\"Ask\",\"type\":\"prompt\","
	    "\"message\":\"?\",\"options\":[\"Yes\"]}]}");
	engine_start(db, wf1, "et-capped", asked, &err);
	workflow(wf, "{\"steps\":[{\"name\":\"Nap\",\"type\":\"wait\","
	    "\"duration\":3600000}]}");
	engine_set_user_max(2);
	test_cond("under the cap: starts",
	    engine_start(db, wf, "et-capped", ex, &err) == 0 &&
	    engine_start(db, wf, "et-capped", ex2, &err) == 0);
	test_cond("past it: ENGINE_LIMIT, naming the setting",
	    engine_start(db, wf, "et-capped", spare, &err) == -1 &&
	    err.code == ENGINE_LIMIT &&
	    strstr(err.msg, "PULSE_USER_EXECUTIONS_MAX") != NULL);
	test_cond("another user is not held back",
	    engine_start(db, wf, "et-other", spare, &err) == 0);
	engine_cancel(db, spare, "et-other", 0, &err, NULL);
	engine_cancel(db, ex, "et-capped", 0, &err, NULL);
	test_cond("one ended: a start fits again",
	    engine_start(db, wf, "et-capped", ex, &err) == 0);
	engine_cancel(db, ex, "et-capped", 0, &err, NULL);
	engine_cancel(db, ex2, "et-capped", 0, &err, NULL);
	engine_cancel(db, asked, "et-capped", 0, &err, NULL);
	engine_set_user_max(0);
	test_approval_cap();

	/*
	 * Rolling batches (issue 14): batches of one over three workers,
	 * max_failures 1, a pause between batches; every advance twice, to
	 * show that no batch starts twice.
	 */
	{
		char	 b[3][ID_LEN + 1], did[ID_LEN + 1];
		int	 k;

		for (k = 0; k < 3; k++) {
			char name[8];

			snprintf(name, sizeof(name), "et-b%d", k + 1);
			id_new(b[k]);
			db_exec(db, sql_worker, NULL, "ssss", b[k], name,
			    "online", "et-node");
			db_exec(db, sql_group, NULL, "ss", b[k], "et-bt");
		}
		workflow(wf, "{\"steps\":[{\"name\":\"Roll\","
		    "\"type\":\"execute\",\"targets\":[\"group:et-bt\"],"
		    "\"command\":\"true\",\"batch\":{\"size\":1,"
		    "\"max_failures\":1,\"pause\":60000}}]}");
		engine_start(db, wf, "alice", ex, &err);
		engine_advance(db, ex, &err);
		test_cond("batch: only batch 1 queued",
		    exec_is(ex, "running", 0) &&
		    strcmp(dispatch_names(ex, 0), "et-b1") == 0 &&
		    strcmp(batch_row(ex, 0), "1/3/0/0") == 0);
		finish_one(ex, 0, "et-b1", "failed", 1);
		engine_advance(db, ex, &err);
		engine_advance(db, ex, &err);
		test_cond("batch: 1 failure within max 1, batch 2 waits for "
		    "its pause", strcmp(batch_row(ex, 0), "2/3/1/1") == 0 &&
		    strcmp(dispatch_names(ex, 0), "et-b1") == 0);
		db_exec(db, sql_wake, NULL, "si", ex, 0LL);
		engine_advance(db, ex, &err);
		engine_advance(db, ex, &err);
		test_cond("batch: the pause over, batch 2 queued once",
		    strcmp(batch_row(ex, 0), "2/3/1/0") == 0 &&
		    strcmp(dispatch_names(ex, 0), "et-b1,et-b2") == 0);
		finish_one(ex, 0, "et-b2", "failed", 1);
		id_new(did);
		db_exec(db, sql_retry, NULL, "ssis", did, ex, 0LL, "et-b2");
		engine_advance(db, ex, &err);
		test_cond("batch: a queued retry is not final",
		    strcmp(batch_row(ex, 0), "2/3/1/0") == 0 &&
		    exec_is(ex, "running", 0));
		finish_one(ex, 0, "et-b2", "failed", 1);
		engine_advance(db, ex, &err);
		engine_advance(db, ex, &err);
		test_cond("batch: its latest attempt failed too: 2 > 1, the "
		    "step fails", exec_is(ex, "failed", 0) &&
		    strstr(exec_field(ex, 1), "2 failures exceeded "
		    "max_failures 1") != NULL &&
		    strcmp(batch_row(ex, 0), "2/3/2/0") == 0);
		db_exec(db, sql_skipped, &r, "s", ex);
		test_cond("batch: batch 3's target skipped once, saying why",
		    db_res_int(r, 0, 0, -1) == 1 &&
		    strcmp(dispatch_names(ex, 0),
		    "et-b1,et-b2,et-b2,et-b3") == 0);
		db_res_free(r);
		test_cond("batch: report", report_execution(db, ex, &rep) ==
		    0);
		{
			struct json_object *st = json_object_array_get_idx(
			    json_object_object_get(rep, "steps"), 0);
			const char *bj = json_object_to_json_string_ext(
			    json_object_object_get(st, "batch"),
			    JSON_C_TO_STRING_PLAIN);

			test_cond("batch: the step's batch in the report",
			    strcmp(bj, "{\"index\":2,\"count\":3,"
			    "\"failures\":2,\"max_failures\":1,"
			    "\"sizes\":[1,1,1]}") == 0);
			if (strcmp(bj, "{\"index\":2,\"count\":3,"
			    "\"failures\":2,\"max_failures\":1,"
			    "\"sizes\":[1,1,1]}") != 0)
				fprintf(stderr, "# %s\n", bj);
		}
		json_object_put(rep);
	}

	test_subworkflow();
	test_approvals();

	db_exec(db, sql_clean, NULL, "");
	db_free(db);
	config_free(&dbtest_cfg);
	mysql_library_end();
	test_report();
}
