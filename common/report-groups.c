/*
 * Grouped output (SPEC section 17): per execute step, the latest attempt
 * of each worker grouped by (status, exit code, SHA-256 of stdout, of
 * stderr), largest first, with one sample output for the first groups.
 * Grouping reads only the small columns; the outputs read are the samples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dispatch.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "report.h"
#include "xmalloc.h"

#define GROUPS_STR_(x)	#x
#define GROUPS_STR(x)	GROUPS_STR_(x)

/*
 * Every dispatch's small columns, each worker's attempts of a step
 * together, the latest first (rows_load keeps that one: a retry is a new
 * row with attempt + 1). Read along uq_dispatch_target: a NOT EXISTS for
 * the latest attempt cost four times this scan (0.8 against 0.2 ms for a
 * ten-step execution), on every GET. The hashes are NULL on rows
 * recorded without them; sql_fallback hashes those in SQL, kept apart so
 * rows that have them never read their outputs.
 */
static const char sql_latest[] =
    "SELECT step_index, status, exit_code, stdout_sha256, stderr_sha256, "
    "worker_name, id, worker_id FROM dispatches WHERE execution_id = ? "
    "ORDER BY step_index, worker_id, attempt DESC LIMIT ?";
/*
 * Only what the groups use: an ended row (a running one has no output
 * stored yet), the latest attempt of its worker. Every writer hashes
 * what it stores and sql/012 hashed the rows before, so this serves rows
 * written by hand or by an older pulse only. The rows are picked first
 * by their small columns (a derived table of ids): with the outputs in
 * the same SELECT, InnoDB read every row's output of the execution to
 * test the WHERE, 2.3 s for 500 rows of 1 MB when one row needed it.
 */
static const char sql_fallback[] =
    "SELECT d.id, SHA2(COALESCE(d.stdout, ''), 256), "
    "SHA2(COALESCE(d.stderr, ''), 256) FROM dispatches d JOIN "
    "(SELECT id FROM dispatches f WHERE f.execution_id = ? AND "
    "(f.stdout_sha256 IS NULL OR f.stderr_sha256 IS NULL) "
    "AND f.status NOT IN ('queued', 'sent', 'running') "
    "AND NOT EXISTS (SELECT 1 FROM dispatches n WHERE "
    "n.execution_id = f.execution_id AND n.step_index = f.step_index "
    "AND n.worker_id = f.worker_id AND n.attempt > f.attempt) "
    "LIMIT " GROUPS_STR(PULSE_GROUP_ROWS_MAX) ") l ON l.id = d.id";
/* Every attempt counts: what the default view's dispatches hold. */
static const char sql_counts[] =
    "SELECT step_index, COUNT(*) FROM dispatches WHERE execution_id = ? "
    "GROUP BY step_index";
/*
 * The samples, PULSE_GROUP_SAMPLES_MAX at a time by primary key (one
 * query a step would cost a round trip per step on every GET; the unused
 * places are NULL): at most cap + 1 bytes of each stream (report_text).
 */
#define GROUPS_IDS20 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
static const char sql_samples[] =
    "SELECT id, status, worker_name, SUBSTRING(stdout, 1, ?), "
    "COALESCE(LENGTH(stdout), 0), SUBSTRING(stderr, 1, ?), "
    "COALESCE(LENGTH(stderr), 0), stdout IS NULL FROM dispatches "
    "WHERE execution_id = ? AND id IN (" GROUPS_IDS20 ")";
#if PULSE_GROUP_SAMPLES_MAX != 20
#error "sql_samples takes PULSE_GROUP_SAMPLES_MAX ids: 20 places"
#endif

struct grow {
	long long	 step;
	const char	*status;
	int		 has_exit;
	long long	 exit;
	const char	*sha[2];
	const char	*name;
	const char	*id;
};

struct group {
	long long	 step;
	size_t		 first;		/* into the sorted rows */
	size_t		 count;
	const char	*status;	/* its rows' */
	const char	*name;		/* its first worker's */
	int		 sampled;	/* among its step's first groups */
};

/* A result's rows by their first column (an id), for bsearch. */
struct idrow {
	const char	*id;
	size_t		 row;
};

