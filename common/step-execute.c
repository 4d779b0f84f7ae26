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
#include "step.h"
#include "wfcheck.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_dispatch_states[] =
    "SELECT status, exit_code, worker_name, error FROM dispatches "
    "WHERE execution_id = ? AND step_index = ? ORDER BY worker_name";

static const char *const execute_keys[] = {
	"targets", "command", "timeout",
	"batch",		/* issue 14: rolling batches (step-batch.c) */
	NULL
};

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
	if (step_batch_validate(ck, o, st) == -1)
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

/* Status of the current execute step from its dispatches. */
static int
execute_poll(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p)
{
	struct db_res	*res;
	size_t		 i, done = 0, ok = 0;
	char		*reason = p->reason;
	size_t		 rlen = sizeof(p->reason);

	if (st->has_batch)
		return step_batch_poll(db, ex, st, p);
	if (db_exec(db, sql_dispatch_states, &res, "si", ex->id,
	    (long long)ex->at) == -1)
		return -1;
	p->status = STEP_RUNNING;
	reason[0] = '\0';
	for (i = 0; i < db_res_rows(res); i++) {
		const char		*s = db_res_get(res, i, 0);
		enum dispatch_status	 ds;

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
			done++;
			break;
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
		p->status = ok == done ? STEP_SUCCEEDED : STEP_FAILED;
	db_res_free(res);
	return 0;
}

const struct step_type step_execute = {
	.name = "execute",
	.what = " for an execute step",
	.keys = execute_keys,
	.validate = execute_validate,
	.begin = execute_begin,
	.poll = execute_poll,
};
