/*
 * Dispatches between the engine and the workers. A command is sent at most
 * once per connection and started at most once (the worker keeps the ids);
 * a result is recorded once, from sent or running only; what never answers
 * is lost at its deadline. Each call is one transaction with its events;
 * engine_advance() is left to the caller, in a transaction of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "db.h"
#include "dispatch.h"
#include "events.h"
#include "pjson.h"
#include "registry.h"
#include "status.h"
#include "trust.h"
#include "pulse-limits.h"
#include "xmalloc.h"

/* Stored chunks one new chunk is checked against; past them it is cut. */
#define DISPATCH_CHUNK_GAPS	64
#define DISPATCH_STR_(x)	#x
#define DISPATCH_STR(x)		DISPATCH_STR_(x)

/* One dispatch row as the checks need it. */
struct drow {
	char		 id[ID_LEN + 1];
	char		 execution_id[ID_LEN + 1];
	char		 worker_id[ID_LEN + 1];
	char		 worker_name[WORKER_NAME_MAX + 1];
	char		 status[16];
	enum dispatch_status st;	/* DISP_STATUS_COUNT: not known */
	int		 step;
	int		 cancel_requested;
	long long	 timeout_ms;
};

static const char sql_lock[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms FROM dispatches WHERE id = ? FOR UPDATE";
static const char sql_candidates[] =
    "SELECT d.id, d.execution_id, d.worker_id, d.worker_name, d.status, "
    "d.step_index, d.cancel_requested, d.timeout_ms, d.command, d.attempt "
    "FROM workers w JOIN dispatches d ON d.worker_id = w.id "
    "AND d.status = 'queued' WHERE w.pushd_node = ? "
    "AND w.state = 'accepted' ORDER BY d.queued_at LIMIT 200";
static const char sql_claim[] =
    "UPDATE dispatches SET status = 'sent', sent_at = NOW(3), "
    "deadline_at = NOW(3) + INTERVAL (timeout_ms + ?) * 1000 MICROSECOND "
    "WHERE id = ? AND status = 'queued'";
static const char sql_cancel_candidates[] =
    "SELECT d.id, d.execution_id, d.worker_id, d.worker_name, d.status, "
    "d.step_index, d.cancel_requested, d.timeout_ms FROM dispatches d "
    "JOIN workers w ON w.id = d.worker_id WHERE d.cancel_requested = 1 "
    "AND d.cancel_sent_at IS NULL AND d.status IN ('sent', 'running') "
    "AND w.pushd_node = ? LIMIT 200";
/* One round trip for an idle poll instead of two transactions. */
static const char sql_pending[] =
    "SELECT EXISTS (SELECT 1 FROM dispatches d JOIN workers w "
    "ON w.id = d.worker_id WHERE d.status = 'queued' "
    "AND w.pushd_node = ? AND w.state = 'accepted'), "
    "EXISTS (SELECT 1 FROM dispatches d JOIN workers w "
    "ON w.id = d.worker_id WHERE d.cancel_requested = 1 "
    "AND d.cancel_sent_at IS NULL AND d.status IN ('sent', 'running') "
    "AND w.pushd_node = ?)";
static const char sql_cancel_sent[] =
    "UPDATE dispatches SET cancel_sent_at = NOW(3) WHERE id = ? "
    "AND status IN ('sent', 'running')";
static const char sql_inflight[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms, command, attempt FROM dispatches "
    "WHERE worker_id = ? AND status IN ('sent', 'running') "
    "ORDER BY queued_at";
/* A result without command_id (SPEC section 6): the open ones first. */
static const char sql_open_of[] =
    "SELECT id, status IN ('sent', 'running') FROM dispatches "
    "WHERE worker_id = ? AND execution_id = ? "
    "AND (? IS NULL OR step_index = ?) "
    "ORDER BY status IN ('sent', 'running') DESC LIMIT 2";
static const char sql_start[] =
    "UPDATE dispatches SET status = 'running', started_at = NOW(3), "
    "deadline_at = NOW(3) + INTERVAL (timeout_ms + ?) * 1000 MICROSECOND "
    "WHERE id = ? AND status = 'sent'";
static const char sql_chunk[] =
    "INSERT IGNORE INTO dispatch_output (dispatch_id, stream, byte_offset, "
    "data) VALUES (?, ?, ?, ?)";
/*
 * What a stream already holds where a new chunk goes, in one round trip:
 * the chunk just before it and those that start inside it (stored chunks
 * never overlap), by offset.
 */
static const char sql_chunk_around[] =
    "(SELECT byte_offset, byte_offset + LENGTH(data) FROM dispatch_output "
    "WHERE dispatch_id = ? AND stream = ? AND byte_offset < ? "
    "ORDER BY byte_offset DESC LIMIT 1) UNION ALL "
    "(SELECT byte_offset, byte_offset + LENGTH(data) FROM dispatch_output "
    "WHERE dispatch_id = ? AND stream = ? AND byte_offset >= ? "
    "AND byte_offset < ? ORDER BY byte_offset LIMIT "
    DISPATCH_STR(DISPATCH_CHUNK_GAPS) ") ORDER BY 1";
static const char sql_chunks[] =
    "SELECT stream, byte_offset, data FROM dispatch_output "
    "WHERE dispatch_id = ? ORDER BY stream, byte_offset";
static const char sql_chunks_clear[] =
    "DELETE FROM dispatch_output WHERE dispatch_id = ?";
static const char sql_record[] =
    "UPDATE dispatches SET status = ?, exit_code = ?, `signal` = ?, "
    "stdout = ?, stdout_bytes = ?, stdout_truncated = ?, stderr = ?, "
    "stderr_bytes = ?, stderr_truncated = ?, error = ?, "
    "started_at = COALESCE(started_at, sent_at), finished_at = NOW(3), "
    "duration_ms = COALESCE(?, TIMESTAMPDIFF(MICROSECOND, "
    "COALESCE(started_at, sent_at), NOW(3)) DIV 1000) "
    "WHERE id = ? AND worker_id = ? AND status IN ('sent', 'running')";
static const char sql_overdue[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms FROM dispatches "
    "WHERE status IN ('sent', 'running') AND deadline_at < NOW(3) "
    "LIMIT 100 FOR UPDATE SKIP LOCKED";
static const char sql_worker_open[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms FROM dispatches WHERE worker_id = ? "
    "AND status IN ('queued', 'sent', 'running') FOR UPDATE";
/* status is lost or timed_out; from status (sent or running) only. */
static const char sql_lose[] =
    "UPDATE dispatches SET status = ?, error = ?, stdout = ?, "
    "stdout_bytes = ?, stderr = ?, stderr_bytes = ?, finished_at = NOW(3), "
    "duration_ms = TIMESTAMPDIFF(MICROSECOND, COALESCE(started_at, "
    "sent_at), NOW(3)) DIV 1000 WHERE id = ? AND status = ?";
static const char sql_untaken[] =
    "SELECT id, execution_id, worker_id, worker_name, status, step_index, "
    "cancel_requested, timeout_ms FROM dispatches WHERE status = 'queued' "
    "AND queued_at + INTERVAL (timeout_ms + ?) * 1000 MICROSECOND < NOW(3) "
    "LIMIT 100 FOR UPDATE SKIP LOCKED";
static const char sql_lose_queued[] =
    "UPDATE dispatches SET status = 'lost', error = ?, finished_at = NOW(3) "
    "WHERE id = ? AND status = 'queued'";
static const char sql_due_waits[] =
    "SELECT execution_id FROM execution_steps WHERE status = 'running' "
    "AND wake_at <= NOW(3) LIMIT 100";
static const char sql_idle[] =
    "SELECT e.id FROM executions e WHERE e.status = 'running' "
    "AND e.updated_at < NOW(3) - INTERVAL ? SECOND "
    "AND NOT EXISTS (SELECT 1 FROM dispatches d WHERE d.execution_id = e.id "
    "AND d.step_index = e.current_step "
    "AND d.status IN ('queued', 'sent', 'running')) "
    "AND NOT EXISTS (SELECT 1 FROM execution_steps s "
    "WHERE s.execution_id = e.id AND s.step_index = e.current_step "
    "AND s.wake_at > NOW(3)) LIMIT 100";


static const char *const stream_names[2] = { "stdout", "stderr" };

void
dispatch_cmds_free(struct dispatch_cmd *c, size_t n)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < n; i++)
		free(c[i].command);
	free(c);
}

void
dispatch_ids_clear(struct dispatch_ids *ids)
{
	free(ids->id);
	ids->id = NULL;
	ids->n = 0;
}

static void
ids_add(struct dispatch_ids *ids, const char *id)
{
	size_t	 i;

	for (i = 0; i < ids->n; i++)
		if (strcmp(ids->id[i], id) == 0)
			return;
	ids->id = xreallocarray(ids->id, ids->n + 1, sizeof(*ids->id));
	strlcpy_p(ids->id[ids->n++], id, ID_LEN + 1);
}

/* Columns 0-7 of sql_lock and its look-alikes into r. */
static void
drow_fill(struct drow *r, const struct db_res *res, size_t i)
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
static int
drow_lock(struct db *db, const char *id, struct drow *r)
{
	struct db_res	*res;
	int		 found;

	if (!id_valid(id))
		return 0;
	if (db_exec(db, sql_lock, &res, "s", id) == -1)
		return -1;
	found = db_res_rows(res) == 1;
	if (found)
		drow_fill(r, res, 0);
	db_res_free(res);
	return found;
}

/* What every event about one command says of it. */
static struct json_object *
drow_event_json(const struct drow *r)
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
static int
event_dispatch(struct db *db, const struct drow *r, const char *status,
    int has_exit, long long exit_code, int has_dur, long long duration,
    const char *error)
{
	struct json_object *p = drow_event_json(r);

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

/* command and attempt (columns 8 and 9 of res) for an execute; a cancel
 * passes a NULL res. */
static void
cmd_add(struct dispatch_cmd **cmds, size_t *n, const struct drow *r,
    const struct db_res *res, size_t row)
{
	const char	*command = res != NULL ? db_res_get(res, row, 8) : NULL;

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
	c->attempt = res != NULL ? (int)db_res_int(res, row, 9, 1) : 0;
	c->cancel = res == NULL;
}

/* ---------------------------------------------------------------- claim */

struct claim {
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

static int
claim_txn(struct db *db, void *arg)
{
	struct claim	*c = arg;
	struct db_res	*res;
	struct drow	 r;
	size_t		 i;
	int		 rc = -1;

	claim_reset(c);		/* db_txn may run this twice */
	if (db_exec(db, sql_candidates, &res, "s", c->node) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		drow_fill(&r, res, i);
		if (!c->held(r.worker_id, c->arg))
			continue;
		if (db_exec(db, sql_claim, NULL, "is", c->grace_ms, r.id) == -1)
			goto fail;
		if (db_affected(db) != 1)
			continue;	/* cancelled meanwhile */
		if (event_dispatch(db, &r, dispatch_status_name(DISP_SENT), 0,
		    0, 0, 0, NULL) == -1)
			goto fail;
		cmd_add(&c->cmds, &c->n, &r, res, i);
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

	*cmds = NULL;
	*n = 0;
	if (db_txn(db, claim_txn, &c) == -1) {
		claim_reset(&c);
		return -1;
	}
	*cmds = c.cmds;
	*n = c.n;
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
		drow_fill(&r, res, i);
		if (!c->held(r.worker_id, c->arg))
			continue;
		if (db_exec(db, sql_cancel_sent, NULL, "s", r.id) == -1)
			goto fail;
		if (db_affected(db) == 1)
			cmd_add(&c->cmds, &c->n, &r, NULL, 0);
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

/* sent -> running, with its event; 0 also when it was not sent. */
static int
mark_started(struct db *db, struct drow *r, long long grace_ms)
{
	if (r->st != DISP_SENT)
		return 0;
	if (db_exec(db, sql_start, NULL, "is", grace_ms, r->id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	strlcpy_p(r->status, "running", sizeof(r->status));
	return event_dispatch(db, r, "running", 0, 0, 0, 0, NULL);
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
		found = drow_lock(db, c->running[i], &r);
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
			cmd_add(&c->cmds, &c->n, &r, NULL, 0);
		else if (mark_started(db, &r, c->grace_ms) == -1)
			return -1;
	}
	if (db_exec(db, sql_inflight, &res, "s", c->worker_id) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		drow_fill(&r, res, i);
		if (r.cancel_requested) {
			if (db_exec(db, sql_cancel_sent, NULL, "s", r.id) == -1)
				goto fail;
			cmd_add(&c->cmds, &c->n, &r, NULL, 0);
		} else if (c->journaled && r.st == DISP_SENT &&
		    !listed(c->running, c->nrunning, r.id))
			cmd_add(&c->cmds, &c->n, &r, res, i);
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

/* ------------------------------------------------------- worker reports */

/*
 * Lock the dispatch a worker reports on and sort out whose it is. 1: r is
 * this worker's and in flight; 0: *code says why not; -1: db error. A
 * command that does not exist (its workflow or execution deleted, its
 * execution past retention, a database restored from before it) is
 * UNKNOWN, not FOREIGN: the worker may hold its result on disk, and must
 * be told to forget it rather than be shut out (issue 11).
 */
static int
report_lock(struct db *db, const char *worker_id, const char *command_id,
    const char *execution_id, struct drow *r, enum dispatch_code *code)
{
	int	 found;

	found = drow_lock(db, command_id, r);
	if (found == -1)
		return -1;
	if (!found) {
		*code = DISPATCH_UNKNOWN;
		return 0;
	}
	/* Never sent to it (queued) is as foreign as another's. */
	if (strcmp(r->worker_id, worker_id) != 0 ||
	    (execution_id != NULL &&
	    strcmp(r->execution_id, execution_id) != 0) ||
	    r->st == DISP_QUEUED) {
		*code = DISPATCH_FOREIGN;
		return 0;
	}
	if (dispatch_status_final(r->st)) {
		*code = DISPATCH_STALE;
		return 0;
	}
	return 1;
}

/* command_started: sent -> running. */
static int
started_one(struct db *db, struct dispatch_report *rp, long long grace_ms)
{
	struct drow	 r;
	int		 rc;

	rc = report_lock(db, rp->worker_id, rp->command_id, rp->execution_id,
	    &r, &rp->code);
	if (rc <= 0)
		return rc;
	rp->code = r.st == DISP_SENT ? DISPATCH_OK : DISPATCH_STALE;
	return mark_started(db, &r, grace_ms);
}

/* Store bytes [off, off + len) of a stream and tell the browsers. */
static int
chunk_store(struct db *db, const struct drow *r, int stream, long long off,
    const char *data, size_t len)
{
	struct json_object	*p;

	if (db_exec(db, sql_chunk, NULL, "siib", r->id, (long long)stream,
	    off, data, len) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 1;
	p = drow_event_json(r);
	json_object_object_add(p, "stream",
	    json_object_new_string(stream_names[stream]));
	json_object_object_add(p, "offset", json_object_new_int64(off));
	json_object_object_add(p, "data", pjson_text(data, len));
	return events_append(db, "command_output", r->execution_id,
	    r->worker_id, p);
}

/*
 * A chunk stores only the bytes of its stream that no stored chunk holds
 * and that lie below DISPATCH_OUTPUT_MAX, so a stream keeps at most the
 * cap whatever offsets a worker sends (overlapping chunks once stored
 * it many times over). A resent chunk fills holes and stores nothing else.
 */
static int
chunk_one(struct db *db, struct dispatch_chunk *ch, long long grace_ms)
{
	struct db_res	*res;
	struct drow	 r;
	const char	*data = ch->data;
	long long	 pos, end, off, stop;
	size_t		 i, rows, within;
	int		 rc, stored = 0;

	if ((ch->stream != DISPATCH_STDOUT && ch->stream != DISPATCH_STDERR) ||
	    ch->offset < 0) {
		ch->code = DISPATCH_MALFORMED;
		return 0;
	}
	rc = report_lock(db, ch->worker_id, ch->command_id, NULL, &r,
	    &ch->code);
	if (rc <= 0)
		return rc;
	/* Output means it started, whether or not command_started came. */
	if (mark_started(db, &r, grace_ms) == -1)
		return -1;
	ch->code = DISPATCH_OK;
	if (ch->offset >= DISPATCH_OUTPUT_MAX)
		return 0;	/* past what we keep: the result says */
	pos = ch->offset;
	end = ch->len > (size_t)(DISPATCH_OUTPUT_MAX - pos) ?
	    DISPATCH_OUTPUT_MAX : pos + (long long)ch->len;
	if (db_exec(db, sql_chunk_around, &res, "siisiii", r.id,
	    (long long)ch->stream, pos, r.id, (long long)ch->stream, pos,
	    end) == -1)
		return -1;
	/* Only what was looked at: a full answer may not be all of them. */
	rows = db_res_rows(res);
	within = rows > 0 && db_res_int(res, 0, 0, pos) < pos ? rows - 1 : rows;
	if (within == DISPATCH_CHUNK_GAPS &&
	    db_res_int(res, rows - 1, 1, end) < end)
		end = db_res_int(res, rows - 1, 1, end);
	/* Store each gap between the stored chunks that [pos, end) spans. */
	for (i = 0; i <= rows && pos < end; i++) {
		stop = i < rows ? db_res_int(res, i, 0, end) : end;
		if (stop > end)
			stop = end;
		if (stop > pos) {
			off = pos - ch->offset;
			rc = chunk_store(db, &r, ch->stream, pos, data + off,
			    (size_t)(stop - pos));
			if (rc == -1) {
				db_res_free(res);
				return -1;
			}
			stored |= rc == 0;
		}
		if (i < rows && db_res_int(res, i, 1, pos) > pos)
			pos = db_res_int(res, i, 1, pos);
	}
	db_res_free(res);
	if (!stored)
		ch->code = DISPATCH_STALE;
	return 0;
}

/* ---------------------------------------------------------------- results */

/* A result's decoded streams, made before the transaction. */
struct record {
	unsigned char			*bytes[2];	/* decoded b64 */
	const char			*out[2];
	size_t				 outlen[2];
	long long			 size[2];
	int				 trunc[2];
};

static const char *
int_or_null(int has, long long v, char buf[24])
{
	if (!has)
		return NULL;
	snprintf(buf, 24, "%lld", v);
	return buf;
}

/*
 * The command a result without command_id is for: the one dispatch of its
 * execution (and step, when given) open on this worker. 1 with
 * rp->command set; 0 with rp->code STALE (it had some, all ended: a late
 * or repeated result), UNKNOWN or AMBIGUOUS; -1 on a db error.
 */
static int
record_find(struct db *db, struct dispatch_report *rp)
{
	const struct dispatch_result	*res = rp->res;
	struct db_res			*r;
	char				 sbuf[24];
	const char			*step;
	size_t				 n;

	if (res->execution_id == NULL) {	/* wmsg_fields() refuses it */
		rp->code = DISPATCH_UNKNOWN;
		return 0;
	}
	step = int_or_null(res->has_step, res->step_index, sbuf);
	if (db_exec(db, sql_open_of, &r, "ssss", rp->worker_id,
	    res->execution_id, step, step) == -1)
		return -1;
	for (n = 0; n < db_res_rows(r); n++)
		if (db_res_int(r, n, 1, 0) == 0)
			break;
	rp->open = (int)n;
	if (db_res_rows(r) == 0)
		rp->code = DISPATCH_UNKNOWN;
	else if (n == 0)
		rp->code = DISPATCH_STALE;
	else if (n > 1)
		rp->code = DISPATCH_AMBIGUOUS;
	else
		strlcpy_p(rp->command, db_res_get(r, 0, 0),
		    sizeof(rp->command));
	db_res_free(r);
	return n == 1 ? 1 : 0;
}

static int
record_one(struct db *db, struct dispatch_report *rp, const struct record *rec)
{
	const struct dispatch_result	*res = rp->res;
	struct drow			 r;
	const char			*status;
	char				 ebuf[24], sbuf[24], dbuf[24],
					 error[DISPATCH_REFUSAL_MAX + 1];
	int				 lock, ok, has_error = 1;

	rp->command[0] = '\0';
	if (res->command_id != NULL)
		strlcpy_p(rp->command, res->command_id, sizeof(rp->command));
	else if ((lock = record_find(db, rp)) <= 0)
		return lock;
	lock = report_lock(db, rp->worker_id, rp->command,
	    res->execution_id, &r, &rp->code);
	if (lock <= 0)
		return lock;
	ok = res->has_exit_code ? res->exit_code == 0 :
	    res->success && !res->has_signal;
	if (res->refused) {
		/* The worker's own words (its allow-list file), bounded. */
		status = dispatch_status_name(DISP_REFUSED);
		if (rec->outlen[1] == 0)
			snprintf(error, sizeof(error), "refused by the "
			    "worker's allow-list");
		else
			snprintf(error, sizeof(error), "%.*s",
			    (int)(rec->outlen[1] < DISPATCH_REFUSAL_MAX ?
			    rec->outlen[1] : DISPATCH_REFUSAL_MAX),
			    rec->out[1]);
		pjson_utf8_trim(error);
	} else if (res->timed_out) {
		status = dispatch_status_name(DISP_TIMED_OUT);
		snprintf(error, sizeof(error), "timed out after %lld ms",
		    r.timeout_ms);
	} else if (ok) {
		status = dispatch_status_name(DISP_SUCCEEDED);
		has_error = 0;
	} else if (r.cancel_requested) {
		status = dispatch_status_name(DISP_CANCELLED);
		snprintf(error, sizeof(error), "cancelled");
	} else {
		status = dispatch_status_name(DISP_FAILED);
		if (res->has_signal)
			snprintf(error, sizeof(error), "killed by signal %lld",
			    res->signal);
		else if (!res->has_exit_code)
			snprintf(error, sizeof(error), "the worker reported "
			    "failure without an exit code");
		else
			has_error = 0;
	}
	if (db_exec(db, sql_record, NULL, "sssbiibiissss", status,
	    int_or_null(res->has_exit_code, res->exit_code, ebuf),
	    int_or_null(res->has_signal, res->signal, sbuf),
	    rec->out[0], rec->outlen[0], rec->size[0], (long long)rec->trunc[0],
	    rec->out[1], rec->outlen[1], rec->size[1], (long long)rec->trunc[1],
	    has_error ? error : NULL,
	    int_or_null(res->has_duration, res->duration_ms, dbuf),
	    r.id, rp->worker_id) == -1)
		return -1;
	if (db_affected(db) != 1) {
		rp->code = DISPATCH_STALE;
		return 0;
	}
	if (db_exec(db, sql_chunks_clear, NULL, "s", r.id) == -1 ||
	    event_dispatch(db, &r, status, res->has_exit_code, res->exit_code,
	    res->has_duration, res->duration_ms, has_error ? error : NULL) ==
	    -1)
		return -1;
	rp->code = DISPATCH_OK;
	strlcpy_p(rp->exec, r.execution_id, sizeof(rp->exec));
	return 0;
}

struct unstorable {
	const char	*worker_id;
	const char	*command_id;
	const char	*reason;
	int		 ended;
	char		 exec[ID_LEN + 1];
};

static const char sql_unstorable[] =
    "UPDATE dispatches SET status = 'failed', error = ?, "
    "started_at = COALESCE(started_at, sent_at), finished_at = NOW(3) "
    "WHERE id = ? AND worker_id = ? AND status IN ('sent', 'running')";

static int
unstorable_txn(struct db *db, void *arg)
{
	struct unstorable	*u = arg;
	struct drow		 r;
	int			 found;

	u->ended = 0;
	found = drow_lock(db, u->command_id, &r);
	if (found <= 0)
		return found;
	if (db_exec(db, sql_unstorable, NULL, "sss", u->reason, r.id,
	    u->worker_id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	u->ended = 1;
	strlcpy_p(u->exec, r.execution_id, sizeof(u->exec));
	return event_dispatch(db, &r, dispatch_status_name(DISP_FAILED), 0, 0,
	    0, 0, u->reason);
}

int
dispatch_result_unstorable(struct db *db, const char *worker_id,
    const char *command_id, const char *reason, int *ended,
    char exec_out[ID_LEN + 1])
{
	struct unstorable	 u = { worker_id, command_id, reason, 0, "" };

	*ended = 0;
	exec_out[0] = '\0';
	if (db_txn(db, unstorable_txn, &u) == -1)
		return -1;
	*ended = u.ended;
	strlcpy_p(exec_out, u.exec, ID_LEN + 1);
	return 0;
}

/* The bytes of one stream: exact (base64) when given, else the text. */
static int
record_stream(struct record *rec, const struct dispatch_result *res, int s)
{
	size_t	 len;

	if (res->b64[s] != NULL) {
		rec->bytes[s] = xmalloc(res->b64len[s] / 4 * 3 + 3);
		if (base64_decode(res->b64[s], res->b64len[s], rec->bytes[s],
		    &len) == -1)
			return -1;
		rec->out[s] = (const char *)rec->bytes[s];
	} else {
		rec->out[s] = res->text[s] != NULL ? res->text[s] : "";
		len = res->text[s] != NULL ? res->textlen[s] : 0;
	}
	rec->trunc[s] = res->truncated[s];
	if (len > DISPATCH_OUTPUT_MAX) {
		len = DISPATCH_OUTPUT_MAX;
		rec->trunc[s] = 1;
	}
	rec->outlen[s] = len;
	rec->size[s] = (long long)len;
	if (res->has_bytes[s] && res->bytes[s] > rec->size[s])
		rec->size[s] = res->bytes[s];
	return 0;
}

/* ------------------------------------------------------------ any report */

struct reports {
	struct dispatch_report	*v;
	struct record		*rec;
	size_t			 n;
	long long		 grace_ms;
};

static int
reports_txn(struct db *db, void *arg)
{
	struct reports		*rs = arg;
	struct dispatch_report	*rp;
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < rs->n && rc == 0; i++) {
		rp = &rs->v[i];
		rp->exec[0] = '\0';	/* db_txn may run this twice */
		if (rp->code == DISPATCH_MALFORMED)
			continue;
		switch (rp->kind) {
		case DISPATCH_R_STARTED:
			rc = started_one(db, rp, rs->grace_ms);
			break;
		case DISPATCH_R_CHUNK:
			rp->chunk.worker_id = rp->worker_id;	/* one source */
			rc = chunk_one(db, &rp->chunk, rs->grace_ms);
			rp->code = rp->chunk.code;
			break;
		case DISPATCH_R_RESULT:
			rc = record_one(db, rp, &rs->rec[i]);
			break;
		}
	}
	return rc;
}

int
dispatch_reports(struct db *db, struct dispatch_report *v, size_t n,
    long long grace_ms)
{
	struct reports	 rs = { v, NULL, n, grace_ms };
	size_t		 i;
	int		 rv;

	rs.rec = xcalloc(n, sizeof(*rs.rec));
	for (i = 0; i < n; i++) {
		/* The caller marks what it could not decode. */
		if (v[i].code != DISPATCH_MALFORMED)
			v[i].code = DISPATCH_OK;
		v[i].exec[0] = '\0';
		/* Decode before the transaction: it holds the row locks. */
		if (v[i].kind == DISPATCH_R_RESULT &&
		    (record_stream(&rs.rec[i], v[i].res, 0) == -1 ||
		    record_stream(&rs.rec[i], v[i].res, 1) == -1))
			v[i].code = DISPATCH_MALFORMED;
	}
	rv = db_txn(db, reports_txn, &rs);
	for (i = 0; i < n; i++) {
		free(rs.rec[i].bytes[0]);
		free(rs.rec[i].bytes[1]);
	}
	free(rs.rec);
	return rv == -1 ? -1 : 0;
}

/* dispatch_reports() of one report. */
static int
report_alone(struct db *db, struct dispatch_report *rp, long long grace_ms,
    enum dispatch_code *code)
{
	int	 rc;

	rc = dispatch_reports(db, rp, 1, grace_ms);
	*code = rp->code;
	return rc;
}

int
dispatch_started(struct db *db, const char *worker_id, const char *command_id,
    const char *execution_id, long long grace_ms, enum dispatch_code *code)
{
	struct dispatch_report	 rp = { .kind = DISPATCH_R_STARTED,
	    .worker_id = worker_id, .command_id = command_id,
	    .execution_id = execution_id };

	return report_alone(db, &rp, grace_ms, code);
}

int
dispatch_output(struct db *db, struct dispatch_chunk *c, size_t n,
    long long grace_ms)
{
	struct dispatch_report	*v = xcalloc(n, sizeof(*v));
	size_t			 i;
	int			 rc;

	for (i = 0; i < n; i++) {
		v[i].kind = DISPATCH_R_CHUNK;
		v[i].worker_id = c[i].worker_id;
		v[i].chunk = c[i];
	}
	rc = dispatch_reports(db, v, n, grace_ms);
	for (i = 0; i < n; i++)
		c[i].code = v[i].code;
	free(v);
	return rc;
}

int
dispatch_record(struct db *db, const char *worker_id,
    const struct dispatch_result *res, enum dispatch_code *code,
    char exec_out[ID_LEN + 1])
{
	struct dispatch_report	 rp = { .kind = DISPATCH_R_RESULT,
	    .worker_id = worker_id, .res = res };
	int			 rc;

	rc = report_alone(db, &rp, 0, code);
	strlcpy_p(exec_out, rp.exec, ID_LEN + 1);
	return rc;
}

/* ------------------------------------------------------------------ timers */

int
dispatch_live_output(struct db *db, const char *dispatch_id, char *out[2],
    size_t len[2])
{
	struct db_res	*res;
	long long	 end[2] = { 0, 0 };
	size_t		 cap[2] = { 0, 0 }, i;

	out[0] = out[1] = NULL;
	len[0] = len[1] = 0;
	if (db_exec(db, sql_chunks, &res, "s", dispatch_id) == -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		long long	 s = db_res_int(res, i, 0, -1);
		long long	 off = db_res_int(res, i, 1, -1);
		size_t		 n = db_res_len(res, i, 2), skip;

		if ((s != 0 && s != 1) || off < 0)
			continue;
		/*
		 * Only the unbroken prefix: a chunk lost in flight (a socket
		 * cut mid-command) leaves a hole, and bytes after it would
		 * sit at the wrong offset. The final result fills it.
		 */
		if (off > end[s])
			continue;
		/* A chunk overlapping what we have adds only its tail. */
		skip = off < end[s] ? (size_t)(end[s] - off) : 0;
		if (skip >= n || len[s] + (n - skip) > DISPATCH_OUTPUT_MAX)
			continue;
		if (len[s] + n - skip + 1 > cap[s]) {
			cap[s] = (len[s] + n - skip + 1) * 2;
			out[s] = xrealloc(out[s], cap[s]);
		}
		memcpy(out[s] + len[s], db_res_get(res, i, 2) + skip, n - skip);
		len[s] += n - skip;
		out[s][len[s]] = '\0';
		end[s] = off + (long long)n;
	}
	db_res_free(res);
	return 0;
}

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
	char	*out[2];
	size_t	 len[2];
	int	 n;

	if (dispatch_live_output(db, r->id, out, len) == -1)
		return -1;
	n = db_exec(db, sql_lose, NULL, "ssbibiss", status, error, out[0],
	    len[0], (long long)len[0], out[1], len[1], (long long)len[1],
	    r->id, r->status);
	free(out[0]);
	free(out[1]);
	if (n == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	if (db_exec(db, sql_chunks_clear, NULL, "s", r->id) == -1 ||
	    event_dispatch(db, r, status, 0, 0, 0, 0, error) == -1)
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
		drow_fill(&r, res, i);
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
		ids_add(e->ids, r.execution_id);
		cmd_add(&e->cancels, &e->ncancels, &r, NULL, 0);
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
		drow_fill(&r, res, i);
		snprintf(error, sizeof(error), "worker '%s' never took the "
		    "command: not connected within its timeout (%lld ms) + "
		    "grace (%lld ms)", r.worker_name, r.timeout_ms,
		    e->grace_ms);
		if (db_exec(db, sql_lose_queued, NULL, "ss", error, r.id) == -1)
			goto fail;
		if (db_affected(db) != 1)
			continue;
		if (event_dispatch(db, &r, dispatch_status_name(DISP_LOST), 0,
		    0, 0, 0, error) == -1)
			goto fail;
		ids_add(e->ids, r.execution_id);
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
		drow_fill(&r, res, i);
		if (r.st == DISP_QUEUED) {
			if (db_exec(db, sql_lose_queued, NULL, "ss", reason,
			    r.id) == -1)
				goto fail;
			n = db_affected(db) == 1;
			if (n && event_dispatch(db, &r, lost, 0, 0, 0, 0,
			    reason) == -1)
				goto fail;
		} else if ((n = lose_row(db, &r, lost, reason)) == -1)
			goto fail;
		if (n)
			ids_add(ids, r.execution_id);
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
		ids_add(ids, db_res_get(res, i, 0));
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

/* ------------------------------------------------------- engine's writes */

static const char sql_dispatch_insert[] =
    "INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
    "worker_name, attempt, command, timeout_ms) "
    "VALUES (?, ?, ?, ?, ?, 1, ?, ?)";
static const char sql_dispatch_cancel[] =
    "UPDATE dispatches SET status = 'cancelled', finished_at = NOW(3), "
    "error = 'execution cancelled' WHERE execution_id = ? "
    "AND status = 'queued'";
static const char sql_dispatch_cancel_running[] =
    "UPDATE dispatches SET cancel_requested = 1 WHERE execution_id = ? "
    "AND status IN ('sent', 'running')";

int
dispatch_queue(struct db *db, const char *execution_id, int step,
    const char *worker_id, const char *worker_name, const char *command,
    long long timeout_ms)
{
	char	 did[ID_LEN + 1];

	id_new(did);
	return db_exec(db, sql_dispatch_insert, NULL, "ssisssi", did,
	    execution_id, (long long)step, worker_id, worker_name, command,
	    timeout_ms);
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
