/*
 * A workflow's parameters: declarations checked at save, values resolved
 * at a start (params.h says what each function promises). No value given
 * at a start is ever quoted in a message: it may be a secret.
 */
#include <json-c/json.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "params.h"
#include "params-int.h"
#include "pjson.h"
#include "xmalloc.h"

static const char *const type_names[] = {
	[PARAM_STRING] = "string", [PARAM_INTEGER] = "integer",
	[PARAM_NUMBER] = "number", [PARAM_BOOLEAN] = "boolean",
	[PARAM_CHOICE] = "choice",
};

#define NTYPES	(sizeof(type_names) / sizeof(type_names[0]))

/* The keys each type takes besides the common ones. */
static const char *const common_keys[] = {
	"name", "type", "description", "required", "default", NULL,
};
static const char *const string_keys[] = { "pattern", "max_length", NULL };
static const char *const range_keys[] = { "min", "max", NULL };
static const char *const choice_keys[] = { "options", NULL };
static const char *const no_keys[] = { NULL };

static const char *const *const type_keys[] = {
	[PARAM_STRING] = string_keys, [PARAM_INTEGER] = range_keys,
	[PARAM_NUMBER] = range_keys, [PARAM_BOOLEAN] = no_keys,
	[PARAM_CHOICE] = choice_keys,
};

static int
in_keys(const char *const *keys, const char *k)
{
	for (; *keys != NULL; keys++)
		if (strcmp(*keys, k) == 0)
			return 1;
	return 0;
}

int
params_is_ident(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > PULSE_PARAM_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (i > 0 && c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

int
params_utf8_ok(const char *s, size_t len)
{
	size_t	 chars;

	return pjson_utf8_count(s, len, &chars) == 0;
}

static void
param_clear(struct param *p)
{
	size_t	 i;

	json_object_put(p->def);
	if (p->pattern != NULL)
		regfree(&p->re);
	free(p->pattern);
	for (i = 0; i < p->noptions; i++)
		free(p->options[i]);
	free(p->options);
}

void
params_free(struct params *ps)
{
	size_t	 i;

	if (ps == NULL)
		return;
	for (i = 0; i < ps->n; i++)
		param_clear(&ps->v[i]);
	free(ps->v);
	free(ps);
}

size_t
params_count(const struct params *ps)
{
	return ps != NULL ? ps->n : 0;
}

const char *
params_name(const struct params *ps, size_t i)
{
	return ps != NULL && i < ps->n ? ps->v[i].name : NULL;
}

enum param_type
params_type(const struct params *ps, size_t i)
{
	return ps->v[i].type;
}

int
params_find(const struct params *ps, const char *name, size_t len)
{
	size_t	 i;

	if (ps == NULL)
		return -1;
	for (i = 0; i < ps->n; i++)
		if (strlen(ps->v[i].name) == len &&
		    memcmp(ps->v[i].name, name, len) == 0)
			return (int)i;
	return -1;
}

/* ---- Declarations ---- */

static int
read_range(struct param *p, struct json_object *o, const char *key,
    const char *field, struct fielderr *err)
{
	struct json_object	*v;
	enum json_type		 t;
	int			 is_min = key[1] == 'i';

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	t = json_object_get_type(v);
	if (p->type == PARAM_INTEGER) {
		if (t != json_type_int) {
			fielderr_set(err, field, "must be an integer");
			return -1;
		}
		if (is_min)
			p->imin = json_object_get_int64(v);
		else
			p->imax = json_object_get_int64(v);
	} else {
		if (t != json_type_int && t != json_type_double) {
			fielderr_set(err, field, "must be a number");
			return -1;
		}
		if (!isfinite(json_object_get_double(v))) {
			fielderr_set(err, field, "must be a finite number");
			return -1;
		}
		if (is_min)
			p->dmin = json_object_get_double(v);
		else
			p->dmax = json_object_get_double(v);
	}
	if (is_min)
		p->has_min = 1;
	else
		p->has_max = 1;
	return 0;
}

/*
 * A string member of a declaration: 1 to max bytes (0 to max when
 * may_be_empty) of UTF-8 without NUL, into *s and *len. 0 or -1.
 */
static int
read_text(struct json_object *v, size_t max, int may_be_empty,
    const char **s, size_t *len, const char *field, struct fielderr *err)
{
	if (!json_object_is_type(v, json_type_string)) {
		fielderr_set(err, field, "must be a string");
		return -1;
	}
	*s = json_object_get_string(v);
	*len = (size_t)json_object_get_string_len(v);
	if ((*len == 0 && !may_be_empty) || *len > max) {
		fielderr_set(err, field, "must be %d to %zu bytes",
		    !may_be_empty, max);
		return -1;
	}
	if (memchr(*s, '\0', *len) != NULL || !params_utf8_ok(*s, *len)) {
		fielderr_set(err, field, "must be valid UTF-8 without NUL");
		return -1;
	}
	return 0;
}

/*
 * Whether every ')' of an ERE closes a '(' of its own. glibc takes a lone
 * ')' as a literal, so "a)|(b" would close the group we wrap the pattern
 * in and leave "^(a)|(b)$": no longer matched against the whole value.
 * Escapes and bracket expressions ("[)]", "[[:alpha:])]") are skipped.
 */
static int
parens_balanced(const char *s, size_t len)
{
	size_t	 i = 0;
	int	 depth = 0;
	char	 c;

	while (i < len) {
		c = s[i++];
		if (c == '\\') {
			i++;
		} else if (c == '[') {
			if (i < len && s[i] == '^')
				i++;
			if (i < len && s[i] == ']')
				i++;
			while (i < len && s[i] != ']') {
				if (s[i] == '[' && i + 1 < len &&
				    (s[i + 1] == ':' || s[i + 1] == '=' ||
				    s[i + 1] == '.')) {
					c = s[i + 1];
					for (i += 2; i + 1 < len &&
					    !(s[i] == c && s[i + 1] == ']'); i++)
						;
					i += 2;
				} else
					i++;
			}
			i++;
		} else if (c == '(')
			depth++;
		else if (c == ')' && --depth < 0)
			return -1;
	}
	return depth == 0 ? 0 : -1;
}

static int
read_pattern(struct param *p, struct json_object *v, const char *field,
    struct fielderr *err)
{
	const char	*s;
	char		*full, why[128];
	size_t		 len, i;
	int		 rc;

	if (read_text(v, PULSE_PARAM_PATTERN_MAX, 0, &s, &len, field,
	    err) == -1)
		return -1;
	/*
	 * A back-reference makes matching exponential in the value's length
	 * (and values reach 64 KiB); ERE as POSIX defines it has none.
	 */
	for (i = 0; i + 1 < len; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] >= '1' && s[i + 1] <= '9') {
			fielderr_set(err, field,
			    "back-references (\\%c) are not allowed",
			    s[i + 1]);
			return -1;
		}
		i++;
	}
	if (parens_balanced(s, len) == -1) {
		fielderr_set(err, field, "has unbalanced parentheses");
		return -1;
	}
	xasprintf(&full, "^(%s)$", s);
	rc = regcomp(&p->re, full, REG_EXTENDED | REG_NOSUB);
	free(full);
	if (rc != 0) {
		regerror(rc, &p->re, why, sizeof(why));
		regfree(&p->re);
		fielderr_set(err, field, "does not compile: %s", why);
		return -1;
	}
	p->pattern = xstrndup(s, len);
	return 0;
}

