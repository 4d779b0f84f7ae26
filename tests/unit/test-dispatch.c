/*
 * Unit tests for common/dispatch.c against a real MariaDB: claiming only
 * this node's workers, each status change once, foreign and late reports,
 * output chunks, deadlines, cancels, redelivery, and the worker rows. A
 * live pushd may share the database (./pulse-dev test), so timers are
 * checked by their outcome, and this node's name is its own.
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "dbtest.h"
#include "dispatch.h"
#include "engine.h"
#include "pjson.h"
#include "report.h"
#include "test.h"
#include "xmalloc.h"

#define NODE	"td-node"
#define GRACE	60000	/* long: a live pushd must not expire ours */

static const char sql_wf[] =
    "INSERT INTO workflows (id, name, definition) VALUES (?, ?, ?)";
static const char sql_wf_clean[] =
    "DELETE FROM workflows WHERE name = 'dispatch test'";
static const char sql_worker[] =
    "INSERT INTO workers (id, name, status, last_heartbeat, pushd_node) "
    "VALUES (?, ?, 'online', NOW(), ?)";
static const char sql_clean[] = "DELETE FROM workers WHERE name LIKE 'td-%'";
static const char sql_disp[] =
    "SELECT id, status, worker_name, exit_code, stdout, stdout_bytes, "
    "error, deadline_at IS NOT NULL, `signal`, cancel_requested "
    "FROM dispatches WHERE execution_id = ? ORDER BY worker_name";
static const char sql_exec[] =
    "SELECT status, error FROM executions WHERE id = ?";
static const char sql_events[] =
    "SELECT COUNT(*) FROM events WHERE execution_id = ? AND type = ? "
    "AND JSON_VALUE(payload, '$.status') <=> ?";
static const char sql_events_any[] =
    "SELECT COUNT(*) FROM events WHERE execution_id = ? AND type = ?";
static const char sql_worker_events[] =
    "SELECT COUNT(*) FROM events WHERE worker_id = ? AND type = "
    "'worker_update' AND JSON_VALUE(payload, '$.status') = ?";
static const char sql_chunks[] =
    "SELECT COUNT(*) FROM dispatch_output WHERE dispatch_id = ?";
static const char sql_chunk_bytes[] =
    "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM dispatch_output "
    "WHERE dispatch_id = ?";
static const char sql_old_queue[] =
    "UPDATE dispatches SET queued_at = NOW(3) - INTERVAL 1 HOUR "
    "WHERE execution_id = ? AND status = 'queued'";
static const char sql_old_deadline[] =
    "UPDATE dispatches SET deadline_at = NOW(3) - INTERVAL 1 SECOND "
    "WHERE id = ?";
static const char sql_worker_get[] =
    "SELECT status, pushd_node, JSON_VALUE(metadata, '$.version'), "
    "JSON_LENGTH(metadata, '$.groups'), "
    "(SELECT COUNT(*) FROM worker_groups g WHERE g.worker_id = w.id), "
    "last_heartbeat > NOW() - INTERVAL 1 MINUTE FROM workers w WHERE id = ?";
/* Galera (sql/016): what a claim and an engine call write besides. */
static const char sql_claim_rev[] =
    "SELECT claim_rev FROM workers WHERE id = ?";
static const char sql_lock_rev[] =
    "SELECT lock_rev, updated_at FROM executions WHERE id = ?";
static const char sql_worker_delete[] = "DELETE FROM workers WHERE id = ?";
static const char sql_worker_old[] =
    "UPDATE workers SET last_heartbeat = NOW() - INTERVAL 1 HOUR "
    "WHERE id = ?";
static const char sql_worker_status[] =
    "UPDATE workers SET status = ? WHERE id = ?";
static const char sql_wake_past[] =
    "UPDATE execution_steps SET wake_at = NOW(3) - INTERVAL 1 SECOND "
    "WHERE execution_id = ? AND status = 'running'";
static const char sql_exec_idle[] =
    "UPDATE executions SET updated_at = NOW(3) - INTERVAL 1 HOUR "
    "WHERE id = ?";
static const char sql_far_deadline[] =
    "SELECT deadline_at > NOW(3) + INTERVAL 30 MINUTE FROM dispatches "
    "WHERE id = ?";
static const char sql_worker_named[] =
    "SELECT name = CONCAT('td-c (replaced ', id, ')'), "
    "JSON_VALUE(metadata, '$.replaced_by') FROM workers WHERE id = ?";
/* An open command in execution ? of worker ? (it never ran there). */
static const char sql_open_for[] =
    "INSERT INTO dispatches (id, execution_id, step_index, worker_id, "
    "worker_name, attempt, command, timeout_ms, status, sent_at, "
    "deadline_at) VALUES (UUID(), ?, 99, ?, 'td-c', 1, 'true', 1000, "
    "'running', NOW(3), NOW(3) + INTERVAL 1 HOUR)";
static const char sql_open_status[] =
    "SELECT status FROM dispatches WHERE worker_id = ? AND step_index = 99";
static const char sql_record_raw[] =
    "UPDATE dispatches SET status = 'succeeded', exit_code = 0, "
    "finished_at = NOW(3) WHERE execution_id = ?";

static struct db	*db;
static struct engine_err err;

static char *
cell(const char *sql, const char *fmt, const char *a, const char *b,
    const char *c, size_t row, size_t col)
{
	static char	 buf[8][1024];
	static int	 k;
	struct db_res	*r = NULL;
	char		*out = buf[k++ % 8];
	int		 rc;

	out[0] = '\0';
	if (strcmp(fmt, "s") == 0)
		rc = db_exec(db, sql, &r, "s", a);
	else if (strcmp(fmt, "ss") == 0)
		rc = db_exec(db, sql, &r, "ss", a, b);
	else
		rc = db_exec(db, sql, &r, "sss", a, b, c);
	if (rc == -1)
		fprintf(stderr, "# %s\n", db_errmsg(db));
	else if (db_res_get(r, row, col) != NULL)
		snprintf(out, 1024, "%s", db_res_get(r, row, col));
	db_res_free(r);
	return out;
}