static int
strcmp_null(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

/* The grouping key: step, status, exit code, the two hashes. */
static int
grow_key_cmp(const struct grow *a, const struct grow *b)
{
	int	 c;

	if (a->step != b->step)
		return a->step < b->step ? -1 : 1;
	if ((c = strcmp_null(a->status, b->status)) != 0)
		return c;
	if (a->has_exit != b->has_exit || a->exit != b->exit)
		return a->has_exit != b->has_exit ? a->has_exit - b->has_exit :
		    a->exit < b->exit ? -1 : 1;
	if ((c = strcmp_null(a->sha[0], b->sha[0])) != 0)
		return c;
	return strcmp_null(a->sha[1], b->sha[1]);
}

/* Equal keys next to each other, each group's workers by name. */
static int
grow_cmp(const void *pa, const void *pb)
{
	const struct grow	*a = pa, *b = pb;
	int			 c;

	if ((c = grow_key_cmp(a, b)) != 0 ||
	    (c = strcmp_null(a->name, b->name)) != 0)
		return c;
	return strcmp_null(a->id, b->id);
}

/* Largest first; ties by status, then the first worker's name. */
static int
group_cmp(const void *pa, const void *pb)
{
	const struct group	*a = pa, *b = pb;
	int			 c;

	if (a->step != b->step)
		return a->step < b->step ? -1 : 1;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if ((c = strcmp_null(a->status, b->status)) != 0)
		return c;
	return strcmp_null(a->name, b->name);
}

static int
idrow_cmp(const void *pa, const void *pb)
{
	const struct idrow	*a = pa, *b = pb;

	return strcmp(a->id, b->id);
}

/* Sorted by strcmp here: the collation's order need not be the same. */
static struct idrow *
idrows_new(const struct db_res *r)
{
	struct idrow	*v;
	size_t		 i, n = db_res_rows(r);

	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		v[i].id = db_res_get(r, i, 0);
		v[i].row = i;
	}
	qsort(v, n, sizeof(*v), idrow_cmp);
	return v;
}

/* The row of id in r (indexed by v), or -1. */
static long
idrows_find(const struct idrow *v, const struct db_res *r, const char *id)
{
	struct idrow	 key = { id, 0 }, *hit;

	hit = bsearch(&key, v, db_res_rows(r), sizeof(*v), idrow_cmp);
	return hit != NULL ? (long)hit->row : -1;
}

/*
 * The rows, with the SQL hashes filled in where none were stored. The
 * fallback query runs only when some row needs it. Past
 * PULSE_GROUP_ROWS_MAX rows, *cut is the first step not read in full
 * (its rows and every later step's are left out, and said so), else -1.
 */
static int
rows_load(struct db *db, const char *id, struct db_res **latest,
    struct db_res **fb, struct grow **out, size_t *nout, long long *cut)
{
	struct grow	*rows;
	size_t		 i, n, need = 0, nres;

	*fb = NULL;
	*cut = -1;
	if (db_exec(db, sql_latest, latest, "si", id,
	    (long long)PULSE_GROUP_ROWS_MAX + 1) == -1)
		return -1;
	nres = db_res_rows(*latest);
	if (nres > PULSE_GROUP_ROWS_MAX)
		*cut = db_res_int(*latest, nres - 1, 0, -1);
	rows = xcalloc(nres + 1, sizeof(*rows));
	for (i = n = 0; i < nres; i++) {
		struct grow *g = &rows[n];

		/* A step read in part: none of it (half its groups would
		 * look whole). */
		if (*cut != -1 && db_res_int(*latest, i, 0, -1) >= *cut)
			break;
		/* An earlier attempt of the worker just kept. */
		if (i > 0 && db_res_int(*latest, i, 0, -1) ==
		    db_res_int(*latest, i - 1, 0, -1) &&
		    strcmp(db_res_get(*latest, i, 7),
		    db_res_get(*latest, i - 1, 7)) == 0)
			continue;
		n++;
		g->step = db_res_int(*latest, i, 0, -1);
		g->status = db_res_get(*latest, i, 1);
		g->has_exit = db_res_get(*latest, i, 2) != NULL;
		g->exit = db_res_int(*latest, i, 2, 0);
		g->sha[0] = db_res_get(*latest, i, 3);
		g->sha[1] = db_res_get(*latest, i, 4);
		g->name = db_res_get(*latest, i, 5);
		g->id = db_res_get(*latest, i, 6);
		if (g->sha[0] == NULL || g->sha[1] == NULL)
			need++;
	}
	if (need > 0) {
		struct idrow	*v;
		long		 k;

		if (db_exec(db, sql_fallback, fb, "s", id) == -1) {
			free(rows);
			db_res_free(*latest);
			*latest = NULL;
			return -1;
		}
		v = idrows_new(*fb);
		for (i = 0; i < n; i++) {
			if (rows[i].sha[0] != NULL && rows[i].sha[1] != NULL)
				continue;
			/* Not there: recorded since; grouped as it stood. */
			if ((k = idrows_find(v, *fb, rows[i].id)) == -1)
				continue;
			if (rows[i].sha[0] == NULL)
				rows[i].sha[0] = db_res_get(*fb, (size_t)k, 1);
			if (rows[i].sha[1] == NULL)
				rows[i].sha[1] = db_res_get(*fb, (size_t)k, 2);
		}
		free(v);
	}
	*out = rows;
	*nout = n;
	return 0;
}

