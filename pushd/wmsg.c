/*
 * A worker's text frame as a typed, checked message (README "The worker
 * protocol"). Pure: no socket, no lws call, no database, so the libFuzzer
 * target tests/fuzz/fuzz_pushd_wmsg.c runs exactly this code. workers.c
 * decides what a message may do on its connection and hands it on.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "id.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "pushd.h"
#include "wmsg.h"
#include "xmalloc.h"

/* The table of message types, and whether each may precede worker_connect. */
static const struct {
	const char	*name;
	enum wmsg_type	 type;
	int		 any_time;
} wmsg_types[] = {
	{ "worker_connect",	WMSG_CONNECT,		1 },
	{ "command_started",	WMSG_STARTED,		0 },
	{ "command_output",	WMSG_OUTPUT,		0 },
	{ "command_result",	WMSG_RESULT,		0 },
	{ "workflow_result",	WMSG_WORKFLOW_RESULT,	0 },
	{ "pong",		WMSG_PONG,		1 },
	{ "key_ack",		WMSG_KEY_ACK,		0 },
};

/* Where a refusal is written; set for one wmsg_parse/wmsg_fields call. */
struct why {
	char	*buf;
	size_t	 len;
};

static int wmsg_fail(struct why *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static int
wmsg_fail(struct why *w, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(w->buf, w->len, fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------- message fields */

static int
want_str(struct why *w, struct json_object *o, const char *type,
    const char *key, int req, size_t min, size_t max, const char **out,
    size_t *len)
{
	size_t	 n = 0;
	int	 rc;

	*out = NULL;
	rc = pjson_get_string(o, key, out, &n);
	if (rc == -1)
		return wmsg_fail(w, "%s: %s must be a string", type, key);
	if (rc == 0) {
		if (req)
			return wmsg_fail(w, "%s: %s is missing", type, key);
		return 0;
	}
	if (n < min || n > max)
		return wmsg_fail(w, "%s: %s must be %zu to %zu bytes", type,
		    key, min, max);
	/*
	 * A caller that takes the length gets every byte (command output may
	 * hold NULs); one that takes a C string would see it end early: a
	 * worker named "a\u0000b" would register as "a" (found by tests/fuzz).
	 */
	if (len != NULL)
		*len = n;
	else if (strlen(*out) != n)
		return wmsg_fail(w, "%s: %s must not contain a NUL byte", type,
		    key);
	return 0;
}

/* A name stored in a VARCHAR column: counted in characters, as MariaDB
 * counts them (a worker named with 200 "é" is 400 bytes and fits). */
static int
want_name(struct why *w, struct json_object *o, const char *type,
    const char *key, int req, size_t maxchars, const char **out)
{
	char	 why[64];

	/* The bound in bytes is pjson_check_name's, said in characters. */
	if (want_str(w, o, type, key, req, 1, SIZE_MAX, out, NULL) == -1)
		return -1;
	if (*out != NULL && pjson_check_name(*out, strlen(*out), maxchars,
	    why, sizeof(why)) == -1)
		return wmsg_fail(w, "%s: %s %s", type, key, why);
	return 0;
}

static int
want_id(struct why *w, struct json_object *o, const char *type,
    const char *key, int req, const char **out)
{
	if (want_str(w, o, type, key, req, 0, ID_LEN + 1, out, NULL) == -1)
		return -1;
	if (*out != NULL && !id_valid(*out))
		return wmsg_fail(w, "%s: %s must be a UUID", type, key);
	return 0;
}

/* An integer in [min, max]; JSON null or absent leaves *has at 0. */
static int
want_int(struct why *w, struct json_object *o, const char *type,
    const char *key, long long min, long long max, long long *out, int *has)
{
	int	 rc;

	*has = 0;
	rc = pjson_get_int(o, key, out);
	if (rc == -1)
		return wmsg_fail(w, "%s: %s must be an integer", type, key);
	if (rc == 0)
		return 0;
	if (*out < min || *out > max)
		return wmsg_fail(w, "%s: %s is out of range", type, key);
	*has = 1;
	return 0;
}

static int
want_bool(struct why *w, struct json_object *o, const char *type,
    const char *key, int req, int *out)
{
	int	 rc;

	*out = 0;
	rc = pjson_get_bool(o, key, out);
	if (rc == -1)
		return wmsg_fail(w, "%s: %s must be true or false", type,
		    key);
	if (rc == 0 && req)
		return wmsg_fail(w, "%s: %s is missing", type, key);
	return 0;
}

/* Milliseconds as an integer or, from older agents, a fraction. */
static int
want_ms(struct why *w, struct json_object *o, const char *type,
    const char *key, long long *out, int *has)
{
	struct json_object	*v;
	double			 d;

	*has = 0;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!(d >= 0 && d < 1e15))
			return wmsg_fail(w, "%s: %s is out of range", type,
			    key);
		*out = (long long)d;
		*has = 1;
		return 0;
	}
	return want_int(w, o, type, key, 0, 1000000000000000LL, out, has);
}

/*
 * An array of at most max strings (ids when ids is set, else names of at
 * most maxchars characters), into *out.
 */
static int
want_strings(struct why *w, struct json_object *o, const char *type,
    const char *key, size_t max, size_t maxchars, int ids, const char ***out,
    size_t *n, int *has)
{
	struct json_object	*a, *v;
	size_t			 i, len, maxlen;
	int			 rc;
	char			 why[64];

	*n = 0;
	*has = 0;
	rc = pjson_get_array(o, key, &a);
	if (rc == -1)
		return wmsg_fail(w, "%s: %s must be an array", type, key);
	if (rc == 0)
		return 0;
	len = json_object_array_length(a);
	if (len > max)
		return wmsg_fail(w, "%s: %s has more than %zu items", type,
		    key, max);
	maxlen = ids ? ID_LEN : UTF8_BYTES(maxchars);
	*out = xreallocarray(NULL, len + 1, sizeof(**out));
	for (i = 0; i < len; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0 ||
		    (size_t)json_object_get_string_len(v) > maxlen ||
		    strlen(json_object_get_string(v)) !=
		    (size_t)json_object_get_string_len(v) ||
		    (ids && !id_valid(json_object_get_string(v)))) {
			free(*out);
			*out = NULL;
			return wmsg_fail(w, "%s: %s[%zu] must be a %s", type,
			    key, i, ids ? "UUID" : "non-empty name");
		}
		if (!ids && pjson_check_name(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v), maxchars, why,
		    sizeof(why)) == -1) {
			free(*out);
			*out = NULL;
			return wmsg_fail(w, "%s: %s[%zu] %s", type, key, i,
			    why);
		}
		(*out)[i] = json_object_get_string(v);
	}
	*n = len;
	*has = 1;
	return 0;
}

