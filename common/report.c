/*
 * Executions as JSON. Live reads assemble the view from the engine's
 * tables, so a reader sees every step and every worker's output while the
 * execution runs; the same view is frozen into executions.logs at the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "db.h"
#include "dispatch.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "report.h"
#include "workflow.h"

static const char sql_exec[] =
    "SELECT e.id, e.workflow_id, COALESCE(e.workflow_name, w.name), e.kind, "
    "e.status, e.started_by, e.started_at, e.completed_at, e.current_step, "
    "e.error, e.prompt_response, e.logs, e.workflow_version, e.params, "
    "e.phase, e.failed_steps, e.failure, e.parent_execution_id, "
    "e.parent_step, e.depth "
    "FROM executions e "
    "LEFT JOIN workflows w ON w.id = e.workflow_id WHERE e.id = ?";
static const char sql_steps[] =
    "SELECT step_index, name, type, status, reason, prompt, response, "
    "responded_by, responded_at, wake_at, started_at, finished_at, "
    "parent_index, phase, batch_index, batch_count, failures, targets "
    "FROM execution_steps WHERE execution_id = ? ORDER BY step_index";
static const char sql_definition[] =
    "SELECT definition FROM executions WHERE id = ?";
static const char sql_dispatches[] =
    "SELECT step_index, id, worker_id, worker_name, attempt, status, "
    "exit_code, `signal`, stdout, stdout_bytes, stdout_truncated, stderr, "
    "stderr_bytes, stderr_truncated, error, queued_at, sent_at, started_at, "
    "finished_at, duration_ms, batch, not_before FROM dispatches "
    "WHERE execution_id = ? ORDER BY step_index, worker_name, attempt";

/* A parent's sub-workflow executions (index on parent_execution_id). */
/*
 * The command each execute step ran, as its first dispatch holds it: with
 * its templates expanded (DESIGN.md section 9), the same on every target
 * and attempt of the step.
 */
static const char sql_commands[] =
    "SELECT d.step_index, d.command FROM dispatches d JOIN "
    "(SELECT MIN(id) AS id FROM dispatches WHERE execution_id = ? "
    "GROUP BY step_index) m ON m.id = d.id";
/* An approval (SPEC section 15): the plan frozen, and who decided. */
static const char sql_approval[] =
    "SELECT plan, plan_hash, approval, approval_expires_at FROM executions "
    "WHERE id = ?";
static const char sql_approvals[] =
    "SELECT approver, decision, comment, at FROM approvals "
    "WHERE execution_id = ? ORDER BY at, approver";
static const char sql_children[] =
    "SELECT parent_step, id, status, workflow_name FROM executions "
    "WHERE parent_execution_id = ? ORDER BY parent_step, started_at "
    "LIMIT 1000";

static struct json_object *
int_or_null(const struct db_res *r, size_t row, size_t col)
{
	if (db_res_get(r, row, col) == NULL)
		return NULL;
	return json_object_new_int64(db_res_int(r, row, col, 0));
}

static struct json_object *
str(const struct db_res *r, size_t row, size_t col)
{
	return pjson_string_or_null(db_res_get(r, row, col));
}

/*
 * One stream's output, stored once the result is in, else what streamed:
 * at most cap bytes, cut before a UTF-8 character rather than inside one;
 * *more says the view holds less than there is.
 */
struct json_object *
report_text(const char *p, size_t n, size_t cap, int *more)
{
	*more = n > cap;
	if (*more) {
		n = cap;
		while (n > 0 && ((unsigned char)p[n] & 0xc0) == 0x80)
			n--;
	}
	if (p == NULL || n == 0)
		return json_object_new_string("");
	return pjson_text(p, n);
}

static struct json_object *
output_json(const struct db_res *d, size_t i, size_t col, const char *live,
    size_t livelen, size_t cap, int *more)
{
	if (db_res_get(d, i, col) != NULL)
		return report_text(db_res_get(d, i, col), db_res_len(d, i, col),
		    cap, more);
	return report_text(live, livelen, cap, more);
}

