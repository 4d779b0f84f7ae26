/*
 * The execution engine. Every entry point runs inside db_txn() with the
 * execution row locked FOR UPDATE, so two processes advancing the same
 * execution take turns, and every change writes its event in the same
 * transaction. Calling engine_advance() twice changes nothing the second
 * time: each step only moves on a fact recorded in the database.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cond.h"
#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "events.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "report.h"
#include "workflow.h"
#include "xmalloc.h"

/* An execution as loaded, locked, for one engine call. */
struct exec {
	char		 id[ID_LEN + 1];
	char		 status[16];
	char		 kind[16];
	int		 current;
	char		*workflow_id;
	char		*prompt_response;
	char		*started_by;
	struct workflow	*wf;
};

static const char sql_wf_get[] =
    "SELECT name, definition, version FROM workflows WHERE id = ?";
/* Waiting on a prompt holds no worker: only running ones count. */
static const char sql_user_running[] =
    "SELECT COUNT(*) FROM executions WHERE started_by = ? "
    "AND status = 'running'";
static const char sql_exec_insert[] =
    "INSERT INTO executions (id, workflow_id, workflow_version, kind, "
    "workflow_name, definition, status, started_by, started_at, "
    "current_step) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, NOW(3), 0)";
static const char sql_step_insert[] =
    "INSERT INTO execution_steps (execution_id, step_index, name, type, "
    "prompt) VALUES (?, ?, ?, ?, ?)";
static const char sql_exec_lock[] =
    "SELECT status, kind, current_step, workflow_id, definition, "
    "prompt_response, started_by FROM executions WHERE id = ? FOR UPDATE";
static const char sql_exec_set[] =
    "UPDATE executions SET status = ?, current_step = ? WHERE id = ?";
static const char sql_exec_finish[] =
    "UPDATE executions SET status = ?, error = ?, current_step = ?, "
    "completed_at = NOW(3) WHERE id = ?";
/* engine_abort(): without reading the definition, which may be the fault. */
static const char sql_exec_abort[] =
    "UPDATE executions SET status = 'failed', error = ?, "
    "completed_at = NOW(3) WHERE id = ? AND status IN ('running', 'waiting')";
static const char sql_exec_wait[] =
    "UPDATE executions SET status = 'waiting', current_step = ? "
    "WHERE id = ?";
static const char sql_step_reason[] =
    "SELECT reason FROM execution_steps WHERE execution_id = ? "
    "AND step_index = ?";
static const char sql_exec_logs[] =
    "UPDATE executions SET logs = ? WHERE id = ?";
static const char sql_exec_answer[] =
    "UPDATE executions SET prompt_response = ?, status = 'running', "
    "current_step = ? WHERE id = ? AND status = 'waiting'";
static const char sql_step_get[] =
    "SELECT status, wake_at IS NOT NULL AND wake_at <= NOW(3) "
    "FROM execution_steps WHERE execution_id = ? AND step_index = ?";
static const char sql_step_begin[] =
    "UPDATE execution_steps SET status = ?, started_at = NOW(3), "
    "wake_at = IF(? < 0, NULL, NOW(3) + INTERVAL ? * 1000 MICROSECOND) "
    "WHERE execution_id = ? AND step_index = ? AND status = 'pending'";
static const char sql_step_end[] =
    "UPDATE execution_steps SET status = ?, reason = ?, "
    "started_at = COALESCE(started_at, NOW(3)), finished_at = NOW(3) "
    "WHERE execution_id = ? AND step_index = ? AND status = ?";
static const char sql_step_answer[] =
    "UPDATE execution_steps SET status = 'succeeded', response = ?, "
    "responded_by = ?, responded_at = NOW(3), finished_at = NOW(3) "
    "WHERE execution_id = ? AND step_index = ? AND status = 'waiting'";
static const char sql_steps_cancel[] =
    "UPDATE execution_steps SET status = 'cancelled', reason = ?, "
    "finished_at = NOW(3) WHERE execution_id = ? "
    "AND status IN ('pending', 'running', 'waiting')";
/*
 * A target needs a command channel: online by heartbeat alone (no
 * websocket on any pushd) it could never receive the command (issue 11).
 */
static const char sql_targets[] =
    "SELECT w.id, w.name FROM workers w WHERE w.status = 'online' "
    "AND w.pushd_node IS NOT NULL AND w.state = 'accepted' "
    "AND (? = 'all' OR w.name = ? OR EXISTS (SELECT 1 FROM worker_groups g "
    "WHERE g.worker_id = w.id AND g.group_name = ?)) ORDER BY w.name";
/*
 * Prefixed targets say which they mean (issue 12): "id:<uuid>" exactly
 * that worker (a direct command), "name:X" the worker named X, "group:X"
 * the workers in group X. A plain X keeps its version-1 meaning, a worker
 * name or a group name, and is refused when it is both.
 */
static const char sql_target_id[] =
    "SELECT w.id, w.name FROM workers w WHERE w.id = ? "
    "AND w.status = 'online' AND w.pushd_node IS NOT NULL "
    "AND w.state = 'accepted'";
static const char sql_target_name[] =
    "SELECT w.id, w.name FROM workers w WHERE w.name = ? "
    "AND w.status = 'online' AND w.pushd_node IS NOT NULL "
    "AND w.state = 'accepted'";
static const char sql_target_group[] =
    "SELECT w.id, w.name FROM workers w WHERE w.status = 'online' "
    "AND w.pushd_node IS NOT NULL AND w.state = 'accepted' "
    "AND EXISTS (SELECT 1 FROM worker_groups g "
    "WHERE g.worker_id = w.id AND g.group_name = ?) ORDER BY w.name";
static const char sql_target_both[] =
    "SELECT EXISTS (SELECT 1 FROM workers WHERE name = ?) AND "
    "EXISTS (SELECT 1 FROM worker_groups g JOIN workers w "
    "ON w.id = g.worker_id WHERE g.group_name = ? AND w.name <> ?)";
static const char sql_worker_get[] =
    "SELECT id, name, status, pushd_node IS NOT NULL, state FROM workers "
    "WHERE id = ?";
/*
 * A target that names a worker (by id, name or a plain name) which is
 * pending or revoked: the step says so rather than "no online worker".
 */
static const char sql_target_untrusted[] =
    "SELECT name, state FROM workers WHERE state <> 'accepted' "
    "AND (id = ? OR name = ?) LIMIT 1";
