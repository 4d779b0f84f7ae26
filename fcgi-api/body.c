/*
 * Typed access to the fields of a JSON request body. Each getter answers
 * the request itself (400 naming the field) when the field is wrong, so a
 * handler reads: if (body_string(...) == -1) return 0;
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "pjson.h"
#include "pulse-limits.h"

int
body_string(struct request *req, const char *key, size_t max, int required,
    const char **out)
{
	size_t	 len = 0;
	int	 rc;

	*out = NULL;
	rc = pjson_get_string(req->json, key, out, &len);
	if (rc == -1) {
		/* JSON null is "absent" for optional fields. */
		struct json_object *v;

		if (!required && json_object_object_get_ex(req->json, key,
		    &v) && v == NULL)
			return 0;
		reply_error_field(req, 400, key, "%s must be a string", key);
		return -1;
	}
	if (rc == 0) {
		if (!required)
			return 0;
		reply_error_field(req, 400, key, "%s is required", key);
		return -1;
	}
	if (required && len == 0) {
		reply_error_field(req, 400, key, "%s must not be empty", key);
		return -1;
	}
	if (len > max) {
		reply_error_field(req, 400, key, "%s is longer than %zu bytes",
		    key, max);
		return -1;
	}
	if (strlen(*out) != len) {
		reply_error_field(req, 400, key, "%s contains a NUL byte",
		    key);
		return -1;
	}
	return rc;
}

/*
 * body_string() for a name stored in a VARCHAR column: valid UTF-8 of at
 * most maxchars characters, as MariaDB counts them (a 200-character name
 * of "é" is 400 bytes and fits VARCHAR(255)).
 */
int
body_name(struct request *req, const char *key, size_t maxchars,
    int required, const char **out)
{
	char	 why[64];
	int	 rc;

	/* The byte bound is pjson_check_name's, stated in characters. */
	if ((rc = body_string(req, key, API_BODY_MAX, required, out)) != 1)
		return rc;
	if (pjson_check_name(*out, strlen(*out), maxchars, why,
	    sizeof(why)) == -1) {
		reply_error_field(req, 400, key, "%s %s", key, why);
		return -1;
	}
	return rc;
}

int
body_int(struct request *req, const char *key, long long min, long long max,
    long long dflt, long long *out)
{
	int	 rc;

	*out = dflt;
	rc = pjson_get_int(req->json, key, out);
	if (rc == -1) {
		reply_error_field(req, 400, key, "%s must be an integer", key);
		return -1;
	}
	if (rc == 1 && (*out < min || *out > max)) {
		reply_error_field(req, 400, key, "%s must be between %lld and "
		    "%lld", key, min, max);
		return -1;
	}
	return 0;
}

int
body_only(struct request *req, const char *const *allowed)
{
	json_object_object_foreach(req->json, key, val) {
		size_t	 i;

		(void)val;
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] == NULL) {
			reply_error_field(req, 400, key, "unknown field '%.*s'",
			    (int)pjson_utf8_prefix(key, 64), key);
			return -1;
		}
	}
	return 0;
}

void
reply_error_field(struct request *req, int status, const char *field,
    const char *fmt, ...)
{
	struct json_object	*o = json_object_new_object();
	char			 msg[512];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "field", json_object_new_string(field));
	reply_error_obj(req, status, o);
}

/*
 * A list of group names (what a worker asks for, what an admin grants):
 * an array of at most WORKER_GROUPS_COUNT names, each a target name, no
 * repeats. *out is a new array (the caller puts it), or NULL if absent.
 */
int
body_groups(struct request *req, const char *key, int required,
    struct json_object **out)
{
	struct json_object	*a, *v;
	size_t			 i, k, n;
	const char		*s;
	char			 why[64];
	int			 rc;

	*out = NULL;
	rc = pjson_get_array(req->json, key, &a);
	if (rc == -1 || (rc == 0 && required)) {
		reply_error_field(req, 400, key, "%s must be an array of group "
		    "names", key);
		return -1;
	}
	if (rc == 0)
		return 0;
	if ((n = json_object_array_length(a)) > WORKER_GROUPS_COUNT) {
		reply_error_field(req, 400, key, "%s has more than %d groups",
		    key, WORKER_GROUPS_COUNT);
		return -1;
	}
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0) {
			reply_error_field(req, 400, key, "%s[%zu] must be a "
			    "non-empty name", key, i);
			return -1;
		}
		s = json_object_get_string(v);
		if (strlen(s) != (size_t)json_object_get_string_len(v)) {
			reply_error_field(req, 400, key, "%s[%zu] contains a "
			    "NUL byte", key, i);
			return -1;
		}
		if (pjson_check_name(s, strlen(s), WF_TARGET_CHARS, why,
		    sizeof(why)) == -1) {
			reply_error_field(req, 400, key, "%s[%zu] %s", key, i,
			    why);
			return -1;
		}
		for (k = 0; k < i; k++)
			if (strcmp(s, json_object_get_string(
			    json_object_array_get_idx(a, k))) == 0) {
				reply_error_field(req, 400, key, "%s[%zu] "
				    "repeats '%s'", key, i, s);
				return -1;
			}
	}
	*out = json_object_get(a);
	return 0;
}
