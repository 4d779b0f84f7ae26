/*
 * Dispatches between the engine and the workers. A command is sent at most
 * once per connection and started at most once (the worker keeps the ids);
 * a result is recorded once, from sent or running only; what never answers
 * is lost at its deadline. Each call is one transaction with its events;
 * engine_advance() is left to the caller, in a transaction of its own.
 *
 * The dispatch module (dispatch.c, dispatch-result.c, dispatch-timer.c,
 * dispatch-int.h between them) is the only writer of the dispatches
 * table (DESIGN.md section 9). This file: the helpers they share, claims
 * and cancels for pushd, the engine's writes, and the worker connection
 * calls pushd makes (their worker rows written by registry.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "db.h"
#include "dispatch.h"
#include "dispatch-int.h"
#include "events.h"
#include "pjson.h"
#include "registry.h"
#include "status.h"
#include "trust.h"
#include "pulse-limits.h"
#include "xmalloc.h"

/* Galera: the lock saves work on one node; every write after it is
 * conditional on the status read (sql_claim, sql_start, sql_record,
 * sql_lose), its count checked, so a rival on another node changes
 * nothing, or is aborted at COMMIT for writing the same row. */
static const char sql_lock[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms FROM dispatches WHERE id = ? FOR UPDATE";
/* Column 11: how long it could have gone and did not (a retry from
 * its not_before), which pushd publishes as its lag (issue 20). */
static const char sql_candidates[] =
    "SELECT d.id, d.execution_id, d.worker_id, d.worker_name, d.status, "
    "d.step_index, d.cancel_requested, d.timeout_ms, d.command, d.attempt, "
    "d.env, TIMESTAMPDIFF(MICROSECOND, GREATEST(d.queued_at, "
    "COALESCE(d.not_before, d.queued_at)), NOW(3)) DIV 1000 "
    "FROM workers w JOIN dispatches d ON d.worker_id = w.id "
    "AND d.status = 'queued' AND (d.not_before IS NULL "
    "OR d.not_before <= NOW(3)) WHERE w.pushd_node = ? "
    "AND w.state = 'accepted' ORDER BY d.queued_at LIMIT 200";
/*
 * Galera: the candidates' join reads the worker row, and a read is not
 * certified. A worker that just reattached to a pushd on another node
 * (registry_online writes pushd_node there) could still get a command
 * claimed here, sent to a socket it left, after the new pushd's
 * redeliver looked. So a claim writes the worker row too, only while it
 * is still attached here: of two such transactions on two nodes
 * certification aborts the later (1213 at COMMIT), and db_txn reruns it:
 * the claim then finds the worker gone, or the reattach finds the
 * command sent and redelivers it (dispatch_redeliver).
 */
static const char sql_claim_worker[] =
    "UPDATE workers SET claim_rev = claim_rev + 1 WHERE id = ? "
    "AND pushd_node = ?";
static const char sql_claim[] =
    "UPDATE dispatches SET status = 'sent', sent_at = NOW(3), "
    "deadline_at = NOW(3) + INTERVAL (timeout_ms + ?) * 1000 MICROSECOND "
    "WHERE id = ? AND status = 'queued' AND (not_before IS NULL "
    "OR not_before <= NOW(3))";
static const char sql_cancel_candidates[] =
    "SELECT d.id, d.execution_id, d.worker_id, d.worker_name, d.status, "
    "d.step_index, d.cancel_requested, d.timeout_ms FROM dispatches d "
    "JOIN workers w ON w.id = d.worker_id WHERE d.cancel_requested = 1 "
    "AND d.cancel_sent_at IS NULL AND d.status IN ('sent', 'running') "
    "AND w.pushd_node = ? LIMIT 200";
/*
 * One round trip for an idle poll instead of two transactions. A retry
 * waiting for its not_before is not pending: nothing to claim yet, and the
 * idle poll finds it once it is due.
 */
static const char sql_pending[] =
    "SELECT EXISTS (SELECT 1 FROM dispatches d JOIN workers w "
    "ON w.id = d.worker_id WHERE d.status = 'queued' "
    "AND (d.not_before IS NULL OR d.not_before <= NOW(3)) "
    "AND w.pushd_node = ? AND w.state = 'accepted'), "
    "EXISTS (SELECT 1 FROM dispatches d JOIN workers w "
    "ON w.id = d.worker_id WHERE d.cancel_requested = 1 "
    "AND d.cancel_sent_at IS NULL AND d.status IN ('sent', 'running') "
    "AND w.pushd_node = ?)";
/* Galera: a cancel sent twice (two nodes) is harmless, the worker ends
 * a command once; and a reattach resends every requested cancel anyway. */
static const char sql_cancel_sent[] =
    "UPDATE dispatches SET cancel_sent_at = NOW(3) WHERE id = ? "
    "AND status IN ('sent', 'running')";
static const char sql_inflight[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms, command, attempt, env FROM dispatches "
    "WHERE worker_id = ? AND status IN ('sent', 'running') "
    "ORDER BY queued_at";
static const char sql_start[] =
    "UPDATE dispatches SET status = 'running', started_at = NOW(3), "
    "deadline_at = NOW(3) + INTERVAL (timeout_ms + ?) * 1000 MICROSECOND "
    "WHERE id = ? AND status = 'sent'";



void
dispatch_cmds_free(struct dispatch_cmd *c, size_t n)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(c[i].command);
		free(c[i].env);
	}
	free(c);
}