static const char sql_dispatch_states[] =
    "SELECT status, exit_code, worker_name, error FROM dispatches "
    "WHERE execution_id = ? AND step_index = ? ORDER BY worker_name";
/* Idempotency keys (sql/005): created_at is their expiry clock. */
static const char sql_key_expire[] =
    "DELETE FROM idempotency_keys WHERE username = ? AND idem_key = ? "
    "AND created_at < NOW(3) - INTERVAL 24 HOUR";
static const char sql_key_claim[] =
    "INSERT INTO idempotency_keys (username, idem_key, request) "
    "VALUES (?, ?, ?)";
static const char sql_key_get[] =
    "SELECT request, execution_id FROM idempotency_keys "
    "WHERE username = ? AND idem_key = ?";
static const char sql_key_bind[] =
    "UPDATE idempotency_keys SET execution_id = ? "
    "WHERE username = ? AND idem_key = ?";
static const char sql_ctx_steps[] =
    "SELECT step_index, name, type, status, response FROM execution_steps "
    "WHERE execution_id = ? ORDER BY step_index";
static const char sql_ctx_dispatches[] =
    "SELECT step_index, worker_name, status, exit_code, stdout, stderr "
    "FROM dispatches WHERE execution_id = ? ORDER BY step_index, "
    "worker_name";

static int
fail(struct engine_err *err, enum engine_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct engine_err *err, enum engine_code code, const char *fmt, ...)
{
	va_list	 ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* It may be stored (executions.error): whole characters only. */
	pjson_utf8_trim(err->msg);
	return -1;
}

static int
dberr(struct engine_err *err, struct db *db)
{
	return fail(err, ENGINE_DBERR, "%s", db_errmsg(db));
}

static void
exec_clear(struct exec *ex)
{
	free(ex->workflow_id);
	free(ex->prompt_response);
	free(ex->started_by);
	workflow_free(ex->wf);
	memset(ex, 0, sizeof(*ex));
}

/* Lock and load an execution; its definition is the snapshot taken at
 * start, so editing the workflow never changes a running execution. */
static int
exec_lock(struct db *db, const char *id, struct exec *ex,
    struct engine_err *err)
{
	struct db_res		*res = NULL;
	struct json_object	*def = NULL;
	struct workflow_error	 werr;
	const char		*s;
	char			 perr[128];
	int			 rc = -1;

	memset(ex, 0, sizeof(*ex));
	if (!id_valid(id))
		return fail(err, ENGINE_NOTFOUND, "no execution %s", id);
	if (db_exec(db, sql_exec_lock, &res, "s", id) == -1)
		return dberr(err, db);
	if (db_res_rows(res) == 0) {
		fail(err, ENGINE_NOTFOUND, "no execution %s", id);
		goto out;
	}
	strlcpy_p(ex->id, id, sizeof(ex->id));
	strlcpy_p(ex->status, db_res_get(res, 0, 0), sizeof(ex->status));
	strlcpy_p(ex->kind, db_res_get(res, 0, 1), sizeof(ex->kind));
	ex->current = (int)db_res_int(res, 0, 2, 0);
	if ((s = db_res_get(res, 0, 3)) != NULL)
		ex->workflow_id = xstrdup(s);
	if ((s = db_res_get(res, 0, 5)) != NULL)
		ex->prompt_response = xstrdup(s);
	if ((s = db_res_get(res, 0, 6)) != NULL)
		ex->started_by = xstrdup(s);
	s = db_res_get(res, 0, 4);
	if (s == NULL || (def = pjson_parse(s, db_res_len(res, 0, 4),
	    API_JSON_DEPTH, perr, sizeof(perr))) == NULL) {
		fail(err, ENGINE_INVALID, "execution %s has no readable "
		    "definition", id);
		goto out;
	}
	if (workflow_from_json(def, &ex->wf, &werr) == -1) {
		fail(err, ENGINE_INVALID, "stored definition is invalid: %s",
		    werr.msg);
		goto out;
	}
	rc = 0;
out:
	json_object_put(def);
	db_res_free(res);
	if (rc == -1)
		exec_clear(ex);
	return rc;
}

static int
finish_execution(struct db *db, struct exec *ex, const char *status,
    const char *error)
{
	struct json_object	*logs = NULL;
	const char		*s;
	size_t			 len;
	int			 rc;

	if (db_exec(db, sql_exec_finish, NULL, "ssis", status, error,
	    (long long)ex->current, ex->id) == -1)
		return -1;
	strlcpy_p(ex->status, status, sizeof(ex->status));
	/* The assembled log, so the seed's SQL reports keep working. */
	if (report_steps(db, ex->id, &logs) != 0)
		return -1;
	s = pjson_str(logs, &len);
	rc = db_exec(db, sql_exec_logs, NULL, "bs", s, len, ex->id);
	json_object_put(logs);
	if (rc == -1)
		return -1;
	return events_status(db, ex->id, status);
}

/* End the current step with status from `from`; 0, or -1 on db error. */
static int
step_end(struct db *db, struct exec *ex, const char *from, const char *status,
    const char *reason)
{
	if (db_exec(db, sql_step_end, NULL, "sssis", status, reason, ex->id,
	    (long long)ex->current, from) == -1)
		return -1;
	return events_step(db, ex->id, ex->current, status, reason);
}