/* A group's sample (row i of sql_samples), at most cap a stream. */
static struct json_object *
sample_json(struct db *db, const struct db_res *res, size_t i, size_t cap)
{
	struct json_object	*o;
	char			*live[2] = { NULL, NULL };
	size_t			 livelen[2] = { 0, 0 };
	int			 more[2] = { 0, 0 }, running;

	/* A command still running: what it printed so far, as its row. */
	running = db_res_int(res, i, 7, 0) != 0 &&
	    (strcmp(db_res_get(res, i, 1), "sent") == 0 ||
	    strcmp(db_res_get(res, i, 1), "running") == 0);
	if (running)
		dispatch_live_output(db, db_res_get(res, i, 0), live, livelen);
	o = json_object_new_object();
	json_object_object_add(o, "worker_name",
	    pjson_string_or_null(db_res_get(res, i, 2)));
	json_object_object_add(o, "stdout", running ?
	    report_text(live[0], livelen[0], cap, &more[0]) :
	    report_text(db_res_get(res, i, 3),
	    (size_t)db_res_int(res, i, 4, 0), cap, &more[0]));
	json_object_object_add(o, "stderr", running ?
	    report_text(live[1], livelen[1], cap, &more[1]) :
	    report_text(db_res_get(res, i, 5),
	    (size_t)db_res_int(res, i, 6, 0), cap, &more[1]));
	json_object_object_add(o, "stdout_more",
	    json_object_new_boolean(more[0]));
	json_object_object_add(o, "stderr_more",
	    json_object_new_boolean(more[1]));
	free(live[0]);
	free(live[1]);
	return o;
}

/* The samples read, a result of up to 20 for each chunk, indexed. */
struct samples {
	struct db_res	**res;
	struct idrow	**idx;
	size_t		  n;
	size_t		  cap;
};

/* The sample of dispatch id: 0 and *res, *row; -1 when not read. */
static int
samples_find(const struct samples *sm, const char *id,
    const struct db_res **res, size_t *row)
{
	size_t	 c;
	long	 k;

	for (c = 0; c < sm->n; c++)
		if ((k = idrows_find(sm->idx[c], sm->res[c], id)) != -1) {
			*res = sm->res[c];
			*row = (size_t)k;
			return 0;
		}
	return -1;
}

static void
samples_free(struct samples *sm)
{
	size_t	 c;

	for (c = 0; c < sm->n; c++) {
		db_res_free(sm->res[c]);
		free(sm->idx[c]);
	}
	free(sm->res);
	free(sm->idx);
}

static struct json_object *
group_json(struct db *db, const struct grow *rows, const struct group *g,
    const struct samples *sm)
{
	const struct grow	*r = &rows[g->first];
	const struct db_res	*res;
	struct json_object	*o, *w, *sample = NULL;
	size_t			 i, k;

	/* Not found: the row went (deleted) since it was grouped. */
	if (g->sampled && samples_find(sm, r->id, &res, &k) == 0)
		sample = sample_json(db, res, k, sm->cap);
	w = json_object_new_array_ext((int)g->count);
	for (i = 0; i < g->count; i++)
		json_object_array_add(w, pjson_string_or_null(r[i].name));
	o = json_object_new_object();
	json_object_object_add(o, "count",
	    json_object_new_int64((long long)g->count));
	json_object_object_add(o, "workers", w);
	json_object_object_add(o, "status", pjson_string_or_null(r->status));
	json_object_object_add(o, "exit_code", r->has_exit ?
	    json_object_new_int64(r->exit) : NULL);
	json_object_object_add(o, "stdout_sha256",
	    pjson_string_or_null(r->sha[0]));
	json_object_object_add(o, "stderr_sha256",
	    pjson_string_or_null(r->sha[1]));
	json_object_object_add(o, "sample_id", pjson_string_or_null(r->id));
	json_object_object_add(o, "sample", sample);
	return o;
}

