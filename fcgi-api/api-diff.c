/*
 * GET /api/executions/:a/diff/:b (SPEC section 17): what changed between
 * two executions, per step (matched by flat index) and per worker
 * (matched by name, the latest attempt of each): status, exit code and a
 * line diff of each output stream (common/linediff.c). Every read is
 * bounded: a step compares at most PULSE_DIFF_WORKERS_MAX workers, and a
 * request reads, searches and shows at most its PULSE_DIFF_* budgets;
 * past one, a stream says too_large and why instead of taking longer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "id.h"
#include "linediff.h"
#include "pjson.h"
#include "status.h"
#include "xmalloc.h"

static const char sql_exec[] =
    "SELECT e.id, e.workflow_id, COALESCE(e.workflow_name, w.name), "
    "e.workflow_version, e.status, e.started_at "
    "FROM executions e LEFT JOIN workflows w ON w.id = e.workflow_id "
    "WHERE e.id = ?";
static const char sql_steps[] =
    "SELECT step_index, name, status FROM execution_steps "
    "WHERE execution_id = ? ORDER BY step_index LIMIT ?";
/* The latest attempt of each worker of one step; one more row than the
 * ceiling, to know it is past. (A join on the step's MAX(attempt) per
 * name: a correlated subquery took 0.85 s for 1,000 workers, this 0.08.)
 * With the hashes stored with each result (sql/012): equal outputs are
 * compared here, in C, without reading them or a query a worker. */
static const char sql_workers[] =
    "SELECT d.id, d.worker_name, d.status, d.exit_code, d.stdout_bytes, "
    "d.stderr_bytes, d.stdout_truncated, d.stderr_truncated, "
    "d.stdout_sha256, d.stderr_sha256 "
    "FROM dispatches d JOIN (SELECT worker_name, MAX(attempt) AS attempt "
    "FROM dispatches WHERE execution_id = ? AND step_index = ? "
    "GROUP BY worker_name) l ON l.worker_name = d.worker_name "
    "AND l.attempt = d.attempt "
    "WHERE d.execution_id = ? AND d.step_index = ? "
    "ORDER BY d.worker_name, d.id LIMIT ?";
/* Column names cannot be parameters: one statement per stream. */
static const char *const sql_stream[2] = {
    "SELECT stdout FROM dispatches WHERE id = ?",
    "SELECT stderr FROM dispatches WHERE id = ?",
};
static const char *const stream_names[2] = { "stdout", "stderr" };

struct diff_worker {
	const char	*id, *name, *status, *exit_code;	/* into res */
	const char	*sha[2];	/* NULL: not stored (version 1) */
	long long	 bytes[2];
	int		 truncated[2];
	int		 final;		/* ended: its output is all there */
};

struct diff_step {
	struct db_res		*res;
	struct diff_worker	*w;
	size_t			 n;
};

/*
 * What one request may still spend (the PULSE_DIFF_* budgets). Once one
 * is spent, spent says which and everything after answers too_large
 * with it, reading nothing more.
 */
struct diff_budget {
	long long		 bytes;
	unsigned long long	 work;
	long long		 lines;
	long long		 pairs;
	char			 spent[160];
};

static void
diff_step_free(struct diff_step *s)
{
	db_res_free(s->res);
	free(s->w);
	memset(s, 0, sizeof(*s));
}

static int
worker_cmp(const void *x, const void *y)
{
	const struct diff_worker *a = x, *b = y;

	int c = strcmp(a->name, b->name);

	/* Ties by id: which of two same-named rows is kept is then fixed. */
	return c != 0 ? c : strcmp(a->id, b->id);
}

/* The step's workers, sorted by name (bytes, as the merge compares);
 * 1 when there are more than PULSE_DIFF_WORKERS_MAX, -1 db error. */
static int
diff_step_load(struct db *db, const char *eid, long long index,
    struct diff_step *s)
{
	enum dispatch_status	 st;
	size_t			 i, n;

