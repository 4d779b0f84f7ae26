/*
 * Part of the dispatch module, the only writer of dispatches (dispatch.c
 * says what it owns): what workers report of a command (started, output
 * chunks, the result), and the output as it streamed in.
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
#include "log.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "status.h"
#include "xmalloc.h"

/* Stored chunks one new chunk is checked against; past them it is cut. */
#define DISPATCH_CHUNK_GAPS	64
#define DISPATCH_STR_(x)	#x
#define DISPATCH_STR(x)		DISPATCH_STR_(x)

/* A result without command_id (SPEC section 6): the open ones first. */
static const char sql_open_of[] =
    "SELECT id, status IN ('sent', 'running') FROM dispatches "
    "WHERE worker_id = ? AND execution_id = ? "
    "AND (? IS NULL OR step_index = ?) "
    "ORDER BY status IN ('sent', 'running') DESC LIMIT 2";
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
static const char sql_record[] =
    "UPDATE dispatches SET status = ?, exit_code = ?, `signal` = ?, "
    "stdout = ?, stdout_bytes = ?, stdout_truncated = ?, stderr = ?, "
    "stderr_bytes = ?, stderr_truncated = ?, error = ?, "
    "stdout_sha256 = ?, stderr_sha256 = ?, "
    "started_at = COALESCE(started_at, sent_at), finished_at = NOW(3), "
    "duration_ms = COALESCE(?, TIMESTAMPDIFF(MICROSECOND, "
    "COALESCE(started_at, sent_at), NOW(3)) DIV 1000) "
    "WHERE id = ? AND worker_id = ? AND status IN ('sent', 'running')";
static const char sql_chunks[] =
    "SELECT stream, byte_offset, data FROM dispatch_output "
    "WHERE dispatch_id = ? ORDER BY stream, byte_offset";

static const char *const stream_names[2] = { "stdout", "stderr" };

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

	found = dsp_drow_lock(db, command_id, r);
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
	return dsp_mark_started(db, &r, grace_ms);
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
	p = dsp_drow_event_json(r);
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
	if (dsp_mark_started(db, &r, grace_ms) == -1)
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
	char				 sha[2][65];	/* of out */
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
		else if (!res->has_exit_code && rec->outlen[1] > 0) {
			/* It never ran (a bad env, issue 14): the worker's
			 * reason is its stderr, bounded. */
			snprintf(error, sizeof(error), "%.*s",
			    (int)(rec->outlen[1] < DISPATCH_REFUSAL_MAX ?
			    rec->outlen[1] : DISPATCH_REFUSAL_MAX),
			    rec->out[1]);
			pjson_utf8_trim(error);
		} else if (!res->has_exit_code)
			snprintf(error, sizeof(error), "the worker reported "
			    "failure without an exit code");
		else
			has_error = 0;
	}
	if (db_exec(db, sql_record, NULL, "sssbiibiissssss", status,
	    int_or_null(res->has_exit_code, res->exit_code, ebuf),
	    int_or_null(res->has_signal, res->signal, sbuf),
	    rec->out[0], rec->outlen[0], rec->size[0], (long long)rec->trunc[0],
	    rec->out[1], rec->outlen[1], rec->size[1], (long long)rec->trunc[1],
	    has_error ? error : NULL, rec->sha[0], rec->sha[1],
	    int_or_null(res->has_duration, res->duration_ms, dbuf),
	    r.id, rp->worker_id) == -1)
		return -1;
	if (db_affected(db) != 1) {
		rp->code = DISPATCH_STALE;
		return 0;
	}
	if (dsp_chunks_clear(db, r.id) == -1 ||
	    dsp_event(db, &r, status, res->has_exit_code, res->exit_code,
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
    "started_at = COALESCE(started_at, sent_at), finished_at = NOW(3), "
    "stdout_sha256 = SHA2(COALESCE(stdout, ''), 256), "
    "stderr_sha256 = SHA2(COALESCE(stderr, ''), 256) "
    "WHERE id = ? AND worker_id = ? AND status IN ('sent', 'running')";

static int
unstorable_txn(struct db *db, void *arg)
{
	struct unstorable	*u = arg;
	struct drow		 r;
	int			 found;

	u->ended = 0;
	found = dsp_drow_lock(db, u->command_id, &r);
	if (found <= 0)
		return found;
	if (db_exec(db, sql_unstorable, NULL, "sss", u->reason, r.id,
	    u->worker_id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	u->ended = 1;
	strlcpy_p(u->exec, r.execution_id, sizeof(u->exec));
	return dsp_event(db, &r, dispatch_status_name(DISP_FAILED), 0, 0,
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
	canon_sha256_hex(rec->out[s], len, rec->sha[s]);
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

