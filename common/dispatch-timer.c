/*
 * Part of the dispatch module, the only writer of dispatches (dispatch.c
 * says what it owns): the timers pushd's sweep runs, commands past their
 * deadline or never taken, a worker's open commands when it is gone, and
 * the executions to advance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "canon.h"
#include "db.h"
#include "dispatch.h"
#include "dispatch-int.h"
#include "events.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "status.h"
#include "xmalloc.h"

/*
 * Galera: SKIP LOCKED only spreads the work between pushd on one node;
 * exactly-once comes from sql_lose / sql_lose_queued, conditional on the
 * status read, their counts checked: two nodes that both end a row both
 * write it, and certification aborts the later (1213), rerun by db_txn.
 */
static const char sql_overdue[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms FROM dispatches "
    "WHERE status IN ('sent', 'running') AND deadline_at < NOW(3) "
    "LIMIT 100 FOR UPDATE SKIP LOCKED";
/* Galera: as sql_overdue, each row ended by a conditional write. */
static const char sql_worker_open[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms FROM dispatches WHERE worker_id = ? "
    "AND status IN ('queued', 'sent', 'running') FOR UPDATE";
/* status is lost or timed_out; from status (sent or running) only. The
 * hashes of the bytes stored, as a result's (sql/012): without them every
 * grouped view would hash this output again in SQL (2,000 timed-out rows
 * of 2 MB: 25 s a GET). */
static const char sql_lose[] =
    "UPDATE dispatches SET status = ?, error = ?, stdout = ?, "
    "stdout_bytes = ?, stderr = ?, stderr_bytes = ?, stdout_sha256 = ?, "
    "stderr_sha256 = ?, finished_at = NOW(3), "
    "duration_ms = TIMESTAMPDIFF(MICROSECOND, COALESCE(started_at, "
    "sent_at), NOW(3)) DIV 1000 WHERE id = ? AND status = ?";
/*
 * A retry's time to be taken counts from its not_before: while it waits
 * for its delay no worker could have taken it.
 */
static const char sql_untaken[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms FROM dispatches WHERE status = 'queued' "
    "AND COALESCE(not_before, queued_at) + INTERVAL (timeout_ms + ?) * 1000 "
    "MICROSECOND < NOW(3) "
    "LIMIT 100 FOR UPDATE SKIP LOCKED";
static const char sql_lose_queued[] =
    "UPDATE dispatches SET status = 'lost', error = ?, finished_at = NOW(3), "
    "stdout_sha256 = SHA2(COALESCE(stdout, ''), 256), "
    "stderr_sha256 = SHA2(COALESCE(stderr, ''), 256) "
    "WHERE id = ? AND status = 'queued'";
/* Galera: only candidates, read without a lock; the advance each gets
 * writes its execution row (engine.c), so a wait woken by two pushd
 * moves on once. */
static const char sql_due_waits[] =
    "SELECT execution_id FROM execution_steps WHERE status = 'running' "
    "AND wake_at <= NOW(3) LIMIT 100";
/* Idle: nothing open on the current step, or (a parallel group, SPEC
 * section 14) on a step of it, and no sub-workflow of it still going (a
 * child's end wakes its step; a parent waiting days on a child's prompt
 * is not stuck, and must not fill every sweep's 100). */
static const char sql_idle[] =
    "SELECT e.id FROM executions e WHERE e.status = 'running' "
    "AND e.updated_at < NOW(3) - INTERVAL ? SECOND "
    "AND NOT EXISTS (SELECT 1 FROM dispatches d JOIN execution_steps c "
    "ON c.execution_id = d.execution_id AND c.step_index = d.step_index "
    "WHERE d.execution_id = e.id AND (d.step_index = e.current_step "
    "OR c.parent_index = e.current_step) "
    "AND d.status IN ('queued', 'sent', 'running')) "
    "AND NOT EXISTS (SELECT 1 FROM execution_steps s "
    "WHERE s.execution_id = e.id AND (s.step_index = e.current_step "
    "OR s.parent_index = e.current_step) "
    "AND s.wake_at > NOW(3)) "
    "AND NOT EXISTS (SELECT 1 FROM execution_steps s JOIN executions c "
    "ON c.id = s.child_execution_id WHERE s.execution_id = e.id "
    "AND s.status = 'running' "
    "AND c.status IN ('running', 'waiting', 'awaiting_approval')) "
    "LIMIT 100";

/* ------------------------------------------------------------------ timers */

struct expire {
	long long		 grace_ms;
	struct dispatch_ids	*ids;
	struct dispatch_cmd	*cancels;
	size_t			 ncancels;
};

/*
 * End one sent or running dispatch as status (lost or timed_out) with
 * error, keeping what streamed in before it went quiet. 1 if it ended
 * here, 0 if something else ended it first, -1 on a db error.
 */
static int
lose_row(struct db *db, const struct drow *r, const char *status,
    const char *error)
{
	char	*out[2], sha[2][65];
	size_t	 len[2];
	int	 n;

	if (dispatch_live_output(db, r->id, out, len) == -1)
		return -1;
	canon_sha256_hex(out[0] != NULL ? out[0] : "", len[0], sha[0]);
	canon_sha256_hex(out[1] != NULL ? out[1] : "", len[1], sha[1]);
	n = db_exec(db, sql_lose, NULL, "ssbibissss", status, error, out[0],
	    len[0], (long long)len[0], out[1], len[1], (long long)len[1],
	    sha[0], sha[1], r->id, r->status);
	free(out[0]);
	free(out[1]);
	if (n == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	if (dsp_chunks_clear(db, r->id) == -1 ||
	    dsp_event(db, r, status, 0, 0, 0, 0, error) == -1)
		return -1;
	return 1;
}

/*
 * The deadline holds whatever the socket does: a worker that stays
 * connected and never answers (a wedged agent, one that ignores the
 * command) no longer keeps an execution running for ever.
 */
static int
expire_overdue_txn(struct db *db, void *arg)
{
	struct expire	*e = arg;
	struct db_res	*res;
	struct drow	 r;
	const char	*status;
	char		 error[WORKER_NAME_MAX + 256];
	size_t		 i;
	int		 rc = -1, n;

	dispatch_cmds_free(e->cancels, e->ncancels);	/* a rerun */
	e->cancels = NULL;
	e->ncancels = 0;
	if (db_exec(db, sql_overdue, &res, "") == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		dsp_drow_fill(&r, res, i);
		if (r.st == DISP_SENT) {
			status = dispatch_status_name(DISP_TIMED_OUT);
			snprintf(error, sizeof(error), "worker '%s' never "
			    "said it started the command within its timeout "
			    "(%lld ms) + grace (%lld ms)", r.worker_name,
			    r.timeout_ms, e->grace_ms);
		} else {
			status = dispatch_status_name(DISP_LOST);
			snprintf(error, sizeof(error), "no result from worker "
			    "'%s' by the deadline (timeout %lld ms + grace "
			    "%lld ms)", r.worker_name, r.timeout_ms,
			    e->grace_ms);
		}
		if ((n = lose_row(db, &r, status, error)) == -1)
			goto fail;
		if (n == 0)
			continue;
		dsp_ids_add(e->ids, r.execution_id);
		dsp_cmd_add(&e->cancels, &e->ncancels, &r, NULL, 0);
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

static int
expire_untaken_txn(struct db *db, void *arg)
{
	struct expire	*e = arg;
	struct db_res	*res;
	struct drow	 r;
	char		 error[WORKER_NAME_MAX + 256];
	size_t		 i;
	int		 rc = -1;

	if (db_exec(db, sql_untaken, &res, "i", e->grace_ms) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		dsp_drow_fill(&r, res, i);
		snprintf(error, sizeof(error), "worker '%s' never took the "
		    "command: not connected within its timeout (%lld ms) + "
		    "grace (%lld ms)", r.worker_name, r.timeout_ms,
		    e->grace_ms);
		if (db_exec(db, sql_lose_queued, NULL, "ss", error, r.id) == -1)
			goto fail;
		if (db_affected(db) != 1)
			continue;
		if (dsp_event(db, &r, dispatch_status_name(DISP_LOST), 0,
		    0, 0, 0, error) == -1)
			goto fail;
		dsp_ids_add(e->ids, r.execution_id);
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

int
dispatch_expire(struct db *db, long long grace_ms, struct dispatch_ids *ids,
    struct dispatch_cmd **cancels, size_t *n)
{
	struct expire	 e = { grace_ms, ids, NULL, 0 };
	int		 rc = 0;

	if (db_txn(db, expire_overdue_txn, &e) == -1) {
		/* Rolled back: nothing ended, nothing to cancel. */
		dispatch_cmds_free(e.cancels, e.ncancels);
		e.cancels = NULL;
		e.ncancels = 0;
		rc = -1;
	} else if (db_txn(db, expire_untaken_txn, &e) == -1)
		rc = -1;
	if (cancels != NULL) {
		*cancels = e.cancels;
		*n = e.ncancels;
	} else
		dispatch_cmds_free(e.cancels, e.ncancels);
	return rc;
}

int
dispatch_lose_worker(struct db *db, const char *worker_id, const char *reason,
    struct dispatch_ids *ids)
{
	const char	*lost = dispatch_status_name(DISP_LOST);
	struct db_res	*res;
	struct drow	 r;
	size_t		 i;
	int		 rc = -1, n;

	if (db_exec(db, sql_worker_open, &res, "s", worker_id) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		dsp_drow_fill(&r, res, i);
		if (r.st == DISP_QUEUED) {
			if (db_exec(db, sql_lose_queued, NULL, "ss", reason,
			    r.id) == -1)
				goto fail;
			n = db_affected(db) == 1;
			if (n && dsp_event(db, &r, lost, 0, 0, 0, 0,
			    reason) == -1)
				goto fail;
		} else if ((n = lose_row(db, &r, lost, reason)) == -1)
			goto fail;
		if (n)
			dsp_ids_add(ids, r.execution_id);
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

static int
ids_select(struct db *db, const char *sql, const char *fmt, long long arg,
    struct dispatch_ids *ids)
{
	struct db_res	*res;
	size_t		 i;
	int		 rc;

	rc = *fmt == '\0' ? db_exec(db, sql, &res, "") :
	    db_exec(db, sql, &res, fmt, arg);
	if (rc == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++)
		dsp_ids_add(ids, db_res_get(res, i, 0));
	db_res_free(res);
	return 0;
}

int
dispatch_due_waits(struct db *db, struct dispatch_ids *ids)
{
	return ids_select(db, sql_due_waits, "", 0, ids);
}

int
dispatch_sweep(struct db *db, int idle_s, struct dispatch_ids *ids)
{
	return ids_select(db, sql_idle, "i", idle_s, ids);
}