/* The `state` of DESIGN.md section 5, from what the database holds. */
static struct json_object *
build_state(struct db *db, struct exec *ex)
{
	struct json_object	*state, *steps, *responses, *execution;
	struct db_res		*sr = NULL, *dr = NULL;
	size_t			 i;

	if (db_exec(db, sql_ctx_steps, &sr, "s", ex->id) == -1 ||
	    db_exec(db, sql_ctx_dispatches, &dr, "s", ex->id) == -1) {
		db_res_free(sr);
		return NULL;
	}
	state = json_object_new_object();
	steps = json_object_new_array();
	responses = json_object_new_object();
	for (i = 0; i < db_res_rows(sr); i++) {
		struct json_object *st = json_object_new_object();
		struct json_object *results = json_object_new_object();
		const char	*resp = db_res_get(sr, i, 4);
		long long	 idx = db_res_int(sr, i, 0, -1);
		long long	 exit_code = 0;
		int		 first = 1, any = 0;
		size_t		 j;

		json_object_object_add(st, "name",
		    json_object_new_string(db_res_get(sr, i, 1)));
		json_object_object_add(st, "type",
		    json_object_new_string(db_res_get(sr, i, 2)));
		json_object_object_add(st, "status",
		    json_object_new_string(db_res_get(sr, i, 3)));
		if (resp != NULL) {
			json_object_object_add(st, "response",
			    json_object_new_string(resp));
			json_object_object_add(responses, db_res_get(sr, i, 1),
			    json_object_new_string(resp));
		}
		for (j = 0; j < db_res_rows(dr); j++) {
			struct json_object *r;
			const char	*ec = db_res_get(dr, j, 3);

			if (db_res_int(dr, j, 0, -2) != idx)
				continue;
			any = 1;
			r = json_object_new_object();
			json_object_object_add(r, "status",
			    json_object_new_string(db_res_get(dr, j, 2)));
			json_object_object_add(r, "exitCode", ec == NULL ?
			    NULL : json_object_new_int64(atoll(ec)));
			json_object_object_add(r, "stdout", pjson_text(
			    db_res_get(dr, j, 4), db_res_len(dr, j, 4)));
			json_object_object_add(r, "stderr", pjson_text(
			    db_res_get(dr, j, 5), db_res_len(dr, j, 5)));
			/*
			 * A step's own exitCode/stdout/stderr are those of
			 * its first target by name, except that a failure
			 * anywhere shows as the step's exitCode.
			 */
			if (first) {
				json_object_object_add(st, "stdout",
				    pjson_text(db_res_get(dr, j, 4),
				    db_res_len(dr, j, 4)));
				json_object_object_add(st, "stderr",
				    pjson_text(db_res_get(dr, j, 5),
				    db_res_len(dr, j, 5)));
				first = 0;
			}
			if (ec != NULL && exit_code == 0)
				exit_code = atoll(ec);
			json_object_object_add(results, db_res_get(dr, j, 1),
			    r);
		}
		if (any)
			json_object_object_add(st, "exitCode",
			    json_object_new_int64(exit_code));
		json_object_object_add(st, "results", results);
		json_object_array_add(steps, st);
	}
	execution = json_object_new_object();
	json_object_object_add(execution, "id", json_object_new_string(ex->id));
	json_object_object_add(execution, "started_by",
	    pjson_string_or_null(ex->started_by));
	json_object_object_add(state, "promptResponse",
	    pjson_string_or_null(ex->prompt_response));
	json_object_object_add(state, "responses", responses);
	json_object_object_add(state, "steps", steps);
	json_object_object_add(state, "execution", execution);
	db_res_free(sr);
	db_res_free(dr);
	return state;
}

/*
 * Decide whether the current step runs. 1: run it; 0: skipped (recorded);
 * -1: db error.
 */
static int
step_condition(struct db *db, struct exec *ex, const struct step *st)
{
	struct json_object	*ctx, *state;
	char			 cerr[256], reason[512];
	int			 truth = 0, rc;

	if (st->cond == NULL)
		return 1;
	if ((state = build_state(db, ex)) == NULL)
		return -1;
	ctx = json_object_new_object();
	json_object_object_add(ctx, "promptResponse",
	    pjson_string_or_null(ex->prompt_response));
	json_object_object_add(ctx, "state", state);
	rc = cond_eval(st->cond, ctx, &truth, cerr, sizeof(cerr));
	json_object_put(ctx);
	if (rc == 0 && truth)
		return 1;
	if (rc == 0)
		snprintf(reason, sizeof(reason), "condition is false: %s",
		    st->condition);
	else
		snprintf(reason, sizeof(reason), "condition could not be "
		    "evaluated: %s", cerr);
	pjson_utf8_trim(reason);	/* a long condition is cut */
	return step_end(db, ex, "pending", "skipped", reason) == -1 ? -1 : 0;
}

struct target {
	char	*id;
	char	*name;
};

static void
targets_free(struct target *t, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(t[i].id);
		free(t[i].name);
	}
	free(t);
}

/* Is target s (a plain one) both a worker name and a group name? */
int
engine_target_ambiguous(struct db *db, const char *s, int *ambiguous)
{
	struct db_res	*res;

	*ambiguous = 0;
	if (strcmp(s, "all") == 0 || strncmp(s, ENGINE_TARGET_ID,
	    strlen(ENGINE_TARGET_ID)) == 0 || strncmp(s, ENGINE_TARGET_NAME,
	    strlen(ENGINE_TARGET_NAME)) == 0 || strncmp(s, ENGINE_TARGET_GROUP,
	    strlen(ENGINE_TARGET_GROUP)) == 0)
		return 0;
	if (db_exec(db, sql_target_both, &res, "sss", s, s, s) == -1)
		return -1;
	*ambiguous = db_res_int(res, 0, 0, 0) != 0;
	db_res_free(res);
	return 0;
}

static int
target_query(struct db *db, const char *s, struct db_res **res)
{
	size_t	 n;

	if (strncmp(s, ENGINE_TARGET_ID, (n = strlen(ENGINE_TARGET_ID))) ==
	    0 && id_valid(s + n))
		return db_exec(db, sql_target_id, res, "s", s + n);
	if (strncmp(s, ENGINE_TARGET_NAME, (n = strlen(ENGINE_TARGET_NAME))) ==
	    0)
		return db_exec(db, sql_target_name, res, "s", s + n);
	if (strncmp(s, ENGINE_TARGET_GROUP,
	    (n = strlen(ENGINE_TARGET_GROUP))) == 0)
		return db_exec(db, sql_target_group, res, "s", s + n);
	return db_exec(db, sql_targets, res, "sss", s, s, s);
}

/*
 * A target that found no worker: does it name one that is pending or
 * revoked? Then why says so (SPEC section 12: never commanded).
 */
