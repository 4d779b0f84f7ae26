/*
 * The worker protocol (README "The worker protocol"): server messages are
 * network input, turned into a checked struct msg by one function before
 * any other code sees them; worker messages are built here too, and so
 * are the configuration URLs and the group list they carry.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base64.h"
#include "params.h"
#include "pjson.h"
#include "worker.h"
#include "xmalloc.h"

struct msg_kind {
	const char	*name;
	enum msg_type	 type;
	int		(*decode)(struct json_object *, struct msg *, char *,
			    size_t);
};

static int	decode_none(struct json_object *, struct msg *, char *,
		    size_t);
static int	decode_execute(struct json_object *, struct msg *, char *,
		    size_t);
static int	decode_command_id(struct json_object *, struct msg *, char *,
		    size_t);
static int	decode_workflow(struct json_object *, struct msg *, char *,
		    size_t);
static int	decode_rotate_key(struct json_object *, struct msg *, char *,
		    size_t);
static int	decode_worker_state(struct json_object *, struct msg *, char *,
		    size_t);

/* Routing is a table: a new message type is one row and one function. */
static const struct msg_kind msg_kinds[] = {
	{ "ping",		MSG_PING,		decode_none },
	{ "execute_command",	MSG_EXECUTE_COMMAND,	decode_execute },
	{ "cancel_command",	MSG_CANCEL_COMMAND,	decode_command_id },
	{ "result_ack",		MSG_RESULT_ACK,		decode_command_id },
	{ "execute_workflow",	MSG_EXECUTE_WORKFLOW,	decode_workflow },
	{ "rotate_key",		MSG_ROTATE_KEY,		decode_rotate_key },
	{ "worker_state",	MSG_WORKER_STATE,	decode_worker_state },
};

/*
 * A string member no longer than max bytes and without NUL (JSON allows
 * \u0000; a C string would silently end there). 1 present, 0 absent,
 * -1 bad (err says why).
 */
static int
get_str(struct json_object *o, const char *key, size_t max, int required,
    const char **out, char *err, size_t errlen)
{
	const char	*s;
	size_t		 n;
	int		 rc;

	rc = pjson_get_string(o, key, &s, &n);
	if (rc == 0 && required) {
		snprintf(err, errlen, "%s is missing", key);
		return -1;
	}
	if (rc == 0)
		return 0;
	if (rc == -1) {
		snprintf(err, errlen, "%s must be a string", key);
		return -1;
	}
	if (n > max) {
		snprintf(err, errlen, "%s is longer than %zu bytes", key, max);
		return -1;
	}
	if (strlen(s) != n) {
		snprintf(err, errlen, "%s contains a NUL byte", key);
		return -1;
	}
	*out = s;
	return 1;
}

static int
get_id(struct json_object *o, const char *key, int required,
    char out[ID_LEN + 1], char *err, size_t errlen)
{
	const char	*s;
	int		 rc;

	out[0] = '\0';
	rc = get_str(o, key, ID_LEN, required, &s, err, errlen);
	if (rc != 1)
		return rc;
	if (!id_valid(s)) {
		snprintf(err, errlen, "%s must be a UUID", key);
		return -1;
	}
	memcpy(out, s, ID_LEN + 1);
	return 1;
}

static int
get_int(struct json_object *o, const char *key, long long lo, long long hi,
    long long dflt, long long *out, char *err, size_t errlen)
{
	long long	 v;
	int		 rc;

	rc = pjson_get_int(o, key, &v);
	if (rc == 0) {
		if (dflt < lo) {
			snprintf(err, errlen, "%s is missing", key);
			return -1;
		}
		*out = dflt;
		return 0;
	}
	if (rc == -1 || v < lo || v > hi) {
		snprintf(err, errlen, "%s must be an integer between %lld and "
		    "%lld", key, lo, hi);
		return -1;
	}
	*out = v;
	return 1;
}

static int
decode_none(struct json_object *o, struct msg *m, char *err, size_t errlen)
{
	(void)o;
	(void)m;
	(void)err;
	(void)errlen;
	return 0;
}