static int
read_options(struct param *p, struct json_object *v, const char *field,
    struct fielderr *err)
{
	struct json_object	*o;
	const char		*s;
	char			 f[128];	/* field and "[63]" */
	size_t			 n, i, j, len;

	if (!json_object_is_type(v, json_type_array)) {
		fielderr_set(err, field, "must be an array of strings");
		return -1;
	}
	n = json_object_array_length(v);
	if (n == 0 || n > PULSE_PARAM_OPTIONS_MAX) {
		fielderr_set(err, field, "must hold 1 to %d options",
		    PULSE_PARAM_OPTIONS_MAX);
		return -1;
	}
	p->options = xcalloc(n, sizeof(*p->options));
	for (i = 0; i < n; i++) {
		snprintf(f, sizeof(f), "%s[%zu]", field, i);
		o = json_object_array_get_idx(v, i);
		if (read_text(o, PULSE_PARAM_OPTION_MAX, 0, &s, &len, f,
		    err) == -1)
			return -1;
		for (j = 0; j < p->noptions; j++)
			if (strcmp(p->options[j], s) == 0) {
				fielderr_set(err, f, "repeats option %zu", j);
				return -1;
			}
		p->options[p->noptions++] = xstrndup(s, len);
	}
	return 0;
}

static int
read_param(struct params *ps, size_t idx, struct json_object *o,
    struct fielderr *err)
{
	struct param		*p = &ps->v[idx];
	struct json_object	*v;
	char			 f[96], g[96], why[160];
	char			 env[PARAMS_ENV_NAME_BUF];
	const char		*s;
	size_t			 len, i;
	int64_t			 ml;