static int
target_untrusted(struct db *db, const char *s, char *why, size_t len)
{
	struct db_res	*res;
	size_t		 n;

	if (why[0] != '\0' || strcmp(s, "all") == 0 || strncmp(s,
	    ENGINE_TARGET_GROUP, strlen(ENGINE_TARGET_GROUP)) == 0)
		return 0;
	if (strncmp(s, ENGINE_TARGET_ID, (n = strlen(ENGINE_TARGET_ID))) == 0)
		s += n;
	else if (strncmp(s, ENGINE_TARGET_NAME,
	    (n = strlen(ENGINE_TARGET_NAME))) == 0)
		s += n;
	if (db_exec(db, sql_target_untrusted, &res, "ss", s, s) == -1)
		return -1;
	if (db_res_rows(res) > 0)
		snprintf(why, len, "worker '%s' is %s: an admin must accept it "
		    "before it is sent commands", db_res_get(res, 0, 0),
		    db_res_get(res, 0, 1));
	db_res_free(res);
	pjson_utf8_trim(why);
	return 0;
}

/*
 * Online workers matching any of the step's targets, without repeats.
 * *ambiguous names a plain target that is both a worker and a group (the
 * step fails rather than run on more servers than one of them meant);
 * untrusted says why a target that names a worker found none, if that
 * worker is pending or revoked.
 */
static int
resolve_targets(struct db *db, const struct step *st, struct target **out,
    size_t *nout, const char **ambiguous, char *untrusted, size_t ulen)
{
	struct target	*t = NULL;
	size_t		 n = 0, i, r, k;
	int		 both;

	*ambiguous = NULL;
	for (i = 0; i < st->ntargets; i++) {
		struct db_res	*res;
		const char	*name = st->targets[i];

		if (engine_target_ambiguous(db, name, &both) == -1) {
			targets_free(t, n);
			return -1;
		}
		if (both) {
			*ambiguous = name;
			break;
		}
		if (target_query(db, name, &res) == -1) {
			targets_free(t, n);
			return -1;
		}
		if (db_res_rows(res) == 0 && target_untrusted(db, name,
		    untrusted, ulen) == -1) {
			db_res_free(res);
			targets_free(t, n);
			return -1;
		}
		for (r = 0; r < db_res_rows(res); r++) {
			const char *id = db_res_get(res, r, 0);

			for (k = 0; k < n; k++)
				if (strcmp(t[k].id, id) == 0)
					break;
			if (k < n)
				continue;
			t = xreallocarray(t, n + 1, sizeof(*t));
			t[n].id = xstrdup(id);
			t[n].name = xstrdup(db_res_get(res, r, 1));
			n++;
		}
		db_res_free(res);
	}
	*out = t;
	*nout = n;
	return 0;
}

static void
join_targets(const struct step *st, char *buf, size_t len)
{
	size_t	 i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < st->ntargets && o + 1 < len; i++)
		o += snprintf(buf + o, len - o, "%s'%s'", i ? ", " : "",
		    st->targets[i]);
	pjson_utf8_trim(buf);
}

/* Queue one dispatch per target. 1: queued; 0: failed (recorded). */
static int
start_execute(struct db *db, struct exec *ex, const struct step *st)
{
	struct target	*t;
	const char	*both;
	size_t		 n, i;
	char		 reason[512], names[256];
	char		 untrusted[WORKER_NAME_MAX + 96] = "";

	if (resolve_targets(db, st, &t, &n, &both, untrusted,
	    sizeof(untrusted)) == -1)
		return -1;
	if (untrusted[0] != '\0') {
		targets_free(t, n);
		if (step_end(db, ex, "pending", "failed", untrusted) == -1)
			return -1;
		return 0;
	}
	if (both != NULL) {
		char	 why[3 * WF_TARGET_MAX + 128];

		snprintf(why, sizeof(why), "target '%s' is both a worker name "
		    "and a group name: write name:%s or group:%s", both, both,
		    both);
		targets_free(t, n);
		if (step_end(db, ex, "pending", "failed", why) == -1)
			return -1;
		return 0;
	}
	if (n == 0) {
		join_targets(st, names, sizeof(names));
		snprintf(reason, sizeof(reason), "no online worker with a "
		    "command channel matches target %s", names);
		if (step_end(db, ex, "pending", "failed", reason) == -1)
			return -1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (dispatch_queue(db, ex->id, ex->current, t[i].id,
		    t[i].name, st->command, st->timeout_ms) == -1)
			goto fail;
	}
	targets_free(t, n);
	return 1;
fail:
	targets_free(t, n);
	return -1;
}

/* Status of the current execute step from its dispatches. */
static int
execute_outcome(struct db *db, struct exec *ex, const char **status,
    char *reason, size_t rlen)
{
	struct db_res	*res;
	size_t		 i, done = 0, ok = 0;

	if (db_exec(db, sql_dispatch_states, &res, "si", ex->id,
	    (long long)ex->current) == -1)
		return -1;
	*status = NULL;
	reason[0] = '\0';
	for (i = 0; i < db_res_rows(res); i++) {
		const char *s = db_res_get(res, i, 0);

		if (strcmp(s, "queued") == 0 || strcmp(s, "sent") == 0 ||
		    strcmp(s, "running") == 0)
			continue;
		done++;
		if (strcmp(s, "succeeded") == 0) {
			ok++;
			continue;
		}
		if (reason[0] == '\0') {
			const char *ec = db_res_get(res, i, 1);
			const char *why = db_res_get(res, i, 3);

			if (ec != NULL)
				snprintf(reason, rlen, "%s on worker '%s' "
				    "(exit code %s)", s, db_res_get(res, i, 2),
				    ec);
			else
				snprintf(reason, rlen, "%s on worker '%s'%s%s",
				    s, db_res_get(res, i, 2), why ? ": " : "",
				    why ? why : "");
			pjson_utf8_trim(reason);	/* long names */
		}
	}
	if (done == db_res_rows(res))
		*status = ok == done ? "succeeded" : "failed";
	db_res_free(res);
	return 0;
}

static int
fail_execution(struct db *db, struct exec *ex, const struct step *st,
    const char *reason)
{
	char	 msg[700];

	snprintf(msg, sizeof(msg), "step %d (\"%s\") failed: %s",
	    ex->current + 1, st->name, reason);
	return finish_execution(db, ex, "failed", msg);
}