	memset(s, 0, sizeof(*s));
	if (db_exec(db, sql_workers, &s->res, "sisii", eid, index, eid,
	    index, (long long)PULSE_DIFF_WORKERS_MAX + 1) == -1)
		return -1;
	n = db_res_rows(s->res);
	if (n > PULSE_DIFF_WORKERS_MAX)
		return 1;
	s->w = xcalloc(n + 1, sizeof(*s->w));
	for (i = 0; i < n; i++) {
		struct diff_worker *w = &s->w[i];

		w->id = db_res_get(s->res, i, 0);
		w->name = db_res_get(s->res, i, 1);
		w->status = db_res_get(s->res, i, 2);
		w->exit_code = db_res_get(s->res, i, 3);
		w->bytes[0] = db_res_int(s->res, i, 4, 0);
		w->bytes[1] = db_res_int(s->res, i, 5, 0);
		w->truncated[0] = db_res_int(s->res, i, 6, 0) != 0;
		w->truncated[1] = db_res_int(s->res, i, 7, 0) != 0;
		w->sha[0] = db_res_get(s->res, i, 8);
		w->sha[1] = db_res_get(s->res, i, 9);
		w->final = dispatch_status_from(w->status, &st) == 0 &&
		    dispatch_status_final(st);
	}
	qsort(s->w, n, sizeof(*s->w), worker_cmp);
	/* Two workers of one name (one enrolled again): the one of lower id
	 * only, or the merge would pair one name twice. */
	for (i = 0; i < n; i++)
		if (s->n == 0 || strcmp(s->w[s->n - 1].name, s->w[i].name) != 0)
			s->w[s->n++] = s->w[i];
	return 0;
}

static struct json_object *
diff_too_large(struct json_object *o, const char *reason)
{
	json_object_object_add(o, "same", json_object_new_boolean(0));
	json_object_object_add(o, "too_large", json_object_new_boolean(1));
	json_object_object_add(o, "reason", json_object_new_string(reason));
	json_object_object_add(o, "hunks", json_object_new_array());
	return o;
}

static void
diff_same(struct json_object *o)
{
	json_object_object_add(o, "same", json_object_new_boolean(1));
	json_object_object_add(o, "too_large", json_object_new_boolean(0));
	json_object_object_add(o, "hunks", json_object_new_array());
}

static struct json_object *
diff_hunks(const struct linediff *d)
{
	struct json_object	*arr = json_object_new_array_ext(
				    (int)d->nhunks);
	size_t			 h, i;

	for (h = 0; h < d->nhunks; h++) {
		const struct linediff_hunk *k = &d->hunks[h];
		struct json_object *o = json_object_new_object();
		struct json_object *lines = json_object_new_array_ext(
		    (int)k->count);

		json_object_object_add(o, "a_start",
		    json_object_new_int64((long long)k->a_start));
		json_object_object_add(o, "a_lines",
		    json_object_new_int64((long long)k->a_lines));
		json_object_object_add(o, "b_start",
		    json_object_new_int64((long long)k->b_start));
		json_object_object_add(o, "b_lines",
		    json_object_new_int64((long long)k->b_lines));
		for (i = k->first; i < k->first + k->count; i++) {
			const struct linediff_op *op = &d->ops[i];
			const struct linediff_line *l = op->op == '+' ?
			    &d->b[op->b] : &d->a[op->a];
			struct json_object *lo = json_object_new_object();
			char opc[2] = { op->op, '\0' };

			json_object_object_add(lo, "op",
			    json_object_new_string(opc));
			json_object_object_add(lo, "text", l->len > 0 ?
			    pjson_text(l->p, l->len) :
			    json_object_new_string(""));
			/* The last line, without its newline: shown as
			 * such, or "x" and "x\n" would look the same. */
			if (!l->eol)
				json_object_object_add(lo, "no_newline",
				    json_object_new_boolean(1));
			json_object_array_add(lines, lo);
		}
		json_object_object_add(o, "lines", lines);
		json_object_array_add(arr, o);
	}
	return arr;
}

/* One stream of a dispatch (NULL: none, the empty text); a -1 db error. */
static int
diff_read(struct db *db, const struct diff_worker *w, int s,
    struct db_res **res, const char **p, size_t *len)
{
	*res = NULL;
	*p = "";
	*len = 0;
	if (w == NULL)
		return 0;
	if (db_exec(db, sql_stream[s], res, "s", w->id) == -1)
		return -1;
	if (db_res_rows(*res) == 1 && db_res_get(*res, 0, 0) != NULL) {
		*p = db_res_get(*res, 0, 0);
		*len = db_res_len(*res, 0, 0);
	}
	return 0;
}

static long long
stored_max(const struct diff_worker *w, int s)
{
	if (w == NULL)
		return 0;
	return w->bytes[s] < DISPATCH_OUTPUT_MAX ? w->bytes[s] :
	    DISPATCH_OUTPUT_MAX;
}

/*
 * Stream s of workers wa and wb (either NULL: not in that execution) as
 * {"same","too_large","hunks"[,"reason"][,"truncated"]}; *same says
 * whether the database found them equal already (then nothing is read),
 * and is set to the answer. NULL on a db error.
 */