void
dispatch_ids_clear(struct dispatch_ids *ids)
{
	free(ids->id);
	ids->id = NULL;
	ids->n = 0;
}

void
dsp_ids_add(struct dispatch_ids *ids, const char *id)
{
	size_t	 i;

	for (i = 0; i < ids->n; i++)
		if (strcmp(ids->id[i], id) == 0)
			return;
	ids->id = xreallocarray(ids->id, ids->n + 1, sizeof(*ids->id));
	strlcpy_p(ids->id[ids->n++], id, ID_LEN + 1);
}

/* Columns 0-7 of sql_lock and its look-alikes into r. */
void
dsp_drow_fill(struct drow *r, const struct db_res *res, size_t i)
{
	const char	*s;

	memset(r, 0, sizeof(*r));
	strlcpy_p(r->id, db_res_get(res, i, 0), sizeof(r->id));
	strlcpy_p(r->execution_id, db_res_get(res, i, 1),
	    sizeof(r->execution_id));
	strlcpy_p(r->worker_id, db_res_get(res, i, 2), sizeof(r->worker_id));
	s = db_res_get(res, i, 3);
	strlcpy_p(r->worker_name, s ? s : "", sizeof(r->worker_name));
	strlcpy_p(r->status, db_res_get(res, i, 4), sizeof(r->status));
	/* A status this build does not know is a final one. */
	if (dispatch_status_from(r->status, &r->st) == -1)
		r->st = DISP_STATUS_COUNT;
	r->step = (int)db_res_int(res, i, 5, 0);
	r->cancel_requested = db_res_int(res, i, 6, 0) != 0;
	r->timeout_ms = db_res_int(res, i, 7, 0);
}

/* Lock one dispatch: 1 and r, 0 if there is none, -1 on a db error. */
int
dsp_drow_lock(struct db *db, const char *id, struct drow *r)
{
	struct db_res	*res;
	int		 found;

	if (!id_valid(id))
		return 0;
	if (db_exec(db, sql_lock, &res, "s", id) == -1)
		return -1;
	found = db_res_rows(res) == 1;
	if (found)
		dsp_drow_fill(r, res, 0);
	db_res_free(res);
	return found;
}

/* What every event about one command says of it. */
struct json_object *
dsp_drow_event_json(const struct drow *r)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "execution_id",
	    json_object_new_string(r->execution_id));
	json_object_object_add(p, "command_id", json_object_new_string(r->id));
	json_object_object_add(p, "step", json_object_new_int(r->step));
	json_object_object_add(p, "worker_id",
	    json_object_new_string(r->worker_id));
	json_object_object_add(p, "worker_name",
	    json_object_new_string(r->worker_name));
	return p;
}

/*
 * The dispatch_status event: a command's state as browsers follow it
 * live. exit_code and duration only when known (has_* nonzero).
 */
int
dsp_event(struct db *db, const struct drow *r, const char *status,
    int has_exit, long long exit_code, int has_dur, long long duration,
    const char *error)
{
	struct json_object *p = dsp_drow_event_json(r);

	json_object_object_add(p, "status", json_object_new_string(status));
	if (has_exit)
		json_object_object_add(p, "exit_code",
		    json_object_new_int64(exit_code));
	if (has_dur)
		json_object_object_add(p, "duration_ms",
		    json_object_new_int64(duration));
	if (error != NULL)
		json_object_object_add(p, "error",
		    json_object_new_string(error));
	return events_append(db, "dispatch_status", r->execution_id,
	    r->worker_id, p);
}

