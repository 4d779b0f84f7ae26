/*
 * The worker protocol (README "The worker protocol"), what the worker
 * says: every message it sends and its enrollment request, and the group
 * list (WORKER_GROUPS) they carry, checked against what the server takes.
 * Apart from the decoder (proto.c): nothing here reads the network.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "pjson.h"
#include "worker.h"
#include "xmalloc.h"

/* ISO-8601 UTC with milliseconds, as the rest of PULSE writes times. */
void
proto_timestamp(long long ms, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static long long
wall_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Serialize and hand the string over; the object is freed. */
static char *
take_json(struct json_object *o, size_t *lenp)
{
	const char	*s;
	char		*out;
	size_t		 n;

	s = pjson_str(o, &n);
	out = xmemdup(s, n + 1);
	json_object_put(o);
	*lenp = n;
	return out;
}

static struct json_object *
new_msg(const char *type)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	return o;
}

int
proto_result_success(const struct result *r)
{
	return r->exited && r->exit_code == 0 && !r->timed_out &&
	    !r->cancelled && !r->refused && !r->rejected && r->message == NULL;
}

/* Is buf valid UTF-8? pjson_text hands the bytes back unchanged iff so. */
static int
utf8_valid(const char *buf, size_t len)
{
	struct json_object	*t;
	int			 ok;

	if (len == 0)
		return 1;
	t = pjson_text(buf, len);
	ok = (size_t)json_object_get_string_len(t) == len &&
	    memcmp(json_object_get_string(t), buf, len) == 0;
	json_object_put(t);
	return ok;
}

/*
 * tkeep: bytes shown as text; bkeep: bytes sent exactly as *_b64 (0 for
 * none). A stream is truncated when fewer bytes than it wrote went out
 * exactly.
 */
static struct json_object *
result_json(const struct result *r, const size_t tkeep[2],
    const size_t bkeep[2])
{
	static const char *const names[2] = { "stdout", "stderr" };
	struct json_object	*o = new_msg("command_result");
	char			 key[32], ts[32], *b;
	size_t			 bl, exact;
	int			 i;

	json_object_object_add(o, "command_id",
	    json_object_new_string(r->command_id));
	json_object_object_add(o, "execution_id",
	    json_object_new_string(r->execution_id));
	json_object_object_add(o, "worker_id",
	    json_object_new_string(r->worker_id));
	json_object_object_add(o, "success",
	    json_object_new_boolean(proto_result_success(r)));
	json_object_object_add(o, "exit_code", r->exited ?
	    json_object_new_int(r->exit_code) : NULL);
	json_object_object_add(o, "signal", r->signal != 0 ?
	    json_object_new_int(r->signal) : NULL);
	json_object_object_add(o, "timed_out",
	    json_object_new_boolean(r->timed_out));
	json_object_object_add(o, "cancelled",
	    json_object_new_boolean(r->cancelled));
	for (i = 0; i < 2; i++) {
		json_object_object_add(o, names[i], pjson_text(tkeep[i] > 0 ?
		    r->out[i].buf : "", tkeep[i]));
		if (bkeep[i] > 0) {
			b = xmalloc(base64_len(bkeep[i]) + 1);
			bl = base64_encode(r->out[i].buf, bkeep[i], b);
			snprintf(key, sizeof(key), "%s_b64", names[i]);
			json_object_object_add(o, key,
			    json_object_new_string_len(b, (int)bl));
			free(b);
		}
		exact = bkeep[i] > tkeep[i] ? bkeep[i] : tkeep[i];
		snprintf(key, sizeof(key), "%s_bytes", names[i]);
		json_object_object_add(o, key,
		    json_object_new_int64((int64_t)r->out[i].total));
		snprintf(key, sizeof(key), "%s_truncated", names[i]);
		json_object_object_add(o, key, json_object_new_boolean(
		    r->out[i].truncated || exact < r->out[i].len));
	}
	json_object_object_add(o, "duration",
	    json_object_new_int64(r->duration_ms));
	proto_timestamp(r->finished_ms, ts, sizeof(ts));
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	if (r->message != NULL)
		json_object_object_add(o, "message",
		    json_object_new_string(r->message));
	/* Absent otherwise: a version-1 server reads none. */
	if (r->refused)
		json_object_object_add(o, "status",
		    json_object_new_string("refused"));
	else if (r->rejected)
		json_object_object_add(o, "status",
		    json_object_new_string("failed"));
	return o;
}

