/*
 * Unit tests for worker/proto.c and proto-build.c: every kind of malformed
 * server message is refused with a reason, unknown types pass for forward
 * compatibility, results carry exact bytes and fit the 4 MiB message
 * limit; rotate_key, worker_state and the enrollment answer are checked
 * before use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "pjson.h"
#include "worker.h"
#include "xmalloc.h"
#include "test.h"

#define CID	"11111111-1111-4111-8111-111111111111"
#define EID	"22222222-2222-4222-8222-222222222222"
#define KEY	"abcdefghijklmnopqrstuvwxyz-_0123456789ABCDE"

static int
refused(const char *json, const char *why)
{
	struct msg	 m;
	char		 err[256];

	err[0] = '\0';
	if (proto_decode(json, strlen(json), &m, err, sizeof(err)) != -1)
		return 0;
	if (strstr(err, why) == NULL) {
		printf("# '%s' refused with '%s'\n", json, err);
		return 0;
	}
	return 1;
}

static int
decodes(const char *json, enum msg_type type)
{
	struct msg	 m;
	char		 err[256];
	int		 ok;

	if (proto_decode(json, strlen(json), &m, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return 0;
	}
	ok = m.type == type;
	proto_msg_clear(&m);
	return ok;
}

/*
 * An execute_command message with extra members. Built in a buffer of our
 * own rather than by xasprintf(&local): once inlined, gcc -O2 cannot tell
 * that the pointer xasprintf stores is not the local's own address, and
 * every write through the result was reported as a dangling pointer.
 */
static char *
execute(const char *extra)
{
	static const char head[] = "{\"type\":\"execute_command\","
	    "\"command_id\":\"" CID "\",\"execution_id\":\"" EID "\"";
	size_t	 n = sizeof(head) + strlen(extra) + 1;
	char	*s = xmalloc(n);

	snprintf(s, n, "%s%s}", head, extra);
	return s;
}