static struct json_object *
dispatch_json(struct db *db, const struct db_res *d, size_t i,
    const char *execution_id, size_t cap)
{
	struct json_object *o = json_object_new_object();
	const char	*status = db_res_get(d, i, 5);
	char		*live[2] = { NULL, NULL }, url[128];
	size_t		 livelen[2] = { 0, 0 };
	int		 running, more[2];

	/*
	 * A command still running shows what it printed so far (nothing if
	 * that cannot be read: the report itself still stands).
	 */
	running = strcmp(status, "sent") == 0 || strcmp(status, "running") == 0;
	if (running)
		dispatch_live_output(db, db_res_get(d, i, 1), live, livelen);

	json_object_object_add(o, "id", str(d, i, 1));
	json_object_object_add(o, "worker_id", str(d, i, 2));
	json_object_object_add(o, "worker_name", str(d, i, 3));
	json_object_object_add(o, "attempt", int_or_null(d, i, 4));
	json_object_object_add(o, "status", str(d, i, 5));
	json_object_object_add(o, "exit_code", int_or_null(d, i, 6));
	json_object_object_add(o, "signal", int_or_null(d, i, 7));
	json_object_object_add(o, "stdout", output_json(d, i, 8, live[0],
	    livelen[0], cap, &more[0]));
	json_object_object_add(o, "stdout_bytes", running ?
	    json_object_new_int64((long long)livelen[0]) :
	    int_or_null(d, i, 9));
	json_object_object_add(o, "stdout_truncated",
	    json_object_new_boolean(db_res_int(d, i, 10, 0) != 0));
	json_object_object_add(o, "stderr", output_json(d, i, 11, live[1],
	    livelen[1], cap, &more[1]));
	json_object_object_add(o, "stderr_bytes", running ?
	    json_object_new_int64((long long)livelen[1]) :
	    int_or_null(d, i, 12));
	json_object_object_add(o, "stderr_truncated",
	    json_object_new_boolean(db_res_int(d, i, 13, 0) != 0));
	json_object_object_add(o, "error", str(d, i, 14));
	json_object_object_add(o, "queued_at", pjson_time(db_res_get(d, i, 15)));
	json_object_object_add(o, "sent_at", pjson_time(db_res_get(d, i, 16)));
	json_object_object_add(o, "started_at",
	    pjson_time(db_res_get(d, i, 17)));
	json_object_object_add(o, "finished_at",
	    pjson_time(db_res_get(d, i, 18)));
	json_object_object_add(o, "duration_ms", int_or_null(d, i, 19));
	json_object_object_add(o, "batch", int_or_null(d, i, 20));
	/* A retry is not sent before this (null: at once). */
	json_object_object_add(o, "not_before",
	    pjson_time(db_res_get(d, i, 21)));
	/* Past what this view carries: the rest, a piece at a time. */
	json_object_object_add(o, "stdout_more",
	    json_object_new_boolean(more[0]));
	json_object_object_add(o, "stderr_more",
	    json_object_new_boolean(more[1]));
	if (more[0] || more[1]) {
		snprintf(url, sizeof(url), "/api/executions/%s/output",
		    execution_id);
		json_object_object_add(o, "output_url",
		    json_object_new_string(url));
	}
	free(live[0]);
	free(live[1]);
	return o;
}

/*
 * The execution's definition as run, to say each step's on_failure:
 * *wf NULL if there is none that reads (the steps then say "fail"); -1
 * only for a database error, which must not pass for "no definition"
 * (under engine_finish it is the transaction's end).
 */
static int
load_workflow(struct db *db, const char *id, struct workflow **wf)
{
	struct db_res		*res;
	struct json_object	*def = NULL;
	char			 perr[64];

	*wf = NULL;
	if (db_exec(db, sql_definition, &res, "s", id) == -1)
		return -1;
	if (db_res_rows(res) == 1 && db_res_get(res, 0, 0) != NULL)
		def = pjson_parse(db_res_get(res, 0, 0), db_res_len(res, 0, 0),
		    API_JSON_DEPTH, perr, sizeof(perr));
	if (def != NULL && workflow_from_json(def, wf, NULL) == -1)
		*wf = NULL;
	json_object_put(def);
	db_res_free(res);
	return 0;
}