static int
decode_command_id(struct json_object *o, struct msg *m, char *err,
    size_t errlen)
{
	return get_id(o, "command_id", 1, m->command_id, err, errlen) == 1 ?
	    0 : -1;
}

/* An env name for a message: at most 80 bytes, printable ASCII. */
static void
tame_name(const char *s, char *out, size_t outlen)
{
	size_t	 i;

	for (i = 0; s[i] != '\0' && i < 80 && i + 1 < outlen; i++)
		out[i] = s[i] > ' ' && s[i] < 0x7f ? s[i] : '?';
	out[i] = '\0';
}

/*
 * execute_command "env" (issue 14): the parameters the command gets in
 * its environment, checked whole before anything runs. The error names
 * the entry, never its value (a value may be a secret). m->env is
 * "NAME=value" strings, NULL-ended, in the message's order.
 */
static int
decode_env(struct json_object *o, struct msg *m, char *err, size_t errlen)
{
	struct json_object	*env;
	char			 name[96];
	size_t			 n, total = 0, klen, vlen;
	int			 rc;

	if ((rc = pjson_get_object(o, "env", &env)) == 0)
		return 0;
	if (rc == -1) {
		snprintf(err, errlen, "env must be an object");
		return -1;
	}
	if ((n = (size_t)json_object_object_length(env)) > PULSE_ENV_MAX) {
		snprintf(err, errlen, "env has more than %d entries",
		    PULSE_ENV_MAX);
		return -1;
	}
	m->env = xcalloc(n + 1, sizeof(*m->env));
	json_object_object_foreach(env, key, val) {
		tame_name(key, name, sizeof(name));
		klen = strlen(key);
		if (!params_env_name_ok(key)) {
			snprintf(err, errlen, "env: '%s' is not %s and 1 to %d "
			    "of A-Z, 0-9, _", name, PULSE_ENV_PREFIX,
			    PULSE_ENV_NAME_MAX);
			return -1;
		}
		if (!json_object_is_type(val, json_type_string)) {
			snprintf(err, errlen, "env: %s must be a string", name);
			return -1;
		}
		vlen = (size_t)json_object_get_string_len(val);
		if (vlen > PULSE_ENV_VALUE_MAX) {
			snprintf(err, errlen, "env: %s is longer than %d bytes",
			    name, PULSE_ENV_VALUE_MAX);
			return -1;
		}
		if (strlen(json_object_get_string(val)) != vlen) {
			snprintf(err, errlen, "env: %s contains a NUL byte",
			    name);
			return -1;
		}
		total += klen + vlen;
		if (total > PULSE_ENV_TOTAL_MAX) {
			snprintf(err, errlen, "env: %s takes env past %d bytes",
			    name, PULSE_ENV_TOTAL_MAX);
			return -1;
		}
		xasprintf(&m->env[m->nenv++], "%s=%s", key,
		    json_object_get_string(val));
	}
	return 0;
}

static void
env_free(struct msg *m)
{
	size_t	 i;

	for (i = 0; i < m->nenv; i++) {
		/* Values may be secrets: the freed memory holds none. */
		explicit_bzero(m->env[i], strlen(m->env[i]));
		free(m->env[i]);
	}
	free(m->env);
	m->env = NULL;
	m->nenv = 0;
}

static int
decode_execute(struct json_object *o, struct msg *m, char *err,
    size_t errlen)
{
	const char	*cmd;
	char		 why[256];

	if (get_id(o, "command_id", 1, m->command_id, err, errlen) != 1 ||
	    get_id(o, "execution_id", 1, m->execution_id, err, errlen) != 1 ||
	    get_id(o, "worker_id", 0, m->worker_id, err, errlen) == -1 ||
	    get_str(o, "command", WF_COMMAND_MAX, 1, &cmd, err, errlen) != 1 ||
	    get_int(o, "step_index", 0, WF_STEPS_MAX, 0, &m->step_index, err,
	    errlen) == -1 ||
	    get_int(o, "attempt", 0, WORKER_ATTEMPT_MAX, 0, &m->attempt, err,
	    errlen) == -1 ||
	    get_int(o, "timeout", 1, WF_TIMEOUT_MAX, WF_TIMEOUT_DEFAULT,
	    &m->timeout_ms, err, errlen) == -1)
		return -1;
	if (*cmd == '\0') {
		snprintf(err, errlen, "command is empty");
		return -1;
	}
	m->command = xstrdup(cmd);
	/*
	 * A bad env is not a malformed message: the command is known, so it
	 * is answered (failed, never run) rather than ignored and left to
	 * time out. A server that sends no env is answered as before.
	 */
	if (decode_env(o, m, why, sizeof(why)) == -1) {
		env_free(m);
		m->env_error = xstrdup(why);
	}
	return 0;
}