/* command, attempt and env (columns 8, 9 and 10 of res) for an execute;
 * a cancel passes a NULL res. */
void
dsp_cmd_add(struct dispatch_cmd **cmds, size_t *n, const struct drow *r,
    const struct db_res *res, size_t row)
{
	const char	*command = res != NULL ? db_res_get(res, row, 8) : NULL;
	const char	*env = res != NULL ? db_res_get(res, row, 10) : NULL;

	struct dispatch_cmd *c;

	*cmds = xreallocarray(*cmds, *n + 1, sizeof(**cmds));
	c = &(*cmds)[(*n)++];
	memset(c, 0, sizeof(*c));
	strlcpy_p(c->id, r->id, sizeof(c->id));
	strlcpy_p(c->execution_id, r->execution_id, sizeof(c->execution_id));
	strlcpy_p(c->worker_id, r->worker_id, sizeof(c->worker_id));
	c->step_index = r->step;
	c->timeout_ms = r->timeout_ms;
	c->command = command != NULL ? xstrdup(command) : NULL;
	c->env = env != NULL ? xstrdup(env) : NULL;
	c->attempt = res != NULL ? (int)db_res_int(res, row, 9, 1) : 0;
	c->cancel = res == NULL;
}


static const char sql_chunks_clear[] =
    "DELETE FROM dispatch_output WHERE dispatch_id = ?";

/* Its streamed chunks go once its output is stored (or lost). */
int
dsp_chunks_clear(struct db *db, const char *id)
{
	return db_exec(db, sql_chunks_clear, NULL, "s", id);
}

/* ---------------------------------------------------------------- claim */

/* The workers a claim has written (sql_claim_worker), and the answer. */
struct claim_workers {
	char	 id[DISPATCH_BATCH_MAX][ID_LEN + 1];
	int	 here[DISPATCH_BATCH_MAX];
	size_t	 n;
};

struct claim {
	struct claim_workers	*cw;
	const char		*node;
	long long		 grace_ms;
	dispatch_held_fn	 held;
	void			*arg;
	const char *const	*running;
	size_t			 nrunning;
	int			 journaled;
	const char		*worker_id;
	struct dispatch_cmd	*cmds;
	size_t			 n;
};

static void
claim_reset(struct claim *c)
{
	dispatch_cmds_free(c->cmds, c->n);
	c->cmds = NULL;
	c->n = 0;
}

/* Is worker_id still attached to this node? 1, 0, -1 on a db error. */
static int
claim_worker(struct db *db, struct claim *c, const char *worker_id)
{
	struct claim_workers	*cw = c->cw;
	size_t			 i;

	for (i = 0; i < cw->n; i++)
		if (strcmp(cw->id[i], worker_id) == 0)
			return cw->here[i];
	if (cw->n == DISPATCH_BATCH_MAX)
		return 0;	/* never: one per candidate at most */
	if (db_exec(db, sql_claim_worker, NULL, "ss", worker_id,
	    c->node) == -1)
		return -1;
	strlcpy_p(cw->id[cw->n], worker_id, sizeof(cw->id[cw->n]));
	cw->here[cw->n] = db_affected(db) == 1;
	return cw->here[cw->n++];
}