/*
 * A batched step's progress (issue 14): null for a step without batches,
 * else the batch running (1-based), how many, the failed targets so far,
 * max_failures as a count and each batch's size, from the targets stored
 * when it began (each names its batch) and its `batch` in the plan.
 */
static struct json_object *
batch_json(const struct db_res *s, size_t i, const struct step *st)
{
	struct json_object	*o, *targets, *sizes;
	size_t			 j, n;
	uint32_t		 k, count;
	long long		 max = 0;
	char			 perr[64];

	if (db_res_get(s, i, 14) == NULL || db_res_get(s, i, 17) == NULL)
		return NULL;
	targets = pjson_parse(db_res_get(s, i, 17), db_res_len(s, i, 17), 4,
	    perr, sizeof(perr));
	n = targets != NULL && json_object_is_type(targets, json_type_array) ?
	    json_object_array_length(targets) : 0;
	count = (uint32_t)db_res_int(s, i, 15, 0);
	if (count > PULSE_BATCH_SIZE_MAX)
		count = 0;
	sizes = json_object_new_array();
	for (k = 1; k <= count; k++) {
		long long c = 0, bk;

		for (j = 0; j < n; j++)
			if (pjson_get_int(json_object_array_get_idx(targets, j),
			    "batch", &bk) == 1 && bk == k)
				c++;
		json_object_array_add(sizes, json_object_new_int64(c));
	}
	json_object_put(targets);
	if (st != NULL && st->has_batch)
		max = batch_max_failures(&st->batch, (uint32_t)n);
	o = json_object_new_object();
	json_object_object_add(o, "index", int_or_null(s, i, 14));
	json_object_object_add(o, "count", int_or_null(s, i, 15));
	json_object_object_add(o, "failures", int_or_null(s, i, 16));
	json_object_object_add(o, "max_failures", json_object_new_int64(max));
	json_object_object_add(o, "sizes", sizes);
	return o;
}

/* An execute step's retry (SPEC section 14), or NULL: none. The
 * dashboard says "attempt 2 of 4" from it. */
static struct json_object *
retry_json(const struct step *st)
{
	struct json_object	*o;

	if (st == NULL || st->type != STEP_EXECUTE || st->retry.attempts == 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "attempts",
	    json_object_new_int64(st->retry.attempts));
	json_object_object_add(o, "delay",
	    json_object_new_int64(st->retry.delay_ms));
	json_object_object_add(o, "backoff",
	    json_object_new_double(st->retry.backoff));
	json_object_object_add(o, "max_delay",
	    json_object_new_int64(st->retry.max_delay_ms));
	json_object_object_add(o, "lost",
	    json_object_new_boolean(st->retry_lost));
	return o;
}

static struct json_object *
steps_json(struct db *db, const struct db_res *s, const struct db_res *d,
    const char *execution_id, const struct workflow *wf, size_t cap)
{
	struct json_object	*steps = json_object_new_array();
	size_t			 i, j;

	for (i = 0; i < db_res_rows(s); i++) {
		struct json_object *o = json_object_new_object(), *prompt = NULL;
		const struct plan_entry *pe;
		const char	*type = db_res_get(s, i, 2);
		long long	 idx = db_res_int(s, i, 0, -1);
		char		 perr[64];

		json_object_object_add(o, "index", json_object_new_int64(idx));
		json_object_object_add(o, "name", str(s, i, 1));
		json_object_object_add(o, "type", str(s, i, 2));
		json_object_object_add(o, "status", str(s, i, 3));
		json_object_object_add(o, "reason", str(s, i, 4));
		json_object_object_add(o, "parent_index", int_or_null(s, i, 12));
		json_object_object_add(o, "phase", str(s, i, 13));
		pe = wf != NULL ? workflow_plan_at(wf, (int)idx) : NULL;
		json_object_object_add(o, "on_failure", json_object_new_string(
		    pe != NULL && pe->st->on_failure_continue ? "continue" :
		    "fail"));
		if (db_res_get(s, i, 5) != NULL)
			prompt = pjson_parse(db_res_get(s, i, 5),
			    db_res_len(s, i, 5), API_JSON_DEPTH, perr,
			    sizeof(perr));
		if (strcmp(type, "prompt") == 0) {
			json_object_object_add(o, "prompt", prompt);
			json_object_object_add(o, "response", str(s, i, 6));
			json_object_object_add(o, "responded_by",
			    str(s, i, 7));
			json_object_object_add(o, "responded_at",
			    pjson_time(db_res_get(s, i, 8)));
		} else
			json_object_put(prompt);
		if (strcmp(type, "wait") == 0)
			json_object_object_add(o, "wake_at",
			    pjson_time(db_res_get(s, i, 9)));
		json_object_object_add(o, "started_at",
		    pjson_time(db_res_get(s, i, 10)));
		json_object_object_add(o, "finished_at",
		    pjson_time(db_res_get(s, i, 11)));
		if (strcmp(type, "execute") == 0) {
			struct json_object *ds = json_object_new_array();

			json_object_object_add(o, "batch",
			    batch_json(s, i, pe != NULL ? pe->st : NULL));
			for (j = 0; j < db_res_rows(d); j++)
				if (db_res_int(d, j, 0, -2) == idx)
					json_object_array_add(ds,
					    dispatch_json(db, d, j,
					    execution_id, cap));
			/* The groups view counts them instead (report-groups.c). */
			if (d != NULL)
				json_object_object_add(o, "dispatches", ds);
			else
				json_object_put(ds);
			json_object_object_add(o, "retry",
			    retry_json(pe != NULL ? pe->st : NULL));
		}
		json_object_array_add(steps, o);
	}
	return steps;
}