	snprintf(f, sizeof(f), "params[%zu]", idx);
	if (!json_object_is_type(o, json_type_object)) {
		fielderr_set(err, f, "must be an object");
		return -1;
	}
	/* name */
	snprintf(f, sizeof(f), "params[%zu].name", idx);
	if (!json_object_object_get_ex(o, "name", &v)) {
		fielderr_set(err, f, "required");
		return -1;
	}
	s = json_object_get_string(v);
	len = json_object_is_type(v, json_type_string) ?
	    (size_t)json_object_get_string_len(v) : 0;
	if (!json_object_is_type(v, json_type_string) || !params_is_ident(s, len)) {
		fielderr_set(err, f, "must be an identifier "
		    "([A-Za-z_][A-Za-z0-9_]*, at most %d bytes)",
		    PULSE_PARAM_NAME_MAX);
		return -1;
	}
	for (i = 0; i < idx; i++) {
		if (strcmp(ps->v[i].name, s) == 0) {
			fielderr_set(err, f, "repeats the name of params[%zu]", i);
			return -1;
		}
		if (strcasecmp(ps->v[i].name, s) == 0) {
			params_env_name(s, env, sizeof(env));
			fielderr_set(err, f, "is the name of params[%zu] once "
			    "upper-cased (both would be %s)", i, env);
			return -1;
		}
	}
	memcpy(p->name, s, len);
	/* type */
	snprintf(f, sizeof(f), "params[%zu].type", idx);
	if (!json_object_object_get_ex(o, "type", &v)) {
		fielderr_set(err, f, "required");
		return -1;
	}
	s = json_object_get_string(v);
	for (i = 0; i < NTYPES; i++)
		if (json_object_is_type(v, json_type_string) &&
		    strcmp(s, type_names[i]) == 0)
			break;
	if (i == NTYPES) {
		fielderr_set(err, f, "must be string, integer, number, boolean "
		    "or choice");
		return -1;
	}
	p->type = (enum param_type)i;
	p->max_length = PULSE_PARAM_STRING_DEFAULT;
	/* no key outside the common ones and the type's */
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (in_keys(common_keys, key) ||
		    in_keys(type_keys[p->type], key))
			continue;
		len = pjson_utf8_prefix(key, 40);
		snprintf(g, sizeof(g), "params[%zu].%.*s", idx, (int)len, key);
		fielderr_set(err, g, "unknown key for a parameter of type %s",
		    type_names[p->type]);
		return -1;
	}
	if (json_object_object_get_ex(o, "description", &v)) {
		snprintf(f, sizeof(f), "params[%zu].description", idx);
		if (read_text(v, PULSE_PARAM_DESCRIPTION_MAX, 1, &s, &len, f,
		    err) == -1)
			return -1;
	}
	if (json_object_object_get_ex(o, "required", &v)) {
		snprintf(f, sizeof(f), "params[%zu].required", idx);
		if (!json_object_is_type(v, json_type_boolean)) {
			fielderr_set(err, f, "must be true or false");
			return -1;
		}
		p->required = json_object_get_boolean(v);
	}
	switch (p->type) {
	case PARAM_STRING:
		if (json_object_object_get_ex(o, "max_length", &v)) {
			snprintf(f, sizeof(f), "params[%zu].max_length", idx);
			ml = json_object_get_int64(v);
			if (!json_object_is_type(v, json_type_int) || ml < 1 ||
			    ml > PULSE_PARAM_STRING_MAX) {
				fielderr_set(err, f, "must be an integer from 1 to "
				    "%d", PULSE_PARAM_STRING_MAX);
				return -1;
			}
			p->max_length = (size_t)ml;
		}
		if (json_object_object_get_ex(o, "pattern", &v)) {
			snprintf(f, sizeof(f), "params[%zu].pattern", idx);
			if (read_pattern(p, v, f, err) == -1)
				return -1;
		}
		break;
	case PARAM_INTEGER:
	case PARAM_NUMBER:
		snprintf(f, sizeof(f), "params[%zu].min", idx);
		if (read_range(p, o, "min", f, err) == -1)
			return -1;
		snprintf(f, sizeof(f), "params[%zu].max", idx);
		if (read_range(p, o, "max", f, err) == -1)
			return -1;
		if (p->has_min && p->has_max &&
		    (p->type == PARAM_INTEGER ? p->imin > p->imax :
		    p->dmin > p->dmax)) {
			fielderr_set(err, f, "less than min");
			return -1;
		}
		break;
	case PARAM_CHOICE:
		snprintf(f, sizeof(f), "params[%zu].options", idx);
		if (!json_object_object_get_ex(o, "options", &v)) {
			fielderr_set(err, f, "required for a choice");
			return -1;
		}
		if (read_options(p, v, f, err) == -1)
			return -1;
		break;
	case PARAM_BOOLEAN:
		break;
	}
	if (json_object_object_get_ex(o, "default", &v)) {
		snprintf(f, sizeof(f), "params[%zu].default", idx);
		if (params_value_check(p, v, &p->def, why, sizeof(why)) == -1) {
			fielderr_set(err, f, "%s", why);
			return -1;
		}
	}
	return 0;
}

int
params_from_json(struct json_object *arr, struct params **out,
    struct fielderr *err)
{
	struct params	*ps;
	size_t		 n, i;

	*out = NULL;
	fielderr_clear(err);
	if (arr == NULL) {
		*out = xcalloc(1, sizeof(**out));
		return 0;
	}
	if (!json_object_is_type(arr, json_type_array)) {
		fielderr_set(err, "params", "must be an array");
		return -1;
	}
	n = json_object_array_length(arr);
	if (n > PULSE_PARAMS_MAX) {
		fielderr_set(err, "params", "more than %d parameters",
		    PULSE_PARAMS_MAX);
		return -1;
	}
	ps = xcalloc(1, sizeof(*ps));
	ps->v = xcalloc(n ? n : 1, sizeof(*ps->v));
	for (i = 0; i < n; i++) {
		ps->n = i + 1;	/* so params_free() clears what is read */
		if (read_param(ps, i, json_object_array_get_idx(arr, i),
		    err) == -1)
			goto fail;
	}
	*out = ps;
	return 0;
fail:
	params_free(ps);
	return -1;
}