static struct json_object *
diff_stream(struct db *db, const struct diff_worker *wa,
    const struct diff_worker *wb, int s, struct diff_budget *bud, int *same)
{
	struct json_object	*o = json_object_new_object();
	struct db_res		*ra = NULL, *rb = NULL;
	struct linediff		 d;
	struct linediff_limits	 lim = { PULSE_DIFF_LINES_MAX,
				    PULSE_DIFF_EDIT_MAX, &bud->work };
	const char		*pa, *pb;
	size_t			 la, lb, h, shown = 0;

	memset(&d, 0, sizeof(d));
	if ((wa != NULL && wa->truncated[s]) || (wb != NULL && wb->truncated[s]))
		json_object_object_add(o, "truncated",
		    json_object_new_boolean(1));
	if (*same) {
		diff_same(o);
		goto done;
	}
	/*
	 * A command still running has no stored output yet (what it printed
	 * so far is in pushd's chunks): not known equal, nor diffed.
	 */
	if ((wa != NULL && !wa->final) || (wb != NULL && !wb->final)) {
		json_object_object_add(o, "same", json_object_new_boolean(0));
		json_object_object_add(o, "too_large",
		    json_object_new_boolean(0));
		json_object_object_add(o, "running",
		    json_object_new_boolean(1));
		json_object_object_add(o, "hunks", json_object_new_array());
		goto done;
	}
	/* Every budget before reading or diffing anything. */
	if (bud->spent[0] == '\0' && bud->lines <= 0)
		snprintf(bud->spent, sizeof(bud->spent), "this comparison "
		    "already shows the %d lines of diff one comparison may "
		    "show", PULSE_DIFF_SHOWN_LINES_MAX);
	if (bud->spent[0] == '\0' && bud->work == 0)
		snprintf(bud->spent, sizeof(bud->spent), "this comparison "
		    "searched as long as one comparison may");
	/* Sizes from the row, before reading any output. */
	if (bud->spent[0] == '\0' &&
	    stored_max(wa, s) + stored_max(wb, s) > bud->bytes)
		snprintf(bud->spent, sizeof(bud->spent), "this comparison "
		    "read the %d MiB of output one comparison may read",
		    PULSE_DIFF_BYTES_MAX / (1024 * 1024));
	if (bud->spent[0] != '\0')
		return diff_too_large(o, bud->spent);
	if (diff_read(db, wa, s, &ra, &pa, &la) == -1 ||
	    diff_read(db, wb, s, &rb, &pb, &lb) == -1)
		goto fail;
	bud->bytes -= (long long)(la + lb);
	if (la == lb && memcmp(pa, pb, la) == 0) {
		*same = 1;
		diff_same(o);
		goto done;
	}
	if (linediff_run(&d, pa, la, pb, lb, &lim, PULSE_DIFF_CONTEXT) == -1) {
		diff_too_large(o, d.reason);
		goto done;
	}
	for (h = 0; h < d.nhunks; h++)
		shown += d.hunks[h].count;
	if ((long long)shown > bud->lines) {
		bud->lines = 0;
		snprintf(bud->spent, sizeof(bud->spent), "this comparison "
		    "already shows the %d lines of diff one comparison may "
		    "show", PULSE_DIFF_SHOWN_LINES_MAX);
		diff_too_large(o, bud->spent);
		goto done;
	}
	bud->lines -= (long long)shown;
	json_object_object_add(o, "same", json_object_new_boolean(0));
	json_object_object_add(o, "too_large", json_object_new_boolean(0));
	json_object_object_add(o, "hunks", diff_hunks(&d));
done:
	linediff_free(&d);
	db_res_free(ra);
	db_res_free(rb);
	return o;
fail:
	db_res_free(ra);
	db_res_free(rb);
	json_object_put(o);
	return NULL;
}

static struct json_object *
diff_state(const struct diff_worker *w)
{
	struct json_object *o;

	if (w == NULL)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "status", pjson_string_or_null(w->status));
	json_object_object_add(o, "exit_code", w->exit_code == NULL ? NULL :
	    json_object_new_int64(strtoll(w->exit_code, NULL, 10)));
	return o;
}

static int
same_text(const char *x, const char *y)
{
	if (x == NULL || y == NULL)
		return x == y;
	return strcmp(x, y) == 0;
}

/* Stream s of both ended and hashed alike: equal, nothing to read. */
static int
known_same(const struct diff_worker *wa, const struct diff_worker *wb, int s)
{
	return wa != NULL && wb != NULL && wa->final && wb->final &&
	    wa->sha[s] != NULL && wb->sha[s] != NULL &&
	    strcmp(wa->sha[s], wb->sha[s]) == 0;
}