static int
decode_step(struct json_object *o, size_t i, struct wf_step *st, char *err,
    size_t errlen)
{
	const char	*type, *name = NULL, *cmd;
	char		 sub[128];

	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "workflow.steps[%zu] must be an object",
		    i);
		return -1;
	}
	if (get_str(o, "type", WORKER_TYPE_MAX, 1, &type, sub,
	    sizeof(sub)) != 1 ||
	    get_str(o, "name", WF_STEP_NAME_MAX, 0, &name, sub,
	    sizeof(sub)) == -1)
		goto fail;
	st->name = xstrdup(name != NULL ? name : "");
	if (strcmp(type, "execute") == 0) {
		st->type = WF_STEP_EXECUTE;
		if (get_str(o, "command", WF_COMMAND_MAX, 1, &cmd, sub,
		    sizeof(sub)) != 1 ||
		    get_int(o, "timeout", 1, WF_TIMEOUT_MAX,
		    WF_TIMEOUT_DEFAULT, &st->timeout_ms, sub,
		    sizeof(sub)) == -1)
			goto fail;
		if (*cmd == '\0') {
			snprintf(sub, sizeof(sub), "command is empty");
			goto fail;
		}
		st->command = xstrdup(cmd);
	} else if (strcmp(type, "wait") == 0) {
		st->type = WF_STEP_WAIT;
		if (get_int(o, "duration", 0, WF_DURATION_MAX, -1,
		    &st->duration_ms, sub, sizeof(sub)) == -1)
			goto fail;
	} else if (strcmp(type, "prompt") == 0)
		st->type = WF_STEP_PROMPT;
	else {
		snprintf(sub, sizeof(sub), "type must be execute, wait or "
		    "prompt");
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "workflow.steps[%zu]: %s", i, sub);
	return -1;
}

static int
decode_workflow(struct json_object *o, struct msg *m, char *err,
    size_t errlen)
{
	struct json_object	*wf, *steps;
	const char		*name = NULL;
	size_t			 i, n;

	if (get_id(o, "execution_id", 1, m->execution_id, err, errlen) != 1)
		return -1;
	if (pjson_get_object(o, "workflow", &wf) != 1) {
		snprintf(err, errlen, "workflow must be an object");
		return -1;
	}
	if (get_str(wf, "name", WF_NAME_MAX, 0, &name, err, errlen) == -1)
		return -1;
	m->workflow_name = xstrdup(name != NULL ? name : "");
	if (pjson_get_array(wf, "steps", &steps) != 1) {
		snprintf(err, errlen, "workflow.steps must be an array");
		return -1;
	}
	n = json_object_array_length(steps);
	if (n == 0 || n > WF_STEPS_MAX) {
		snprintf(err, errlen, "workflow.steps must have 1 to %d steps",
		    WF_STEPS_MAX);
		return -1;
	}
	m->steps = xcalloc(n, sizeof(*m->steps));
	m->nsteps = n;
	for (i = 0; i < n; i++)
		if (decode_step(json_object_array_get_idx(steps, i), i,
		    &m->steps[i], err, errlen) == -1)
			return -1;
	return 0;
}

/* A JSON object of at most max bytes from the server ("what" it is). */
static struct json_object *
parse_object(const char *buf, size_t len, size_t max, const char *what,
    char *err, size_t errlen)
{
	struct json_object	*root;

	if (len > max) {
		snprintf(err, errlen, "%s longer than %zu bytes", what, max);
		return NULL;
	}
	root = pjson_parse(buf, len, WORKER_JSON_DEPTH, err, errlen);
	if (root != NULL && !json_object_is_type(root, json_type_object)) {
		snprintf(err, errlen, "%s is not a JSON object", what);
		json_object_put(root);
		return NULL;
	}
	return root;
}