/* ------------------------------------------------------------- messages */

static int
fields_connect(struct why *w, struct wmsg *m)
{
	static const char	 type[] = "worker_connect";
	struct json_object	*o = m->json;
	int			 has;

	if (want_id(w, o, type, "worker_id", 1, &m->worker_id) == -1 ||
	    want_name(w, o, type, "worker_name", 1, WORKER_NAME_CHARS,
	    &m->worker_name) == -1 ||
	    want_str(w, o, type, "version", 0, 1, PUSHD_VERSION_MAX,
	    &m->version, NULL) == -1 ||
	    want_strings(w, o, type, "groups", DISPATCH_GROUPS_MAX,
	    WF_TARGET_CHARS, 0, &m->groups, &m->ngroups, &has) == -1 ||
	    want_strings(w, o, type, "running", DISPATCH_RUNNING_MAX, 0,
	    1, &m->running, &m->nrunning, &m->has_running) == -1)
		return -1;
	m->has_groups = m->groups != NULL;
	return 0;
}

static int
fields_started(struct why *w, struct wmsg *m)
{
	static const char	 type[] = "command_started";

	if (want_id(w, m->json, type, "command_id", 1, &m->command_id) == -1 ||
	    want_id(w, m->json, type, "execution_id", 0,
	    &m->execution_id) == -1 ||
	    want_id(w, m->json, type, "worker_id", 0, &m->worker_id) == -1)
		return -1;
	return 0;
}