/* One worker's row; NULL on a db error. *changed set. */
static struct json_object *
diff_worker_json(struct db *db, const struct diff_worker *wa,
    const struct diff_worker *wb, struct diff_budget *bud, int *changed)
{
	struct json_object	*o = json_object_new_object(), *st;
	int			 s, same;

	json_object_object_add(o, "worker_name", json_object_new_string(
	    wa != NULL ? wa->name : wb->name));
	json_object_object_add(o, "a", diff_state(wa));
	json_object_object_add(o, "b", diff_state(wb));
	*changed = wa == NULL || wb == NULL ||
	    !same_text(wa->status, wb->status) ||
	    !same_text(wa->exit_code, wb->exit_code);
	for (s = 0; s < 2; s++) {
		same = known_same(wa, wb, s);
		if ((st = diff_stream(db, wa, wb, s, bud, &same)) == NULL) {
			json_object_put(o);
			return NULL;
		}
		if (!same)
			*changed = 1;
		json_object_object_add(o, stream_names[s], st);
	}
	json_object_object_add(o, "changed", json_object_new_boolean(*changed));
	return o;
}

/* Why a step is not (all) listed: the request's pairs are. */
static void
pairs_spent(char *why, size_t whylen)
{
	snprintf(why, whylen, "this comparison already lists the %d worker "
	    "pairs one comparison may list", PULSE_DIFF_PAIRS_MAX);
}

/* The workers of step `index` of both; NULL on a db error. */
static struct json_object *
diff_workers(struct request *req, long long index, struct diff_budget *bud,
    int *changed, char *why, size_t whylen)
{
	struct diff_step	 s[2];
	struct json_object	*arr = NULL, *w;
	size_t			 i = 0, j = 0;
	int			 rc[2], c, wc;

	*changed = 0;
	why[0] = '\0';
	/* The request's pairs all listed: this step is not even read. */
	if (bud->pairs <= 0) {
		*changed = 1;
		pairs_spent(why, whylen);
		return json_object_new_array();
	}
	rc[0] = diff_step_load(req->db, req->params[0], index, &s[0]);
	rc[1] = rc[0] == -1 ? -1 :
	    diff_step_load(req->db, req->params[1], index, &s[1]);
	if (rc[0] == -1 || rc[1] == -1)
		goto done;
	arr = json_object_new_array();
	if (rc[0] == 1 || rc[1] == 1) {
		*changed = 1;
		snprintf(why, whylen, "the step ran on more than %d workers in "
		    "%s", PULSE_DIFF_WORKERS_MAX, rc[0] == 1 ? "a" : "b");
		goto done;
	}
	/* Merge the two sorted lists by name. */
	while (i < s[0].n || j < s[1].n) {
		const struct diff_worker *wa = NULL, *wb = NULL;

		if (bud->pairs-- <= 0) {
			*changed = 1;
			pairs_spent(why, whylen);
			break;
		}
		c = i == s[0].n ? 1 : j == s[1].n ? -1 :
		    strcmp(s[0].w[i].name, s[1].w[j].name);
		if (c <= 0)
			wa = &s[0].w[i++];
		if (c >= 0)
			wb = &s[1].w[j++];
		if ((w = diff_worker_json(req->db, wa, wb, bud, &wc)) == NULL) {
			json_object_put(arr);
			arr = NULL;
			goto done;
		}
		*changed |= wc;
		json_object_array_add(arr, w);
	}
done:
	diff_step_free(&s[0]);
	if (rc[0] != -1)
		diff_step_free(&s[1]);
	return arr;
}

/* Each execution's header row; 1 and a 404 replied when one is missing. */
static int
diff_load(struct request *req, struct db_res *res[2])
{
	const char		*which[2] = { "a", "b" };
	struct json_object	*err, *missing;
	char			 msg[160];
	int			 i, n = 0;

	res[0] = res[1] = NULL;
	missing = json_object_new_array();
	msg[0] = '\0';
	for (i = 0; i < 2; i++) {
		if (id_valid(req->params[i])) {
			if (db_exec(req->db, sql_exec, &res[i], "s",
			    req->params[i]) == -1) {
				json_object_put(missing);
				reply_db_error(req);
				return 1;
			}
			if (db_res_rows(res[i]) == 1)
				continue;
		}
		json_object_array_add(missing,
		    json_object_new_string(which[i]));
		/* The id itself only when it is one (it is echoed). */
		snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
		    "%s%s (%s)", n++ == 0 ? "no execution " : " nor ",
		    id_valid(req->params[i]) ? req->params[i] : which[i],
		    id_valid(req->params[i]) ? which[i] :
		    "not an execution id");
	}
	if (n == 0) {
		json_object_put(missing);
		return 0;
	}
	err = json_object_new_object();
	json_object_object_add(err, "error", json_object_new_string(msg));
	json_object_object_add(err, "missing", missing);
	reply_error_obj(req, 404, err);
	return 1;
}