static void
test_decode(void)
{
	struct msg	 m;
	char		 err[256], *s, *big;
	int		 rc;

	s = execute(",\"step_index\":2,\"command\":\"df -h\",\"timeout\":600000,"
	    "\"worker_id\":\"" CID "\",\"future_field\":[1,2]");
	rc = proto_decode(s, strlen(s), &m, err, sizeof(err));
	test_cond("execute_command decodes", rc == 0 &&
	    m.type == MSG_EXECUTE_COMMAND && strcmp(m.command, "df -h") == 0 &&
	    m.timeout_ms == 600000 && m.step_index == 2 &&
	    strcmp(m.command_id, CID) == 0 &&
	    strcmp(m.execution_id, EID) == 0 &&
	    strcmp(m.worker_id, CID) == 0);
	proto_msg_clear(&m);
	free(s);

	/* attempt (added for PULSE_ATTEMPT): optional, 0 when absent. */
	s = execute(",\"command\":\"true\",\"attempt\":3");
	rc = proto_decode(s, strlen(s), &m, err, sizeof(err));
	test_cond("execute_command carries attempt", rc == 0 &&
	    m.attempt == 3);
	proto_msg_clear(&m);
	free(s);
	s = execute(",\"command\":\"true\"");
	rc = proto_decode(s, strlen(s), &m, err, sizeof(err));
	test_cond("attempt absent: 0", rc == 0 && m.attempt == 0);
	proto_msg_clear(&m);
	free(s);
	s = execute(",\"command\":\"true\",\"attempt\":\"2\"");
	test_cond("attempt not an integer: refused", refused(s, "attempt"));
	free(s);
	s = execute(",\"command\":\"true\",\"attempt\":-1");
	test_cond("negative attempt: refused", refused(s, "attempt"));
	free(s);

	s = execute(",\"command\":\"true\"");
	rc = proto_decode(s, strlen(s), &m, err, sizeof(err));
	test_cond("timeout defaults to 300000 ms", rc == 0 &&
	    m.timeout_ms == WF_TIMEOUT_DEFAULT && m.worker_id[0] == '\0');
	proto_msg_clear(&m);
	free(s);

	test_cond("ping", decodes("{\"type\":\"ping\"}", MSG_PING));
	test_cond("result_ack", decodes("{\"type\":\"result_ack\","
	    "\"command_id\":\"" CID "\"}", MSG_RESULT_ACK));
	test_cond("cancel_command", decodes("{\"type\":\"cancel_command\","
	    "\"command_id\":\"" CID "\"}", MSG_CANCEL_COMMAND));
	test_cond("unknown type is accepted as MSG_UNKNOWN",
	    decodes("{\"type\":\"hello_from_the_future\",\"x\":{}}",
	    MSG_UNKNOWN));

	test_cond("not JSON", refused("ping", "offset"));
	test_cond("empty", refused("", "end of input"));
	test_cond("trailing garbage", refused("{\"type\":\"ping\"} x",
	    "offset"));
	test_cond("array at top", refused("[1]", "not a JSON object"));
	/* json-c's null is a NULL object; the reason was never written. */
	test_cond("null at top: refused with a reason",
	    refused("null ", "JSON null"));
	test_cond("no type", refused("{\"x\":1}", "type is missing"));
	test_cond("type not a string", refused("{\"type\":7}",
	    "type must be a string"));
	test_cond("type too long", refused("{\"type\":\"aaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	    "longer than"));
	test_cond("too deep", refused("{\"type\":\"ping\",\"a\":[[[[[[[[1]]]]]]]]}",
	    "nested too deeply"));
	test_cond("invalid UTF-8", refused("{\"type\":\"p\xffng\"}", "offset"));

	s = execute(",\"command\":\"x\"");
	s[strstr(s, CID) - s] = 'z';
	test_cond("command_id not a UUID", refused(s, "command_id must be a "
	    "UUID"));
	free(s);
	test_cond("command_id missing", refused("{\"type\":\"execute_command\","
	    "\"execution_id\":\"" EID "\",\"command\":\"x\"}",
	    "command_id is missing"));
	test_cond("result_ack with a path", refused("{\"type\":\"result_ack\","
	    "\"command_id\":\"../../etc/passwd\"}", "command_id must be"));
	s = execute("");
	test_cond("command missing", refused(s, "command is missing"));
	free(s);
	s = execute(",\"command\":\"\"");
	test_cond("command empty", refused(s, "command is empty"));
	free(s);
	s = execute(",\"command\":\"a\\u0000b\"");
	test_cond("command with NUL", refused(s, "NUL"));
	free(s);
	s = execute(",\"command\":42");
	test_cond("command not a string", refused(s, "must be a string"));
	free(s);
	big = xmalloc(WF_COMMAND_MAX + 2);
	memset(big, 'a', WF_COMMAND_MAX + 1);
	big[WF_COMMAND_MAX + 1] = '\0';
	xasprintf(&s, "{\"type\":\"execute_command\",\"command_id\":\"" CID
	    "\",\"execution_id\":\"" EID "\",\"command\":\"%s\"}", big);
	test_cond("command over 64 KiB", refused(s, "longer than"));
	free(s);
	free(big);
	s = execute(",\"command\":\"x\",\"timeout\":\"5\"");
	test_cond("timeout as a string", refused(s, "timeout must be"));
	free(s);
	s = execute(",\"command\":\"x\",\"timeout\":0");
	test_cond("timeout zero", refused(s, "timeout must be"));
	free(s);
	s = execute(",\"command\":\"x\",\"timeout\":1.5");
	test_cond("timeout not an integer", refused(s, "timeout must be"));
	free(s);
	s = execute(",\"command\":\"x\",\"timeout\":99999999999999");
	test_cond("timeout over 7 days", refused(s, "timeout must be"));
	free(s);
	s = execute(",\"command\":\"x\",\"step_index\":-1");
	test_cond("negative step_index", refused(s, "step_index"));
	free(s);
	s = execute(",\"command\":\"x\",\"worker_id\":\"me\"");
	test_cond("worker_id not a UUID", refused(s, "worker_id"));
	free(s);

	test_cond("workflow without steps", refused("{\"type\":"
	    "\"execute_workflow\",\"execution_id\":\"" EID "\",\"workflow\":"
	    "{\"name\":\"w\"}}", "steps must be an array"));
	test_cond("workflow with no step", refused("{\"type\":"
	    "\"execute_workflow\",\"execution_id\":\"" EID "\",\"workflow\":"
	    "{\"steps\":[]}}", "1 to"));
	test_cond("workflow step of unknown type", refused("{\"type\":"
	    "\"execute_workflow\",\"execution_id\":\"" EID "\",\"workflow\":"
	    "{\"steps\":[{\"type\":\"launch\"}]}}", "steps[0]: type"));
	test_cond("wait step without duration", refused("{\"type\":"
	    "\"execute_workflow\",\"execution_id\":\"" EID "\",\"workflow\":"
	    "{\"steps\":[{\"type\":\"prompt\"},{\"type\":\"wait\"}]}}",
	    "steps[1]: duration is missing"));
	s = xstrdup("{\"type\":\"execute_workflow\",\"execution_id\":\"" EID
	    "\",\"workflow\":{\"name\":\"w\",\"steps\":[{\"type\":\"execute\","
	    "\"command\":\"df\",\"targets\":[\"all\"]},{\"type\":\"wait\","
	    "\"duration\":5},{\"type\":\"prompt\",\"options\":[\"Yes\"]}]}}");
	rc = proto_decode(s, strlen(s), &m, err, sizeof(err));
	test_cond("workflow decodes", rc == 0 && m.nsteps == 3 &&
	    m.steps[0].type == WF_STEP_EXECUTE &&
	    m.steps[0].timeout_ms == WF_TIMEOUT_DEFAULT &&
	    strcmp(m.steps[0].command, "df") == 0 &&
	    m.steps[1].type == WF_STEP_WAIT && m.steps[1].duration_ms == 5 &&
	    m.steps[2].type == WF_STEP_PROMPT);
	proto_msg_clear(&m);
	free(s);

	/* A message over the limit is refused before parsing. */
	big = xmalloc(WORKER_MSG_MAX + 2);
	memset(big, ' ', WORKER_MSG_MAX + 1);
	memcpy(big, "{\"type\":\"ping\"}", 15);
	test_cond("over 4 MiB", proto_decode(big, WORKER_MSG_MAX + 1, &m, err,
	    sizeof(err)) == -1 && strstr(err, "longer than") != NULL);
	free(big);
}

/*
 * execute_command with env {entries} (issue 14). 0: decoded and the env
 * accepted; 1: decoded, the env refused with err holding why (the ids
 * kept, to answer with); -1: the message refused as a whole.
 */
static int
env_decode(const char *entries, struct msg *m, char *err, size_t errlen)
{
	char	*s, *extra;
	int	 rc;

	xasprintf(&extra, ",\"command\":\"true\",\"env\":%s", entries);
	s = execute(extra);
	free(extra);
	err[0] = '\0';
	rc = proto_decode(s, strlen(s), m, err, errlen);
	free(s);
	if (rc == -1)
		return -1;
	if (m->env_error == NULL)
		return 0;
	snprintf(err, errlen, "%s", m->env_error);
	return 1;
}

/* env refused with why in the error, the ids still there, no env left. */
static int
env_refused(const char *entries, const char *why)
{
	struct msg	 m;
	char		 err[256];
	int		 rc, ok;

	rc = env_decode(entries, &m, err, sizeof(err));
	if (rc != 1) {
		printf("# env %.60s: rc %d: %s\n", entries, rc, err);
		if (rc == 0)
			proto_msg_clear(&m);
		return 0;
	}
	ok = strstr(err, why) != NULL && m.env == NULL && m.nenv == 0 &&
	    strcmp(m.command_id, CID) == 0 && strcmp(m.execution_id, EID) == 0;
	if (!ok)
		printf("# env %.60s: '%s'\n", entries, err);
	proto_msg_clear(&m);
	return ok;
}

/*
 * An env object of n entries PULSE_PARAM_V<i>, each value len bytes but
 * the last, last bytes.
 */
static char *
env_of(size_t n, size_t len, size_t last)
{
	char	*s, *v;
	size_t	 i, o = 0, max = len > last ? len : last;
	size_t	 cap = 2 + n * (max + 40);

	s = xmalloc(cap);
	v = xmalloc(max + 1);
	memset(v, 'v', max);
	s[o++] = '{';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s\"PULSE_PARAM_V%zu\":"
		    "\"%.*s\"", i > 0 ? "," : "", i,
		    (int)(i + 1 < n ? len : last), v);
	snprintf(s + o, cap - o, "}");
	free(v);
	return s;
}

/* Envs refused, and the words their error must hold. */
static const struct {
	const char	*what, *entries, *why;
} bad_env[] = {
	{ "env an array: refused", "[]", "env must be an object" },
	{ "env a string: refused", "\"A=1\"", "env must be an object" },
	{ "name PATH: refused", "{\"PATH\":\"/tmp\"}",
	    "env: 'PATH' is not PULSE_PARAM_" },
	{ "name LD_PRELOAD: refused",
	    "{\"PULSE_PARAM_A\":\"1\",\"LD_PRELOAD\":\"/tmp/x.so\"}",
	    "'LD_PRELOAD'" },
	{ "name without a suffix: refused", "{\"PULSE_PARAM_\":\"1\"}",
	    "'PULSE_PARAM_' is not" },
	{ "lower case: refused", "{\"PULSE_PARAM_a\":\"1\"}",
	    "'PULSE_PARAM_a'" },
	{ "a '-' in the name: refused", "{\"PULSE_PARAM_A-B\":\"1\"}",
	    "'PULSE_PARAM_A-B'" },
	{ "'=' in the name: refused", "{\"PULSE_PARAM_A=B\":\"1\"}",
	    "'PULSE_PARAM_A=B'" },
	{ "a prefix in lower case: refused", "{\"pulse_param_A\":\"1\"}",
	    "'pulse_param_A'" },
	{ "a newline in the name is shown tamed",
	    "{\"PULSE_PARAM_A\\nB\":\"1\"}", "'PULSE_PARAM_A?B'" },
	{ "a number: refused, naming the entry",
	    "{\"PULSE_PARAM_A\":\"x\",\"PULSE_PARAM_N\":5}",
	    "env: PULSE_PARAM_N must be a string" },
	{ "null value: refused", "{\"PULSE_PARAM_N\":null}",
	    "PULSE_PARAM_N must be a string" },
	{ "an object value: refused", "{\"PULSE_PARAM_N\":{}}",
	    "PULSE_PARAM_N must be a string" },
	{ "a NUL in a value: refused", "{\"PULSE_PARAM_S\":\"a\\u0000b\"}",
	    "env: PULSE_PARAM_S contains a NUL byte" },
};

static void
test_env(void)
{
	struct msg	 m;
	char		 err[256], *s, name[128];
	char		 suffix[PULSE_ENV_NAME_MAX + 2];
	size_t		 total, i;
	int		 rc;

	/* Older messages: no env, or null, decode exactly as before. */
	s = execute(",\"command\":\"true\"");
	rc = proto_decode(s, strlen(s), &m, err, sizeof(err));
	test_cond("env absent: no env, no error", rc == 0 && m.env == NULL &&
	    m.nenv == 0 && m.env_error == NULL);
	proto_msg_clear(&m);
	free(s);
	rc = env_decode("null", &m, err, sizeof(err));
	test_cond("env null: as absent", rc == 0 && m.env == NULL &&
	    m.nenv == 0);
	proto_msg_clear(&m);
	rc = env_decode("{}", &m, err, sizeof(err));
	test_cond("env {}: no entries", rc == 0 && m.nenv == 0 &&
	    m.env != NULL && m.env[0] == NULL);
	proto_msg_clear(&m);

	rc = env_decode("{\"PULSE_PARAM_VERSION\":\"1.2.3\","
	    "\"PULSE_PARAM_Q\":\"it's \\\"$(id)\\\" `id`\\n a\\tb \\\\\","
	    "\"PULSE_PARAM_EMPTY\":\"\",\"PULSE_PARAM_U\":\"h\\u00e9\"}",
	    &m, err, sizeof(err));
	test_cond("env decodes to NAME=value, in order, exactly", rc == 0 &&
	    m.nenv == 4 && m.env[4] == NULL &&
	    strcmp(m.env[0], "PULSE_PARAM_VERSION=1.2.3") == 0 &&
	    strcmp(m.env[1], "PULSE_PARAM_Q=it's \"$(id)\" `id`\n a\tb \\") ==
	    0 && strcmp(m.env[2], "PULSE_PARAM_EMPTY=") == 0 &&
	    strcmp(m.env[3], "PULSE_PARAM_U=h\xc3\xa9") == 0);
	proto_msg_clear(&m);

	for (i = 0; i < sizeof(bad_env) / sizeof(bad_env[0]); i++)
		test_cond(bad_env[i].what, env_refused(bad_env[i].entries,
		    bad_env[i].why));
	memset(suffix, 'N', sizeof(suffix) - 1);
	suffix[sizeof(suffix) - 1] = '\0';
	snprintf(name, sizeof(name), "{\"PULSE_PARAM_%.*s\":\"1\"}",
	    PULSE_ENV_NAME_MAX, suffix);
	rc = env_decode(name, &m, err, sizeof(err));
	test_cond("a 64-character suffix: accepted", rc == 0 &&
	    m.nenv == 1);
	proto_msg_clear(&m);
	snprintf(name, sizeof(name), "{\"PULSE_PARAM_%s\":\"1\"}", suffix);
	test_cond("a 65-character suffix: refused", env_refused(name,
	    "1 to 64 of A-Z, 0-9, _"));

	rc = env_decode("{\"PULSE_PARAM_PW\":\"s3cret\",\"PULSE_PARAM_X\":1}",
	    &m, err, sizeof(err));
	test_cond("the error never shows a value", rc == 1 &&
	    strstr(err, "s3cret") == NULL && strstr(err, "PULSE_PARAM_X"));
	proto_msg_clear(&m);

	/* Sizes: 64 entries, 256 KiB of names and values. */
	s = env_of(PULSE_ENV_MAX, 1, 1);
	rc = env_decode(s, &m, err, sizeof(err));
	test_cond("64 entries: accepted", rc == 0 && m.nenv == 64 &&
	    strcmp(m.env[63], "PULSE_PARAM_V63=v") == 0);
	proto_msg_clear(&m);
	free(s);
	s = env_of(PULSE_ENV_MAX + 1, 1, 1);
	test_cond("65 entries: refused", env_refused(s,
	    "env has more than 64 entries"));
	free(s);
	s = env_of(1, 0, PULSE_ENV_VALUE_MAX);
	rc = env_decode(s, &m, err, sizeof(err));
	test_cond("a 64 KiB value: accepted", rc == 0 && m.nenv == 1 &&
	    strlen(m.env[0]) == 14 + 1 + PULSE_ENV_VALUE_MAX);
	proto_msg_clear(&m);
	free(s);
	s = env_of(1, 0, PULSE_ENV_VALUE_MAX + 1);
	test_cond("a value of 64 KiB + 1: refused", env_refused(s,
	    "env: PULSE_PARAM_V0 is longer than 65536 bytes"));
	free(s);
	/* Four names of 14 bytes, three 64 KiB values; the last fills up. */
	total = PULSE_ENV_TOTAL_MAX - 4 * 14 - 3 * PULSE_ENV_VALUE_MAX;
	s = env_of(4, PULSE_ENV_VALUE_MAX, total);
	rc = env_decode(s, &m, err, sizeof(err));
	test_cond("exactly 256 KiB: accepted", rc == 0 && m.nenv == 4 &&
	    strlen(m.env[3]) == 14 + 1 + total);
	proto_msg_clear(&m);
	free(s);
	s = env_of(4, PULSE_ENV_VALUE_MAX, total + 1);
	test_cond("one byte over 256 KiB: refused at the entry past it",
	    env_refused(s, "env: PULSE_PARAM_V3 takes env past 262144 bytes"));
	free(s);

	/* The bad env is still a command to answer: a failed result. */
	{
		struct result	 r;
		size_t		 len;

		memset(&r, 0, sizeof(r));
		r.command_id = CID;
		r.execution_id = EID;
		r.worker_id = CID;
		r.rejected = 1;
		r.message = "env: PULSE_PARAM_N must be a string";
		r.out[0].buf = "";
		r.out[1].buf = r.message;
		r.out[1].len = r.out[1].total = strlen(r.message);
		s = proto_result(&r, WORKER_MSG_MAX, &len);
		test_cond("a rejected command's result: status failed, no "
		    "success, no exit code, the error as message and stderr",
		    !proto_result_success(&r) &&
		    strstr(s, "\"status\":\"failed\"") != NULL &&
		    strstr(s, "\"success\":false") != NULL &&
		    strstr(s, "\"exit_code\":null") != NULL &&
		    strstr(s, "\"message\":\"env: PULSE_PARAM_N must be a "
		    "string\"") != NULL &&
		    strstr(s, "\"stderr\":\"env: PULSE_PARAM_N") != NULL);
		free(s);
	}
}

/* The bytes of stdout as the server would rebuild them from a result. */
static int
result_bytes(const char *json, size_t len, const char *stream,
    char **out, size_t *outlen, struct json_object **rootp)
{
	struct json_object	*root, *v;
	const char		*s;
	char			 key[32], err[128];
	size_t			 n;

	root = pjson_parse(json, len, 8, err, sizeof(err));
	if (root == NULL)
		return -1;
	*rootp = root;
	snprintf(key, sizeof(key), "%s_b64", stream);
	if (pjson_get_string(root, key, &s, &n) == 1) {
		*out = xmalloc(n);
		if (base64_decode(s, n, *out, outlen) == -1)
			return -1;
		return 1;
	}
	if (!json_object_object_get_ex(root, stream, &v))
		return -1;
	*out = xmemdup(json_object_get_string(v),
	    (size_t)json_object_get_string_len(v));
	*outlen = (size_t)json_object_get_string_len(v);
	return 0;
}

static void
test_result(void)
{
	struct json_object	*root;
	struct result		 r;
	const char		*bin = "ok\xff\xfe\x00z";
	char			*s, *bytes, *big;
	long long		 ll;
	size_t			 len, n;
	int			 b, rc;

	memset(&r, 0, sizeof(r));
	r.command_id = CID;
	r.execution_id = EID;
	r.worker_id = CID;
	r.exited = 1;
	r.exit_code = 0;
	r.out[0].buf = "héllo\n";
	r.out[0].len = r.out[0].total = strlen("héllo\n");
	r.out[1].buf = bin;
	r.out[1].len = r.out[1].total = 6;
	r.duration_ms = 12;
	r.finished_ms = 1700000000123LL;
	s = proto_result(&r, WORKER_MSG_MAX, &len);
	rc = result_bytes(s, len, "stdout", &bytes, &n, &root);
	test_cond("valid UTF-8: text only, no stdout_b64", rc == 0 &&
	    n == strlen("héllo\n") && memcmp(bytes, "héllo\n", n) == 0);
	test_cond("success, exit code, timestamp",
	    pjson_get_bool(root, "success", &b) == 1 && b &&
	    pjson_get_int(root, "exit_code", &ll) == 1 && ll == 0 &&
	    strstr(s, "\"timestamp\":\"2023-11-14T22:13:20.123Z\"") != NULL &&
	    strstr(s, "\"signal\":null") != NULL);
	free(bytes);
	json_object_put(root);
	rc = result_bytes(s, len, "stderr", &bytes, &n, &root);
	test_cond("invalid UTF-8: stderr_b64 has the exact bytes", rc == 1 &&
	    n == 6 && memcmp(bytes, bin, 6) == 0);
	test_cond("invalid UTF-8: stderr text has U+FFFD", strstr(s,
	    "\"stderr\":\"ok\xef\xbf\xbd\xef\xbf\xbd\\u0000z\"") != NULL);
	free(bytes);
	json_object_put(root);
	free(s);

	r.exited = 0;
	r.signal = 15;
	r.timed_out = 1;
	r.out[0].total = 5000000;
	r.out[0].truncated = 1;
	s = proto_result(&r, WORKER_MSG_MAX, &len);
	test_cond("timed out: no exit code, signal, failure, true size",
	    strstr(s, "\"exit_code\":null") != NULL &&
	    strstr(s, "\"signal\":15") != NULL &&
	    strstr(s, "\"success\":false") != NULL &&
	    strstr(s, "\"timed_out\":true") != NULL &&
	    strstr(s, "\"stdout_bytes\":5000000") != NULL &&
	    strstr(s, "\"stdout_truncated\":true") != NULL);
	free(s);

	/* 1 MiB of control bytes is 6 MiB of JSON: it must still fit. */
	big = xmalloc(1024 * 1024);
	memset(big, 1, 1024 * 1024);
	memset(&r, 0, sizeof(r));
	r.command_id = CID;
	r.execution_id = EID;
	r.worker_id = CID;
	r.exited = 1;
	r.out[0].buf = big;
	r.out[0].len = r.out[0].total = 1024 * 1024;
	r.out[1].buf = big;
	r.out[1].len = r.out[1].total = 1024 * 1024;
	s = proto_result(&r, WORKER_MSG_MAX, &len);
	test_cond("escaped output is shrunk to fit 4 MiB", s != NULL &&
	    len <= WORKER_MSG_MAX &&
	    strstr(s, "\"stdout_bytes\":1048576") != NULL &&
	    strstr(s, "\"stdout_truncated\":true") != NULL);
	free(s);

	/* 1 MiB of binary per stream: the exact bytes all fit, as b64. */
	for (n = 0; n < 1024 * 1024; n++)
		big[n] = (char)(0x80 | (n * 7919 % 61));
	s = proto_result(&r, WORKER_MSG_MAX, &len);
	rc = s != NULL ? result_bytes(s, len, "stderr", &bytes, &n, &root) :
	    -1;
	test_cond("binary output: every captured byte, exactly", rc == 1 &&
	    len <= WORKER_MSG_MAX && n == 1024 * 1024 &&
	    memcmp(bytes, big, n) == 0 &&
	    strstr(s, "\"stderr_truncated\":false") != NULL);
	if (rc == 1) {
		free(bytes);
		json_object_put(root);
	}
	free(s);
	free(big);
}

static void
test_groups_urls(void)
{
	struct url	 u;
	char		**g, err[256], *big;
	size_t		 n, i;

	test_cond("groups: trimmed, empty and repeats dropped",
	    proto_groups(" demo , db,,demo, ", &g, &n, err, sizeof(err)) == 0 &&
	    n == 2 && strcmp(g[0], "demo") == 0 && strcmp(g[1], "db") == 0);
	proto_groups_free(g, n);
	test_cond("groups: empty", proto_groups("", &g, &n, err,
	    sizeof(err)) == 0 && n == 0);
	big = xmalloc(65 * 4 + 1);
	for (i = 0; i < 65; i++)
		snprintf(big + i * 4, 5, "g%02zu,", i);
	test_cond("groups: more than 64", proto_groups(big, &g, &n, err,
	    sizeof(err)) == -1 && strstr(err, "WORKER_GROUPS") != NULL);
	free(big);
	big = xmalloc(300);
	memset(big, 'x', 299);
	big[299] = '\0';
	test_cond("groups: name over 255 bytes", proto_groups(big, &g, &n, err,
	    sizeof(err)) == -1);
	free(big);

	test_cond("PULSE_WS without a path gets /worker",
	    url_worker("http://x", "ws://pulse.example:8080", &u, err,
	    sizeof(err)) == 0 && !u.tls && u.port == 8080 &&
	    strcmp(u.path, "/worker") == 0 &&
	    strcmp(u.hosthdr, "pulse.example:8080") == 0);
	url_clear(&u);
	test_cond("PULSE_WS with a path keeps it",
	    url_worker("http://x", "wss://h/pulse/ws", &u, err,
	    sizeof(err)) == 0 && u.tls && u.port == 443 &&
	    strcmp(u.path, "/pulse/ws") == 0 && strcmp(u.hosthdr, "h") == 0);
	url_clear(&u);
	test_cond("PULSE_WS derived from https PULSE_SERVER",
	    url_worker("https://pulse.example/base/", "", &u, err,
	    sizeof(err)) == 0 && u.tls && u.port == 443 &&
	    strcmp(u.path, "/base/worker") == 0);
	url_clear(&u);
	test_cond("heartbeat URL", url_server("http://127.0.0.1:8080",
	    "/api/workers/heartbeat", &u, err, sizeof(err)) == 0 &&
	    strcmp(u.host, "127.0.0.1") == 0 &&
	    strcmp(u.path, "/api/workers/heartbeat") == 0);
	url_clear(&u);
	test_cond("IPv6 host", url_server("http://[::1]:81", "/x", &u, err,
	    sizeof(err)) == 0 && strcmp(u.host, "::1") == 0 &&
	    strcmp(u.hosthdr, "[::1]:81") == 0);
	url_clear(&u);
	test_cond("PULSE_WS must be ws(s)", url_worker("http://x",
	    "http://h", &u, err, sizeof(err)) == -1 &&
	    strstr(err, "PULSE_WS") != NULL);
	test_cond("PULSE_SERVER must be http(s)", url_server("ftp://h", "/x",
	    &u, err, sizeof(err)) == -1 && strstr(err, "PULSE_SERVER") !=
	    NULL);
	test_cond("bad port", url_server("http://h:99999", "/x", &u, err,
	    sizeof(err)) == -1);
	test_cond("user info refused", url_server("http://u@h", "/x", &u, err,
	    sizeof(err)) == -1);
	test_cond("space in the path refused", url_worker("http://h",
	    "ws://h/a b", &u, err, sizeof(err)) == -1);
}

static void
test_rotate(void)
{
	struct msg	 m;
	char		 err[256], *s;
	const char	*j;
	size_t		 len;
	const char	*ok = "{\"type\":\"rotate_key\",\"key\":\"" KEY "\","
			    "\"key_id\":\"17\"}";
	int		 rc;

	rc = proto_decode(ok, strlen(ok), &m, err, sizeof(err));
	test_cond("rotate_key decodes", rc == 0 && m.type == MSG_ROTATE_KEY &&
	    strcmp(m.key, KEY) == 0 && strcmp(m.key_id, "17") == 0);
	proto_msg_clear(&m);
	test_cond("rotate_key: the key is wiped by proto_msg_clear",
	    m.key[0] == '\0' && m.key[PROTO_KEY_LEN - 1] == '\0');
	j = "{\"type\":\"rotate_key\",\"key\":\"" KEY "\",\"key_id\":42}";
	rc = proto_decode(j, strlen(j), &m, err, sizeof(err));
	test_cond("rotate_key: a numeric key_id", rc == 0 &&
	    strcmp(m.key_id, "42") == 0);
	proto_msg_clear(&m);
	test_cond("rotate_key without key: refused", refused(
	    "{\"type\":\"rotate_key\",\"key_id\":\"1\"}", "key is missing"));
	test_cond("rotate_key with a short key: refused", refused(
	    "{\"type\":\"rotate_key\",\"key\":\"abc\",\"key_id\":\"1\"}",
	    "base64url"));
	test_cond("rotate_key with a long key: refused", refused(
	    "{\"type\":\"rotate_key\",\"key\":\"" KEY "A\",\"key_id\":\"1\"}",
	    "longer than"));
	test_cond("rotate_key with CR LF in the key: refused", refused(
	    "{\"type\":\"rotate_key\",\"key\":"
	    "\"abcdefghijklmnopqrstuvwxyz-_0123456789ABC\\r\\n\","
	    "\"key_id\":\"1\"}", "base64url"));
	test_cond("rotate_key with padding: refused", refused(
	    "{\"type\":\"rotate_key\",\"key\":"
	    "\"abcdefghijklmnopqrstuvwxyz-_0123456789ABC=\",\"key_id\":\"1\"}",
	    "base64url"));
	test_cond("rotate_key without key_id: refused", refused(
	    "{\"type\":\"rotate_key\",\"key\":\"" KEY "\"}",
	    "key_id is missing"));
	test_cond("rotate_key with a key_id of spaces: refused", refused(
	    "{\"type\":\"rotate_key\",\"key\":\"" KEY "\",\"key_id\":\"1 2\"}",
	    "key_id"));
	test_cond("rotate_key with a negative key_id: refused", refused(
	    "{\"type\":\"rotate_key\",\"key\":\"" KEY "\",\"key_id\":-1}",
	    "key_id"));
	test_cond("rotate_key with a key_id of 33 bytes: refused", refused(
	    "{\"type\":\"rotate_key\",\"key\":\"" KEY "\",\"key_id\":"
	    "\"123456789012345678901234567890123\"}", "key_id"));

	s = proto_key_ack("17", CID, &len);
	test_cond("key_ack", strcmp(s, "{\"type\":\"key_ack\",\"key_id\":"
	    "\"17\",\"worker_id\":\"" CID "\"}") == 0 && len == strlen(s));
	free(s);

	j = "{\"type\":\"worker_state\",\"state\":\"pending\","
	    "\"worker_id\":\"" CID "\"}";
	rc = proto_decode(j, strlen(j), &m, err, sizeof(err));
	test_cond("worker_state decodes", rc == 0 &&
	    m.type == MSG_WORKER_STATE && strcmp(m.state, "pending") == 0 &&
	    strcmp(m.worker_id, CID) == 0);
	proto_msg_clear(&m);
	test_cond("worker_state without state: refused", refused(
	    "{\"type\":\"worker_state\"}", "state is missing"));
	test_cond("worker_state with a long state: refused", refused(
	    "{\"type\":\"worker_state\",\"state\":\"12345678901234567\"}",
	    "longer than"));
	test_cond("an unknown type still passes", decodes(
	    "{\"type\":\"rotate_keys_v9\",\"x\":1}", MSG_UNKNOWN));
	test_cond("proto_key_valid", proto_key_valid(KEY) &&
	    !proto_key_valid("") && !proto_key_valid(KEY "A") &&
	    !proto_key_valid("abcdefghijklmnopqrstuvwxyz+/0123456789ABCDE"));
}

static int
answer_refused(const char *json, const char *why)
{
	struct enroll_answer	 ea;
	char			 err[256];

	err[0] = '\0';
	if (proto_enroll_answer(json, strlen(json), &ea, err,
	    sizeof(err)) != -1)
		return 0;
	if (strstr(err, why) == NULL) {
		printf("# '%s' refused with '%s'\n", json, err);
		return 0;
	}
	return ea.key[0] == '\0';
}

static void
test_enroll(void)
{
	struct enroll_answer	 ea;
	struct json_object	*o, *v;
	char			 g0[] = "web", g1[] = "db", err[256], *s,
				*big, out[32];
	char			*groups[2] = { g0, g1 };
	const char		*t, *j;
	size_t			 len;
	int			 rc;

	s = proto_enroll_request("web-01", groups, 2, "2.0", CID, KEY, &len);
	o = pjson_parse(s, len, 8, err, sizeof(err));
	test_cond("enroll request: name, groups, version, worker_id, token",
	    o != NULL && pjson_get_string(o, "name", &t, &len) == 1 &&
	    strcmp(t, "web-01") == 0 &&
	    json_object_object_get_ex(o, "groups", &v) &&
	    json_object_array_length(v) == 2 &&
	    strcmp(json_object_get_string(json_object_array_get_idx(v, 1)),
	    "db") == 0 && pjson_get_string(o, "version", &t, &len) == 1 &&
	    pjson_get_string(o, "worker_id", &t, &len) == 1 &&
	    strcmp(t, CID) == 0 && pjson_get_string(o, "token", &t, &len) ==
	    1 && strcmp(t, KEY) == 0);
	json_object_put(o);
	free(s);
	s = proto_enroll_request("web-01", NULL, 0, "2.0", "", "", &len);
	test_cond("enroll request without id or token leaves them out",
	    strcmp(s, "{\"name\":\"web-01\",\"groups\":[],\"version\":"
	    "\"2.0\"}") == 0);
	free(s);

	j = "{\"worker_id\":\"" CID "\",\"name\":\"web-01\",\"key\":\""
	    KEY "\",\"state\":\"accepted\",\"groups\":[\"web\"]}";
	rc = proto_enroll_answer(j, strlen(j), &ea, err, sizeof(err));
	test_cond("enroll answer parsed", rc == 0 &&
	    strcmp(ea.worker_id, CID) == 0 && strcmp(ea.key, KEY) == 0 &&
	    strcmp(ea.state, "accepted") == 0);
	j = "{\"worker_id\":\"" CID "\",\"key\":\"" KEY "\"}";
	test_cond("enroll answer: state may be absent", proto_enroll_answer(j,
	    strlen(j), &ea, err, sizeof(err)) == 0 && ea.state[0] == '\0');
	test_cond("enroll answer without key: refused", answer_refused(
	    "{\"worker_id\":\"" CID "\",\"state\":\"accepted\"}",
	    "key is missing"));
	test_cond("enroll answer with a short key: refused", answer_refused(
	    "{\"worker_id\":\"" CID "\",\"key\":\"abc\"}", "base64url"));
	test_cond("enroll answer with a key of 44: refused", answer_refused(
	    "{\"worker_id\":\"" CID "\",\"key\":\"" KEY "A\"}", "longer"));
	test_cond("enroll answer with a key that is a number: refused",
	    answer_refused("{\"worker_id\":\"" CID "\",\"key\":7}",
	    "must be a string"));
	test_cond("enroll answer without worker_id: refused", answer_refused(
	    "{\"key\":\"" KEY "\"}", "worker_id is missing"));
	test_cond("enroll answer with a worker_id path: refused",
	    answer_refused("{\"worker_id\":\"../../etc/passwd\",\"key\":\""
	    KEY "\"}", "worker_id"));
	test_cond("enroll answer not an object: refused", answer_refused(
	    "[1]", "not a JSON object"));
	test_cond("enroll answer not JSON: refused", answer_refused(
	    "<html>", ""));
	test_cond("enroll answer with trailing garbage: refused",
	    answer_refused("{\"worker_id\":\"" CID "\",\"key\":\"" KEY
	    "\"} x", ""));
	big = xcalloc(1, ENROLL_ANSWER_MAX + 2);
	memset(big, ' ', ENROLL_ANSWER_MAX + 1);
	big[0] = '{';
	big[ENROLL_ANSWER_MAX] = '}';
	test_cond("enroll answer over the ceiling: refused",
	    answer_refused(big, "longer than"));
	free(big);

	j = "{\"error\":\"token used up\"}";
	proto_error_text(j, strlen(j), out, sizeof(out));
	test_cond("error text: the error member", strcmp(out,
	    "token used up") == 0);
	j = "bad\r\ngateway and more text than fits";
	proto_error_text(j, strlen(j), out, sizeof(out));
	test_cond("error text: plain, printable, cut", strcmp(out,
	    "bad  gateway and more text than") == 0);
}

int
main(void)
{
	test_decode();
	test_env();
	test_rotate();
	test_enroll();
	test_result();
	test_groups_urls();
	test_report();
}
