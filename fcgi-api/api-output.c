/*
 * GET /api/executions/:id/output: the whole output of an execution's
 * commands, a bounded piece at a time. The execution's JSON carries at
 * most EXEC_VIEW_STREAM bytes of each stream (issue 12: one execution
 * once answered 50 MB and held pulse-api's children from everyone); a
 * dispatch with more says stdout_more/stderr_more and points here.
 *
 *   (no command_id)      an index: each command's worker, step and sizes
 *   ?command_id=&stream=stdout|stderr&offset=0&limit=N
 *                        bytes [offset, offset + limit) of that stream,
 *                        limit at most EXEC_OUTPUT_READ_MAX, cut before a
 *                        UTF-8 character; next_offset null at the end
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "dispatch.h"
#include "id.h"
#include "pjson.h"
#include "xmalloc.h"

static const char sql_exists[] =
    "SELECT 1 FROM executions WHERE id = ?";
static const char sql_index[] =
    "SELECT id, step_index, worker_name, status, "
    "COALESCE(LENGTH(stdout), 0), COALESCE(LENGTH(stderr), 0), "
    "stdout_bytes, stderr_bytes FROM dispatches WHERE execution_id = ? "
    "ORDER BY step_index, worker_name, attempt";
/* Column names cannot be parameters: one statement per stream. */
static const char *const sql_piece[2] = {
    "SELECT status, SUBSTRING(stdout, ? + 1, ?), COALESCE(LENGTH(stdout), "
    "0), stdout_bytes, stdout_truncated FROM dispatches "
    "WHERE id = ? AND execution_id = ?",
    "SELECT status, SUBSTRING(stderr, ? + 1, ?), COALESCE(LENGTH(stderr), "
    "0), stderr_bytes, stderr_truncated FROM dispatches "
    "WHERE id = ? AND execution_id = ?",
};

static int
output_index(struct request *req, const char *eid)
{
	struct json_object	*o, *arr;
	struct db_res		*res;
	size_t			 i;

	if (db_exec(req->db, sql_index, &res, "s", eid) == -1) {
		reply_db_error(req);
		return 0;
	}
	arr = json_object_new_array();
	for (i = 0; i < db_res_rows(res); i++) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "command_id",
		    json_object_new_string(db_res_get(res, i, 0)));
		json_object_object_add(c, "step",
		    json_object_new_int64(db_res_int(res, i, 1, 0)));
		json_object_object_add(c, "worker_name",
		    pjson_string_or_null(db_res_get(res, i, 2)));
		json_object_object_add(c, "status",
		    pjson_string_or_null(db_res_get(res, i, 3)));
		json_object_object_add(c, "stdout_stored",
		    json_object_new_int64(db_res_int(res, i, 4, 0)));
		json_object_object_add(c, "stderr_stored",
		    json_object_new_int64(db_res_int(res, i, 5, 0)));
		json_object_object_add(c, "stdout_bytes",
		    json_object_new_int64(db_res_int(res, i, 6, 0)));
		json_object_object_add(c, "stderr_bytes",
		    json_object_new_int64(db_res_int(res, i, 7, 0)));
		json_object_array_add(arr, c);
	}
	db_res_free(res);
	o = json_object_new_object();
	json_object_object_add(o, "execution_id", json_object_new_string(eid));
	json_object_object_add(o, "commands", arr);
	reply_json(req, 200, o);
	return 0;
}

/*
 * At most limit of the avail bytes at p (the stream from offset), cut
 * back to a character start when more follows (avail may run a few bytes
 * past limit to show where the next character starts); the reply.
 */
