/*
 * The execute step (SPEC section 5): a command on every worker its
 * targets name, one dispatch each; it ends when every dispatch has, and
 * succeeds when every one succeeded.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "engine-int.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "retry.h"
#include "step.h"
#include "wfcheck.h"
#include "workflow.h"
#include "xmalloc.h"

/* Each worker's attempts together, its latest first. */
static const char sql_dispatch_states[] =
    "SELECT status, exit_code, worker_name, error, id, attempt, worker_id "
    "FROM dispatches WHERE execution_id = ? AND step_index = ? "
    "ORDER BY worker_name, worker_id, attempt DESC";

static const char *const execute_keys[] = {
	"targets", "command", "timeout",
	"batch",		/* issue 14: rolling batches (step-batch.c) */
	"retry", "retry_lost",
	NULL
};

/*
 * retry and retry_lost (SPEC section 14). retry_lost without retry is
 * refused rather than ignored: whoever wrote it expects lost attempts to
 * be retried, and nothing would be.
 */
static int
retry_validate(struct wf_check *ck, struct json_object *o, struct step *st)
{
	struct json_object	*v, *lost;
	struct fielderr		 fe;
	int			 has_retry;

	memset(&st->retry, 0, sizeof(st->retry));
	st->retry_lost = 0;
	has_retry = json_object_object_get_ex(o, "retry", &v);
	if (has_retry && retry_from_json(v, &st->retry, &fe) == -1)
		return wf_fail(ck, fe.field, "%s", fe.msg);
	if (!json_object_object_get_ex(o, "retry_lost", &lost))
		return 0;
	if (!json_object_is_type(lost, json_type_boolean))
		return wf_fail(ck, "retry_lost",
		    "retry_lost: must be true or false");
	if (!has_retry)
		return wf_fail(ck, "retry_lost",
		    "retry_lost: needs retry (how many attempts, what delay)");
	st->retry_lost = json_object_get_boolean(lost);
	return 0;
}

