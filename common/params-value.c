/*
 * A workflow's parameter values: one checker for defaults (at save) and
 * the values of a start, resolving a start's values, and their text and
 * env (params.h). No value given at a start is ever quoted in a message:
 * it may be a secret.
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

/* ---- Values: one checker for defaults (at save) and starts ---- */

/* Exactly -?[0-9]+ that fits an int64. */
static int
parse_int_text(const char *s, size_t len, int64_t *out)
{
	char		*end;
	size_t		 i = 0;
	long long	 v;

	if (len > 0 && s[0] == '-')
		i = 1;
	if (i == len || len > 24)
		return -1;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end != s + len)
		return -1;
	*out = v;
	return 0;
}

/* JSON's number syntax, -?int(.frac)?(e[+-]?exp)?, finite. */
static int
parse_num_text(const char *s, size_t len, double *out)
{
	size_t	 i = 0, d;
	char	*end;
	double	 v;

	if (len == 0 || len > 64)
		return -1;
	if (s[i] == '-')
		i++;
	for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == d)
		return -1;
	if (i < len && s[i] == '.') {
		for (d = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return -1;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return -1;
	}
	if (i != len)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (end != s + len || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/*
 * Check v against p; on success *norm is a new normalised value. On
 * failure the reason (without the field) in why.
 */
int
params_value_check(const struct param *p, struct json_object *v,
    struct json_object **norm, char *why, size_t whylen)
{
	enum json_type	 t = json_object_get_type(v);
	const char	*s = NULL;
	size_t		 len = 0, i, q;
	int64_t		 iv;
	double		 dv;

	*norm = NULL;
	if (t == json_type_string) {
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
	}
	switch (p->type) {
	case PARAM_STRING:
	case PARAM_CHOICE:
		if (t != json_type_string) {
			snprintf(why, whylen, "must be a string");
			return -1;
		}
		if (memchr(s, '\0', len) != NULL) {
			snprintf(why, whylen, "contains NUL");
			return -1;
		}
		if (!params_utf8_ok(s, len)) {
			snprintf(why, whylen, "is not valid UTF-8");
			return -1;
		}
		if (p->type == PARAM_CHOICE) {
			for (i = 0; i < p->noptions; i++)
				if (strlen(p->options[i]) == len &&
				    memcmp(p->options[i], s, len) == 0)
					break;
			if (i == p->noptions) {
				snprintf(why, whylen,
				    "is not one of the options");
				return -1;
			}
		} else {
			if (len > p->max_length) {
				snprintf(why, whylen, "longer than max_length"
				    " (%zu bytes)", p->max_length);
				return -1;
			}
			if (p->pattern != NULL &&
			    regexec(&p->re, s, 0, NULL, 0) != 0) {
				q = pjson_utf8_prefix(p->pattern, PATTERN_QUOTE);
				snprintf(why, whylen,
				    "does not match pattern %.*s%s", (int)q,
				    p->pattern, p->pattern[q] ? "..." : "");
				return -1;
			}
		}
		*norm = json_object_new_string_len(s, (int)len);
		return 0;
	case PARAM_INTEGER:
		if (t == json_type_int)
			iv = json_object_get_int64(v);
		else if (t != json_type_string ||
		    parse_int_text(s, len, &iv) == -1) {
			snprintf(why, whylen, "must be an integer");
			return -1;
		}
		/*
		 * json-c saturates an integer past int64 to these two, so
		 * they cannot be told from a value far out of range.
		 */
		if (iv == INT64_MAX || iv == INT64_MIN) {
			snprintf(why, whylen, "is out of range");
			return -1;
		}
		if (p->has_min && iv < p->imin) {
			snprintf(why, whylen, "less than min %" PRId64,
			    p->imin);
			return -1;
		}
		if (p->has_max && iv > p->imax) {
			snprintf(why, whylen, "greater than max %" PRId64,
			    p->imax);
			return -1;
		}
		*norm = json_object_new_int64(iv);
		return 0;
	case PARAM_NUMBER:
		if (t == json_type_int || t == json_type_double)
			dv = json_object_get_double(v);
		else if (t != json_type_string ||
		    parse_num_text(s, len, &dv) == -1) {
			snprintf(why, whylen, "must be a number");
			return -1;
		}
		if (!isfinite(dv)) {
			snprintf(why, whylen, "must be a finite number");
			return -1;
		}
		if (p->has_min && dv < p->dmin) {
			snprintf(why, whylen, "less than min %.17g", p->dmin);
			return -1;
		}
		if (p->has_max && dv > p->dmax) {
			snprintf(why, whylen, "greater than max %.17g",
			    p->dmax);
			return -1;
		}
		*norm = json_object_new_double(dv);
		return 0;
	case PARAM_BOOLEAN:
		if (t == json_type_boolean) {
			*norm = json_object_new_boolean(
			    json_object_get_boolean(v));
			return 0;
		}
		if (t == json_type_string && len == 4 &&
		    memcmp(s, "true", 4) == 0) {
			*norm = json_object_new_boolean(1);
			return 0;
		}
		if (t == json_type_string && len == 5 &&
		    memcmp(s, "false", 5) == 0) {
			*norm = json_object_new_boolean(0);
			return 0;
		}
		snprintf(why, whylen, "must be true or false");
		return -1;
	}
	snprintf(why, whylen, "has an unknown type");
	return -1;
}

/* ---- A start ---- */

/*
 * "params.KEY" for a name given at a start that is not declared: the key
 * is user input, so bytes outside [A-Za-z0-9_] are shown as '?' and at
 * most PULSE_PARAM_NAME_MAX of them.
 */
static void
given_field(const char *key, char *buf, size_t len)
{
	size_t	 i, o;

	o = (size_t)snprintf(buf, len, "params.");
	for (i = 0; key[i] != '\0' && i < PULSE_PARAM_NAME_MAX &&
	    o + 1 < len; i++) {
		char c = key[i];

		buf[o++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_') ? c : '?';
	}
	buf[o] = '\0';
}

int
params_resolve(const struct params *ps, struct json_object *given,
    struct json_object **resolved, struct fielderr *err)
{
	struct json_object	*res = NULL, *v, *norm;
	const struct param	*p;
	char			 f[96], why[160];
	size_t			 i, n = params_count(ps);

	*resolved = NULL;
	fielderr_clear(err);
	if (given != NULL && !json_object_is_type(given, json_type_object)) {
		fielderr_set(err, "params", "must be an object");
		return -1;
	}
	if (given != NULL) {
		json_object_object_foreach(given, key, val) {
			(void)val;
			if (params_find(ps, key, strlen(key)) != -1)
				continue;
			given_field(key, f, sizeof(f));
			fielderr_set(err, f, "unknown parameter");
			return -1;
		}
	}
	res = json_object_new_object();
	for (i = 0; i < n; i++) {
		p = &ps->v[i];
		snprintf(f, sizeof(f), "params.%s", p->name);
		if (given != NULL &&
		    json_object_object_get_ex(given, p->name, &v) &&
		    !json_object_is_type(v, json_type_null)) {
			if (params_value_check(p, v, &norm, why, sizeof(why)) == -1) {
				fielderr_set(err, f, "%s", why);
				goto fail;
			}
			json_object_object_add(res, p->name, norm);
		} else if (p->def != NULL)
			json_object_object_add(res, p->name,
			    json_object_get(p->def));
		else if (p->required) {
			fielderr_set(err, f, "required");
			goto fail;
		}
	}
	*resolved = res;
	return 0;
fail:
	json_object_put(res);
	return -1;
}

/* ---- Text and env ---- */

/* The shortest %.Ng that reads back as d (JavaScript prints 17 at most). */
static void
double_text(double d, char *buf, size_t len)
{
	int	 prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

int
params_text(struct json_object *v, const char **s, size_t *len,
    char buf[PARAMS_TEXT_BUF])
{
	switch (json_object_get_type(v)) {
	case json_type_string:
		*s = json_object_get_string(v);
		*len = (size_t)json_object_get_string_len(v);
		return 0;
	case json_type_int:
		snprintf(buf, PARAMS_TEXT_BUF, "%" PRId64,
		    json_object_get_int64(v));
		break;
	case json_type_double:
		if (!isfinite(json_object_get_double(v)))
			return -1;
		double_text(json_object_get_double(v), buf, PARAMS_TEXT_BUF);
		break;
	case json_type_boolean:
		snprintf(buf, PARAMS_TEXT_BUF, "%s",
		    json_object_get_boolean(v) ? "true" : "false");
		break;
	default:
		return -1;
	}
	*s = buf;
	*len = strlen(buf);
	return 0;
}

int
params_env_name(const char *name, char *buf, size_t len)
{
	size_t	 n = strlen(name), pl = strlen(PARAMS_ENV_PREFIX), i;

	if (!params_is_ident(name, n) || pl + n + 1 > len)
		return -1;
	memcpy(buf, PARAMS_ENV_PREFIX, pl);
	for (i = 0; i < n; i++)
		buf[pl + i] = name[i] >= 'a' && name[i] <= 'z' ?
		    (char)(name[i] - 'a' + 'A') : name[i];
	buf[pl + n] = '\0';
	return 0;
}

int
params_env(struct json_object *resolved, struct json_object **env,
    struct fielderr *err)
{
	struct json_object	*e;
	char			 name[PARAMS_ENV_NAME_BUF], buf[PARAMS_TEXT_BUF];
	char			 f[96];
	const char		*s;
	size_t			 len, total = 0, count = 0;

	*env = NULL;
	fielderr_clear(err);
	if (resolved == NULL) {
		*env = json_object_new_object();
		return 0;
	}
	if (!json_object_is_type(resolved, json_type_object)) {
		fielderr_set(err, "params", "must be an object");
		return -1;
	}
	e = json_object_new_object();
	json_object_object_foreach(resolved, key, val) {
		given_field(key, f, sizeof(f));
		if (params_env_name(key, name, sizeof(name)) == -1) {
			fielderr_set(err, f, "is not a parameter name");
			goto fail;
		}
		if (params_text(val, &s, &len, buf) == -1 ||
		    memchr(s, '\0', len) != NULL) {
			fielderr_set(err, f, "has no text for the environment");
			goto fail;
		}
		total += strlen(name) + len;
		if (++count > PULSE_ENV_MAX ||
		    total > PULSE_ENV_TOTAL_MAX) {
			fielderr_set(err, f, "the environment would pass %d entries"
			    " or %d bytes", PULSE_ENV_MAX,
			    PULSE_ENV_TOTAL_MAX);
			goto fail;
		}
		if (json_object_object_get_ex(e, name, NULL)) {
			fielderr_set(err, f, "is %s once more", name);
			goto fail;
		}
		json_object_object_add(e, name, json_object_new_string_len(s,
		    (int)len));
	}
	*env = e;
	return 0;
fail:
	json_object_put(e);
	return -1;
}

int
params_env_name_ok(const char *s)
{
	size_t	 plen = strlen(PARAMS_ENV_PREFIX), i;

	if (strncmp(s, PARAMS_ENV_PREFIX, plen) != 0)
		return 0;
	for (i = plen; s[i] != '\0'; i++)
		if (!(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_')
			return 0;
	return i > plen && i - plen <= PULSE_ENV_NAME_MAX;
}