static int
claim_txn(struct db *db, void *arg)
{
	struct claim	*c = arg;
	struct db_res	*res;
	struct drow	 r;
	size_t		 i;
	int		 rc = -1, here;

	claim_reset(c);		/* db_txn may run this twice */
	c->cw->n = 0;
	if (db_exec(db, sql_candidates, &res, "s", c->node) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		dsp_drow_fill(&r, res, i);
		if (!c->held(r.worker_id, c->arg))
			continue;
		if ((here = claim_worker(db, c, r.worker_id)) == -1)
			goto fail;
		if (!here)
			continue;
		/* Galera: conditional, the count checked; the row written
		 * is the one a rival claim or expiry writes too. */
		if (db_exec(db, sql_claim, NULL, "is", c->grace_ms, r.id) == -1)
			goto fail;
		if (db_affected(db) != 1)
			continue;	/* cancelled meanwhile */
		if (dsp_event(db, &r, dispatch_status_name(DISP_SENT), 0,
		    0, 0, 0, NULL) == -1)
			goto fail;
		dsp_cmd_add(&c->cmds, &c->n, &r, res, i);
		c->cmds[c->n - 1].waited_ms = db_res_int(res, i, 11, 0);
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

int
dispatch_claim(struct db *db, const char *node, long long grace_ms,
    dispatch_held_fn held, void *arg, struct dispatch_cmd **cmds, size_t *n)
{
	struct claim	 c = { .node = node, .grace_ms = grace_ms,
	    .held = held, .arg = arg };
	int		 rc;

	*cmds = NULL;
	*n = 0;
	c.cw = xcalloc(1, sizeof(*c.cw));
	rc = db_txn(db, claim_txn, &c);
	free(c.cw);
	if (rc == -1 && db_commit_unknown(db) && c.n > 0) {
		*cmds = c.cmds;
		*n = c.n;
		return -2;
	}
	if (rc == -1) {
		claim_reset(&c);
		return -1;
	}
	*cmds = c.cmds;
	*n = c.n;
	return 0;
}

/* Sent by a claim of this node: its worker is still attached here (a
 * worker that moved on has its sent commands redelivered there). */
static const char sql_claimed[] =
    "SELECT d.status = 'sent' FROM dispatches d JOIN workers w ON "
    "w.id = d.worker_id WHERE d.id = ? AND w.pushd_node = ?";

int
dispatch_claimed(struct db *db, const char *node, struct dispatch_cmd *cmds,
    size_t *n)
{
	struct db_res	*res;
	size_t		 i, kept = 0;
	int		 sent;

	for (i = 0; i < *n; i++) {
		if (db_exec(db, sql_claimed, &res, "ss", cmds[i].id,
		    node) == -1)
			return -1;
		sent = db_res_int(res, 0, 0, 0) == 1;
		db_res_free(res);
		if (!sent) {
			/* Still queued (claimed again as usual) or ended. */
			free(cmds[i].command);
			free(cmds[i].env);
		} else if (kept++ != i)
			cmds[kept - 1] = cmds[i];	/* a freed slot */
		if (i >= kept)
			memset(&cmds[i], 0, sizeof(cmds[i]));
	}
	*n = kept;
	return 0;
}

int
dispatch_pending(struct db *db, const char *node, int *queued, int *cancels)
{
	struct db_res	*res;

	if (db_exec(db, sql_pending, &res, "ss", node, node) == -1)
		return -1;
	*queued = db_res_int(res, 0, 0, 1) != 0;
	*cancels = db_res_int(res, 0, 1, 1) != 0;
	db_res_free(res);
	return 0;
}

static int
cancels_txn(struct db *db, void *arg)
{
	struct claim	*c = arg;
	struct db_res	*res;
	struct drow	 r;
	size_t		 i;
	int		 rc = -1;

	claim_reset(c);
	if (db_exec(db, sql_cancel_candidates, &res, "s", c->node) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		dsp_drow_fill(&r, res, i);
		if (!c->held(r.worker_id, c->arg))
			continue;
		if (db_exec(db, sql_cancel_sent, NULL, "s", r.id) == -1)
			goto fail;
		if (db_affected(db) == 1)
			dsp_cmd_add(&c->cmds, &c->n, &r, NULL, 0);
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

int
dispatch_cancels(struct db *db, const char *node, dispatch_held_fn held,
    void *arg, struct dispatch_cmd **cmds, size_t *n)
{
	struct claim	 c = { .node = node, .held = held, .arg = arg };

	*cmds = NULL;
	*n = 0;
	if (db_txn(db, cancels_txn, &c) == -1) {
		claim_reset(&c);
		return -1;
	}
	*cmds = c.cmds;
	*n = c.n;
	return 0;
}

int
dsp_mark_started(struct db *db, struct drow *r, long long grace_ms)
{
	if (r->st != DISP_SENT)
		return 0;
	if (db_exec(db, sql_start, NULL, "is", grace_ms, r->id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	r->st = DISP_RUNNING;
	strlcpy_p(r->status, dispatch_status_name(r->st), sizeof(r->status));
	return dsp_event(db, r, r->status, 0, 0, 0, 0, NULL);
}

static int
listed(const char *const *ids, size_t n, const char *id)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return 1;
	return 0;
}

static int
redeliver_txn(struct db *db, void *arg)
{
	struct claim	*c = arg;
	struct db_res	*res;
	struct drow	 r;
	size_t		 i;
	int		 rc = -1, found;

	claim_reset(c);
	for (i = 0; i < c->nrunning; i++) {
		found = dsp_drow_lock(db, c->running[i], &r);
		if (found == -1)
			return -1;
		/* Someone else's id is the worker's confusion, not news. */
		if (!found || strcmp(r.worker_id, c->worker_id) != 0)
			continue;
		/*
		 * Ended here while the worker was away (its deadline passed):
		 * it still runs or waits there, so it is told to stop. The
		 * cancel sent at the deadline had no socket to go to.
		 */
		if (dispatch_status_final(r.st))
			dsp_cmd_add(&c->cmds, &c->n, &r, NULL, 0);
		else if (dsp_mark_started(db, &r, c->grace_ms) == -1)
			return -1;
	}
	if (db_exec(db, sql_inflight, &res, "s", c->worker_id) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		dsp_drow_fill(&r, res, i);
		if (r.cancel_requested) {
			if (db_exec(db, sql_cancel_sent, NULL, "s", r.id) == -1)
				goto fail;
			dsp_cmd_add(&c->cmds, &c->n, &r, NULL, 0);
		} else if (c->journaled && r.st == DISP_SENT &&
		    !listed(c->running, c->nrunning, r.id))
			dsp_cmd_add(&c->cmds, &c->n, &r, res, i);
	}
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

int
dispatch_redeliver(struct db *db, const char *worker_id,
    const char *const *running, size_t nrunning, int journaled,
    long long grace_ms, struct dispatch_cmd **cmds, size_t *n)
{
	struct claim	 c = { .worker_id = worker_id, .running = running,
	    .nrunning = nrunning, .journaled = journaled,
	    .grace_ms = grace_ms };

	*cmds = NULL;
	*n = 0;
	if (db_txn(db, redeliver_txn, &c) == -1) {
		claim_reset(&c);
		return -1;
	}
	*cmds = c.cmds;
	*n = c.n;
	return 0;
}

/* ------------------------------------------------------- engine's writes */

static const char sql_dispatch_insert[] =
    "INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
    "worker_name, attempt, command, timeout_ms, env, batch) "
    "VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, NULLIF(?, 0))";
/* A target a stopped batch never ran (issue 14): final at once, never
 * claimed (pushd claims queued rows only). */
static const char sql_dispatch_skip[] =
    "INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
    "worker_name, attempt, status, command, timeout_ms, batch, error, "
    "finished_at, stdout_sha256, stderr_sha256) "
    "VALUES (?, ?, ?, ?, ?, 1, 'skipped', ?, ?, ?, ?, NOW(3), "
    "SHA2('', 256), SHA2('', 256))";
static const char sql_dispatch_cancel[] =
    "UPDATE dispatches SET status = 'cancelled', finished_at = NOW(3), "
    "error = 'execution cancelled', "
    "stdout_sha256 = SHA2(COALESCE(stdout, ''), 256), "
    "stderr_sha256 = SHA2(COALESCE(stderr, ''), 256) WHERE execution_id = ? "
    "AND status = 'queued'";
static const char sql_dispatch_cancel_running[] =
    "UPDATE dispatches SET cancel_requested = 1 WHERE execution_id = ? "
    "AND status IN ('sent', 'running')";

int
dispatch_queue(struct db *db, const char *execution_id, int step,
    const char *worker_id, const char *worker_name, const char *command,
    long long timeout_ms, const char *env)
{
	return dispatch_queue_batch(db, execution_id, step, worker_id,
	    worker_name, command, timeout_ms, env, 0);
}

int
dispatch_queue_batch(struct db *db, const char *execution_id, int step,
    const char *worker_id, const char *worker_name, const char *command,
    long long timeout_ms, const char *env, int batch)
{
	char	 did[ID_LEN + 1];

	id_new(did);
	return db_exec(db, sql_dispatch_insert, NULL, "ssisssisi", did,
	    execution_id, (long long)step, worker_id, worker_name, command,
	    timeout_ms, env, (long long)batch);
}

int
dispatch_skip(struct db *db, const char *execution_id, int step,
    const char *worker_id, const char *worker_name, const char *command,
    long long timeout_ms, int batch, const char *why)
{
	char	 did[ID_LEN + 1];

	id_new(did);
	return db_exec(db, sql_dispatch_skip, NULL, "ssisssiis", did,
	    execution_id, (long long)step, worker_id, worker_name, command,
	    timeout_ms, (long long)batch, why);
}

/*
 * The retry copies the failed row's command, env and batch (the first
 * attempt's expansion is the one every attempt runs), for a worker still
 * on record (one deleted or replaced would never take it). NOT EXISTS
 * makes a second advance that sees the same failure insert nothing; the
 * unique key (execution_id, step_index, worker_id, attempt) stays the
 * last guard.
 */
static const char sql_dispatch_retry[] =
    "INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
    "worker_name, attempt, command, timeout_ms, env, batch, not_before) "
    "SELECT ?, f.execution_id, f.step_index, f.worker_id, f.worker_name, "
    "f.attempt + 1, f.command, f.timeout_ms, f.env, f.batch, "
    "NOW(3) + INTERVAL ? * 1000 MICROSECOND FROM dispatches f "
    "JOIN workers w ON w.id = f.worker_id "
    "WHERE f.id = ? AND f.attempt = ? AND NOT EXISTS (SELECT 1 "
    "FROM dispatches n WHERE n.execution_id = f.execution_id "
    "AND n.step_index = f.step_index AND n.worker_id = f.worker_id "
    "AND n.attempt = f.attempt + 1)";
static const char sql_dispatch_next[] =
    "SELECT COUNT(*) FROM dispatches f JOIN dispatches n "
    "ON n.execution_id = f.execution_id AND n.step_index = f.step_index "
    "AND n.worker_id = f.worker_id AND n.attempt = f.attempt + 1 "
    "WHERE f.id = ?";

int
dispatch_retry(struct db *db, const char *failed_id, int attempt,
    long long delay_ms, int *queued)
{
	struct db_res	*res;
	struct drow	 r;
	char		 did[ID_LEN + 1];
	int		 found;

	*queued = 0;
	id_new(did);
	if (db_exec(db, sql_dispatch_retry, NULL, "sisi", did, delay_ms,
	    failed_id, (long long)attempt) == -1)
		return -1;
	if (db_affected(db) != 1) {
		/* Queued by an earlier advance, or its worker is gone. */
		if (db_exec(db, sql_dispatch_next, &res, "s", failed_id) == -1)
			return -1;
		*queued = db_res_int(res, 0, 0, 0) > 0;
		db_res_free(res);
		return 0;
	}
	*queued = 1;
	/* Browsers learn of the new attempt (and refetch the execution). */
	if ((found = dsp_drow_lock(db, did, &r)) != 1)
		return found == 0 ? 0 : -1;
	return dsp_event(db, &r, r.status, 0, 0, 0, 0, NULL);
}

int
dispatch_cancel_execution(struct db *db, const char *execution_id)
{
	if (db_exec(db, sql_dispatch_cancel, NULL, "s", execution_id) == -1 ||
	    db_exec(db, sql_dispatch_cancel_running, NULL, "s",
	    execution_id) == -1)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- workers */

struct wk {
	const char			*node;
	struct dispatch_worker		*w;
	int				 conflict;
	char				*replaced;
	struct dispatch_ids		*ids;
};

/*
 * A worker_connect that created its worker (worker.enroll) or whose key
 * was refused (worker.key_refused, only for a worker on record and at most
 * once in ten minutes: registry_refused); pushd sees no client address of
 * its own (nginx's is in its access log).
 */
static int
worker_audit(struct db *db, const struct dispatch_worker *w)
{
	struct json_object	*d = json_object_new_object();
	int			 rc, audited;

	json_object_object_add(d, "name", json_object_new_string(w->name));
	json_object_object_add(d, "requested_groups",
	    registry_names(w->groups, w->ngroups));
	json_object_object_add(d, "via", json_object_new_string(
	    w->key_hash != NULL ? "websocket, own key" :
	    "websocket, shared key"));
	if (w->refused[0] == '\0')
		json_object_object_add(d, "state",
		    json_object_new_string(w->state));
	if (w->refused[0] != '\0')
		rc = registry_refused(db, w->id, NULL, w->refused, d,
		    &audited);
	else
		rc = registry_audit(db, w->name, NULL, w->id, NULL, d);
	json_object_put(d);
	return rc;
}

static int
worker_online_txn(struct db *db, void *arg)
{
	struct wk		*k = arg;
	struct dispatch_worker	*w = k->w;
	struct registry_worker	 r;
	char			 why[160];
	int			 keyed;

	k->conflict = 0;
	w->rotate = 0;
	if (registry_check(db, w->id, w->key_hash, w->refused, NULL,
	    &keyed) == -1)
		return -1;
	if (w->refused[0] != '\0')
		return worker_audit(db, w) == -1 ? -1 : 1;
	if (w->key_hash != NULL && trust_connected(db, w->id,
	    w->key_hash) == -1)
		return -1;
	memset(&r, 0, sizeof(r));
	r.id = w->id;
	r.name = w->name;
	r.node = k->node;
	r.version = w->version;
	r.groups = w->groups;
	r.ngroups = w->ngroups;
	r.has_groups = w->has_groups;
	r.keyed = keyed;
	r.auto_accept = w->auto_accept;
	if (registry_online(db, &r, &k->conflict) == -1)
		return -1;
	strlcpy_p(w->state, r.state, sizeof(w->state));
	w->name_kept = r.name_kept;
	if (keyed && !k->conflict &&
	    trust_rotation_wanted(db, w->id, &w->rotate) == -1)
		return -1;
	strlcpy_p(k->replaced, r.replaced, ID_LEN + 1);
	if (r.replaced[0] != '\0') {
		snprintf(why, sizeof(why), "worker replaced by a new agent of "
		    "the same name (%s)", w->id);
		if (dispatch_lose_worker(db, r.replaced, why, k->ids) == -1)
			return -1;
	}
	return r.created && !k->conflict ? worker_audit(db, w) : 0;
}

int
dispatch_worker_online(struct db *db, const char *node,
    struct dispatch_worker *w, int *conflict, char *replaced,
    struct dispatch_ids *ids)
{
	struct wk	 k = { node, w, 0, replaced, ids };

	replaced[0] = '\0';
	w->refused[0] = '\0';
	if (db_txn(db, worker_online_txn, &k) == -1)
		return -1;
	*conflict = k.conflict;
	return 0;
}


int
dispatch_worker_detach_others(struct db *db, const char *node,
    dispatch_held_fn held, void *arg, size_t *n)
{
	return registry_detach_others(db, node, held, arg, n);
}

struct wk_off {
	const char	*node;
	const char	*id;
};

static int
worker_offline_txn(struct db *db, void *arg)
{
	struct wk_off	*o = arg;

	return registry_offline(db, o->node, o->id);
}

int
dispatch_worker_offline(struct db *db, const char *node, const char *worker_id)
{
	struct wk_off	 o = { node, worker_id };

	return db_txn(db, worker_offline_txn, &o) == -1 ? -1 : 0;
}

struct touch {
	const char		*node;
	const char *const	*ids;
	size_t			 n;
};

static int
touch_txn(struct db *db, void *arg)
{
	struct touch	*t = arg;
	size_t		 i;

	/*
	 * No deadline moves here: a command waiting in the worker's own
	 * queue (MAX_CONCURRENT_TASKS) counts against its timeout, or a
	 * wedged agent that keeps its socket open would hold its commands
	 * for ever (issue 11).
	 */
	for (i = 0; i < t->n; i++)
		if (registry_touch(db, t->node, t->ids[i]) == -1)
			return -1;
	return 0;
}

int
dispatch_worker_touch(struct db *db, const char *node,
    const char *const *ids, size_t n)
{
	struct touch	 t = { node, ids, n };

	if (n == 0)
		return 0;
	return db_txn(db, touch_txn, &t) == -1 ? -1 : 0;
}

struct stale {
	int	 secs;
	size_t	 n;
};

static int
stale_txn(struct db *db, void *arg)
{
	struct stale	*s = arg;

	s->n = 0;
	return registry_stale(db, s->secs, &s->n);
}

int
dispatch_workers_stale(struct db *db, int stale_s, size_t *n)
{
	struct stale	 s = { stale_s, 0 };

	*n = 0;
	if (db_txn(db, stale_txn, &s) == -1)
		return -1;
	*n = s.n;
	return 0;
}