/* Park the execution on a prompt and tell the browsers. */
static int
prompt_wait(struct db *db, struct exec *ex, const struct step *st)
{
	struct json_object	*p, *prompt, *opts;
	size_t			 i;

	if (db_exec(db, sql_exec_wait, NULL, "is", (long long)ex->current,
	    ex->id) == -1)
		return -1;
	strlcpy_p(ex->status, "waiting", sizeof(ex->status));
	prompt = json_object_new_object();
	opts = json_object_new_array();
	for (i = 0; i < st->noptions; i++)
		json_object_array_add(opts,
		    json_object_new_string(st->options[i]));
	json_object_object_add(prompt, "message",
	    json_object_new_string(st->message));
	json_object_object_add(prompt, "options", opts);
	json_object_object_add(prompt, "step", json_object_new_int(ex->current));
	p = json_object_new_object();
	json_object_object_add(p, "execution_id", json_object_new_string(ex->id));
	json_object_object_add(p, "prompt", prompt);
	if (events_append(db, "execution_prompt", ex->id, NULL, p) == -1)
		return -1;
	return events_status(db, ex->id, "waiting");
}

/* The heart of DESIGN.md section 4; runs with the execution locked. */
static int
advance_locked(struct db *db, struct exec *ex)
{
	struct db_res	*res;
	char		 status[16], reason[512];
	int		 due, rc, start_index = ex->current;

	if (strcmp(ex->status, "running") != 0)
		return 0;
	for (;;) {
		const struct step *st;

		if ((size_t)ex->current >= ex->wf->nsteps)
			return finish_execution(db, ex, "completed", NULL);
		st = &ex->wf->steps[ex->current];
		if (db_exec(db, sql_step_get, &res, "si", ex->id,
		    (long long)ex->current) == -1)
			return -1;
		if (db_res_rows(res) == 0) {
			db_res_free(res);
			db_seterr(db, 0, "execution %s has no step %d",
			    ex->id, ex->current);
			return -1;
		}
		strlcpy_p(status, db_res_get(res, 0, 0), sizeof(status));
		due = db_res_int(res, 0, 1, 0) == 1;
		db_res_free(res);

		if (strcmp(status, "pending") == 0) {
			if ((rc = step_condition(db, ex, st)) == -1)
				return -1;
			if (rc == 0)
				goto next;
			switch (st->type) {
			case STEP_EXECUTE:
				if ((rc = start_execute(db, ex, st)) == -1)
					return -1;
				if (rc == 0)
					goto failed;
				if (db_exec(db, sql_step_begin, NULL, "siisi",
				    "running", (long long)-1, (long long)-1,
				    ex->id, (long long)ex->current) == -1 ||
				    events_step(db, ex->id, ex->current,
				    "running", NULL) == -1)
					return -1;
				goto save;
			case STEP_PROMPT:
				if (db_exec(db, sql_step_begin, NULL, "siisi",
				    "waiting", (long long)-1, (long long)-1,
				    ex->id, (long long)ex->current) == -1 ||
				    events_step(db, ex->id, ex->current,
				    "waiting", NULL) == -1)
					return -1;
				return prompt_wait(db, ex, st);
			case STEP_WAIT:
				if (db_exec(db, sql_step_begin, NULL, "siisi",
				    "running", st->duration_ms,
				    st->duration_ms, ex->id,
				    (long long)ex->current) == -1 ||
				    events_step(db, ex->id, ex->current,
				    "running", NULL) == -1)
					return -1;
				if (st->duration_ms > 0)
					goto save;
				due = 1;
				strlcpy_p(status, "running", sizeof(status));
				break;
			}
		}
		if (strcmp(status, "running") == 0) {
			const char *outcome = NULL;

			if (st->type == STEP_WAIT) {
				if (!due)
					goto save;
				outcome = "succeeded";
				reason[0] = '\0';
			} else if (execute_outcome(db, ex, &outcome, reason,
			    sizeof(reason)) == -1)
				return -1;
			if (outcome == NULL)
				goto save;
			if (step_end(db, ex, "running", outcome,
			    reason[0] ? reason : NULL) == -1)
				return -1;
			if (strcmp(outcome, "failed") == 0)
				return fail_execution(db, ex, st, reason);
			goto next;
		}
		if (strcmp(status, "waiting") == 0)
			return 0;
		if (strcmp(status, "failed") == 0) {
failed:
			if (db_exec(db, sql_step_reason, &res, "si", ex->id,
			    (long long)ex->current) == -1)
				return -1;
			snprintf(reason, sizeof(reason), "%s",
			    db_res_get(res, 0, 0) ? db_res_get(res, 0, 0) :
			    "failed");
			pjson_utf8_trim(reason);
			db_res_free(res);
			return fail_execution(db, ex, st, reason);
		}
		/* succeeded, skipped: move on. */
next:
		ex->current++;
	}
save:
	if (ex->current != start_index && db_exec(db, sql_exec_set, NULL,
	    "sis", "running", (long long)ex->current, ex->id) == -1)
		return -1;
	return 0;
}

/* ---------------------------------------------------------- entry points */

struct call {
	const char		*id;		/* execution */
	const char		*workflow_id;
	const char		*worker_id;
	const char		*command;
	long long		 timeout_ms;
	const char		*response;
	long long		 step;		/* respond: -1 or the prompt */
	const char		*user;
	int			 flags;		/* ENGINE_AS_ADMIN */
	const char		*key;		/* Idempotency-Key or NULL */
	int			 replayed;	/* key seen: id_out is old */
	char			*id_out;
	struct engine_err	*err;
	const struct audit_actor *audit;	/* NULL: no audit row */
	long long		 version;	/* of the workflow run, or 0 */
};

/*
 * The call's audit row, last in its transaction (the chain head stays
 * locked until the commit). Takes details.
 */
static int
call_audit(struct db *db, struct call *c, const char *action,
    const char *target_type, const char *target_id,
    struct json_object *details)
{
	int	 rc = 0;

	if (c->audit != NULL)
		rc = audit_append(db, c->audit, action, target_type,
		    target_id, details);
	json_object_put(details);
	return rc == -1 ? dberr(c->err, db) : 0;
}

static int
advance_txn(struct db *db, void *arg)
{
	struct call	*c = arg;
	struct exec	 ex;
	int		 rc;

	if (exec_lock(db, c->id, &ex, c->err) == -1)
		return -1;
	rc = advance_locked(db, &ex);
	exec_clear(&ex);
	return rc == -1 ? dberr(c->err, db) : 0;
}

/* Run one engine call in a transaction; map a db failure into err. */
static int
run(struct db *db, int (*fn)(struct db *, void *), struct call *c)
{
	c->err->code = ENGINE_OK;
	c->err->msg[0] = '\0';
	if (db_txn(db, fn, c) == -1) {
		if (c->err->code == ENGINE_OK)
			dberr(c->err, db);
		return -1;
	}
	return 0;
}

