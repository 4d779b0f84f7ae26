/*
 * The condition language of DESIGN.md section 5: a safe subset of
 * JavaScript expressions, parsed once when a workflow is saved and
 * evaluated by our own interpreter against a JSON context. Never a JS
 * engine, never a shell.
 */
#ifndef PULSE_COND_H
#define PULSE_COND_H

#include <stddef.h>

struct json_object;
struct cond;			/* a parsed expression; opaque */

struct cond_error {
	int	pos;		/* 1-based column of the problem, 0 if none;
				   counted in bytes from the start of src */
	char	msg[200];	/* e.g. "expected ')' but found end of input" */
};

/*
 * Parse src (len bytes, need not be NUL-terminated). Returns NULL and fills
 * err on a syntax error or a limit (COND_SOURCE_MAX, COND_DEPTH_MAX,
 * COND_STRING_MAX from pulse-limits.h).
 */
struct cond	*cond_parse(const char *src, size_t len, struct cond_error *err);
void		 cond_free(struct cond *);

/*
 * Evaluate against ctx, a JSON object whose members are the identifiers
 * ("promptResponse", "state", "params"); an identifier not in ctx is an error. On
 * success *result is the JavaScript truthiness of the value and 0 is
 * returned; on an evaluation error -1 and a message in err, such as
 * "at column 18: trim() called on undefined". A missing member is
 * undefined, not an error.
 */
int		 cond_eval(const struct cond *, struct json_object *ctx,
		    int *result, char *err, size_t errlen);

/*
 * The identifier `params` is the execution's resolved parameters
 * (params_resolve() in params.h): ctx's member "params" when it has one,
 * else an empty object, so params.x of a parameter not given is
 * undefined, as in JavaScript, and a workflow without params can still
 * test `params.x === undefined`. cond_set_params() puts params (a new
 * reference; NULL removes it) into ctx.
 */
#define COND_PARAMS	"params"
void		 cond_set_params(struct json_object *ctx,
		    struct json_object *params);

/*
 * At save: every params.NAME the condition reads (a member written with
 * a dot; params['x'] is not looked at) is known to known(name, len, arg),
 * which returns nonzero for a declared name (a wrapper around
 * params_find()). 0, or -1 with err at the first unknown one:
 * "unknown parameter 'x'".
 */
int		 cond_check_params(const struct cond *,
		    int (*known)(const char *, size_t, void *), void *arg,
		    struct cond_error *err);

#endif
