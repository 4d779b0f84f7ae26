/*
 * The worker protocol (README "The worker protocol"), what the server
 * says: its messages are network input, turned into a checked struct msg
 * by one function before any other code sees them, and so are its
 * answers to an enrollment. What the worker says is built in
 * proto-build.c; the server's URLs are read in url.c.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