/* Each execute step's `command` as it ran (null before it began). */
static int
add_commands(struct db *db, const char *id, struct json_object *steps)
{
	struct db_res		*r;
	struct json_object	*st, *v;
	size_t			 i, j, n = json_object_array_length(steps);

	if (db_exec(db, sql_commands, &r, "s", id) == -1)
		return -1;
	for (j = 0; j < n; j++) {
		st = json_object_array_get_idx(steps, j);
		if (json_object_object_get_ex(st, "type", &v) &&
		    strcmp(json_object_get_string(v), "execute") == 0)
			json_object_object_add(st, "command", NULL);
	}
	for (i = 0; i < db_res_rows(r); i++)
		for (j = 0; j < n; j++) {
			st = json_object_array_get_idx(steps, j);
			if (!json_object_object_get_ex(st, "index", &v) ||
			    json_object_get_int64(v) != db_res_int(r, i, 0, -1))
				continue;
			json_object_object_add(st, "command",
			    str(r, i, 1));
		}
	db_res_free(r);
	return 0;
}

/*
 * The steps with at most stream_max bytes of each output and total of
 * them all: a step on many workers shows less of each (a 50 MB answer
 * once kept the API's children busy for everyone, and a frozen log past
 * max_allowed_packet kept an execution from ever ending; issue 12).
 */