static int
execute_validate(struct wf_check *ck, struct json_object *o, struct step *st)
{
	const char	*s;

	if (wf_texts(ck, o, "targets", WF_TARGETS_MAX, WF_TARGET_MAX,
	    WF_TARGET_CHARS, 0, &st->targets, &st->ntargets) == -1)
		return -1;
	if (wf_text(ck, o, "command", 1, WF_COMMAND_MAX, 0, &s) == -1)
		return -1;
	st->command = xstrdup(s);
	st->timeout_ms = WF_TIMEOUT_DEFAULT;
	if (wf_ms(ck, o, "timeout", 0, 1, WF_TIMEOUT_MAX,
	    &st->timeout_ms) == -1)
		return -1;
	if (step_batch_validate(ck, o, st) == -1 ||
	    retry_validate(ck, o, st) == -1)
		return -1;
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
queue_targets(struct db *db, struct exec *ex, const struct step *st,
    const char *command, const char *env)
{
	struct target	*t;
	const char	*both;
	size_t		 n, i;
	char		 why[3 * WF_TARGET_MAX + 512], names[256];
	char		 untrusted[WORKER_NAME_MAX + 96] = "";
	int		 rc = -1;

	if (engine_targets(db, st, &t, &n, &both, untrusted,
	    sizeof(untrusted)) == -1)
		return -1;
	why[0] = '\0';
	if (untrusted[0] != '\0')
		snprintf(why, sizeof(why), "%s", untrusted);
	else if (both != NULL)
		snprintf(why, sizeof(why), "target '%s' is both a worker name "
		    "and a group name: write name:%s or group:%s", both, both,
		    both);
	else if (n == 0) {
		join_targets(st, names, sizeof(names));
		snprintf(why, sizeof(why), "no online worker with a command "
		    "channel matches target %s", names);
	}
	if (why[0] != '\0') {
		if (engine_step_end(db, ex, STEP_PENDING, STEP_FAILED,
		    why) == 0)
			rc = 0;
		goto out;
	}
	if (st->has_batch) {
		if (step_batch_begin(db, ex, st, command, env, t, n) == -1)
			goto out;
	} else
		for (i = 0; i < n; i++)
			if (dispatch_queue(db, ex->id, ex->at, t[i].id,
			    t[i].name, command, st->timeout_ms, env) == -1)
				goto out;
	rc = 1;
out:
	engine_targets_free(t, n);
	return rc;
}

static int
execute_begin(struct db *db, struct exec *ex, const struct step *st)
{
	char	*command = NULL, *env = NULL, why[512];
	int	 rc;

	/* The command as run: templates expanded once, when it begins. */
	if (engine_expand(ex, st->command, WF_COMMAND_MAX, &command, why,
	    sizeof(why)) == -1 || engine_env(ex, &env, why, sizeof(why)) == -1) {
		free(command);
		if (engine_step_end(db, ex, STEP_PENDING, STEP_FAILED,
		    why) == -1)
			return -1;
		return STEP_FAILED;
	}
	rc = queue_targets(db, ex, st, command, env);
	free(command);
	free(env);
	if (rc == -1)
		return -1;
	if (rc == 0)
		return STEP_FAILED;
	if (engine_step_begin(db, ex, STEP_RUNNING, -1) == -1)
		return -1;
	return STEP_RUNNING;
}

/* Why the target of row i failed, with how many attempts it had. */
static void
failure_reason(const struct db_res *res, size_t i, int attempt, char *reason,
    size_t rlen)
{
	const char	*s = db_res_get(res, i, 0);
	const char	*ec = db_res_get(res, i, 1);
	const char	*why = db_res_get(res, i, 3);
	char		 tries[48] = "";

	if (attempt > 1)
		snprintf(tries, sizeof(tries), " after %d attempts", attempt);
	if (ec != NULL)
		snprintf(reason, rlen, "%s on worker '%s' (exit code %s)%s",
		    s, db_res_get(res, i, 2), ec, tries);
	else
		snprintf(reason, rlen, "%s on worker '%s'%s%s%s", s,
		    db_res_get(res, i, 2), tries, why ? ": " : "",
		    why ? why : "");
	pjson_utf8_trim(reason);	/* long names */
}

/*
 * Status of the current execute step from its dispatches: only each
 * worker's latest attempt counts, and a failed one that the step's retry
 * gives another try (step-retry.c) still runs.
 */
static int
execute_poll(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p)
{
	struct db_res	*res;
	size_t		 i, targets = 0, done = 0, ok = 0;
	const char	*prev = NULL;
	int		 attempt, rc = -1, again;

	if (st->has_batch)
		return step_batch_poll(db, ex, st, p);
	if (db_exec(db, sql_dispatch_states, &res, "si", ex->id,
	    (long long)ex->at) == -1)
		return -1;
	p->status = STEP_RUNNING;
	p->reason[0] = '\0';
	for (i = 0; i < db_res_rows(res); i++) {
		const char		*s = db_res_get(res, i, 0);
		const char		*wid = db_res_get(res, i, 6);
		enum dispatch_status	 ds;

		if (prev != NULL && strcmp(prev, wid) == 0)
			continue;	/* an earlier attempt */
		prev = wid;
		targets++;
		attempt = (int)db_res_int(res, i, 5, 1);
		/* A status this build does not know counts as a failure. */
		if (dispatch_status_from(s, &ds) == -1)
			ds = DISP_STATUS_COUNT;
		switch (ds) {
		case DISP_QUEUED:
		case DISP_SENT:
		case DISP_RUNNING:
			continue;
		case DISP_SUCCEEDED:
			done++;
			ok++;
			continue;
		default:
			break;
		}
		if ((again = step_retry(db, st, db_res_get(res, i, 4), ds,
		    attempt)) == -1)
			goto fail;
		if (again)
			continue;	/* its next attempt waits */
		done++;
		if (p->reason[0] == '\0')
			failure_reason(res, i, attempt, p->reason,
			    sizeof(p->reason));
	}
	if (done == targets)
		p->status = ok == done ? STEP_SUCCEEDED : STEP_FAILED;
	rc = 0;
fail:
	db_res_free(res);
	return rc;
}

const struct step_type step_execute = {
	.name = "execute",
	.what = " for an execute step",
	.keys = execute_keys,
	.validate = execute_validate,
	.begin = execute_begin,
	.poll = execute_poll,
};
