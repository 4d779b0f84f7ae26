/*
 * Rolling batches of an execute step (SPEC section 14, issue 14): the
 * targets resolved when the step began run a batch at a time; a batch
 * ends when every target of it has a final outcome (its latest attempt:
 * a queued retry is not final), then the step stops if its failed targets
 * exceed max_failures (the rest are skipped), else waits its pause and
 * starts the next batch.
 *
 * The step's row says where it is: batch_index k with wake_at NULL is
 * batch k running; with wake_at set, batch k waiting for its pause. Every
 * move is a conditional UPDATE on that row whose row count is checked, in
 * the engine's transaction with the dispatches it queues: a pushd killed
 * at any point leaves either the old state or the new one, so a batch is
 * never started twice nor skipped.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "engine-int.h"
#include "log.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "status.h"
#include "step.h"
#include "wfcheck.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_begin[] =
    "UPDATE execution_steps SET targets = ?, batch_count = ?, "
    "batch_index = 1, failures = 0 WHERE execution_id = ? "
    "AND step_index = ? AND status = 'pending' AND batch_index IS NULL";
static const char sql_row[] =
    "SELECT batch_index, batch_count, targets, wake_at IS NOT NULL "
    "FROM execution_steps WHERE execution_id = ? AND step_index = ?";
/* Batch k's pause is over: it starts. */
static const char sql_resume[] =
    "UPDATE execution_steps SET wake_at = NULL WHERE execution_id = ? "
    "AND step_index = ? AND status = 'running' AND batch_index = ? "
    "AND wake_at IS NOT NULL AND wake_at <= NOW(3)";
/* Batch k is over: k + 1 is next, now (pause 0) or after the pause. */
static const char sql_next[] =
    "UPDATE execution_steps SET batch_index = ? + 1, failures = ?, "
    "wake_at = IF(? > 0, NOW(3) + INTERVAL ? * 1000 MICROSECOND, NULL) "
    "WHERE execution_id = ? AND step_index = ? AND status = 'running' "
    "AND batch_index = ? AND wake_at IS NULL";
/* Batch k is over and the step ends (the last batch, or a stop). */
static const char sql_last[] =
    "UPDATE execution_steps SET failures = ? WHERE execution_id = ? "
    "AND step_index = ? AND status = 'running' AND batch_index = ? "
    "AND wake_at IS NULL";
/* Latest attempt first per worker: a retry (issue 14) is a new row. */
static const char sql_states[] =
    "SELECT batch, worker_id, status, exit_code, worker_name, error, id, "
    "attempt FROM dispatches WHERE execution_id = ? AND step_index = ? "
    "AND batch IS NOT NULL ORDER BY worker_id, attempt DESC";
/* What later batches run: the command as batch 1 got it when the step
 * began (its templates expanded once). */
static const char sql_command[] =
    "SELECT command, timeout_ms, env FROM dispatches WHERE execution_id = ? "
    "AND step_index = ? AND batch = 1 ORDER BY attempt LIMIT 1";

int
step_batch_validate(struct wf_check *ck, struct json_object *o,
    struct step *st)
{
	struct json_object	*b;
	struct fielderr		 fe;

	if (!json_object_object_get_ex(o, "batch", &b))
		return 0;
	fielderr_clear(&fe);
	if (batch_from_json(b, &st->batch, &fe) == -1)
		return wf_fail(ck, fe.field, "%s", fe.msg);
	st->has_batch = 1;
	return 0;
}

/* A conditional UPDATE that must have matched exactly one row. */
static int
one_row(struct db *db, const char *what, const char *id, int step)
{
	if (db_affected(db) == 1)
		return 0;
	log_warnx("execution %s step %d: batch %s matched no row", id,
	    step + 1, what);
	/* The advance's error says why (pushd's poison counter reads it). */
	db_seterr(db, 0, "execution %s step %d: batch %s matched no row", id,
	    step + 1, what);
	return -1;
}

/* One stored target: 0 with its id, name and batch, or -1. */
static int
target_of(struct json_object *t, const char **id, const char **name,
    long long *b)
{
	size_t	 len;

	if (pjson_get_string(t, "id", id, &len) != 1 ||
	    pjson_get_string(t, "name", name, &len) != 1 ||
	    pjson_get_int(t, "batch", b) != 1)
		return -1;
	return 0;
}

/* Queue batch k (1-based) of targets, the array stored on the row. */
static int
queue_batch(struct db *db, struct exec *ex, struct json_object *targets,
    int k, const char *command, long long timeout_ms, const char *env)
{
	size_t	 i, n = json_object_array_length(targets);

	for (i = 0; i < n; i++) {
		struct json_object	*t = json_object_array_get_idx(targets, i);
		const char		*id, *name;
		long long		 b;

		if (target_of(t, &id, &name, &b) == -1)
			return -1;
		if (b != k)
			continue;
		if (dispatch_queue_batch(db, ex->id, ex->at, id, name,
		    command, timeout_ms, env, k) == -1)
			return -1;
	}
	return 0;
}

