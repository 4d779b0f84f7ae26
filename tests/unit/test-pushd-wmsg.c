/*
 * Unit tests for pushd/wmsg.c, the decoder of worker messages: each type
 * decodes into its fields, every kind of malformed message is refused with
 * a reason that fits a close frame, and the cases tests/fuzz found stay
 * fixed (NUL bytes in names, a cut UTF-8 character, a null document).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pushd.h"
#include "wmsg.h"
#include "xmalloc.h"
#include "test.h"

#define WID	"6f1c7c1e-1111-4222-8333-444455556666"
#define CID	"11111111-1111-4111-8111-111111111111"
#define EID	"22222222-2222-4222-8222-222222222222"

static char	 why[124];

/* Decode s fully: 0, or -1 with why set. *m must be cleared after. */
static int
decode(const char *s, struct wmsg *m)
{
	why[0] = '\0';
	if (wmsg_parse(m, s, strlen(s), why, sizeof(why)) == -1)
		return -1;
	return wmsg_fields(m, why, sizeof(why));
}

static int
refused(const char *s, const char *reason)
{
	struct wmsg	 m;
	int		 rc;

	rc = decode(s, &m);
	wmsg_clear(&m);
	if (rc != -1)
		return 0;
	if (strstr(why, reason) == NULL) {
		printf("# '%s' refused with '%s'\n", s, why);
		return 0;
	}
	return 1;
}