/* Half of n, moved back to the start of a UTF-8 sequence. */
static size_t
half(const char *buf, size_t n)
{
	n /= 2;
	while (n > 0 && ((unsigned char)buf[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * The command_result message, at most max bytes: the server refuses
 * bigger ones, and JSON escaping can make text six times longer than the
 * output. The exact bytes matter most (DESIGN.md section 8.5), so when
 * it does not fit, the text that merely repeats a *_b64 is cut first;
 * then the longer stream is halved, bytes and text alike, until it
 * fits. The true sizes and the truncation marks say what happened.
 */
char *
proto_result(const struct result *r, size_t max, size_t *lenp)
{
	struct json_object	*o;
	const char		*s;
	size_t			 tkeep[2], bkeep[2], n;
	int			 i;

	for (i = 0; i < 2; i++) {
		tkeep[i] = r->out[i].len;
		bkeep[i] = utf8_valid(r->out[i].buf, r->out[i].len) ? 0 :
		    r->out[i].len;
	}
	for (;;) {
		o = result_json(r, tkeep, bkeep);
		s = pjson_str(o, &n);
		if (n <= max) {
			char	*out = xmemdup(s, n + 1);

			json_object_put(o);
			*lenp = n;
			return out;
		}
		json_object_put(o);
		/* A text beside its exact bytes goes first, longer first. */
		i = (bkeep[0] > 0 ? tkeep[0] : 0) >= (bkeep[1] > 0 ?
		    tkeep[1] : 0) ? 0 : 1;
		if (bkeep[i] > 0 && tkeep[i] > 0) {
			tkeep[i] = half(r->out[i].buf, tkeep[i]);
			continue;
		}
		if (tkeep[0] + bkeep[0] == 0 && tkeep[1] + bkeep[1] == 0)
			return NULL;
		i = tkeep[0] + bkeep[0] >= tkeep[1] + bkeep[1] ? 0 : 1;
		tkeep[i] = half(r->out[i].buf, tkeep[i]);
		bkeep[i] = bkeep[i] > 0 ? half(r->out[i].buf, bkeep[i]) : 0;
	}
}

char *
proto_output(const char *command_id, const char *stream,
    unsigned long long offset, const char *data, size_t n, size_t *lenp)
{
	struct json_object	*o = new_msg("command_output");
	char			*b = xmalloc(base64_len(n) + 1);
	size_t			 bl = base64_encode(data, n, b);

	json_object_object_add(o, "command_id",
	    json_object_new_string(command_id));
	json_object_object_add(o, "stream", json_object_new_string(stream));
	json_object_object_add(o, "offset",
	    json_object_new_int64((int64_t)offset));
	json_object_object_add(o, "data", json_object_new_string_len(b,
	    (int)bl));
	json_object_object_add(o, "encoding",
	    json_object_new_string("base64"));
	free(b);
	return take_json(o, lenp);
}

static struct json_object *
string_array(char *const *v, size_t n)
{
	struct json_object	*a = json_object_new_array_ext((int)n);
	size_t			 i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

char *
proto_connect(const char *worker_id, const char *name, char *const *groups,
    size_t ngroups, const char *version, char *const *running,
    size_t nrunning, size_t *lenp)
{
	struct json_object	*o = new_msg("worker_connect");

	json_object_object_add(o, "worker_id",
	    json_object_new_string(worker_id));
	json_object_object_add(o, "worker_name", json_object_new_string(name));
	json_object_object_add(o, "groups", string_array(groups, ngroups));
	json_object_object_add(o, "version", json_object_new_string(version));
	json_object_object_add(o, "running", string_array(running, nrunning));
	return take_json(o, lenp);
}

char *
proto_started(const char *command_id, const char *execution_id,
    size_t *lenp)
{
	struct json_object	*o = new_msg("command_started");

	json_object_object_add(o, "command_id",
	    json_object_new_string(command_id));
	json_object_object_add(o, "execution_id",
	    json_object_new_string(execution_id));
	return take_json(o, lenp);
}

char *
proto_pong(const char *worker_id, size_t *lenp)
{
	struct json_object	*o = new_msg("pong");

	json_object_object_add(o, "worker_id",
	    json_object_new_string(worker_id));
	return take_json(o, lenp);
}

char *
proto_workflow_result(const char *execution_id, const char *worker_id,
    int success, const char *message, size_t *lenp)
{
	struct json_object	*o = new_msg("workflow_result");
	char			 ts[32];

	json_object_object_add(o, "execution_id",
	    json_object_new_string(execution_id));
	json_object_object_add(o, "worker_id",
	    json_object_new_string(worker_id));
	json_object_object_add(o, "success",
	    json_object_new_boolean(success));
	json_object_object_add(o, "message", json_object_new_string(message));
	proto_timestamp(wall_now_ms(), ts, sizeof(ts));
	json_object_object_add(o, "timestamp", json_object_new_string(ts));
	return take_json(o, lenp);
}

/*
 * WORKER_GROUPS: comma-separated names, blanks trimmed, empty entries and
 * repeats dropped. The server takes at most 64 names of 255 characters.
 */
int
proto_groups(const char *s, char ***out, size_t *np, char *err,
    size_t errlen)
{
	char	**v = NULL, why[64];
	size_t	 n = 0, i, len;

	*out = NULL;
	*np = 0;
	while (*s != '\0') {
		const char	*end = strchr(s, ','), *b = s, *e;
		char		*name;
		int		 dup = 0;

		if (end == NULL)
			end = s + strlen(s);
		e = end;
		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		s = *end == ',' ? end + 1 : end;
		len = (size_t)(e - b);
		if (len == 0)
			continue;
		/* What the server takes: a name for a VARCHAR(255). */
		if (pjson_check_name(b, len, WF_TARGET_CHARS, why,
		    sizeof(why)) == -1) {
			snprintf(err, errlen, "WORKER_GROUPS: a group name %s",
			    why);
			goto fail;
		}
		name = xstrndup(b, len);
		for (i = 0; i < n; i++)
			dup |= strcmp(v[i], name) == 0;
		if (dup) {
			free(name);
			continue;
		}
		if (n == WORKER_GROUPS_MAX) {
			free(name);
			snprintf(err, errlen, "WORKER_GROUPS: more than %d "
			    "groups", WORKER_GROUPS_MAX);
			goto fail;
		}
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = name;
	}
	*out = v;
	*np = n;
	return 0;
fail:
	proto_groups_free(v, n);
	return -1;
}

void
proto_groups_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

char *
proto_key_ack(const char *key_id, const char *worker_id, size_t *lenp)
{
	struct json_object	*o = new_msg("key_ack");

	json_object_object_add(o, "key_id", json_object_new_string(key_id));
	json_object_object_add(o, "worker_id",
	    json_object_new_string(worker_id));
	return take_json(o, lenp);
}

/*
 * The body of POST /api/workers/enroll. worker_id (the state directory's,
 * from before this agent had a key) and token may be "": left out. The
 * string holds the token: the caller wipes it.
 */
char *
proto_enroll_request(const char *name, char *const *groups, size_t ngroups,
    const char *version, const char *worker_id, const char *token,
    size_t *lenp)
{
	struct json_object	*o = json_object_new_object(), *v;
	const char		*s;
	char			*out;
	size_t			 n;

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "groups", string_array(groups, ngroups));
	json_object_object_add(o, "version", json_object_new_string(version));
	if (worker_id[0] != '\0')
		json_object_object_add(o, "worker_id",
		    json_object_new_string(worker_id));
	if (token[0] != '\0')
		json_object_object_add(o, "token",
		    json_object_new_string(token));
	s = pjson_str(o, &n);
	out = xmemdup(s, n + 1);
	/* json-c's own copies of the token would be freed unwiped. */
	explicit_bzero((char *)s, n);
	if (json_object_object_get_ex(o, "token", &v))
		explicit_bzero((char *)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	json_object_put(o);
	*lenp = n;
	return out;
}