int
engine_advance(struct db *db, const char *execution_id,
    struct engine_err *err)
{
	struct call	 c = { .id = execution_id, .err = err };

	return run(db, advance_txn, &c);
}

static struct json_object *
step_prompt_json(const struct step *st)
{
	struct json_object	*p, *opts;
	size_t			 i;

	if (st->type != STEP_PROMPT)
		return NULL;
	p = json_object_new_object();
	opts = json_object_new_array();
	for (i = 0; i < st->noptions; i++)
		json_object_array_add(opts,
		    json_object_new_string(st->options[i]));
	json_object_object_add(p, "message", json_object_new_string(st->message));
	json_object_object_add(p, "options", opts);
	return p;
}

/* Insert an execution and its steps, announce it, and advance it. */
static int	engine_user_max;

void
engine_set_user_max(int max)
{
	engine_user_max = max;
}

/* -1 (with c->err) when c->user may not start more now. */
static int
user_capped(struct db *db, struct call *c)
{
	struct db_res	*res;
	long long	 n;

	if (engine_user_max <= 0 || c->user == NULL)
		return 0;
	/*
	 * A plain read, no lock: a user's concurrent starts may pass the cap
	 * by a few, rather than wait on each other (a start held by the
	 * database would hold every other start of that user).
	 */
	if (db_exec(db, sql_user_running, &res, "s", c->user) == -1)
		return dberr(c->err, db);
	n = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	if (n >= engine_user_max)
		return fail(c->err, ENGINE_LIMIT, "%s has %lld running "
		    "executions, the most one user may have "
		    "(PULSE_USER_EXECUTIONS_MAX): wait for one to end, or "
		    "cancel one", c->user, n);
	return 0;
}

static int
create_execution(struct db *db, struct call *c, const char *kind,
    const char *workflow_name, struct json_object *def)
{
	struct workflow_error	 werr;
	struct exec		 ex;
	struct json_object	*p;
	const char		*s;
	size_t			 len, i;
	int			 rc;

	memset(&ex, 0, sizeof(ex));
	if (user_capped(db, c) == -1)
		return -1;
	if (workflow_from_json(def, &ex.wf, &werr) == -1)
		return fail(c->err, ENGINE_INVALID, "the workflow's definition "
		    "is invalid: %s", werr.msg);
	id_new(c->id_out);
	s = pjson_str(def, &len);
	/* A direct command has no workflow and so no version: NULL. */
	if (c->version > 0)
		rc = db_exec(db, sql_exec_insert, NULL, "ssisbbs", c->id_out,
		    c->workflow_id, c->version, kind, workflow_name,
		    strlen(workflow_name), s, len, c->user);
	else
		rc = db_exec(db, sql_exec_insert, NULL, "ssnsbbs", c->id_out,
		    c->workflow_id, kind, workflow_name,
		    strlen(workflow_name), s, len, c->user);
	if (rc == -1)
		goto dbfail;
	for (i = 0; i < ex.wf->nsteps; i++) {
		const struct step *st = &ex.wf->steps[i];
		struct json_object *pr = step_prompt_json(st);
		const char	*ps = pr ? pjson_str(pr, NULL) : NULL;

		rc = db_exec(db, sql_step_insert, NULL, "sisss", c->id_out,
		    (long long)i, st->name, step_type_name(st->type), ps);
		json_object_put(pr);
		if (rc == -1)
			goto dbfail;
	}
	p = json_object_new_object();
	json_object_object_add(p, "execution_id",
	    json_object_new_string(c->id_out));
	json_object_object_add(p, "workflow_id",
	    pjson_string_or_null(c->workflow_id));
	if (events_append(db, "execution_started", c->id_out, NULL, p) == -1)
		goto dbfail;
	strlcpy_p(ex.id, c->id_out, sizeof(ex.id));
	strlcpy_p(ex.status, "running", sizeof(ex.status));
	strlcpy_p(ex.kind, kind, sizeof(ex.kind));
	ex.started_by = c->user ? xstrdup(c->user) : NULL;
	if (advance_locked(db, &ex) == -1)
		goto dbfail;
	exec_clear(&ex);
	return 0;
dbfail:
	exec_clear(&ex);
	return dberr(c->err, db);
}

/*
 * Claim c->key for this start. The key row's unique index is the lock: a
 * second request with the key waits here until the first commits (then
 * sees its row: a replay) or rolls back (then claims it itself). 0: claimed;
 * 1: replay, c->id_out is the first execution; -1: error in c->err.
 */
static int
key_claim(struct db *db, struct call *c)
{
	struct db_res	*res;
	int		 rc = -1;

	if (db_exec(db, sql_key_expire, NULL, "ss", c->user, c->key) == -1)
		return dberr(c->err, db);
	if (db_exec(db, sql_key_claim, NULL, "sss", c->user, c->key,
	    c->workflow_id) == 0)
		return 0;
	if (db_errcode(db) == 1205) {	/* ER_LOCK_WAIT_TIMEOUT */
		/* The first request is stuck mid-transaction: not a retry
		 * of db_txn's kind, the client should come back later. */
		db_seterr(db, 0, "idempotency key busy");
		return fail(c->err, ENGINE_CONFLICT, "a request with this "
		    "Idempotency-Key is still in progress; retry later");
	}
	if (db_errcode(db) != 1062)	/* ER_DUP_ENTRY */
		return dberr(c->err, db);
	if (db_exec(db, sql_key_get, &res, "ss", c->user, c->key) == -1)
		return dberr(c->err, db);
	if (db_res_rows(res) == 0 || db_res_get(res, 0, 1) == NULL)
		fail(c->err, ENGINE_CONFLICT, "a request with this "
		    "Idempotency-Key is still in progress; retry later");
	else if (strcmp(db_res_get(res, 0, 0), c->workflow_id) != 0)
		fail(c->err, ENGINE_KEY_REUSED, "this Idempotency-Key was "
		    "used to start workflow %s; a different request needs a "
		    "new key", db_res_get(res, 0, 0));
	else {
		strlcpy_p(c->id_out, db_res_get(res, 0, 1), ID_LEN + 1);
		c->replayed = 1;
		rc = 1;
	}
	db_res_free(res);
	return rc;
}