/* Is s a valid UTF-8 close reason (RFC 6455 5.5: 123 bytes at most)? */
static int
reason_ok(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n = strlen(s);

	if (n > 123)
		return 0;
	for (i = 0; i < n; i++) {
		size_t	 k = p[i] < 0x80 ? 0 : p[i] >= 0xf0 ? 3 :
		    p[i] >= 0xe0 ? 2 : p[i] >= 0xc2 ? 1 : 9;

		if (k == 9 || i + k >= n)
			return 0;
		for (; k > 0; k--)
			if ((p[++i] & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

/* command_result "status" (SPEC section 12: the worker's allow-list). */
static void
test_status(void)
{
	struct wmsg	 m;
	int		 rc;

	rc = decode("{\"type\":\"command_result\",\"command_id\":\"" CID "\","
	    "\"success\":false,\"exit_code\":null,\"status\":\"refused\","
	    "\"stderr\":\"refused by WORKER_ALLOW_FILE (/etc/a): no rule "
	    "matches\"}", &m);
	test_cond("status refused decodes", rc == 0 && m.res.refused &&
	    !m.res.success && !m.res.has_exit_code);
	wmsg_clear(&m);
	rc = decode("{\"type\":\"command_result\",\"command_id\":\"" CID "\","
	    "\"success\":false,\"exit_code\":-1,\"status\":\"refused\"}",
	    &m);
	test_cond("status refused with exit code -1: no exit code kept",
	    rc == 0 && m.res.refused && !m.res.has_exit_code);
	wmsg_clear(&m);
	rc = decode("{\"type\":\"command_result\",\"command_id\":\"" CID "\","
	    "\"success\":false,\"exit_code\":1,\"status\":\"finished\"}",
	    &m);
	test_cond("another status is ignored", rc == 0 && !m.res.refused &&
	    m.res.has_exit_code && m.res.exit_code == 1);
	wmsg_clear(&m);
	rc = decode("{\"type\":\"command_result\",\"command_id\":\"" CID "\","
	    "\"success\":false}", &m);
	test_cond("no status: not refused", rc == 0 && !m.res.refused);
	wmsg_clear(&m);
	test_cond("refused with success true: refused",
	    refused("{\"type\":\"command_result\",\"command_id\":\"" CID
	    "\",\"success\":true,\"status\":\"refused\"}",
	    "a refused command did not run"));
	test_cond("refused with exit code 0: refused",
	    refused("{\"type\":\"command_result\",\"command_id\":\"" CID
	    "\",\"success\":false,\"exit_code\":0,\"status\":\"refused\"}",
	    "a refused command did not run"));
	test_cond("refused with a signal: refused",
	    refused("{\"type\":\"command_result\",\"command_id\":\"" CID
	    "\",\"success\":false,\"signal\":9,\"status\":\"refused\"}",
	    "a refused command did not run"));
	test_cond("a status that is not a string: refused",
	    refused("{\"type\":\"command_result\",\"command_id\":\"" CID
	    "\",\"success\":false,\"status\":1}", "status must be a string"));
	test_cond("a status over 32 bytes: refused",
	    refused("{\"type\":\"command_result\",\"command_id\":\"" CID
	    "\",\"success\":false,\"status\":\"refusedrefusedrefusedrefused"
	    "refused\"}", "status must be 1 to 32 bytes"));
	test_cond("an empty status: refused",
	    refused("{\"type\":\"command_result\",\"command_id\":\"" CID
	    "\",\"success\":false,\"status\":\"\"}", "status must be"));
}

int
main(void)
{
	struct wmsg	 m;
	char		*s;
	int		 rc;

	test_status();

	rc = decode("{\"type\":\"worker_connect\",\"worker_id\":\"" WID "\","
	    "\"worker_name\":\"local-1\",\"groups\":[\"demo\",\"db\"],"
	    "\"version\":\"0.1.0\",\"running\":[\"" CID "\"]}", &m);
	test_cond("worker_connect decodes", rc == 0 &&
	    m.type == WMSG_CONNECT && m.any_time &&
	    strcmp(m.worker_id, WID) == 0 &&
	    strcmp(m.worker_name, "local-1") == 0 && m.has_groups &&
	    m.ngroups == 2 && strcmp(m.groups[1], "db") == 0 &&
	    m.nrunning == 1 && strcmp(m.running[0], CID) == 0 &&
	    m.has_running);
	wmsg_clear(&m);

	rc = decode("{\"type\":\"command_result\",\"command_id\":\"" CID "\","
	    "\"success\":true,\"exit_code\":0,\"stdout\":\"a\\u0000b\","
	    "\"duration\":1.5}", &m);
	test_cond("command_result decodes; output keeps its NUL bytes",
	    rc == 0 && m.type == WMSG_RESULT && !m.any_time &&
	    m.res.success && m.res.has_exit_code && m.res.textlen[0] == 3 &&
	    memcmp(m.res.text[0], "a\0b", 3) == 0 && m.res.duration_ms == 1);
	wmsg_clear(&m);

	/* SPEC section 6 lists these fields only: no command_id. */
	rc = decode("{\"type\":\"command_result\",\"execution_id\":\"" WID
	    "\",\"worker_id\":\"" WID "\",\"success\":true,\"stdout\":\"x\","
	    "\"stderr\":\"\",\"duration\":12,\"timestamp\":\"2026-01-01\"}",
	    &m);
	test_cond("command_result as SPEC lists it (no command_id) decodes",
	    rc == 0 && m.res.command_id == NULL &&
	    strcmp(m.res.execution_id, WID) == 0 && !m.res.has_step);
	wmsg_clear(&m);
	rc = decode("{\"type\":\"command_result\",\"execution_id\":\"" WID
	    "\",\"step_index\":2,\"success\":false}", &m);
	test_cond("... with step_index", rc == 0 && m.res.has_step &&
	    m.res.step_index == 2);
	wmsg_clear(&m);
	test_cond("command_result with neither id refused", refused("{\"type\":"
	    "\"command_result\",\"success\":true}", "command_id is missing, "
	    "and execution_id too"));
	rc = decode("{\"type\":\"worker_connect\",\"worker_id\":\"" WID "\","
	    "\"worker_name\":\"spec\"}", &m);
	test_cond("worker_connect without running: no journal", rc == 0 &&
	    !m.has_running);
	wmsg_clear(&m);

	rc = decode("{\"type\":\"command_output\",\"command_id\":\"" CID "\","
	    "\"stream\":\"stderr\",\"offset\":7,\"data\":\"aGk=\"}", &m);
	test_cond("command_output decodes", rc == 0 &&
	    m.type == WMSG_OUTPUT && m.stream == DISPATCH_STDERR &&
	    m.offset == 7 && m.b64len == 4);
	wmsg_clear(&m);

	test_cond("pong decodes", decode("{\"type\":\"pong\"}", &m) == 0 &&
	    m.type == WMSG_PONG && m.any_time);
	wmsg_clear(&m);

	test_cond("key_ack decodes, key_id as a string",
	    decode("{\"type\":\"key_ack\",\"key_id\":\"42\",\"worker_id\":"
	    "\"" WID "\"}", &m) == 0 && m.type == WMSG_KEY_ACK &&
	    m.key_id == 42 && strcmp(m.worker_id, WID) == 0 && !m.any_time);
	wmsg_clear(&m);
	test_cond("key_ack decodes, key_id as a number",
	    decode("{\"type\":\"key_ack\",\"key_id\":7}", &m) == 0 &&
	    m.key_id == 7);
	wmsg_clear(&m);
	test_cond("key_ack without key_id", refused("{\"type\":\"key_ack\"}",
	    "key_ack: key_id is missing"));
	test_cond("key_ack with a key_id that is no number",
	    refused("{\"type\":\"key_ack\",\"key_id\":\"4x\"}",
	    "key_id must be a number"));
	test_cond("key_ack with a key_id of 0", refused("{\"type\":"
	    "\"key_ack\",\"key_id\":0}", "out of range"));
	test_cond("key_ack with a key_id of \"0\"", refused("{\"type\":"
	    "\"key_ack\",\"key_id\":\"00\"}", "key_id must be a number"));
	test_cond("command_started's worker_id must be a UUID",
	    refused("{\"type\":\"command_started\",\"command_id\":\"" CID
	    "\",\"worker_id\":\"x\"}", "must be a UUID"));

	test_cond("not JSON", refused("{", "not JSON"));
	test_cond("no type", refused("{\"a\":1}", "object with a type"));
	test_cond("unknown type", refused("{\"type\":\"hello\"}",
	    "unknown message type 'hello'"));
	test_cond("missing command_id", refused("{\"type\":\"command_started\"}",
	    "command_started: command_id is missing"));
	test_cond("command_id not a UUID", refused("{\"type\":"
	    "\"command_started\",\"command_id\":\"x\"}", "must be a UUID"));
	test_cond("offset missing", refused("{\"type\":\"command_output\","
	    "\"command_id\":\"" CID "\",\"stream\":\"stdout\",\"data\":\"\"}",
	    "offset is missing"));
	test_cond("stream neither", refused("{\"type\":\"command_output\","
	    "\"command_id\":\"" CID "\",\"stream\":\"x\",\"offset\":0,"
	    "\"data\":\"\"}", "stream must be stdout or stderr"));

	/* Found by tests/fuzz (regress/pushd_wmsg, regress/worker_proto). */
	test_cond("NUL in worker_name refused", refused("{\"type\":"
	    "\"worker_connect\",\"worker_id\":\"" WID "\",\"worker_name\":"
	    "\"a\\u0000b\"}", "worker_name must not contain a NUL byte"));
	test_cond("NUL in a group refused", refused("{\"type\":"
	    "\"worker_connect\",\"worker_id\":\"" WID "\",\"worker_name\":"
	    "\"a\",\"groups\":[\"demo\\u0000x\"]}", "groups[0]"));
	test_cond("NUL in stream refused", refused("{\"type\":"
	    "\"command_output\",\"command_id\":\"" CID "\",\"stream\":"
	    "\"stdout\\u0000\",\"offset\":0,\"data\":\"\"}", "NUL"));
	test_cond("a null document refused with a reason",
	    refused("null", "not JSON: the document is JSON null"));
	/* 39 ASCII bytes then a 3-byte character: '%.40s' would cut it. */
	s = xstrdup("{\"type\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	    "\xe2\x9c\x93\"}");
	test_cond("a long type is quoted without cutting a character",
	    refused(s, "unknown message type 'eee") && reason_ok(why) &&
	    strstr(why, "\xe2") == NULL);
	free(s);
	test_cond("invalid UTF-8 refused", refused("{\"type\":\"\xc1\xa9\"}",
	    "invalid UTF-8"));
	test_report();
}
