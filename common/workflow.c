/*
 * Workflow definitions (SPEC.md section 5): the one place where untrusted
 * JSON becomes a checked struct workflow. Every refusal names the step and
 * the field, in words an administrator can act on without reading code.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "workflow.h"
#include "xmalloc.h"

/* How much of a user's step name, key or value a message quotes. */
#define QUOTE_MAX	64

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Where we are, so every message can say which step it is about. */
struct checker {
	struct workflow_error	*err;
	int			 step;		/* 0-based, -1 at the top */
	const char		*name;		/* the step's name once valid */
};

static const char *const common_keys[] = {
	"name", "type", "condition", "description",
};
static const char *const execute_keys[] = { "targets", "command", "timeout" };
static const char *const prompt_keys[] = { "message", "options" };
static const char *const wait_keys[] = { "duration" };

static int	fail(struct checker *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Copy at most max bytes of s into dst without splitting a UTF-8
 * character (the message goes out as JSON), marking a cut with "...".
 */
static void
clip(char *dst, size_t dstlen, const char *s, size_t max)
{
	size_t	 n = strlen(s);
	int	 cut = 0;

	if (n > max) {
		n = max;
		cut = 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(dst, dstlen, "%.*s%s", (int)n, s, cut ? "..." : "");
}

static size_t
prefix(const struct checker *ck, char *buf, size_t len)
{
	char	 name[QUOTE_MAX + 4];
	int	 n;

	if (ck->step < 0) {
		buf[0] = '\0';
		return 0;
	}
	if (ck->name == NULL)
		n = snprintf(buf, len, "step %d: ", ck->step + 1);
	else {
		clip(name, sizeof(name), ck->name, QUOTE_MAX);
		n = snprintf(buf, len, "step %d (\"%s\"): ", ck->step + 1,
		    name);
	}
	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}

/* Record "<prefix><text>" with field as the culprit; returns -1. */
static int
fail(struct checker *ck, const char *field, const char *fmt, ...)
{
	struct workflow_error	*err = ck->err;
	va_list			 ap;
	size_t			 n;

	err->step = ck->step;
	clip(err->field, sizeof(err->field), field, sizeof(err->field) - 4);
	n = prefix(ck, err->msg, sizeof(err->msg));
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int
fail_unknown(struct checker *ck, const char *key, const char *where)
{
	char	 q[QUOTE_MAX + 4];

	clip(q, sizeof(q), key, QUOTE_MAX);
	return fail(ck, key, "unknown field '%s'%s", q, where);
}

static int
in_list(const char *const *list, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/*
 * The checks every text field shares; item is "" or "item N ". A NUL is
 * refused because everything downstream (the shell, C strings, the
 * database) would silently cut the text there.
 */
static int
check_text(struct checker *ck, const char *field, const char *item,
    struct json_object *v, size_t max, size_t maxchars)
{
	size_t	 len;
	char	 why[64];

	if (!json_object_is_type(v, json_type_string))
		return fail(ck, field, "%s: %smust be a string", field, item);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0)
		return fail(ck, field, "%s: %smust not be empty", field, item);
	/* A name's bound is stated in characters, below. */
	if (maxchars == 0 && len > max)
		return fail(ck, field, "%s: %slonger than %zu bytes", field,
		    item, max);
	if (memchr(json_object_get_string(v), '\0', len) != NULL)
		return fail(ck, field, "%s: %smust not contain a NUL byte",
		    field, item);
	if (maxchars > 0 && pjson_check_name(json_object_get_string(v), len,
	    maxchars, why, sizeof(why)) == -1)
		return fail(ck, field, "%s: %s%s", field, item, why);
	return 0;
}

/*
 * A text field: 1 and *out if present, 0 if absent and optional. maxchars:
 * a name stored in a VARCHAR column, counted in characters; 0 for text
 * bounded only in bytes.
 */
static int
get_text(struct checker *ck, struct json_object *o, const char *field,
    int required, size_t max, size_t maxchars, const char **out)
{
	struct json_object	*v;

	*out = NULL;
	if (!json_object_object_get_ex(o, field, &v)) {
		if (required)
			return fail(ck, field, "%s: missing", field);
		return 0;
	}
	if (check_text(ck, field, "", v, max, maxchars) == -1)
		return -1;
	*out = json_object_get_string(v);
	return 1;
}

/*
 * An integer field in ms. Only a JSON integer will do: 1.5, 1e3, "100"
 * and true are refused rather than rounded or coerced.
 */
static int
get_ms(struct checker *ck, struct json_object *o, const char *field,
    int required, long long min, long long max, long long *out)
{
	struct json_object	*v;
	long long		 n;

	if (!json_object_object_get_ex(o, field, &v)) {
		if (required)
			return fail(ck, field, "%s: missing", field);
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return fail(ck, field, "%s: must be an integer (milliseconds)",
		    field);
	/* get_int64 saturates, so a huge value still lands above max. */
	n = (long long)json_object_get_int64(v);
	if (n < min || n > max)
		return fail(ck, field, "%s: must be between %lld and %lld ms",
		    field, min, max);
	*out = n;
	return 1;
}

/* A required array of 1..maxcount texts, copied into *out. */
static int
get_texts(struct checker *ck, struct json_object *o, const char *field,
    size_t maxcount, size_t maxlen, size_t maxchars, int distinct,
    char ***out, size_t *nout)
{
	struct json_object	*a, *v;
	char			 item[32];
	size_t			 n, i, j;

	if (!json_object_object_get_ex(o, field, &a))
		return fail(ck, field, "%s: missing", field);
	if (!json_object_is_type(a, json_type_array))
		return fail(ck, field, "%s: must be an array of strings",
		    field);
	n = json_object_array_length(a);
	if (n == 0)
		return fail(ck, field, "%s: must not be empty", field);
	if (n > maxcount)
		return fail(ck, field, "%s: more than %zu items", field,
		    maxcount);
	*out = xcalloc(n, sizeof(**out));
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		snprintf(item, sizeof(item), "item %zu ", i + 1);
		if (check_text(ck, field, item, v, maxlen, maxchars) == -1)
			return -1;
		for (j = 0; distinct && j < i; j++)
			if (strcmp((*out)[j], json_object_get_string(v)) == 0)
				return fail(ck, field, "%s: item %zu repeats "
				    "item %zu", field, i + 1, j + 1);
		(*out)[i] = xstrdup(json_object_get_string(v));
		*nout = i + 1;
	}
	return 0;
}

static int
check_keys(struct checker *ck, struct json_object *o, enum step_type type)
{
	struct json_object_iterator	 it, end;
	const char *const		*extra;
	const char			*key;
	size_t				 nextra;

	switch (type) {
	case STEP_EXECUTE:
		extra = execute_keys;
		nextra = NITEMS(execute_keys);
		break;
	case STEP_PROMPT:
		extra = prompt_keys;
		nextra = NITEMS(prompt_keys);
		break;
	default:
		extra = wait_keys;
		nextra = NITEMS(wait_keys);
		break;
	}
	it = json_object_iter_begin(o);
	end = json_object_iter_end(o);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		key = json_object_iter_peek_name(&it);
		if (in_list(common_keys, NITEMS(common_keys), key) ||
		    in_list(extra, nextra, key))
			continue;
		return fail_unknown(ck, key, type == STEP_EXECUTE ?
		    " for an execute step" : type == STEP_PROMPT ?
		    " for a prompt step" : " for a wait step");
	}
	return 0;
}

static int
get_type(struct checker *ck, struct json_object *o, enum step_type *type)
{
	struct json_object	*v;
	const char		*s;
	char			 q[QUOTE_MAX + 4];

	if (!json_object_object_get_ex(o, "type", &v))
		return fail(ck, "type", "type: missing");
	if (!json_object_is_type(v, json_type_string))
		return fail(ck, "type", "type: must be a string");
	s = json_object_get_string(v);
	if (strcmp(s, "execute") == 0)
		*type = STEP_EXECUTE;
	else if (strcmp(s, "prompt") == 0)
		*type = STEP_PROMPT;
	else if (strcmp(s, "wait") == 0)
		*type = STEP_WAIT;
	else {
		clip(q, sizeof(q), s, QUOTE_MAX);
		return fail(ck, "type", "type: must be execute, prompt or "
		    "wait, not '%s'", q);
	}
	return 0;
}

static int
get_condition(struct checker *ck, struct json_object *o, struct step *st)
{
	struct cond_error	 cerr;
	const char		*src;
	int			 rc;

	if ((rc = get_text(ck, o, "condition", 0, COND_SOURCE_MAX, 0,
	    &src)) < 1)
		return rc;
	if ((st->cond = cond_parse(src, strlen(src), &cerr)) == NULL)
		return fail(ck, "condition", "condition: at column %d: %s",
		    cerr.pos, cerr.msg);
	st->condition = xstrdup(src);
	return 0;
}

static int
step_from_json(struct checker *ck, struct json_object *o, struct step *st)
{
	struct json_object	*v;
	const char		*s;

	if (!json_object_is_type(o, json_type_object))
		return fail(ck, "steps", "must be an object");
	if (get_text(ck, o, "name", 1, WF_STEP_NAME_MAX,
	    WF_STEP_NAME_CHARS, &s) == -1)
		return -1;
	st->name = xstrdup(s);
	ck->name = st->name;
	if (get_type(ck, o, &st->type) == -1 ||
	    check_keys(ck, o, st->type) == -1)
		return -1;

	switch (st->type) {
	case STEP_EXECUTE:
		if (get_texts(ck, o, "targets", WF_TARGETS_MAX, WF_TARGET_MAX,
		    WF_TARGET_CHARS, 0, &st->targets, &st->ntargets) == -1)
			return -1;
		if (get_text(ck, o, "command", 1, WF_COMMAND_MAX, 0, &s) == -1)
			return -1;
		st->command = xstrdup(s);
		st->timeout_ms = WF_TIMEOUT_DEFAULT;
		if (get_ms(ck, o, "timeout", 0, 1, WF_TIMEOUT_MAX,
		    &st->timeout_ms) == -1)
			return -1;
		break;
	case STEP_PROMPT:
		if (get_text(ck, o, "message", 1, WF_MESSAGE_MAX, 0, &s) == -1)
			return -1;
		st->message = xstrdup(s);
		if (get_texts(ck, o, "options", WF_OPTIONS_MAX, WF_OPTION_MAX,
		    WF_OPTION_CHARS, 1, &st->options, &st->noptions) == -1)
			return -1;
		break;
	case STEP_WAIT:
		if (get_ms(ck, o, "duration", 1, 0, WF_DURATION_MAX,
		    &st->duration_ms) == -1)
			return -1;
		break;
	}

	if (get_condition(ck, o, st) == -1)
		return -1;
	/* A description is for readers of the JSON; only its type counts. */
	if (json_object_object_get_ex(o, "description", &v) &&
	    !json_object_is_type(v, json_type_string))
		return fail(ck, "description", "description: must be a string");
	return 0;
}

int
workflow_from_json(struct json_object *def, struct workflow **out,
    struct workflow_error *err)
{
	struct workflow_error		 dummy;
	struct checker			 ck;
	struct workflow			*wf = NULL;
	struct json_object		*steps;
	struct json_object_iterator	 it, end;
	size_t				 n, i;

	if (err == NULL)
		err = &dummy;
	memset(err, 0, sizeof(*err));
	err->step = -1;
	*out = NULL;
	ck.err = err;
	ck.step = -1;
	ck.name = NULL;

	if (!json_object_is_type(def, json_type_object)) {
		fail(&ck, "definition", "definition: must be an object");
		goto fail;
	}
	it = json_object_iter_begin(def);
	end = json_object_iter_end(def);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
		if (strcmp(json_object_iter_peek_name(&it), "steps") != 0) {
			fail_unknown(&ck, json_object_iter_peek_name(&it),
			    " in the definition (only \"steps\" is allowed)");
			goto fail;
		}
	if (!json_object_object_get_ex(def, "steps", &steps)) {
		fail(&ck, "steps", "steps: missing");
		goto fail;
	}
	if (!json_object_is_type(steps, json_type_array)) {
		fail(&ck, "steps", "steps: must be an array");
		goto fail;
	}
	n = json_object_array_length(steps);
	if (n == 0) {
		fail(&ck, "steps", "steps: must not be empty");
		goto fail;
	}
	if (n > WF_STEPS_MAX) {
		fail(&ck, "steps", "steps: more than %d steps", WF_STEPS_MAX);
		goto fail;
	}

	wf = xcalloc(1, sizeof(*wf));
	wf->steps = xcalloc(n, sizeof(*wf->steps));
	for (i = 0; i < n; i++) {
		ck.step = (int)i;
		ck.name = NULL;
		wf->nsteps = i + 1;	/* so a half-built step is freed */
		if (step_from_json(&ck, json_object_array_get_idx(steps, i),
		    &wf->steps[i]) == -1)
			goto fail;
	}
	*out = wf;
	return 0;
fail:
	workflow_free(wf);
	return -1;
}

void
workflow_free(struct workflow *wf)
{
	struct step	*st;
	size_t		 i, j;

	if (wf == NULL)
		return;
	for (i = 0; i < wf->nsteps; i++) {
		st = &wf->steps[i];
		free(st->name);
		for (j = 0; j < st->ntargets; j++)
			free(st->targets[j]);
		free(st->targets);
		free(st->command);
		free(st->message);
		for (j = 0; j < st->noptions; j++)
			free(st->options[j]);
		free(st->options);
		free(st->condition);
		cond_free(st->cond);
	}
	free(wf->steps);
	free(wf);
}

const char *
step_type_name(enum step_type type)
{
	switch (type) {
	case STEP_EXECUTE:
		return "execute";
	case STEP_PROMPT:
		return "prompt";
	case STEP_WAIT:
		return "wait";
	}
	return "unknown";
}