static int
fields_output(struct why *w, struct wmsg *m)
{
	static const char	 type[] = "command_output";
	struct json_object	*o = m->json;
	const char		*stream, *enc;
	int			 has;

	if (want_id(w, o, type, "command_id", 1, &m->command_id) == -1 ||
	    want_id(w, o, type, "worker_id", 0, &m->worker_id) == -1 ||
	    want_str(w, o, type, "stream", 1, 0, 16, &stream, NULL) == -1 ||
	    want_int(w, o, type, "offset", 0, 1LL << 50, &m->offset,
	    &has) == -1 ||
	    want_str(w, o, type, "data", 1, 0,
	    base64_len(DISPATCH_CHUNK_MAX), &m->b64, &m->b64len) == -1 ||
	    want_str(w, o, type, "encoding", 0, 1, 16, &enc, NULL) == -1)
		return -1;
	if (!has)
		return wmsg_fail(w, "%s: offset is missing", type);
	if (strcmp(stream, "stdout") == 0)
		m->stream = DISPATCH_STDOUT;
	else if (strcmp(stream, "stderr") == 0)
		m->stream = DISPATCH_STDERR;
	else
		return wmsg_fail(w, "%s: stream must be stdout or stderr",
		    type);
	if (enc != NULL && strcmp(enc, "base64") != 0)
		return wmsg_fail(w, "%s: encoding must be base64", type);
	return 0;
}

static int
fields_result(struct why *w, struct wmsg *m)
{
	static const char	 type[] = "command_result";
	static const char *const names[2][4] = {
		{ "stdout", "stdout_b64", "stdout_bytes", "stdout_truncated" },
		{ "stderr", "stderr_b64", "stderr_bytes", "stderr_truncated" },
	};
	struct json_object	*o = m->json;
	struct dispatch_result	*r = &m->res;
	size_t			 max = PUSHD_WORKER_MSG_MAX;
	const char		*status;
	int			 s;

	/*
	 * SPEC section 6 lists no command_id: without it the execution (and
	 * step_index, when sent) must say which command this is.
	 */
	if (want_id(w, o, type, "command_id", 0, &r->command_id) == -1 ||
	    want_id(w, o, type, "execution_id", 0, &r->execution_id) == -1 ||
	    want_int(w, o, type, "step_index", 0, INT_MAX, &r->step_index,
	    &r->has_step) == -1 ||
	    want_id(w, o, type, "worker_id", 0, &m->worker_id) == -1 ||
	    want_bool(w, o, type, "success", 1, &r->success) == -1 ||
	    want_int(w, o, type, "exit_code", -1000000, 1000000,
	    &r->exit_code, &r->has_exit_code) == -1 ||
	    want_int(w, o, type, "signal", 0, 1024, &r->signal,
	    &r->has_signal) == -1 ||
	    want_bool(w, o, type, "timed_out", 0, &r->timed_out) == -1 ||
	    want_ms(w, o, type, "duration", &r->duration_ms,
	    &r->has_duration) == -1 ||
	    want_str(w, o, type, "status", 0, 1, 32, &status, NULL) == -1)
		return -1;
	/*
	 * "refused": the worker's allow-list kept the command from running
	 * (SPEC section 12). Other values are a newer agent's: ignored.
	 */
	if (status != NULL && strcmp(status, "refused") == 0) {
		if (r->success || (r->has_exit_code && r->exit_code != -1) ||
		    r->has_signal || r->timed_out)
			return wmsg_fail(w, "%s: a refused command did not "
			    "run: no success, exit code, signal or timeout",
			    type);
		r->refused = 1;
		r->has_exit_code = 0;
	}
	if (r->command_id == NULL && r->execution_id == NULL)
		return wmsg_fail(w, "%s: command_id is missing, and "
		    "execution_id too", type);
	for (s = 0; s < 2; s++)
		if (want_str(w, o, type, names[s][0], 0, 0, max, &r->text[s],
		    &r->textlen[s]) == -1 ||
		    want_str(w, o, type, names[s][1], 0, 0, max, &r->b64[s],
		    &r->b64len[s]) == -1 ||
		    want_int(w, o, type, names[s][2], 0, 1LL << 50,
		    &r->bytes[s], &r->has_bytes[s]) == -1 ||
		    want_bool(w, o, type, names[s][3], 0,
		    &r->truncated[s]) == -1)
			return -1;
	return 0;
}