static char *
disp(const char *ex, size_t row, size_t col)
{
	return cell(sql_disp, "s", ex, NULL, NULL, row, col);
}

static int
events(const char *ex, const char *type, const char *status)
{
	if (status == NULL)
		return atoi(cell(sql_events_any, "ss", ex, type, NULL, 0, 0));
	return atoi(cell(sql_events, "sss", ex, type, status, 0, 0));
}

/* A result for a command that never ran, and what is kept of it. */
static const struct never_ran {
	const char	*descr;
	int		 refused;
	const char	*stderr, *status, *error;
} never_ran[] = {
	{ "refused: refused, the worker's reason as its error, no exit code",
	  1, "refused by WORKER_ALLOW_FILE (/etc/a): no rule matches",
	  "refused", "refused by WORKER_ALLOW_FILE (/etc/a): no rule matches" },
	{ "refused with no stderr: a reason all the same", 1, "", "refused",
	  "refused by the worker's allow-list" },
	{ "failed without an exit code: the worker's stderr as its error", 0,
	  "env: PULSE_PARAM_X: value contains a NUL", "failed",
	  "env: PULSE_PARAM_X: value contains a NUL" },
	{ "failed without an exit code or stderr: said so", 0, "", "failed",
	  "the worker reported failure without an exit code" },
};

static void
workflow(char id[ID_LEN + 1], const char *def)
{
	id_new(id);
	if (db_exec(db, sql_wf, NULL, "sss", id, "dispatch test", def) == -1)
		fprintf(stderr, "# insert workflow: %s\n", db_errmsg(db));
}

static int
held_all(const char *worker_id, void *arg)
{
	(void)worker_id;
	(void)arg;
	return 1;
}

static int
held_none(const char *worker_id, void *arg)
{
	(void)worker_id;
	(void)arg;
	return 0;
}

static int
ids_has(const struct dispatch_ids *ids, const char *id)
{
	size_t	 i;

	for (i = 0; i < ids->n; i++)
		if (strcmp(ids->id[i], id) == 0)
			return 1;
	return 0;
}

/* Wake the execution's due waits and advance what they find, as pushd's
 * timer does. */
static void
wake_due(const char *execution_id)
{
	struct dispatch_ids	 ids;
	size_t			 n;

	memset(&ids, 0, sizeof(ids));
	db_exec(db, sql_wake_past, NULL, "s", execution_id);
	dispatch_due_waits(db, &ids);
	for (n = 0; n < ids.n; n++)
		engine_advance(db, ids.id[n], &err);
	dispatch_ids_clear(&ids);
}

static void
result_init(struct dispatch_result *r, const char *cid, long long code)
{
	memset(r, 0, sizeof(*r));
	r->command_id = cid;
	r->success = code == 0;
	r->has_exit_code = 1;
	r->exit_code = code;
	r->text[0] = "out\n";
	r->textlen[0] = 4;
	r->has_duration = 1;
	r->duration_ms = 7;
}

/* Is there a cancel_command for cid among cmds? */
static int
has_cancel(const struct dispatch_cmd *cmds, size_t n, const char *cid)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (cmds[i].cancel && strcmp(cmds[i].id, cid) == 0)
			return 1;
	return 0;
}

/* Start one execution of wf and claim its commands: how many. */
static size_t
start_claim(const char *wf, char ex[ID_LEN + 1], struct dispatch_cmd **cmds)
{
	size_t	 n = 0;

	if (engine_start(db, wf, "tester", ex, &err) == -1)
		fprintf(stderr, "# start: %s\n", err.msg);
	if (dispatch_claim(db, NODE, GRACE, held_all, NULL, cmds, &n) == -1)
		fprintf(stderr, "# claim: %s\n", db_errmsg(db));
	return n;
}

