/*
 * The prompt step (SPEC section 5): the execution waits, holding no
 * worker, until someone answers with one of its options
 * (engine_respond_step, engine-answer.c, ends the step).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "events.h"
#include "notify.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "step.h"
#include "wfcheck.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_exec_wait[] =
    "UPDATE executions SET status = 'waiting', current_step = ? "
    "WHERE id = ?";

static const char sql_step_prompt[] =
    "UPDATE execution_steps SET prompt = ? WHERE execution_id = ? "
    "AND step_index = ?";

static const char *const prompt_keys[] = { "message", "options", NULL };

static int
prompt_validate(struct wf_check *ck, struct json_object *o, struct step *st)
{
	const char	*s;

	if (wf_text(ck, o, "message", 1, WF_MESSAGE_MAX, 0, &s) == -1)
		return -1;
	st->message = xstrdup(s);
	if (wf_texts(ck, o, "options", WF_OPTIONS_MAX, WF_OPTION_MAX,
	    WF_OPTION_CHARS, 1, &st->options, &st->noptions) == -1)
		return -1;
	return 0;
}

/* Park the execution on a prompt (its message expanded) and tell the
 * browsers. */
static int
prompt_wait(struct db *db, struct exec *ex, const struct step *st,
    const char *message)
{
	struct json_object	*p, *prompt, *opts;
	size_t			 i;

	if (db_exec(db, sql_exec_wait, NULL, "is", (long long)ex->at,
	    ex->id) == -1)
		return -1;
	ex->status = EXEC_WAITING;
	prompt = json_object_new_object();
	opts = json_object_new_array();
	for (i = 0; i < st->noptions; i++)
		json_object_array_add(opts,
		    json_object_new_string(st->options[i]));
	json_object_object_add(prompt, "message",
	    json_object_new_string(message));
	json_object_object_add(prompt, "options", opts);
	/* The row keeps the message as shown (the report reads it). */
	if (db_exec(db, sql_step_prompt, NULL, "ssi", pjson_str(prompt, NULL),
	    ex->id, (long long)ex->at) == -1) {
		json_object_put(prompt);
		return -1;
	}
	json_object_object_add(prompt, "step", json_object_new_int(ex->at));
	p = json_object_new_object();
	json_object_object_add(p, "execution_id", json_object_new_string(ex->id));
	json_object_object_add(p, "prompt", prompt);
	if (events_append(db, "execution_prompt", ex->id, NULL, p) == -1 ||
	    events_status(db, ex->id, exec_status_name(EXEC_WAITING)) == -1)
		return -1;
	/* The outbox row commits with the wait it announces. */
	if (ex->wf->nnotify > 0)
		return notify_execution(db, ex->id, NOTIFY_PROMPT);
	return 0;
}

static int
prompt_begin(struct db *db, struct exec *ex, const struct step *st)
{
	char	*message, why[512];
	int	 rc;

	if (engine_expand(ex, st->message, WF_MESSAGE_MAX, &message, why,
	    sizeof(why)) == -1) {
		if (engine_step_end(db, ex, STEP_PENDING, STEP_FAILED,
		    why) == -1)
			return -1;
		return STEP_FAILED;
	}
	rc = engine_step_begin(db, ex, STEP_WAITING, -1) == -1 ||
	    prompt_wait(db, ex, st, message) == -1 ? -1 : STEP_WAITING;
	free(message);
	return rc;
}

/* A prompt waits, never runs: an answer, not a poll, ends it. */
static int
prompt_poll(struct db *db, struct exec *ex, const struct step *st,
    struct step_poll *p)
{
	(void)db;
	(void)ex;
	(void)st;
	p->status = STEP_RUNNING;
	p->reason[0] = '\0';
	return 0;
}

const struct step_type step_prompt = {
	.name = "prompt",
	.what = " for a prompt step",
	.keys = prompt_keys,
	.validate = prompt_validate,
	.begin = prompt_begin,
	.poll = prompt_poll,
};