int
proto_decode(const char *buf, size_t len, struct msg *m, char *err,
    size_t errlen)
{
	struct json_object	*root;
	const char		*type;
	size_t			 i;
	int			 rc = -1;

	memset(m, 0, sizeof(*m));
	root = parse_object(buf, len, WORKER_MSG_MAX, "message", err, errlen);
	if (root == NULL)
		return -1;
	if (get_str(root, "type", WORKER_TYPE_MAX, 1, &type, err,
	    errlen) != 1)
		goto fail;
	strlcpy_p(m->type_name, type, sizeof(m->type_name));
	for (i = 0; i < sizeof(msg_kinds) / sizeof(msg_kinds[0]); i++) {
		if (strcmp(msg_kinds[i].name, type) != 0)
			continue;
		m->type = msg_kinds[i].type;
		if (msg_kinds[i].decode(root, m, err, errlen) == -1)
			goto fail;
		break;
	}
	rc = 0;
fail:
	json_object_put(root);
	if (rc == -1)
		proto_msg_clear(m);
	return rc;
}

void
proto_msg_clear(struct msg *m)
{
	size_t	 i;

	explicit_bzero(m->key, sizeof(m->key));
	free(m->command);
	env_free(m);
	free(m->env_error);
	free(m->workflow_name);
	for (i = 0; i < m->nsteps; i++) {
		free(m->steps[i].name);
		free(m->steps[i].command);
	}
	free(m->steps);
	memset(m, 0, sizeof(*m));
}

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

static int
host_char(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* scheme://host[:port][/path]: only what a worker needs, checked. */
int
url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	static const struct {
		const char	*scheme;
		int		 tls, port;
	} schemes[] = {
		{ "ws://", 0, 80 }, { "wss://", 1, 443 },
		{ "http://", 0, 80 }, { "https://", 1, 443 },
	};
	const char	*p = NULL, *h, *he, *q;
	size_t		 i;
	long		 port;

	memset(u, 0, sizeof(*u));
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(s, schemes[i].scheme,
		    strlen(schemes[i].scheme)) == 0) {
			p = s + strlen(schemes[i].scheme);
			u->tls = schemes[i].tls;
			u->port = schemes[i].port;
			break;
		}
	if (p == NULL) {
		snprintf(err, errlen, "'%s' is not a ws://, wss://, http:// or "
		    "https:// URL", s);
		return -1;
	}
	if (*p == '[') {
		h = p + 1;
		if ((he = strchr(h, ']')) == NULL || he == h) {
			snprintf(err, errlen, "'%s': bad IPv6 address", s);
			return -1;
		}
		for (q = h; q < he; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' &&
			    *q != '.') {
				snprintf(err, errlen, "'%s': bad IPv6 address",
				    s);
				return -1;
			}
		q = he + 1;
	} else {
		h = p;
		for (he = h; host_char((unsigned char)*he); he++)
			;
		if (he == h) {
			snprintf(err, errlen, "'%s': no host name", s);
			return -1;
		}
		q = he;
	}
	if (*q == ':') {
		char	*end;

		q++;
		if (!isdigit((unsigned char)*q)) {
			snprintf(err, errlen, "'%s': bad port", s);
			return -1;
		}
		port = strtol(q, &end, 10);
		if (port < 1 || port > 65535 || end - q > 5) {
			snprintf(err, errlen, "'%s': bad port", s);
			return -1;
		}
		u->port = (int)port;
		q = end;
	}
	if (*q != '\0' && *q != '/') {
		snprintf(err, errlen, "'%s': unexpected '%c' after the host",
		    s, *q);
		return -1;
	}
	for (i = 0; q[i] != '\0'; i++)
		if ((unsigned char)q[i] <= ' ' || q[i] == '#' ||
		    (unsigned char)q[i] >= 0x7f) {
			snprintf(err, errlen, "'%s': bad character in the "
			    "path", s);
			return -1;
		}
	u->host = xstrndup(h, (size_t)(he - h));
	u->path = xstrdup(*q == '\0' ? "/" : q);
	if (u->port == (u->tls ? 443 : 80))
		xasprintf(&u->hosthdr, *p == '[' ? "[%s]" : "%s", u->host);
	else
		xasprintf(&u->hosthdr, *p == '[' ? "[%s]:%d" : "%s:%d",
		    u->host, u->port);
	return 0;
}