static int
load_steps(struct db *db, const char *id, size_t stream_max, size_t total,
    int view, struct json_object **out)
{
	struct db_res		*s = NULL, *d = NULL;
	struct workflow		*wf;
	size_t			 cap;

	if (db_exec(db, sql_steps, &s, "s", id) == -1 ||
	    (view == REPORT_VIEW_FULL &&
	    db_exec(db, sql_dispatches, &d, "s", id) == -1) ||
	    load_workflow(db, id, &wf) == -1) {
		db_res_free(s);
		db_res_free(d);
		return -1;
	}
	cap = db_res_rows(d) > 0 ? total / (2 * db_res_rows(d)) : total;
	if (cap > stream_max)
		cap = stream_max;
	*out = steps_json(db, s, d, id, wf, cap);
	workflow_free(wf);
	db_res_free(s);
	db_res_free(d);
	if (add_commands(db, id, *out) == -1) {
		json_object_put(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
report_steps(struct db *db, const char *id, struct json_object **out)
{
	return load_steps(db, id, EXEC_LOG_STREAM, EXEC_LOG_TOTAL,
	    REPORT_VIEW_FULL, out);
}

/*
 * The sub-workflows (SPEC.md section 14): o's `children` [{id, step,
 * status, workflow_name}] and each step's child_execution_id and
 * child_status (null but on a workflow step that started one).
 */
static int
add_children(struct db *db, const char *id, struct json_object *o,
    struct json_object *steps)
{
	struct json_object	*a = json_object_new_array(), *c, *st;
	struct db_res		*r;
	size_t			 i, j, n = json_object_array_length(steps);
	long long		 idx;

	if (db_exec(db, sql_children, &r, "s", id) == -1) {
		json_object_put(a);
		return -1;
	}
	for (i = 0; i < n; i++) {
		st = json_object_array_get_idx(steps, i);
		json_object_object_add(st, "child_execution_id", NULL);
		json_object_object_add(st, "child_status", NULL);
	}
	for (i = 0; i < db_res_rows(r); i++) {
		idx = db_res_int(r, i, 0, -1);
		c = json_object_new_object();
		json_object_object_add(c, "id", str(r, i, 1));
		json_object_object_add(c, "step", json_object_new_int64(idx));
		json_object_object_add(c, "status", str(r, i, 2));
		json_object_object_add(c, "workflow_name", str(r, i, 3));
		json_object_array_add(a, c);
		for (j = 0; j < n; j++) {
			struct json_object *v;

			st = json_object_array_get_idx(steps, j);
			if (!json_object_object_get_ex(st, "index", &v) ||
			    json_object_get_int64(v) != idx)
				continue;
			json_object_object_add(st, "child_execution_id",
			    str(r, i, 1));
			json_object_object_add(st, "child_status",
			    str(r, i, 2));
		}
	}
	db_res_free(r);
	json_object_object_add(o, "children", a);
	return 0;
}

/*
 * plan (the object; its canonical bytes are what plan_hash is over),
 * plan_hash, approval {required, approvers, expires_in, expires_at} and
 * approvals [{approver, decision, comment, at}] by time: null and [] for
 * an execution that needed no approval.
 */
static int
add_approval(struct db *db, const char *id, struct json_object *o)
{
	struct db_res		*r, *d;
	struct json_object	*a = NULL, *list, *x;
	char			 perr[64];
	size_t			 i;

	if (db_exec(db, sql_approval, &r, "s", id) == -1)
		return -1;
	if (db_exec(db, sql_approvals, &d, "s", id) == -1) {
		db_res_free(r);
		return -1;
	}
	if (db_res_rows(r) > 0 && db_res_get(r, 0, 2) != NULL) {
		a = pjson_parse(db_res_get(r, 0, 2), db_res_len(r, 0, 2),
		    API_JSON_DEPTH, perr, sizeof(perr));
		if (a != NULL && json_object_is_type(a, json_type_object))
			json_object_object_add(a, "expires_at",
			    pjson_time(db_res_get(r, 0, 3)));
	}
	json_object_object_add(o, "plan", db_res_rows(r) > 0 &&
	    db_res_get(r, 0, 0) != NULL ? pjson_raw(db_res_get(r, 0, 0),
	    db_res_len(r, 0, 0)) : NULL);
	json_object_object_add(o, "plan_hash", db_res_rows(r) > 0 ?
	    str(r, 0, 1) : NULL);
	json_object_object_add(o, "approval", a);
	list = json_object_new_array();
	for (i = 0; i < db_res_rows(d); i++) {
		x = json_object_new_object();
		json_object_object_add(x, "approver", str(d, i, 0));
		json_object_object_add(x, "decision", str(d, i, 1));
		json_object_object_add(x, "comment", str(d, i, 2));
		json_object_object_add(x, "at", pjson_time(db_res_get(d, i, 3)));
		json_object_array_add(list, x);
	}
	json_object_object_add(o, "approvals", list);
	db_res_free(r);
	db_res_free(d);
	return 0;
}

int
report_execution(struct db *db, const char *id, struct json_object **out)
{
	return report_execution_view(db, id, REPORT_VIEW_FULL, out);
}

int
report_execution_view(struct db *db, const char *id, int view,
    struct json_object **out)
{
	struct json_object	*o, *steps, *prompt = NULL;
	struct db_res		*e = NULL;
	const char		*status;
	long long		 cur;

	if (db_exec(db, sql_exec, &e, "s", id) == -1)
		return -1;
	if (db_res_rows(e) == 0) {
		db_res_free(e);
		return 1;
	}
	if (load_steps(db, id, EXEC_VIEW_STREAM, EXEC_VIEW_TOTAL, view,
	    &steps) == -1) {
		db_res_free(e);
		return -1;
	}
	status = db_res_get(e, 0, 4);
	cur = db_res_int(e, 0, 8, 0);
	o = json_object_new_object();
	json_object_object_add(o, "id", str(e, 0, 0));
	json_object_object_add(o, "workflow_id", str(e, 0, 1));
	json_object_object_add(o, "workflow_name", str(e, 0, 2));
	/* The numbered version it ran (GET /api/workflows/:id/versions/:n);
	 * null: started before versions were kept, or a direct command. */
	json_object_object_add(o, "workflow_version", db_res_get(e, 0, 12) ?
	    json_object_new_int64(db_res_int(e, 0, 12, 0)) : NULL);
	json_object_object_add(o, "kind", str(e, 0, 3));
	json_object_object_add(o, "status", str(e, 0, 4));
	json_object_object_add(o, "started_by", str(e, 0, 5));
	json_object_object_add(o, "started_at", pjson_time(db_res_get(e, 0, 6)));
	json_object_object_add(o, "completed_at",
	    pjson_time(db_res_get(e, 0, 7)));
	json_object_object_add(o, "current_step", json_object_new_int64(cur));
	json_object_object_add(o, "error", str(e, 0, 9));
	json_object_object_add(o, "prompt_response", str(e, 0, 10));
	/* The values it was started with, resolved (checked JSON), or null. */
	json_object_object_add(o, "params", db_res_get(e, 0, 13) ?
	    pjson_raw(db_res_get(e, 0, 13), db_res_len(e, 0, 13)) : NULL);
	/* Failure handling (SPEC section 14): the phase it is in, the steps
	 * that failed and were let go, the failure on_failure steps answer. */
	json_object_object_add(o, "phase", str(e, 0, 14));
	json_object_object_add(o, "failed_steps", int_or_null(e, 0, 15));
	json_object_object_add(o, "failure", str(e, 0, 16));
	/* A sub-workflow's parent execution and step, and how deep it is. */
	json_object_object_add(o, "parent_execution_id", str(e, 0, 17));
	json_object_object_add(o, "parent_step", int_or_null(e, 0, 18));
	json_object_object_add(o, "depth",
	    json_object_new_int64(db_res_int(e, 0, 19, 0)));
	if (add_children(db, id, o, steps) == -1 ||
	    add_approval(db, id, o) == -1 ||
	    report_groups_add(db, id, steps, view) == -1) {
		json_object_put(o);
		json_object_put(steps);
		db_res_free(e);
		return -1;
	}
	/* The pending prompt, as the seed's execution_prompt message has it. */
	if (strcmp(status, "waiting") == 0 &&
	    cur < (long long)json_object_array_length(steps)) {
		struct json_object *st = json_object_array_get_idx(steps,
		    (size_t)cur), *p;

		if (json_object_object_get_ex(st, "prompt", &p) && p != NULL) {
			prompt = json_object_new_object();
			json_object_object_foreach(p, k, v)
				json_object_object_add(prompt, k,
				    json_object_get(v));
			json_object_object_add(prompt, "step",
			    json_object_new_int64(cur));
		}
	}
	json_object_object_add(o, "prompt", prompt);
	json_object_object_add(o, "steps", steps);
	/*
	 * The seed's field, which its scripts read: what was frozen into
	 * executions.logs when the execution ended (for rows the Node.js
	 * PULSE wrote, its own log), else the steps as they are now, which
	 * is what will be frozen. The column is checked JSON (json_valid).
	 */
	if (view == REPORT_VIEW_GROUPS)
		;	/* what the dashboard loads: the steps say it all */
	else if (db_res_get(e, 0, 11) != NULL)
		json_object_object_add(o, "logs", pjson_raw(db_res_get(e, 0, 11),
		    db_res_len(e, 0, 11)));
	else
		json_object_object_add(o, "logs", json_object_get(steps));
	db_res_free(e);
	*out = o;
	return 0;
}