static int
fields_workflow_result(struct why *w, struct wmsg *m)
{
	static const char	 type[] = "workflow_result";
	int			 ok;

	if (want_str(w, m->json, type, "execution_id", 1, 1, ID_LEN,
	    &m->execution_id, NULL) == -1 ||
	    want_bool(w, m->json, type, "success", 0, &ok) == -1)
		return -1;
	return 0;
}

static int
fields_pong(struct why *w, struct wmsg *m)
{
	return want_str(w, m->json, "pong", "worker_id", 0, 0, ID_LEN,
	    &m->worker_id, NULL);
}

/* key_ack: the key_id of a rotate_key, as sent (a string of digits). */
static int
fields_key_ack(struct why *w, struct wmsg *m)
{
	static const char	 type[] = "key_ack";
	const char		*k;
	size_t			 n;
	int			 has;

	if (want_id(w, m->json, type, "worker_id", 0, &m->worker_id) == -1)
		return -1;
	if (pjson_get_string(m->json, "key_id", &k, &n) == 1) {
		if (n == 0 || n > 18 || strspn(k, "0123456789") != n)
			return wmsg_fail(w, "%s: key_id must be a number",
			    type);
		m->key_id = strtoll(k, NULL, 10);
		if (m->key_id < 1)
			return wmsg_fail(w, "%s: key_id must be a number",
			    type);
		return 0;
	}
	if (want_int(w, m->json, type, "key_id", 1, LLONG_MAX, &m->key_id,
	    &has) == -1)
		return -1;
	if (!has)
		return wmsg_fail(w, "%s: key_id is missing", type);
	return 0;
}

/* ------------------------------------------------------------- public */

int
wmsg_parse(struct wmsg *m, const char *buf, size_t len, char *why,
    size_t whylen)
{
	struct why	 w = { why, whylen };
	const char	*type;
	char		 perr[96];
	size_t		 i;

	memset(m, 0, sizeof(*m));
	m->json = pjson_parse(buf, len, PUSHD_WORKER_DEPTH, perr,
	    sizeof(perr));
	if (m->json == NULL)
		return wmsg_fail(&w, "not JSON: %s", perr);
	if (!json_object_is_type(m->json, json_type_object) ||
	    pjson_get_string(m->json, "type", &type, NULL) != 1) {
		wmsg_clear(m);
		return wmsg_fail(&w, "a message is an object with a type");
	}
	for (i = 0; i < sizeof(wmsg_types) / sizeof(wmsg_types[0]); i++)
		if (strcmp(wmsg_types[i].name, type) == 0) {
			m->type = wmsg_types[i].type;
			m->type_name = wmsg_types[i].name;
			m->any_time = wmsg_types[i].any_time;
			return 0;
		}
	/* The reason goes out in a close frame: UTF-8, 123 bytes at most. */
	wmsg_fail(&w, "unknown message type '%.*s'",
	    (int)pjson_utf8_prefix(type, 40), type);
	wmsg_clear(m);
	return -1;
}

int
wmsg_fields(struct wmsg *m, char *why, size_t whylen)
{
	struct why	 w = { why, whylen };

	switch (m->type) {
	case WMSG_CONNECT:
		return fields_connect(&w, m);
	case WMSG_STARTED:
		return fields_started(&w, m);
	case WMSG_OUTPUT:
		return fields_output(&w, m);
	case WMSG_RESULT:
		return fields_result(&w, m);
	case WMSG_WORKFLOW_RESULT:
		return fields_workflow_result(&w, m);
	case WMSG_PONG:
		return fields_pong(&w, m);
	case WMSG_KEY_ACK:
		return fields_key_ack(&w, m);
	}
	return wmsg_fail(&w, "unknown message type");
}

struct json_object *
wmsg_take_json(struct wmsg *m)
{
	struct json_object	*o = m->json;

	m->json = NULL;
	return o;
}

const char **
wmsg_take_running(struct wmsg *m)
{
	const char	**v = m->running;

	m->running = NULL;
	return v;
}

void
wmsg_clear(struct wmsg *m)
{
	json_object_put(m->json);
	free(m->groups);
	free(m->running);
	memset(m, 0, sizeof(*m));
}
