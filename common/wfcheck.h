/*
 * Checking a workflow definition (workflow.c, and each step type's
 * validate in step-*.c): the helpers that turn untrusted JSON into checked
 * values, and refuse with a message naming the step and the field.
 */
#ifndef PULSE_WFCHECK_H
#define PULSE_WFCHECK_H

#include <stddef.h>

struct json_object;

/* Why a definition was refused (workflow_from_json, workflow.h). */
struct workflow_error {
	int	step;		/* 0-based index of the step at fault, -1 if none */
	char	field[64];	/* "steps", "name", "on_failure[0].command", ... */
	char	msg[320];	/* whole human-readable message */
};

/* How much of a user's step name, key or value a message quotes. */
#define WF_QUOTE_MAX	64
/* How much of a key a workflow_error's field quotes (then "..."). */
#define WF_FIELD_QUOTE	28

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Where we are, so every message can say which step it is about. */
struct wf_check {
	struct workflow_error	*err;
	int			 step;		/* 0-based, -1 at the top */
	const char		*name;		/* the step's name once valid */
	const char		*list;		/* NULL: "steps"; "on_failure" */
	int			 child;		/* in a parallel group: its
						 * step, else -1 */
	const char		*child_name;
};

/* Record "<step prefix><text>" with field as the culprit; returns -1. */
int	wf_fail(struct wf_check *, const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* "unknown field 'KEY'<where>"; returns -1. */
int	wf_fail_unknown(struct wf_check *, const char *key, const char *where);
/* At most max bytes of s into dst, whole UTF-8 characters, "..." if cut. */
void	wf_clip(char *dst, size_t dstlen, const char *s, size_t max);
int	wf_in_list(const char *const *list, size_t n, const char *s);

/*
 * A text field: 1 and *out if present, 0 if absent and optional, -1
 * refused. maxchars: a name stored in a VARCHAR column, counted in
 * characters; 0 for text bounded only in bytes.
 */
int	wf_text(struct wf_check *, struct json_object *, const char *field,
	    int required, size_t max, size_t maxchars, const char **out);
/* An integer field in ms (a JSON integer only): 1, 0 absent, -1. */
int	wf_ms(struct wf_check *, struct json_object *, const char *field,
	    int required, long long min, long long max, long long *out);
/* A required array of 1..maxcount texts, copied into *out. */
int	wf_texts(struct wf_check *, struct json_object *, const char *field,
	    size_t maxcount, size_t maxlen, size_t maxchars, int distinct,
	    char ***out, size_t *nout);
/* The same for key of o, named field in messages ("approval.approvers"). */
int	wf_texts_as(struct wf_check *, struct json_object *, const char *key,
	    const char *field, size_t maxcount, size_t maxlen, size_t maxchars,
	    int distinct, char ***out, size_t *nout);

#endif