int
main(void)
{
	char			 wf[ID_LEN + 1], wf1[ID_LEN + 1],
				 ex[ID_LEN + 1], ex2[ID_LEN + 1],
				 wa[ID_LEN + 1], wb[ID_LEN + 1], wc[ID_LEN + 1],
				 wd[ID_LEN + 1], replaced[ID_LEN + 1],
				 other[ID_LEN + 1], exec_out[ID_LEN + 1],
				 cid[ID_LEN + 1], b64[64];
	struct dispatch_cmd	*cmds = NULL;
	struct dispatch_result	 res;
	struct dispatch_chunk	 ch[4];
	struct dispatch_worker	 w;
	struct dispatch_ids	 ids = { NULL, 0 };
	enum dispatch_code	 code;
	const char		*running[1];
	char			*out[2];
	size_t			 n, len[2], i;
	char			 many[140];
	int			 conflict;

	db = dbtest_open();
	db_exec(db, sql_clean, NULL, "");
	db_exec(db, sql_wf_clean, NULL, "");
	id_new(wa);
	id_new(wb);
	id_new(other);
	db_exec(db, sql_worker, NULL, "sss", wa, "td-a", NODE);
	db_exec(db, sql_worker, NULL, "sss", wb, "td-b", "td-elsewhere");

	/* Claim: only this node's workers, each command once. */
	workflow(wf, "{\"steps\":[{\"name\":\"Run\",\"type\":\"execute\","
	    "\"targets\":[\"td-a\",\"td-b\"],\"command\":\"echo x\","
	    "\"timeout\":60000}]}");
	n = start_claim(wf, ex, &cmds);
	test_cond("claim takes only the worker attached to this node",
	    n == 1 && strcmp(cmds[0].worker_id, wa) == 0 &&
	    strcmp(cmds[0].command, "echo x") == 0 &&
	    cmds[0].timeout_ms == 60000 && cmds[0].step_index == 0 &&
	    cmds[0].attempt == 1 && strcmp(cmds[0].execution_id, ex) == 0);
	test_cond("claimed: sent with a deadline; the other still queued",
	    strcmp(disp(ex, 0, 1), "sent") == 0 &&
	    strcmp(disp(ex, 0, 7), "1") == 0 &&
	    strcmp(disp(ex, 1, 1), "queued") == 0);
	test_cond("a dispatch_status 'sent' event",
	    events(ex, "dispatch_status", "sent") == 1);
	strlcpy_p(cid, n == 1 ? cmds[0].id : "", sizeof(cid));
	/*
	 * A claim whose COMMIT's answer was lost: what it claimed is checked
	 * before the next claim; the one marked sent (its worker here) is
	 * kept to be sent, one still queued (this one's worker is elsewhere,
	 * as an uncommitted claim leaves its rows) is dropped.
	 */
	if (n == 1) {
		struct dispatch_cmd	*u = xcalloc(3, sizeof(*u));
		size_t			 nu = 3;

		u[0] = cmds[0];
		u[0].command = xstrdup(cmds[0].command);
		strlcpy_p(u[1].id, disp(ex, 1, 0), sizeof(u[1].id));
		u[1].command = xstrdup("echo x");
		u[2] = u[0];
		u[2].command = xstrdup(cmds[0].command);
		strlcpy_p(u[0].id, "00000000-0000-4000-8000-000000000000",
		    sizeof(u[0].id));
		test_cond("after a lost COMMIT: only what it marked sent, for "
		    "a worker still here, is sent",
		    dispatch_claimed(db, NODE, u, &nu) == 0 && nu == 1 &&
		    strcmp(u[0].id, cid) == 0 && u[0].command != NULL &&
		    u[1].command == NULL && u[2].command == NULL);
		test_cond("... for a worker attached elsewhere, nothing",
		    dispatch_claimed(db, "td-elsewhere", u, &nu) == 0 &&
		    nu == 0 && u[0].command == NULL);
		dispatch_cmds_free(u, 3);
	}
	dispatch_cmds_free(cmds, n);
	test_cond("claiming again sends nothing twice",
	    dispatch_claim(db, NODE, GRACE, held_all, NULL, &cmds, &n) == 0 &&
	    n == 0);
	dispatch_cmds_free(cmds, n);
	/* Galera: two nodes' claims conflict only on rows both write. */
	test_cond("a claim wrote its worker's row; the other worker's not",
	    strcmp(cell(sql_claim_rev, "s", wa, NULL, NULL, 0, 0), "1") == 0 &&
	    strcmp(cell(sql_claim_rev, "s", wb, NULL, NULL, 0, 0), "0") == 0);
	{
		char	 rev[32], at[64];

		strlcpy_p(rev, cell(sql_lock_rev, "s", ex, NULL, NULL, 0, 0),
		    sizeof(rev));
		strlcpy_p(at, cell(sql_lock_rev, "s", ex, NULL, NULL, 0, 1),
		    sizeof(at));
		engine_advance(db, ex, &err);
		test_cond("an engine call writes the row it locks (lock_rev), "
		    "leaving updated_at as it was",
		    atoll(cell(sql_lock_rev, "s", ex, NULL, NULL, 0, 0)) ==
		    atoll(rev) + 1 && strcmp(cell(sql_lock_rev, "s", ex, NULL,
		    NULL, 0, 1), at) == 0);
	}

	/* Started. */
	dispatch_started(db, wb, cid, NULL, GRACE, &code);
	test_cond("command_started from another worker is foreign",
	    code == DISPATCH_FOREIGN);
	dispatch_started(db, wa, cid, other, GRACE, &code);
	test_cond("command_started naming another execution is foreign",
	    code == DISPATCH_FOREIGN);
	test_cond("command_started: running",
	    dispatch_started(db, wa, cid, ex, GRACE, &code) == 0 &&
	    code == DISPATCH_OK && strcmp(disp(ex, 0, 1), "running") == 0);
	dispatch_started(db, wa, cid, NULL, GRACE, &code);
	test_cond("command_started twice changes nothing",
	    code == DISPATCH_STALE &&
	    events(ex, "dispatch_status", "running") == 1);

	/* Output chunks. */
	memset(ch, 0, sizeof(ch));
	ch[0] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT, 0, "hel", 3,
	    DISPATCH_OK };
	ch[1] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT, 3, "lo", 2,
	    DISPATCH_OK };
	ch[2] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT, 0, "hel", 3,
	    DISPATCH_OK };
	ch[3] = (struct dispatch_chunk){ wb, cid, DISPATCH_STDERR, 0, "x", 1,
	    DISPATCH_OK };
	test_cond("chunks stored once each, a replay is stale, another "
	    "worker's is foreign", dispatch_output(db, ch, 4, GRACE) == 0 &&
	    ch[0].code == DISPATCH_OK && ch[1].code == DISPATCH_OK &&
	    ch[2].code == DISPATCH_STALE && ch[3].code == DISPATCH_FOREIGN);
	test_cond("one command_output event per stored chunk",
	    events(ex, "command_output", NULL) == 2);
	test_cond("live output assembled from the chunks",
	    dispatch_live_output(db, cid, out, len) == 0 && len[0] == 5 &&
	    memcmp(out[0], "hello", 5) == 0 && out[1] == NULL);
	free(out[0]);
	free(out[1]);
	/* A chunk lost in flight leaves a hole: only the prefix is shown,
	 * until the missing chunk arrives (a resend) and joins them. */
	ch[0] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT, 9, "after", 5,
	    DISPATCH_OK };
	dispatch_output(db, ch, 1, GRACE);
	test_cond("bytes after a hole are not shown at the wrong offset",
	    dispatch_live_output(db, cid, out, len) == 0 && len[0] == 5 &&
	    memcmp(out[0], "hello", 5) == 0);
	free(out[0]);
	free(out[1]);
	ch[0] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT, 5, " wo ", 4,
	    DISPATCH_OK };
	dispatch_output(db, ch, 1, GRACE);
	test_cond("the filled hole joins the rest",
	    dispatch_live_output(db, cid, out, len) == 0 && len[0] == 14 &&
	    memcmp(out[0], "hello wo after", 14) == 0);
	free(out[0]);
	free(out[1]);
	/* Overlaps store only what is new (issue 12: they passed the cap). */
	ch[0] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT, 1,
	    "ello wo", 7, DISPATCH_OK };
	ch[1] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT, 12,
	    "erXYZ", 5, DISPATCH_OK };
	test_cond("a chunk inside stored ones is stale, one past them adds its "
	    "tail", dispatch_output(db, ch, 2, GRACE) == 0 &&
	    ch[0].code == DISPATCH_STALE && ch[1].code == DISPATCH_OK &&
	    strcmp(cell(sql_chunk_bytes, "s", cid, NULL, NULL, 0, 0),
	    "17") == 0);
	test_cond("overlapping chunks read back in place",
	    dispatch_live_output(db, cid, out, len) == 0 && len[0] == 17 &&
	    memcmp(out[0], "hello wo afterXYZ", 17) == 0);
	free(out[0]);
	free(out[1]);
	/*
	 * One chunk over many small stored ones fills the gaps it was
	 * checked against (64 stored chunks) and nothing past them.
	 */
	for (i = 0; i < 70; i++) {
		ch[0] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDERR,
		    (long long)i * 2, "e", 1, DISPATCH_OK };
		dispatch_output(db, ch, 1, GRACE);
	}
	memset(many, 'f', sizeof(many));
	ch[0] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDERR, 0, many,
	    sizeof(many), DISPATCH_OK };
	test_cond("a chunk over 70 small ones fills the 63 gaps among the "
	    "first 64", dispatch_output(db, ch, 1, GRACE) == 0 &&
	    ch[0].code == DISPATCH_OK &&
	    strcmp(cell(sql_chunk_bytes, "s", cid, NULL, NULL, 0, 0),
	    "150") == 0 && dispatch_live_output(db, cid, out, len) == 0 &&
	    len[1] == 127 && out[1][125] == 'f' && out[1][126] == 'e');
	free(out[0]);
	free(out[1]);

	/* Results. */
	result_init(&res, cid, 0);
	dispatch_record(db, wb, &res, &code, exec_out);
	test_cond("a result from another worker is foreign",
	    code == DISPATCH_FOREIGN && strcmp(disp(ex, 0, 1), "running") == 0);
	res.execution_id = other;
	dispatch_record(db, wa, &res, &code, exec_out);
	test_cond("a result naming another execution is foreign",
	    code == DISPATCH_FOREIGN);
	res.execution_id = ex;
	res.b64[0] = "!!!!";
	res.b64len[0] = 4;
	dispatch_record(db, wa, &res, &code, exec_out);
	test_cond("bad base64 is malformed and stores nothing",
	    code == DISPATCH_MALFORMED &&
	    strcmp(disp(ex, 0, 1), "running") == 0);
	/* Exact bytes (not UTF-8) travel as base64. */
	n = base64_encode("\xff\x00" "bin", 5, b64);
	res.b64[0] = b64;
	res.b64len[0] = n;
	res.has_bytes[0] = 1;
	res.bytes[0] = 5000;
	res.truncated[0] = 1;
	test_cond("result recorded", dispatch_record(db, wa, &res, &code,
	    exec_out) == 0 && code == DISPATCH_OK &&
	    strcmp(exec_out, ex) == 0);
	{
		struct db_res	*r = NULL;

		db_exec(db, sql_disp, &r, "s", ex);
		test_cond("stored: succeeded, exit 0, exact bytes, true size",
		    strcmp(db_res_get(r, 0, 1), "succeeded") == 0 &&
		    strcmp(db_res_get(r, 0, 3), "0") == 0 &&
		    db_res_len(r, 0, 4) == 5 &&
		    memcmp(db_res_get(r, 0, 4), "\xff\x00" "bin", 5) == 0 &&
		    strcmp(db_res_get(r, 0, 5), "5000") == 0);
		db_res_free(r);
	}
	test_cond("chunks cleared once the result is stored",
	    strcmp(cell(sql_chunks, "s", cid, NULL, NULL, 0, 0), "0") == 0);
	test_cond("a duplicate result is stale (acked, nothing changes)",
	    dispatch_record(db, wa, &res, &code, exec_out) == 0 &&
	    code == DISPATCH_STALE &&
	    events(ex, "dispatch_status", "succeeded") == 1);
	res.command_id = "00000000-0000-4000-8000-000000000000";
	dispatch_record(db, wa, &res, &code, exec_out);
	test_cond("a result for no command at all is unknown (acked, "
	    "dropped)", code == DISPATCH_UNKNOWN);

	/* The worker that never came: lost after timeout + grace. */
	db_exec(db, sql_old_queue, NULL, "s", ex);
	test_cond("expire", dispatch_expire(db, GRACE, &ids, NULL, NULL) ==
	    0);
	test_cond("a queued command no worker took is lost, with why",
	    strcmp(disp(ex, 1, 1), "lost") == 0 &&
	    strstr(disp(ex, 1, 6), "never took") != NULL);
	engine_advance(db, ex, &err);
	test_cond("its step and execution fail",
	    strcmp(cell(sql_exec, "s", ex, NULL, NULL, 0, 0), "failed") == 0 &&
	    strstr(cell(sql_exec, "s", ex, NULL, NULL, 0, 1), "lost") != NULL);
	dispatch_ids_clear(&ids);

	/* A worker not held here gets nothing. */
	workflow(wf1, "{\"steps\":[{\"name\":\"Run\",\"type\":\"execute\","
	    "\"targets\":[\"td-a\"],\"command\":\"sleep 1\","
	    "\"timeout\":60000}]}");
	engine_start(db, wf1, "tester", ex, &err);
	test_cond("a worker not connected here is not sent to",
	    dispatch_claim(db, NODE, GRACE, held_none, NULL, &cmds, &n) == 0 &&
	    n == 0 && strcmp(disp(ex, 0, 1), "queued") == 0);
	dispatch_cmds_free(cmds, n);

	/* Deadline: output so far kept, lost, a late result changes nothing. */
	dispatch_claim(db, NODE, GRACE, held_all, NULL, &cmds, &n);
	strlcpy_p(cid, n == 1 ? cmds[0].id : "", sizeof(cid));
	dispatch_cmds_free(cmds, n);
	ch[0] = (struct dispatch_chunk){ wa, cid, DISPATCH_STDERR, 0, "partial",
	    7, DISPATCH_OK };
	dispatch_output(db, ch, 1, GRACE);
	test_cond("output implies started",
	    strcmp(disp(ex, 0, 1), "running") == 0);
	db_exec(db, sql_old_deadline, NULL, "s", cid);
	dispatch_expire(db, GRACE, &ids, &cmds, &n);
	test_cond("past its deadline: lost, with why",
	    strcmp(disp(ex, 0, 1), "lost") == 0 &&
	    strstr(disp(ex, 0, 6), "deadline") != NULL &&
	    events(ex, "dispatch_status", "lost") == 1);
	test_cond("... and a cancel_command for it, whatever the socket does",
	    has_cancel(cmds, n, cid));
	dispatch_cmds_free(cmds, n);
	{
		struct json_object *rep = NULL, *d = NULL;

		report_execution(db, ex, &rep);
		if (rep != NULL)
			d = json_object_array_get_idx(json_object_object_get(
			    json_object_array_get_idx(json_object_object_get(
			    rep, "steps"), 0), "dispatches"), 0);
		test_cond("a lost command keeps the output it sent",
		    d != NULL && strcmp(json_object_get_string(
		    json_object_object_get(d, "stderr")), "partial") == 0);
		json_object_put(rep);
	}
	result_init(&res, cid, 0);
	test_cond("a result after the deadline is stale, never a success",
	    dispatch_record(db, wa, &res, &code, exec_out) == 0 &&
	    code == DISPATCH_STALE && strcmp(disp(ex, 0, 1), "lost") == 0);
	dispatch_ids_clear(&ids);

	/*
	 * A connected worker that never says it started: its deadline holds
	 * (issue 11: a wedged agent held an execution for ever).
	 */
	n = start_claim(wf1, ex, &cmds);
	strlcpy_p(cid, n == 1 ? cmds[0].id : "", sizeof(cid));
	dispatch_cmds_free(cmds, n);
	{
		const char *list[1] = { wa };

		test_cond("a command sent to a connected worker, not started: "
		    "its deadline stays put",
		    dispatch_worker_touch(db, NODE, list, 1) == 0 &&
		    strcmp(cell(sql_far_deadline, "s", cid, NULL, NULL, 0, 0),
		    "0") == 0);
	}
	db_exec(db, sql_old_deadline, NULL, "s", cid);
	dispatch_expire(db, GRACE, &ids, &cmds, &n);
	test_cond("never started by its deadline: timed_out, with why",
	    strcmp(disp(ex, 0, 1), "timed_out") == 0 &&
	    strstr(disp(ex, 0, 6), "never said it started") != NULL);
	test_cond("... and the worker is told to cancel it",
	    has_cancel(cmds, n, cid));
	dispatch_cmds_free(cmds, n);
	dispatch_ids_clear(&ids);
	{
		const char *list[1] = { cid };

		test_cond("a reconnect still listing it as running: it is "
		    "told to cancel it (the deadline's cancel had no socket)",
		    dispatch_redeliver(db, wa, list, 1, 1, GRACE, &cmds, &n) ==
		    0 && has_cancel(cmds, n, cid));
		dispatch_cmds_free(cmds, n);
	}
	result_init(&res, cid, 0);
	test_cond("a late result changes nothing",
	    dispatch_record(db, wa, &res, &code, exec_out) == 0 &&
	    code == DISPATCH_STALE && strcmp(disp(ex, 0, 1), "timed_out") ==
	    0);

	/* SPEC section 6's command_result has no command_id. */
	n = start_claim(wf1, ex, &cmds);
	strlcpy_p(cid, n == 1 ? cmds[0].id : "", sizeof(cid));
	dispatch_cmds_free(cmds, n);
	result_init(&res, NULL, 0);
	res.execution_id = other;
	dispatch_record(db, wa, &res, &code, exec_out);
	test_cond("without command_id, for an execution with nothing open "
	    "here: unknown", code == DISPATCH_UNKNOWN &&
	    strcmp(disp(ex, 0, 1), "sent") == 0);
	res.execution_id = ex;
	res.has_step = 1;
	res.step_index = 5;
	dispatch_record(db, wa, &res, &code, exec_out);
	test_cond("... or for another step_index: unknown",
	    code == DISPATCH_UNKNOWN);
	res.step_index = 0;
	dispatch_record(db, wb, &res, &code, exec_out);
	test_cond("... from a worker it was not sent to: unknown",
	    code == DISPATCH_UNKNOWN && strcmp(disp(ex, 0, 1), "sent") == 0);
	test_cond("without command_id, its one open command is found",
	    dispatch_record(db, wa, &res, &code, exec_out) == 0 &&
	    code == DISPATCH_OK && strcmp(exec_out, ex) == 0 &&
	    strcmp(disp(ex, 0, 1), "succeeded") == 0);
	test_cond("... and the same again is stale, not unknown",
	    dispatch_record(db, wa, &res, &code, exec_out) == 0 &&
	    code == DISPATCH_STALE);

	/* Exit codes, timeouts, signals. */
	n = start_claim(wf1, ex, &cmds);
	result_init(&res, n == 1 ? cmds[0].id : "", 2);
	dispatch_record(db, wa, &res, &code, exec_out);
	test_cond("exit code 2: failed",
	    strcmp(disp(ex, 0, 1), "failed") == 0 &&
	    strcmp(disp(ex, 0, 3), "2") == 0);
	dispatch_cmds_free(cmds, n);
	n = start_claim(wf1, ex, &cmds);
	result_init(&res, n == 1 ? cmds[0].id : "", 0);
	res.has_exit_code = 0;
	res.success = 0;
	res.timed_out = 1;
	res.has_signal = 1;
	res.signal = 9;
	dispatch_record(db, wa, &res, &code, exec_out);
	test_cond("timed out: timed_out, with the signal",
	    strcmp(disp(ex, 0, 1), "timed_out") == 0 &&
	    strcmp(disp(ex, 0, 8), "9") == 0 &&
	    strstr(disp(ex, 0, 6), "timed out") != NULL);
	dispatch_cmds_free(cmds, n);
	/*
	 * It never ran: the worker's allow-list kept it from running (SPEC
	 * section 12: refused), or a bad env (issue 14: failed, no exit code).
	 * Its stderr is the reason kept as error, or one is made up for it.
	 */
	for (i = 0; i < sizeof(never_ran) / sizeof(never_ran[0]); i++) {
		const struct never_ran *t = &never_ran[i];

		n = start_claim(wf1, ex, &cmds);
		result_init(&res, n == 1 ? cmds[0].id : "", 0);
		res.has_exit_code = 0;
		res.success = 0;
		res.refused = t->refused;
		res.text[1] = t->stderr;
		res.textlen[1] = strlen(res.text[1]);
		test_cond(t->descr,
		    dispatch_record(db, wa, &res, &code, exec_out) == 0 &&
		    code == DISPATCH_OK &&
		    strcmp(disp(ex, 0, 1), t->status) == 0 &&
		    strcmp(disp(ex, 0, 6), t->error) == 0 &&
		    strcmp(disp(ex, 0, 3), "") == 0 &&
		    events(ex, "dispatch_status", t->status) == 1);
		dispatch_cmds_free(cmds, n);
	}

	/*
	 * A worker's reports as they come, interleaved, in one transaction
	 * (dispatch_reports): each gets the code it would get alone, and a
	 * foreign or undecodable one costs only itself.
	 */
	n = start_claim(wf1, ex, &cmds);
	strlcpy_p(cid, n == 1 ? cmds[0].id : "", sizeof(cid));
	dispatch_cmds_free(cmds, n);
	{
		struct dispatch_report	 rp[5];

		memset(rp, 0, sizeof(rp));
		rp[0].kind = DISPATCH_R_STARTED;
		rp[0].worker_id = wa;
		rp[0].command_id = cid;
		rp[1].kind = DISPATCH_R_CHUNK;
		rp[1].worker_id = wa;
		rp[1].chunk = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT,
		    0, "ok\n", 3, DISPATCH_OK };
		rp[2].kind = DISPATCH_R_STARTED;	/* someone else's */
		rp[2].worker_id = wb;
		rp[2].command_id = cid;
		rp[3].kind = DISPATCH_R_CHUNK;		/* did not decode */
		rp[3].worker_id = wa;
		rp[3].code = DISPATCH_MALFORMED;
		rp[3].chunk = (struct dispatch_chunk){ wa, cid, DISPATCH_STDOUT,
		    3, "", 0, DISPATCH_OK };
		result_init(&res, cid, 0);
		res.execution_id = ex;
		rp[4].kind = DISPATCH_R_RESULT;
		rp[4].worker_id = wa;
		rp[4].res = &res;
		test_cond("a mixed batch: started, output, foreign, malformed, "
		    "result", dispatch_reports(db, rp, 5, GRACE) == 0 &&
		    rp[0].code == DISPATCH_OK && rp[1].code == DISPATCH_OK &&
		    rp[2].code == DISPATCH_FOREIGN &&
		    rp[3].code == DISPATCH_MALFORMED &&
		    rp[4].code == DISPATCH_OK && strcmp(rp[4].exec, ex) == 0);
		test_cond("... each recorded: succeeded, its events once",
		    strcmp(disp(ex, 0, 1), "succeeded") == 0 &&
		    events(ex, "dispatch_status", "running") == 1 &&
		    events(ex, "command_output", NULL) == 1);
	}

	/* Redelivery on reconnect, then cancel. */
	n = start_claim(wf1, ex, &cmds);
	strlcpy_p(cid, n == 1 ? cmds[0].id : "", sizeof(cid));
	dispatch_cmds_free(cmds, n);
	test_cond("a worker without a journal is never sent it twice",
	    dispatch_redeliver(db, wa, NULL, 0, 0, GRACE, &cmds, &n) == 0 &&
	    n == 0 && strcmp(disp(ex, 0, 1), "sent") == 0);
	dispatch_cmds_free(cmds, n);
	test_cond("a sent command a journaling worker does not list is sent "
	    "again", dispatch_redeliver(db, wa, NULL, 0, 1, GRACE, &cmds,
	    &n) == 0 &&
	    n == 1 && !cmds[0].cancel && strcmp(cmds[0].id, cid) == 0 &&
	    cmds[0].attempt == 1);
	dispatch_cmds_free(cmds, n);
	running[0] = cid;
	test_cond("one it lists as running is marked so, not sent again",
	    dispatch_redeliver(db, wa, running, 1, 1, GRACE, &cmds, &n) ==
	    0 &&
	    n == 0 && strcmp(disp(ex, 0, 1), "running") == 0);
	dispatch_cmds_free(cmds, n);
	engine_cancel(db, ex, "tester", ENGINE_AS_ADMIN, &err, NULL);
	test_cond("cancel asks the worker",
	    dispatch_cancels(db, NODE, held_all, NULL, &cmds, &n) == 0 &&
	    n == 1 && cmds[0].cancel && strcmp(cmds[0].id, cid) == 0);
	dispatch_cmds_free(cmds, n);
	test_cond("each cancel is sent once",
	    dispatch_cancels(db, NODE, held_all, NULL, &cmds, &n) == 0 &&
	    n == 0);
	dispatch_cmds_free(cmds, n);
	test_cond("and again after a reconnect",
	    dispatch_redeliver(db, wa, running, 1, 1, GRACE, &cmds, &n) ==
	    0 &&
	    n == 1 && cmds[0].cancel);
	dispatch_cmds_free(cmds, n);
	result_init(&res, cid, 0);
	res.has_exit_code = 0;
	res.success = 0;
	res.has_signal = 1;
	res.signal = 15;
	dispatch_record(db, wa, &res, &code, exec_out);
	test_cond("its result after the cancel: cancelled",
	    code == DISPATCH_OK && strcmp(disp(ex, 0, 1), "cancelled") == 0);

	/* Wait steps and the sweep. */
	workflow(wf1, "{\"steps\":[{\"name\":\"Nap\",\"type\":\"wait\","
	    "\"duration\":3600000}]}");
	engine_start(db, wf1, "tester", ex2, &err);
	test_cond("a wait step is not due before its time",
	    dispatch_due_waits(db, &ids) == 0 && !ids_has(&ids, ex2));
	dispatch_ids_clear(&ids);
	wake_due(ex2);
	test_cond("once due it is found and the execution moves on",
	    strcmp(cell(sql_exec, "s", ex2, NULL, NULL, 0, 0),
	    "completed") == 0);
	/*
	 * A parallel group (issue 14) is the current step; its steps hold
	 * the timers and dispatches: one that waits keeps the execution out
	 * of the idle sweep, and its timer, once due, ends the group.
	 */
	workflow(wf1, "{\"steps\":[{\"name\":\"G\",\"type\":\"parallel\","
	    "\"steps\":[{\"name\":\"Nap\",\"type\":\"wait\","
	    "\"duration\":3600000}]}]}");
	engine_start(db, wf1, "tester", ex2, &err);
	db_exec(db, sql_exec_idle, NULL, "s", ex2);
	dispatch_sweep(db, 1, &ids);
	test_cond("a group whose step waits is not idle", !ids_has(&ids, ex2));
	dispatch_ids_clear(&ids);
	wake_due(ex2);
	test_cond("its step's timer ends the group and the execution",
	    strcmp(cell(sql_exec, "s", ex2, NULL, NULL, 0, 0),
	    "completed") == 0);
	n = start_claim(wf, ex, &cmds);
	dispatch_cmds_free(cmds, n);
	/* Results stored but never advanced (a crash between the two). */
	db_exec(db, sql_record_raw, NULL, "s", ex);
	db_exec(db, sql_exec_idle, NULL, "s", ex);
	dispatch_sweep(db, 1, &ids);
	for (n = 0; n < ids.n; n++)
		engine_advance(db, ids.id[n], &err);
	dispatch_ids_clear(&ids);
	test_cond("the sweep finishes what a crash left half done",
	    strcmp(cell(sql_exec, "s", ex, NULL, NULL, 0, 0),
	    "completed") == 0);

	/* Workers. */
	id_new(wc);
	memset(&w, 0, sizeof(w));
	w.id = wc;
	w.name = "td-c";
	w.version = "9.9";
	w.groups[0] = "td-g1";
	w.groups[1] = "td-g2";
	w.ngroups = 2;
	w.has_groups = 1;
	/* SPEC section 12: with the shared key a new worker is pending and
	 * granted nothing; a key that is not the worker's is refused. */
	id_new(wd);
	w.id = wd;
	w.name = "td-pending";
	test_cond("a new shared-key worker is pending",
	    dispatch_worker_online(db, NODE, &w, &conflict, replaced, &ids) ==
	    0 && !conflict && w.refused[0] == '\0' &&
	    strcmp(w.state, "pending") == 0);
	test_cond("... and granted none of the groups it asks for",
	    strcmp(cell(sql_worker_get, "s", wd, NULL, NULL, 0, 4), "0") == 0);
	w.key_hash = "00000000000000000000000000000000"
	    "00000000000000000000000000000000";
	test_cond("a key that is not its own is refused, saying why",
	    dispatch_worker_online(db, NODE, &w, &conflict, replaced, &ids) ==
	    0 && strcmp(w.refused, "unknown or revoked key") == 0);
	w.key_hash = NULL;
	db_exec(db, sql_worker_delete, NULL, "s", wd);
	/* The rest is version 1's behaviour: WORKER_AUTO_ACCEPT=true. */
	w.auto_accept = 1;
	w.id = wc;
	w.name = "td-c";
	test_cond("a new worker is recorded online, attached here",
	    dispatch_worker_online(db, NODE, &w, &conflict, replaced, &ids) == 0 &&
	    !conflict && strcmp(cell(sql_worker_get, "s", wc, NULL, NULL, 0,
	    0), "online") == 0 && strcmp(cell(sql_worker_get, "s", wc, NULL,
	    NULL, 0, 1), NODE) == 0);
	test_cond("its version and groups are kept",
	    strcmp(cell(sql_worker_get, "s", wc, NULL, NULL, 0, 2),
	    "9.9") == 0 && strcmp(cell(sql_worker_get, "s", wc, NULL, NULL,
	    0, 3), "2") == 0 && strcmp(cell(sql_worker_get, "s", wc, NULL,
	    NULL, 0, 4), "2") == 0);
	test_cond("and browsers hear of it",
	    atoi(cell(sql_worker_events, "ss", wc, "online", NULL, 0, 0)) ==
	    1);
	w.id = other;
	test_cond("its name under another worker_id is a conflict",
	    dispatch_worker_online(db, NODE, &w, &conflict, replaced, &ids) == 0 &&
	    conflict && strcmp(cell(sql_worker_get, "s", other, NULL, NULL, 0,
	    0), "") == 0);
	test_cond("offline from another node changes nothing",
	    dispatch_worker_offline(db, "td-elsewhere", wc) == 0 &&
	    strcmp(cell(sql_worker_get, "s", wc, NULL, NULL, 0, 0),
	    "online") == 0);
	test_cond("offline and detached from its node",
	    dispatch_worker_offline(db, NODE, wc) == 0 &&
	    strcmp(cell(sql_worker_get, "s", wc, NULL, NULL, 0, 0),
	    "offline") == 0 && strcmp(cell(sql_worker_get, "s", wc, NULL,
	    NULL, 0, 1), "") == 0 && atoi(cell(sql_worker_events, "ss", wc,
	    "offline", NULL, 0, 0)) == 1);
	w.id = wc;
	test_cond("a reconnect attaches it again",
	    dispatch_worker_online(db, NODE, &w, &conflict, replaced, &ids) == 0 &&
	    strcmp(cell(sql_worker_get, "s", wc, NULL, NULL, 0, 1),
	    NODE) == 0);
	db_exec(db, sql_worker_status, NULL, "ss", "offline", wc);
	{
		const char *list[1] = { wc };

		db_exec(db, sql_worker_old, NULL, "s", wc);
		test_cond("a connected worker is kept alive (and online)",
		    dispatch_worker_touch(db, NODE, list, 1) == 0 &&
		    strcmp(cell(sql_worker_get, "s", wc, NULL, NULL, 0, 5),
		    "1") == 0 && strcmp(cell(sql_worker_get, "s", wc, NULL,
		    NULL, 0, 0), "online") == 0);
	}
	db_exec(db, sql_worker_old, NULL, "s", wc);
	test_cond("a silent worker goes offline",
	    dispatch_workers_stale(db, 90, &n) == 0 &&
	    strcmp(cell(sql_worker_get, "s", wc, NULL, NULL, 0, 0),
	    "offline") == 0 && atoi(cell(sql_worker_events, "ss", wc,
	    "offline", NULL, 0, 0)) == 2);

	/*
	 * A new agent (a new worker_id) with the name of an offline worker
	 * takes it over (SPEC section 1: swap the program, keep the .env);
	 * the old row stays, renamed, and its open commands end lost.
	 */
	db_exec(db, sql_open_for, NULL, "ss", ex, wc);
	id_new(wd);
	w.id = wd;
	test_cond("a new worker_id takes the name of an offline worker",
	    dispatch_worker_online(db, NODE, &w, &conflict, replaced,
	    &ids) == 0 && !conflict && strcmp(replaced, wc) == 0 &&
	    strcmp(cell(sql_worker_get, "s", wd, NULL, NULL, 0, 0),
	    "online") == 0);
	test_cond("the old row is renamed, loses its groups, says by whom",
	    strcmp(cell(sql_worker_named, "s", wc, NULL, NULL, 0, 0),
	    "1") == 0 && strcmp(cell(sql_worker_get, "s", wc, NULL, NULL, 0,
	    4), "0") == 0 && strcmp(cell(sql_worker_named, "s", wc, NULL,
	    NULL, 0, 1), wd) == 0);
	test_cond("its open command ends lost, its execution to advance",
	    strcmp(cell(sql_open_status, "s", wc, NULL, NULL, 0, 0),
	    "lost") == 0 && ids_has(&ids, ex));
	dispatch_ids_clear(&ids);
	w.id = wc;
	test_cond("the old agent coming back is now the one refused",
	    dispatch_worker_online(db, NODE, &w, &conflict, replaced,
	    &ids) == 0 && conflict && replaced[0] == '\0');

	/* A pushd of this node died: its workers are attached to nothing. */
	test_cond("workers of an earlier run of this node are detached",
	    dispatch_worker_detach_others(db, NODE, held_none, NULL, &n) ==
	    0 && n >= 1 && strcmp(cell(sql_worker_get, "s", wd, NULL, NULL,
	    0, 1), "") == 0);
	db_exec(db, sql_worker_status, NULL, "ss", "online", wa);

	db_exec(db, sql_wf_clean, NULL, "");
	db_exec(db, sql_clean, NULL, "");
	db_free(db);
	config_free(&dbtest_cfg);
	mysql_library_end();
	test_report();
}