static void
output_reply(struct request *req, const char *eid, const char *cid,
    const char *stream, long long offset, const char *p, size_t avail,
    size_t limit, long long stored, long long bytes, int truncated)
{
	struct json_object	*o = json_object_new_object();
	size_t			 n = avail < limit ? avail : limit;
	int			 more = offset + (long long)n < stored;

	if (more && n < avail) {
		while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
			n--;
		/* A limit shorter than the first character: that one whole,
		 * or next_offset would never move. */
		if (n == 0)
			for (n = 1; n < avail &&
			    ((unsigned char)p[n] & 0xc0) == 0x80; n++)
				;
	}
	json_object_object_add(o, "execution_id", json_object_new_string(eid));
	json_object_object_add(o, "command_id", json_object_new_string(cid));
	json_object_object_add(o, "stream", json_object_new_string(stream));
	json_object_object_add(o, "offset", json_object_new_int64(offset));
	json_object_object_add(o, "data", n > 0 ? pjson_text(p, n) :
	    json_object_new_string(""));
	json_object_object_add(o, "stored", json_object_new_int64(stored));
	json_object_object_add(o, "bytes", json_object_new_int64(bytes));
	json_object_object_add(o, "truncated",
	    json_object_new_boolean(truncated));
	json_object_object_add(o, "next_offset", more ?
	    json_object_new_int64(offset + (long long)n) : NULL);
	reply_json(req, 200, o);
}

int
executions_output(struct request *req)
{
	const char	*eid = req->params[0];
	char		 cid[ID_LEN + 2], stream[8], *live[2];
	long long	 offset, limit, stored;
	struct db_res	*res;
	size_t		 livelen[2], n;
	int		 rc, s;

	if (!id_valid(eid)) {
		reply_error(req, 404, "execution not found");
		return 0;
	}
	if (db_exec(req->db, sql_exists, &res, "s", eid) == -1) {
		reply_db_error(req);
		return 0;
	}
	n = db_res_rows(res);
	db_res_free(res);
	if (n == 0) {
		reply_error(req, 404, "execution not found");
		return 0;
	}
	rc = request_query(req, "command_id", cid, sizeof(cid));
	if (rc == 0)
		return output_index(req, eid);
	if (rc == -1 || !id_valid(cid)) {
		reply_error_field(req, 400, "command_id", "command_id must be a "
		    "command id of this execution");
		return 0;
	}
	rc = request_query(req, "stream", stream, sizeof(stream));
	if (rc == 0)
		strlcpy_p(stream, "stdout", sizeof(stream));
	if (rc == -1 || (strcmp(stream, "stdout") != 0 &&
	    strcmp(stream, "stderr") != 0)) {
		reply_error_field(req, 400, "stream", "stream must be stdout "
		    "or stderr");
		return 0;
	}
	s = strcmp(stream, "stderr") == 0;
	if (request_query_int(req, "offset", 0, DISPATCH_OUTPUT_MAX, 0,
	    &offset) == -1 || request_query_int(req, "limit", 1,
	    EXEC_OUTPUT_READ_MAX, EXEC_OUTPUT_READ_MAX, &limit) == -1)
		return 0;
	/* 3 bytes more: where the character after the piece starts. */
	if (db_exec(req->db, sql_piece[s], &res, "iiss", offset, limit + 3,
	    cid, eid) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		reply_error_field(req, 404, "command_id", "no command %s in "
		    "this execution", cid);
		return 0;
	}
	if (strcmp(db_res_get(res, 0, 0), "sent") != 0 &&
	    strcmp(db_res_get(res, 0, 0), "running") != 0) {
		output_reply(req, eid, cid, stream, offset,
		    db_res_get(res, 0, 1), db_res_len(res, 0, 1),
		    (size_t)limit, db_res_int(res, 0, 2, 0),
		    db_res_int(res, 0, 3, 0), db_res_int(res, 0, 4, 0) != 0);
		db_res_free(res);
		return 0;
	}
	db_res_free(res);
	/* Still running: what streamed in so far (at most the cap). */
	if (dispatch_live_output(req->db, cid, live, livelen) == -1) {
		reply_db_error(req);
		return 0;
	}
	stored = (long long)livelen[s];
	n = offset >= stored ? 0 : (size_t)(stored - offset);
	output_reply(req, eid, cid, stream, offset, n > 0 ? live[s] + offset :
	    NULL, n, (size_t)limit, stored, stored, 0);
	free(live[0]);
	free(live[1]);
	return 0;
}
