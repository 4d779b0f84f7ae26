/*
 * A workflow's parameters (SPEC.md section 14): the `params` array read
 * and checked once when a workflow is saved, and the values of one start
 * resolved against it (defaults filled, values normalised) into the JSON
 * object that templates, conditions and the worker's env all read.
 */
#ifndef PULSE_PARAMS_H
#define PULSE_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "fielderr.h"
#include "pulse-limits.h"

struct json_object;
struct params;			/* parsed declarations; opaque */

enum param_type {
	PARAM_STRING, PARAM_INTEGER, PARAM_NUMBER, PARAM_BOOLEAN, PARAM_CHOICE,
};

/*
 * Read a workflow's `params` (a JSON array, or NULL for none) into *out.
 * Every declaration is checked: name an identifier of at most
 * PULSE_PARAM_NAME_MAX bytes, distinct even upper-cased; type and the keys
 * of that type only; `default` valid for the declaration; `pattern`
 * compiling as ^(pattern)$ (POSIX ERE, no back-references). 0, or -1 and
 * err filled.
 */
int		 params_from_json(struct json_object *, struct params **out,
		    struct fielderr *err);
void		 params_free(struct params *);

/* Declarations, in the order written. */
size_t		 params_count(const struct params *);
const char	*params_name(const struct params *, size_t i);
enum param_type	 params_type(const struct params *, size_t i);

/* The index of the parameter called name (len bytes), or -1. */
int		 params_find(const struct params *, const char *name,
		    size_t len);

/*
 * A start's values (given: a JSON object or NULL) resolved against the
 * declarations: every given name declared, every required one given,
 * every value valid, then defaults filled. JSON null counts as not given.
 * On success *resolved is a new object holding only declared names, each
 * normalised (integer: JSON integer; number: JSON double; boolean: JSON
 * boolean; string and choice: JSON string); a parameter neither given nor
 * defaulted is absent. On failure -1 and err->msg begins "params.NAME: "
 * ("params.version: does not match pattern [0-9.]+"); no message ever
 * quotes a value given (it may be a secret).
 */
int		 params_resolve(const struct params *, struct json_object *given,
		    struct json_object **resolved, struct fielderr *err);

/*
 * The text of a resolved value, as templates insert it (before quoting)
 * and the env carries it: a string as it is, an integer in decimal, a
 * number in the shortest text that reads back to the same double, a
 * boolean as true/false. buf (at least PARAMS_TEXT_BUF bytes) holds the
 * text of a non-string; *s points into buf or into the JSON string.
 * 0, or -1 for any other JSON type.
 */
#define PARAMS_TEXT_BUF	32
int		 params_text(struct json_object *value, const char **s,
		    size_t *len, char buf[PARAMS_TEXT_BUF]);

/*
 * The env object for the worker: {"PULSE_PARAM_<NAME upper-cased>":
 * text} for every member of a resolved object. -1 with err filled when
 * it would pass PULSE_ENV_MAX entries or PULSE_ENV_TOTAL_MAX bytes
 * (names and values), or holds a value params_text() cannot write.
 */
int		 params_env(struct json_object *resolved,
		    struct json_object **env, struct fielderr *err);

/* "PULSE_PARAM_" and name upper-cased into buf; -1 if it does not fit. */
#define PARAMS_ENV_PREFIX	"PULSE_PARAM_"
#define PARAMS_ENV_NAME_BUF	(sizeof(PARAMS_ENV_PREFIX) + PULSE_PARAM_NAME_MAX)
int		 params_env_name(const char *name, char *buf, size_t len);

/* Whether s is a name the worker takes in env: PULSE_PARAM_ and 1 to
 * PULSE_ENV_NAME_MAX of [A-Z0-9_] (pushd sends no other). */
int		 params_env_name_ok(const char *s);

#endif