int
step_batch_begin(struct db *db, struct exec *ex, const struct step *st,
    const char *command, const char *env, const struct target *t, size_t n)
{
	struct json_object	*arr = json_object_new_array();
	uint32_t		 total = (uint32_t)n, k, j, count;
	int			 rc = -1;

	count = batch_count(&st->batch, total);
	for (k = 0; k < count; k++) {
		uint32_t from = batch_start(&st->batch, total, k);

		for (j = from; j < from + batch_size(&st->batch, total, k) &&
		    j < total; j++) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "id",
			    json_object_new_string(t[j].id));
			json_object_object_add(o, "name",
			    json_object_new_string(t[j].name));
			json_object_object_add(o, "batch",
			    json_object_new_int((int)k + 1));
			json_object_array_add(arr, o);
		}
	}
	if (db_exec(db, sql_begin, NULL, "sisi",
	    json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN),
	    (long long)count, ex->id, (long long)ex->at) == -1 ||
	    one_row(db, "begin", ex->id, ex->at) == -1)
		goto out;
	rc = queue_batch(db, ex, arr, 1, command, st->timeout_ms, env);
out:
	json_object_put(arr);
	return rc;
}

/*
 * The tally of the step's dispatches, each worker by its latest attempt; a
 * failed one the step's retry gives another try (step-retry.c) is queued
 * again here and counts as still open, so a batch ends only when its
 * targets have no attempt left.
 */
struct tally {
	int	 open;		/* of batch k, not final */
	int	 failed;	/* of every batch so far */
	char	 first[256];	/* the first failure, for the reason */
};

static int
tally(struct db *db, struct exec *ex, const struct step *st, int k,
    struct tally *ty)
{
	struct db_res	*res;
	const char	*prev = "";
	size_t		 i;

	memset(ty, 0, sizeof(*ty));
	if (db_exec(db, sql_states, &res, "si", ex->id, (long long)ex->at) ==
	    -1)
		return -1;
	for (i = 0; i < db_res_rows(res); i++) {
		const char		*wid = db_res_get(res, i, 1);
		const char		*s = db_res_get(res, i, 2);
		const char		*ec = db_res_get(res, i, 3);
		const char		*why = db_res_get(res, i, 5);
		enum dispatch_status	 ds;

		if (strcmp(wid, prev) == 0)
			continue;		/* an older attempt */
		prev = wid;
		if (dispatch_status_from(s, &ds) == -1)
			ds = DISP_STATUS_COUNT;	/* unknown: a failure */
		if (ds == DISP_QUEUED || ds == DISP_SENT ||
		    ds == DISP_RUNNING) {
			if (db_res_int(res, i, 0, 0) == k)
				ty->open++;
			continue;
		}
		if (ds == DISP_SUCCEEDED || ds == DISP_SKIPPED)
			continue;
		switch (step_retry(db, st, db_res_get(res, i, 6), ds,
		    (int)db_res_int(res, i, 7, 1))) {
		case -1:
			db_res_free(res);
			return -1;
		case 1:
			if (db_res_int(res, i, 0, 0) == k)
				ty->open++;	/* its next attempt waits */
			continue;
		}
		ty->failed++;
		if (ty->first[0] != '\0')
			continue;
		if (ec != NULL)
			snprintf(ty->first, sizeof(ty->first), "%s on worker "
			    "'%s' (exit code %s)", s, db_res_get(res, i, 4), ec);
		else
			snprintf(ty->first, sizeof(ty->first), "%s on worker "
			    "'%s'%s%s", s, db_res_get(res, i, 4),
			    why ? ": " : "", why ? why : "");
	}
	db_res_free(res);
	pjson_utf8_trim(ty->first);
	return 0;
}

/* The command, timeout and env batch 1 was queued with (copied). */
static int
batch_command(struct db *db, struct exec *ex, char **command,
    long long *timeout_ms, char **env)
{
	struct db_res	*res;

	if (db_exec(db, sql_command, &res, "si", ex->id, (long long)ex->at) ==
	    -1)
		return -1;
	if (db_res_rows(res) != 1 || db_res_get(res, 0, 0) == NULL) {
		db_res_free(res);
		log_warnx("execution %s step %d: batch 1 has no dispatch",
		    ex->id, ex->at + 1);
		return -1;
	}
	*command = xstrdup(db_res_get(res, 0, 0));
	*timeout_ms = db_res_int(res, 0, 1, 0);
	*env = db_res_get(res, 0, 2) != NULL ? xstrdup(db_res_get(res, 0, 2)) :
	    NULL;
	db_res_free(res);
	return 0;
}

/* Start batch k (1-based): its dispatches queued with batch 1's command. */
static int
start_batch(struct db *db, struct exec *ex, struct json_object *targets,
    int k)
{
	char		*command, *env;
	long long	 timeout_ms;
	int		 rc;

	if (batch_command(db, ex, &command, &timeout_ms, &env) == -1)
		return -1;
	rc = queue_batch(db, ex, targets, k, command, timeout_ms, env);
	free(command);
	free(env);
	return rc;
}