void
url_clear(struct url *u)
{
	free(u->host);
	free(u->path);
	free(u->hosthdr);
	memset(u, 0, sizeof(*u));
}

/* The server URL's path without its trailing slashes, then suffix. */
static void
url_append(struct url *u, const char *suffix)
{
	size_t	 n = strlen(u->path);
	char	*p;

	while (n > 0 && u->path[n - 1] == '/')
		n--;
	xasprintf(&p, "%.*s%s", (int)n, u->path, suffix);
	free(u->path);
	u->path = p;
}

/*
 * The websocket URL: PULSE_WS as given ("/worker" when it has no path),
 * else PULSE_SERVER with http(s) turned into ws(s) and "/worker" after
 * its path, so that a server under a prefix keeps it.
 */
int
url_worker(const char *server, const char *ws, struct url *u, char *err,
    size_t errlen)
{
	char	 sub[512];

	if (ws != NULL && *ws != '\0') {
		if (strncmp(ws, "ws://", 5) != 0 &&
		    strncmp(ws, "wss://", 6) != 0) {
			snprintf(err, errlen, "PULSE_WS: '%s' is not a ws:// "
			    "or wss:// URL", ws);
			return -1;
		}
		if (url_parse(ws, u, sub, sizeof(sub)) == -1) {
			snprintf(err, errlen, "PULSE_WS: %s", sub);
			return -1;
		}
		if (strcmp(u->path, "/") == 0)
			url_append(u, "/worker");
		return 0;
	}
	if (url_server(server, "/worker", u, err, errlen) == -1)
		return -1;
	return 0;
}

/* PULSE_SERVER (http:// or https://) with suffix after its path. */
int
url_server(const char *server, const char *suffix, struct url *u, char *err,
    size_t errlen)
{
	char	 sub[512];

	if (strncmp(server, "http://", 7) != 0 &&
	    strncmp(server, "https://", 8) != 0) {
		snprintf(err, errlen, "PULSE_SERVER: '%s' is not an http:// "
		    "or https:// URL", server);
		return -1;
	}
	if (url_parse(server, u, sub, sizeof(sub)) == -1) {
		snprintf(err, errlen, "PULSE_SERVER: %s", sub);
		return -1;
	}
	if (strchr(u->path, '?') != NULL) {
		snprintf(err, errlen, "PULSE_SERVER: '%s' has a query string",
		    server);
		url_clear(u);
		return -1;
	}
	url_append(u, suffix);
	return 0;
}

/*
 * Issue 13: the worker's own key and enrollment (README "Onboarding a
 * worker"). A key is 32 random bytes in base64url without padding; it
 * becomes a header value, so nothing else may pass for one.
 */
int
proto_key_valid(const char *k)
{
	size_t	 i;

	for (i = 0; k[i] != '\0'; i++)
		if (!isalnum((unsigned char)k[i]) && k[i] != '-' &&
		    k[i] != '_')
			return 0;
	return i == PROTO_KEY_LEN;
}

/* A key_id names a stored key to the server: short, plain characters. */
static int
key_id_valid(const char *s)
{
	size_t	 i;

	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return 0;
	return i > 0 && i <= PROTO_KEY_ID_MAX;
}

/*
 * rotate_key {"key","key_id"}: the key is copied into the message (wiped
 * by proto_msg_clear) and wiped in the parsed JSON, which is freed
 * without zeroing. key_id may come as a string or a number.
 */