/* The execute step of index idx in steps, or NULL. */
static struct json_object *
step_at(struct json_object *steps, long long idx)
{
	struct json_object	*st, *v;
	size_t			 i, n = json_object_array_length(steps);

	for (i = 0; i < n; i++) {
		st = json_object_array_get_idx(steps, i);
		if (json_object_object_get_ex(st, "index", &v) &&
		    json_object_get_int64(v) == idx &&
		    json_object_object_get_ex(st, "type", &v) &&
		    strcmp(json_object_get_string(v), "execute") == 0)
			return st;
	}
	return NULL;
}

/* Every execute step starts with no groups (nothing dispatched yet). */
static void
steps_empty(struct json_object *steps, int view)
{
	struct json_object	*st, *v;
	size_t			 i, n = json_object_array_length(steps);

	for (i = 0; i < n; i++) {
		st = json_object_array_get_idx(steps, i);
		if (!json_object_object_get_ex(st, "type", &v) ||
		    strcmp(json_object_get_string(v), "execute") != 0)
			continue;
		json_object_object_add(st, "groups", json_object_new_array());
		json_object_object_add(st, "groups_omitted", NULL);
		json_object_object_add(st, "groups_truncated",
		    json_object_new_boolean(0));
		json_object_object_add(st, "groups_truncated_reason", NULL);
		if (view == REPORT_VIEW_GROUPS)
			json_object_object_add(st, "dispatch_count",
			    json_object_new_int64(0));
	}
}

/* The execute steps from index cut on: not grouped, and why. */
static void
steps_truncated(struct json_object *steps, long long cut)
{
	struct json_object	*st, *v;
	size_t			 i, n = json_object_array_length(steps);
	char			 why[160];

	snprintf(why, sizeof(why), "this execution has more than %d "
	    "dispatches: steps from this one on are not grouped (read them "
	    "through the dispatches)", PULSE_GROUP_ROWS_MAX);
	for (i = 0; i < n; i++) {
		st = json_object_array_get_idx(steps, i);
		if (!json_object_object_get_ex(st, "index", &v) ||
		    json_object_get_int64(v) < cut ||
		    !json_object_object_get_ex(st, "type", &v) ||
		    strcmp(json_object_get_string(v), "execute") != 0)
			continue;
		json_object_object_add(st, "groups_truncated",
		    json_object_new_boolean(1));
		json_object_object_add(st, "groups_truncated_reason",
		    json_object_new_string(why));
	}
}

static int
add_counts(struct db *db, const char *id, struct json_object *steps)
{
	struct db_res		*r;
	struct json_object	*st;
	size_t			 i;

	if (db_exec(db, sql_counts, &r, "s", id) == -1)
		return -1;
	for (i = 0; i < db_res_rows(r); i++)
		if ((st = step_at(steps, db_res_int(r, i, 0, -1))) != NULL)
			json_object_object_add(st, "dispatch_count",
			    json_object_new_int64(db_res_int(r, i, 1, 0)));
	db_res_free(r);
	return 0;
}

/*
 * Fill each step's groups from the sorted groups (by step, largest
 * first): the first PULSE_GROUPS_MAX listed, samples for the first
 * PULSE_GROUP_SAMPLES_MAX, the rest counted.
 */
static void
groups_emit(struct db *db, struct json_object *steps, const struct grow *rows,
    const struct group *gs, size_t ng, const struct samples *sm)
{
	struct json_object	*st, *arr, *om;
	size_t			 i = 0, j, k, ogroups, oworkers;

	while (i < ng) {
		for (j = i; j < ng && gs[j].step == gs[i].step; j++)
			;
		st = step_at(steps, gs[i].step);
		if (st == NULL) {	/* a step row not (yet) read */
			i = j;
			continue;
		}
		arr = json_object_new_array();
		ogroups = oworkers = 0;
		for (k = i; k < j; k++) {
			if (k - i >= PULSE_GROUPS_MAX) {
				ogroups++;
				oworkers += gs[k].count;
				continue;
			}
			json_object_array_add(arr, group_json(db, rows, &gs[k],
			    sm));
		}
		json_object_object_add(st, "groups", arr);
		om = NULL;
		if (ogroups > 0) {
			om = json_object_new_object();
			json_object_object_add(om, "groups",
			    json_object_new_int64((long long)ogroups));
			json_object_object_add(om, "workers",
			    json_object_new_int64((long long)oworkers));
		}
		json_object_object_add(st, "groups_omitted", om);
		i = j;
	}
}