/* Failures exceeded max_failures after batch k: the rest are skipped. */
static int
stop(struct db *db, struct exec *ex, struct json_object *targets, int k,
    int count, const struct tally *ty, uint32_t max, struct step_poll *p)
{
	char		 why[128], *command, *env;
	long long	 timeout_ms;
	size_t		 i, n = json_object_array_length(targets), skipped = 0;

	snprintf(why, sizeof(why), "skipped: %d failures exceeded "
	    "max_failures %u", ty->failed, max);
	if (batch_command(db, ex, &command, &timeout_ms, &env) == -1)
		return -1;
	free(env);		/* a skipped target never runs */
	for (i = 0; i < n; i++) {
		struct json_object	*t = json_object_array_get_idx(targets, i);
		const char		*id, *name;
		long long		 b;

		if (target_of(t, &id, &name, &b) == 0 && b <= k)
			continue;
		if (target_of(t, &id, &name, &b) == -1 ||
		    dispatch_skip(db, ex->id, ex->at, id, name, command,
		    timeout_ms, (int)b, why) == -1) {
			free(command);
			return -1;
		}
		skipped++;
	}
	free(command);
	snprintf(p->reason, sizeof(p->reason), "batch %d of %d: %d failures "
	    "exceeded max_failures %u; %zu remaining target(s) skipped "
	    "(first failure: %s)", k, count, ty->failed, max, skipped,
	    ty->first);
	pjson_utf8_trim(p->reason);
	p->status = STEP_FAILED;
	return 0;
}

/* The step's row: 0 with *k, *count, *paused and its targets, or -1. */
static int
load_row(struct db *db, struct exec *ex, int *k, int *count, int *paused,
    struct json_object **targets)
{
	struct db_res	*res;
	char		 perr[64];

	if (db_exec(db, sql_row, &res, "si", ex->id, (long long)ex->at) == -1)
		return -1;
	*targets = NULL;
	if (db_res_rows(res) == 1 && db_res_get(res, 0, 0) != NULL &&
	    db_res_get(res, 0, 2) != NULL) {
		*k = (int)db_res_int(res, 0, 0, 0);
		*count = (int)db_res_int(res, 0, 1, 0);
		*paused = db_res_int(res, 0, 3, 0) != 0;
		*targets = pjson_parse(db_res_get(res, 0, 2),
		    db_res_len(res, 0, 2), 4, perr, sizeof(perr));
		if (*targets != NULL &&
		    !json_object_is_type(*targets, json_type_array)) {
			json_object_put(*targets);
			*targets = NULL;
		}
	}
	db_res_free(res);
	if (*targets == NULL) {
		log_warnx("execution %s step %d: no batch state on its row",
		    ex->id, ex->at + 1);
		return -1;
	}
	return 0;
}

int
step_batch_poll(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p)
{
	struct json_object	*targets;
	struct tally		 ty;
	uint32_t		 max;
	int			 k, count, paused, rc = -1;

	p->status = STEP_RUNNING;
	p->reason[0] = '\0';
	if (load_row(db, ex, &k, &count, &paused, &targets) == -1)
		return -1;
	if (paused) {
		/* Batch k waits for its pause; the timers wake us. */
		if (!p->due) {
			rc = 0;
			goto out;
		}
		if (db_exec(db, sql_resume, NULL, "sii", ex->id,
		    (long long)ex->at, (long long)k) == -1 ||
		    one_row(db, "resume", ex->id, ex->at) == -1 ||
		    start_batch(db, ex, targets, k) == -1)
			goto out;
		rc = 0;
		goto out;
	}
	if (tally(db, ex, st, k, &ty) == -1)
		goto out;
	if (ty.open > 0) {
		rc = 0;
		goto out;
	}
	max = batch_max_failures(&st->batch,
	    (uint32_t)json_object_array_length(targets));
	if ((uint32_t)ty.failed > max || k >= count) {
		if (db_exec(db, sql_last, NULL, "isii", (long long)ty.failed,
		    ex->id, (long long)ex->at, (long long)k) == -1 ||
		    one_row(db, "end", ex->id, ex->at) == -1)
			goto out;
		if ((uint32_t)ty.failed > max)
			rc = stop(db, ex, targets, k, count, &ty, max, p);
		else {
			/* Every batch ran, failures within max_failures. */
			p->status = STEP_SUCCEEDED;
			if (ty.failed > 0)
				snprintf(p->reason, sizeof(p->reason),
				    "%d target(s) failed, within max_failures "
				    "%u (first: %s)", ty.failed, max, ty.first);
			pjson_utf8_trim(p->reason);
			rc = 0;
		}
		goto out;
	}
	if (db_exec(db, sql_next, NULL, "iiiisii", (long long)k,
	    (long long)ty.failed, (long long)st->batch.pause_ms,
	    (long long)st->batch.pause_ms, ex->id, (long long)ex->at,
	    (long long)k) == -1 ||
	    one_row(db, "next", ex->id, ex->at) == -1)
		goto out;
	if (st->batch.pause_ms == 0 &&
	    start_batch(db, ex, targets, k + 1) == -1)
		goto out;
	rc = 0;
out:
	json_object_put(targets);
	return rc;
}