static int
start_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct db_res		*res = NULL;
	struct json_object	*def;
	char			 perr[128];
	int			 rc;

	c->replayed = 0;
	if (!id_valid(c->workflow_id))
		return fail(c->err, ENGINE_NOTFOUND, "no workflow %s",
		    c->workflow_id);
	if (db_exec(db, sql_wf_get, &res, "s", c->workflow_id) == -1)
		return dberr(c->err, db);
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return fail(c->err, ENGINE_NOTFOUND, "no workflow %s",
		    c->workflow_id);
	}
	def = pjson_parse(db_res_get(res, 0, 1), db_res_len(res, 0, 1),
	    API_JSON_DEPTH, perr, sizeof(perr));
	if (def == NULL) {
		db_res_free(res);
		return fail(c->err, ENGINE_INVALID, "the workflow's definition "
		    "is not valid JSON: %s", perr);
	}
	if (c->key != NULL && (rc = key_claim(db, c)) != 0) {
		json_object_put(def);
		db_res_free(res);
		return rc == 1 ? 0 : -1;
	}
	c->version = db_res_int(res, 0, 2, 0);
	rc = create_execution(db, c, "workflow", db_res_get(res, 0, 0), def);
	json_object_put(def);
	if (rc == 0 && c->key != NULL && db_exec(db, sql_key_bind, NULL, "sss",
	    c->id_out, c->user, c->key) == -1)
		rc = dberr(c->err, db);
	if (rc == 0) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "workflow_id",
		    json_object_new_string(c->workflow_id));
		json_object_object_add(d, "workflow_name",
		    json_object_new_string(db_res_get(res, 0, 0)));
		json_object_object_add(d, "workflow_version",
		    json_object_new_int64(c->version));
		rc = call_audit(db, c, "execution.start", "execution",
		    c->id_out, d);
	}
	db_res_free(res);
	return rc;
}

int
engine_start(struct db *db, const char *workflow_id, const char *user,
    char id_out[ID_LEN + 1], struct engine_err *err)
{
	return engine_start_keyed(db, workflow_id, user, NULL, id_out, NULL,
	    err, NULL);
}

int
engine_start_keyed(struct db *db, const char *workflow_id, const char *user,
    const char *key, char id_out[ID_LEN + 1], int *replayed,
    struct engine_err *err, const struct audit_actor *audit)
{
	struct call	 c = { .workflow_id = workflow_id, .user = user,
	    .key = key, .id_out = id_out, .err = err, .audit = audit };
	int		 rc;

	rc = run(db, start_txn, &c);
	if (replayed != NULL)
		*replayed = rc == 0 && c.replayed;
	return rc;
}

static int
command_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct db_res		*res = NULL;
	struct json_object	*def, *steps, *st, *targets;
	char			 name[WF_STEP_NAME_MAX + 1],
				 target[sizeof(ENGINE_TARGET_ID) + ID_LEN];
	const char		*wname;
	size_t			 n;
	int			 rc, k;

	if (!id_valid(c->worker_id))
		return fail(c->err, ENGINE_NOTFOUND, "no worker %s",
		    c->worker_id);
	if (db_exec(db, sql_worker_get, &res, "s", c->worker_id) == -1)
		return dberr(c->err, db);
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return fail(c->err, ENGINE_NOTFOUND, "no worker %s",
		    c->worker_id);
	}
	if (strcmp(db_res_get(res, 0, 4), "accepted") != 0) {
		fail(c->err, ENGINE_CONFLICT, "worker '%s' is %s: an admin "
		    "must accept it before it is sent commands",
		    db_res_get(res, 0, 1), db_res_get(res, 0, 4));
		db_res_free(res);
		return -1;
	}
	if (strcmp(db_res_get(res, 0, 2), "online") != 0) {
		fail(c->err, ENGINE_CONFLICT, "worker '%s' is offline",
		    db_res_get(res, 0, 1));
		db_res_free(res);
		return -1;
	}
	if (db_res_int(res, 0, 3, 0) == 0) {
		fail(c->err, ENGINE_CONFLICT, "worker '%s' is online but has "
		    "no command channel (its websocket is not connected)",
		    db_res_get(res, 0, 1));
		db_res_free(res);
		return -1;
	}
	/*
	 * Target the worker by id: by name, any worker that claims a group
	 * of that name would run it too (issue 12). The step's name says
	 * which worker it is for a reader.
	 */
	wname = db_res_get(res, 0, 1);
	for (n = 0, k = 0; wname[n] != '\0'; n++)
		if (((unsigned char)wname[n] & 0xc0) != 0x80 &&
		    ++k > WF_STEP_NAME_CHARS - (int)strlen("Command on "))
			break;	/* a step name has 255 characters at most */
	snprintf(name, sizeof(name), "Command on %.*s", (int)n, wname);
	snprintf(target, sizeof(target), "%s%s", ENGINE_TARGET_ID,
	    db_res_get(res, 0, 0));
	def = json_object_new_object();
	steps = json_object_new_array();
	st = json_object_new_object();
	targets = json_object_new_array();
	json_object_array_add(targets, json_object_new_string(target));
	json_object_object_add(st, "name", json_object_new_string(name));
	json_object_object_add(st, "type", json_object_new_string("execute"));
	json_object_object_add(st, "targets", targets);
	json_object_object_add(st, "command",
	    json_object_new_string(c->command));
	json_object_object_add(st, "timeout",
	    json_object_new_int64(c->timeout_ms));
	json_object_array_add(steps, st);
	json_object_object_add(def, "steps", steps);
	rc = create_execution(db, c, "command", name, def);
	json_object_put(def);
	if (rc == 0) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "execution_id",
		    json_object_new_string(c->id_out));
		json_object_object_add(d, "worker_name",
		    json_object_new_string(wname));
		json_object_object_add(d, "command",
		    json_object_new_string(c->command));
		json_object_object_add(d, "timeout",
		    json_object_new_int64(c->timeout_ms));
		rc = call_audit(db, c, "worker.command", "worker",
		    c->worker_id, d);
	}
	db_res_free(res);
	return rc;
}