static int
decode_rotate_key(struct json_object *o, struct msg *m, char *err,
    size_t errlen)
{
	struct json_object	*v;
	const char		*k;
	long long		 n;

	if (get_str(o, "key", PROTO_KEY_LEN, 1, &k, err, errlen) != 1)
		return -1;
	if (!proto_key_valid(k)) {
		snprintf(err, errlen, "key is not %d characters of base64url",
		    PROTO_KEY_LEN);
		return -1;
	}
	memcpy(m->key, k, PROTO_KEY_LEN + 1);
	explicit_bzero((char *)k, PROTO_KEY_LEN);
	if (json_object_object_get_ex(o, "key_id", &v) &&
	    json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		if (n < 0) {
			snprintf(err, errlen, "key_id must not be negative");
			return -1;
		}
		snprintf(m->key_id, sizeof(m->key_id), "%lld", n);
		return 0;
	}
	if (get_str(o, "key_id", PROTO_KEY_ID_MAX, 1, &k, err, errlen) != 1)
		return -1;
	if (!key_id_valid(k)) {
		snprintf(err, errlen, "key_id must be 1 to %d letters, digits, "
		    "'-' or '_'", PROTO_KEY_ID_MAX);
		return -1;
	}
	strlcpy_p(m->key_id, k, sizeof(m->key_id));
	return 0;
}

/* worker_state {"state","worker_id"}: what an admin decided about us. */
static int
decode_worker_state(struct json_object *o, struct msg *m, char *err,
    size_t errlen)
{
	const char	*st;

	if (get_str(o, "state", PROTO_STATE_MAX, 1, &st, err, errlen) != 1)
		return -1;
	strlcpy_p(m->state, st, sizeof(m->state));
	return get_id(o, "worker_id", 0, m->worker_id, err, errlen) == -1 ?
	    -1 : 0;
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

/*
 * The answer to an enrollment (201): worker_id a UUID, key a worker key,
 * state a word. The key is wiped in the parsed JSON as it is copied.
 */
int
proto_enroll_answer(const char *buf, size_t len, struct enroll_answer *ea,
    char *err, size_t errlen)
{
	struct json_object	*root;
	const char		*k, *st;
	int			 rc = -1;

	memset(ea, 0, sizeof(*ea));
	root = parse_object(buf, len, ENROLL_ANSWER_MAX, "answer", err,
	    errlen);
	if (root == NULL)
		return -1;
	if (get_id(root, "worker_id", 1, ea->worker_id, err, errlen) != 1 ||
	    get_str(root, "key", PROTO_KEY_LEN, 1, &k, err, errlen) != 1)
		goto fail;
	if (!proto_key_valid(k)) {
		snprintf(err, errlen, "key is not %d characters of base64url",
		    PROTO_KEY_LEN);
		goto fail;
	}
	memcpy(ea->key, k, PROTO_KEY_LEN + 1);
	explicit_bzero((char *)k, PROTO_KEY_LEN);
	switch (get_str(root, "state", PROTO_STATE_MAX, 0, &st, err,
	    errlen)) {
	case -1:
		goto fail;
	case 1:
		strlcpy_p(ea->state, st, sizeof(ea->state));
		break;
	}
	rc = 0;
fail:
	json_object_put(root);
	if (rc == -1)
		explicit_bzero(ea, sizeof(*ea));
	return rc;
}

/*
 * What a refusing server said, for the log: the "error" member of a JSON
 * answer, else the text itself; printable, at most outlen - 1 bytes.
 */
void
proto_error_text(const char *buf, size_t len, char *out, size_t outlen)
{
	struct json_object	*root = NULL;
	const char		*s = buf;
	size_t			 n = len, i;
	char			 err[64];

	out[0] = '\0';
	if (buf == NULL || outlen == 0)
		return;
	if (len > 0 && len <= ENROLL_ANSWER_MAX &&
	    (root = pjson_parse(buf, len, WORKER_JSON_DEPTH, err,
	    sizeof(err))) != NULL &&
	    pjson_get_string(root, "error", &s, &n) != 1) {
		s = buf;
		n = len;
	}
	for (i = 0; i < n && i + 1 < outlen; i++)
		out[i] = isprint((unsigned char)s[i]) ? s[i] : ' ';
	out[i] = '\0';
	json_object_put(root);
}