/*
 * Mark the first PULSE_GROUP_SAMPLES_MAX groups of each step and read
 * their samples, which share the view's budget as dispatches do
 * (report.c): 0, or -1 on a db error.
 */
static int
samples_load(struct db *db, const char *id, struct group *gs, size_t ng,
    const struct grow *rows, struct samples *sm)
{
	const char	**ids, *p[PULSE_GROUP_SAMPLES_MAX];
	size_t		  i, k, n = 0, c, j;
	long long	  cap1;

	ids = xcalloc(ng + 1, sizeof(*ids));
	for (i = 0; i < ng; i = k)
		for (k = i; k < ng && gs[k].step == gs[i].step; k++)
			if (k - i < PULSE_GROUP_SAMPLES_MAX) {
				gs[k].sampled = 1;
				ids[n++] = rows[gs[k].first].id;
			}
	sm->cap = n > 0 ? EXEC_VIEW_TOTAL / (2 * n) : EXEC_VIEW_TOTAL;
	if (sm->cap > EXEC_VIEW_STREAM)
		sm->cap = EXEC_VIEW_STREAM;
	cap1 = (long long)sm->cap + 1;
	c = (n + PULSE_GROUP_SAMPLES_MAX - 1) / PULSE_GROUP_SAMPLES_MAX;
	sm->res = xcalloc(c + 1, sizeof(*sm->res));
	sm->idx = xcalloc(c + 1, sizeof(*sm->idx));
	for (sm->n = 0; sm->n < c; sm->n++) {
		for (j = 0; j < PULSE_GROUP_SAMPLES_MAX; j++) {
			i = sm->n * PULSE_GROUP_SAMPLES_MAX + j;
			p[j] = i < n ? ids[i] : NULL;
		}
		if (db_exec(db, sql_samples, &sm->res[sm->n],
		    "ii" "sssssssssssssssssssss", cap1, cap1, id, p[0], p[1],
		    p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10],
		    p[11], p[12], p[13], p[14], p[15], p[16], p[17], p[18],
		    p[19]) == -1) {
			free(ids);
			return -1;
		}
		sm->idx[sm->n] = idrows_new(sm->res[sm->n]);
	}
	free(ids);
	return 0;
}

int
report_groups_add(struct db *db, const char *id, struct json_object *steps,
    int view)
{
	struct db_res	*latest = NULL, *fb = NULL;
	struct grow	*rows = NULL;
	struct group	*gs = NULL;
	struct samples	 sm = { NULL, NULL, 0, 0 };
	size_t		 n, i, ng = 0;
	long long	 cut;
	int		 rv;

	steps_empty(steps, view);
	if (view == REPORT_VIEW_GROUPS && add_counts(db, id, steps) == -1)
		return -1;
	if (rows_load(db, id, &latest, &fb, &rows, &n, &cut) == -1)
		return -1;
	if (cut != -1)
		steps_truncated(steps, cut);
	qsort(rows, n, sizeof(*rows), grow_cmp);
	gs = xcalloc(n + 1, sizeof(*gs));
	for (i = 0; i < n; i++) {
		if (ng > 0 &&
		    grow_key_cmp(&rows[gs[ng - 1].first], &rows[i]) == 0) {
			gs[ng - 1].count++;
			continue;
		}
		gs[ng].step = rows[i].step;
		gs[ng].first = i;
		gs[ng].count = 1;
		gs[ng].status = rows[i].status;
		gs[ng].name = rows[i].name;
		ng++;
	}
	qsort(gs, ng, sizeof(*gs), group_cmp);
	rv = samples_load(db, id, gs, ng, rows, &sm);
	if (rv == 0)
		groups_emit(db, steps, rows, gs, ng, &sm);
	samples_free(&sm);
	free(gs);
	free(rows);
	db_res_free(latest);
	db_res_free(fb);
	return rv;
}