static struct json_object *
diff_header(const struct db_res *r)
{
	static const struct dbjson_col cols[] = {
		{ "id", DBJSON_STRING }, { "workflow_id", DBJSON_STRING },
		{ "workflow_name", DBJSON_STRING },
		{ "workflow_version", DBJSON_INT },
		{ "status", DBJSON_STRING }, { "started_at", DBJSON_TIME },
		{ NULL, DBJSON_STRING }
	};

	return dbjson_row(r, 0, cols);
}

int
executions_diff(struct request *req)
{
	struct db_res		*ex[2], *st[2] = { NULL, NULL };
	struct json_object	*o = NULL, *steps, *step, *workers;
	struct diff_budget	 bud = { PULSE_DIFF_BYTES_MAX,
				    PULSE_DIFF_WORK_MAX,
				    PULSE_DIFF_SHOWN_LINES_MAX,
				    PULSE_DIFF_PAIRS_MAX, "" };
	const char		*wa, *wb, *na, *nb, *sa, *sb;
	size_t			 i = 0, j = 0, n[2];
	long long		 ia, ib, index;
	char			 why[160];
	int			 same_wf, changed, k;

	if (diff_load(req, ex) == 1)
		goto done;
	for (k = 0; k < 2; k++)
		if (db_exec(req->db, sql_steps, &st[k], "si",
		    req->params[k], (long long)WF_PLAN_MAX) == -1)
			goto dberr;
	o = json_object_new_object();
	json_object_object_add(o, "a", diff_header(ex[0]));
	json_object_object_add(o, "b", diff_header(ex[1]));
	wa = db_res_get(ex[0], 0, 1);
	wb = db_res_get(ex[1], 0, 1);
	same_wf = wa != NULL && wb != NULL && strcmp(wa, wb) == 0;
	json_object_object_add(o, "same_workflow",
	    json_object_new_boolean(same_wf));
	json_object_object_add(o, "note", same_wf ? NULL :
	    json_object_new_string("the executions ran different workflows: "
	    "steps are matched by position and name"));
	steps = json_object_new_array();
	json_object_object_add(o, "steps", steps);
	n[0] = db_res_rows(st[0]);
	n[1] = db_res_rows(st[1]);
	while (i < n[0] || j < n[1]) {
		ia = i < n[0] ? db_res_int(st[0], i, 0, 0) : -1;
		ib = j < n[1] ? db_res_int(st[1], j, 0, 0) : -1;
		index = ia == -1 ? ib : ib == -1 || ia < ib ? ia : ib;
		na = nb = sa = sb = NULL;
		if (ia == index) {
			na = db_res_get(st[0], i, 1);
			sa = db_res_get(st[0], i++, 2);
		}
		if (ib == index) {
			nb = db_res_get(st[1], j, 1);
			sb = db_res_get(st[1], j++, 2);
		}
		workers = diff_workers(req, index, &bud, &changed, why,
		    sizeof(why));
		if (workers == NULL)
			goto dberr;
		step = json_object_new_object();
		json_object_object_add(step, "index",
		    json_object_new_int64(index));
		json_object_object_add(step, "name", pjson_string_or_null(
		    na != NULL ? na : nb));
		/* Different workflows: the name b's step has there. */
		if (na != NULL && nb != NULL && strcmp(na, nb) != 0)
			json_object_object_add(step, "b_name",
			    json_object_new_string(nb));
		json_object_object_add(step, "a_status",
		    pjson_string_or_null(sa));
		json_object_object_add(step, "b_status",
		    pjson_string_or_null(sb));
		changed |= !same_text(sa, sb) || !same_text(na, nb);
		json_object_object_add(step, "changed",
		    json_object_new_boolean(changed));
		if (why[0] != '\0') {
			json_object_object_add(step, "too_large",
			    json_object_new_boolean(1));
			json_object_object_add(step, "reason",
			    json_object_new_string(why));
		}
		json_object_object_add(step, "workers", workers);
		json_object_array_add(steps, step);
	}
	reply_json(req, 200, o);
	o = NULL;
	goto done;
dberr:
	reply_db_error(req);
done:
	json_object_put(o);
	for (k = 0; k < 2; k++) {
		db_res_free(ex[k]);
		db_res_free(st[k]);
	}
	return 0;
}