int
engine_start_command(struct db *db, const char *worker_id, const char *command,
    long long timeout_ms, const char *user, char id_out[ID_LEN + 1],
    struct engine_err *err, const struct audit_actor *audit)
{
	struct call	 c = { .worker_id = worker_id, .command = command,
	    .timeout_ms = timeout_ms, .user = user, .id_out = id_out,
	    .err = err, .audit = audit };

	return run(db, command_txn, &c);
}

static int
respond_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct exec		 ex;
	const struct step	*st;
	struct json_object	*p;
	size_t			 i;
	int			 rc = -1, answered;

	if (exec_lock(db, c->id, &ex, c->err) == -1)
		return -1;
	if (strcmp(ex.status, "waiting") != 0) {
		fail(c->err, ENGINE_CONFLICT, "execution is %s, not waiting "
		    "for an answer", ex.status);
		goto out;
	}
	if (c->step >= 0 && c->step != ex.current) {
		fail(c->err, ENGINE_CONFLICT, "step %lld is not the prompt "
		    "waiting for an answer (step %d is)", c->step, ex.current);
		goto out;
	}
	st = &ex.wf->steps[ex.current];
	for (i = 0; i < st->noptions; i++)
		if (strcmp(st->options[i], c->response) == 0)
			break;
	if (st->type != STEP_PROMPT || i == st->noptions) {
		fail(c->err, ENGINE_INVALID, "response must be one of the "
		    "prompt's options");
		goto out;
	}
	if (db_exec(db, sql_step_answer, NULL, "sssi", c->response, c->user,
	    ex.id, (long long)ex.current) == -1)
		goto dbfail;
	if (db_affected(db) != 1) {
		fail(c->err, ENGINE_CONFLICT, "the prompt was already answered");
		goto out;
	}
	p = json_object_new_object();
	json_object_object_add(p, "execution_id", json_object_new_string(ex.id));
	json_object_object_add(p, "step", json_object_new_int(ex.current));
	json_object_object_add(p, "response",
	    json_object_new_string(c->response));
	json_object_object_add(p, "responded_by",
	    pjson_string_or_null(c->user));
	if (events_append(db, "execution_response", ex.id, NULL, p) == -1 ||
	    events_step(db, ex.id, ex.current, "succeeded", NULL) == -1)
		goto dbfail;
	answered = ex.current++;
	if (db_exec(db, sql_exec_answer, NULL, "sis", c->response,
	    (long long)ex.current, ex.id) == -1)
		goto dbfail;
	free(ex.prompt_response);
	ex.prompt_response = xstrdup(c->response);
	strlcpy_p(ex.status, "running", sizeof(ex.status));
	if (events_status(db, ex.id, "running") == -1 ||
	    advance_locked(db, &ex) == -1)
		goto dbfail;
	p = json_object_new_object();
	json_object_object_add(p, "step", json_object_new_int(answered));
	json_object_object_add(p, "response",
	    json_object_new_string(c->response));
	rc = call_audit(db, c, "execution.respond", "execution", ex.id, p);
	goto out;
dbfail:
	dberr(c->err, db);
out:
	exec_clear(&ex);
	return rc;
}

int
engine_respond(struct db *db, const char *execution_id, const char *response,
    const char *user, struct engine_err *err)
{
	return engine_respond_step(db, execution_id, -1, response, user, err,
	    NULL);
}

int
engine_respond_step(struct db *db, const char *execution_id, long long step,
    const char *response, const char *user, struct engine_err *err,
    const struct audit_actor *audit)
{
	struct call	 c = { .id = execution_id, .response = response,
	    .step = step, .user = user, .err = err, .audit = audit };

	return run(db, respond_txn, &c);
}

static int
cancel_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct exec		 ex;
	struct json_object	*d;
	char			 why[300];
	int			 rc = -1;

	if (exec_lock(db, c->id, &ex, c->err) == -1)
		return -1;
	/* Only an admin may send one, so only an admin may stop one. */
	if (strcmp(ex.kind, "command") == 0 && !(c->flags & ENGINE_AS_ADMIN)) {
		fail(c->err, ENGINE_FORBIDDEN, "cancelling a direct command "
		    "is for admins");
		goto out;
	}
	if (strcmp(ex.status, "running") != 0 &&
	    strcmp(ex.status, "waiting") != 0) {
		fail(c->err, ENGINE_CONFLICT, "execution is already %s",
		    ex.status);
		goto out;
	}
	d = json_object_new_object();
	json_object_object_add(d, "kind", json_object_new_string(ex.kind));
	json_object_object_add(d, "status_before",
	    json_object_new_string(ex.status));
	snprintf(why, sizeof(why), "cancelled by %s", c->user ? c->user : "?");
	if (db_exec(db, sql_steps_cancel, NULL, "ss", why, ex.id) == -1 ||
	    dispatch_cancel_execution(db, ex.id) == -1 ||
	    finish_execution(db, &ex, "cancelled", why) == -1) {
		dberr(c->err, db);
		json_object_put(d);
		goto out;
	}
	rc = call_audit(db, c, "execution.cancel", "execution", ex.id, d);
out:
	exec_clear(&ex);
	return rc;
}

static int
abort_txn(struct db *db, void *arg)
{
	struct call	*c = arg;

	if (db_exec(db, sql_exec_abort, NULL, "ss", c->response, c->id) == -1)
		return dberr(c->err, db);
	if (db_affected(db) != 1)
		return 1;	/* it ended meanwhile */
	if (db_exec(db, sql_steps_cancel, NULL, "ss", c->response,
	    c->id) == -1 ||
	    dispatch_cancel_execution(db, c->id) == -1 ||
	    events_status(db, c->id, "failed") == -1)
		return dberr(c->err, db);
	return 0;
}

int
engine_abort(struct db *db, const char *execution_id, const char *reason,
    struct engine_err *err)
{
	struct call	 c = { .id = execution_id, .response = reason,
	    .err = err };
	int		 rc;

	err->code = ENGINE_OK;
	err->msg[0] = '\0';
	if ((rc = db_txn(db, abort_txn, &c)) == -1 && err->code == ENGINE_OK)
		dberr(err, db);
	return rc;	/* 1: it had ended meanwhile */
}

int
engine_cancel(struct db *db, const char *execution_id, const char *user,
    int flags, struct engine_err *err, const struct audit_actor *audit)
{
	struct call	 c = { .id = execution_id, .user = user, .flags = flags,
	    .err = err, .audit = audit };

	return run(db, cancel_txn, &c);
}
