/*
 * libFuzzer target: a worker's text frame as pulse-pushd decodes it
 * (pushd/wmsg.c: wmsg_parse, then wmsg_fields, as workers_message() in
 * pushd/workers.c calls them). Beyond crashes it checks what the worker
 * and the db thread would get: a refusal is a close reason that fits a
 * close frame (at most 123 bytes of valid UTF-8, RFC 6455 5.5), and an
 * accepted message holds only what its type promises, within limits,
 * with output bytes that decode as the db thread decodes them.
 */
#include <limits.h>
#include <string.h>

#include "base64.h"
#include "fuzz.h"
#include "pulse-limits.h"
#include "pushd.h"
#include "wmsg.h"
#include "xmalloc.h"

/* The reason buffer of workers.c (workers_why). */
#define WHY_LEN		124

static void
check_id(const char *s, int required)
{
	if (s == NULL)
		fuzz_assert(!required);
	else
		fuzz_assert(id_valid(s));
}

static void
check_str(const char *s, size_t min, size_t max)
{
	fuzz_assert(s != NULL);
	fuzz_assert(strlen(s) >= min && strlen(s) <= max);
}

/* The db thread decodes *_b64 and data with base64_decode. */
static void
decode_b64(const char *s, size_t n)
{
	unsigned char	*out;
	size_t		 outlen = 0;

	if (s == NULL)
		return;
	out = xmalloc(n / 4 * 3 + 1);
	if (base64_decode(s, n, out, &outlen) == 0)
		fuzz_assert(outlen <= n / 4 * 3);
	free(out);
}

static void
check_fields(const struct wmsg *m)
{
	const struct dispatch_result	*r = &m->res;
	size_t				 i;
	int				 s;

	switch (m->type) {
	case WMSG_CONNECT:
		check_id(m->worker_id, 1);
		check_str(m->worker_name, 1, WORKER_NAME_MAX);
		if (m->version != NULL)
			check_str(m->version, 1, PUSHD_VERSION_MAX);
		fuzz_assert(m->ngroups <= DISPATCH_GROUPS_MAX);
		fuzz_assert(m->has_groups || m->ngroups == 0);
		for (i = 0; i < m->ngroups; i++)
			fuzz_assert(m->groups[i][0] != '\0');
		fuzz_assert(m->nrunning <= DISPATCH_RUNNING_MAX);
		for (i = 0; i < m->nrunning; i++)
			check_id(m->running[i], 1);
		break;
	case WMSG_STARTED:
		check_id(m->command_id, 1);
		check_id(m->execution_id, 0);
		break;
	case WMSG_OUTPUT:
		check_id(m->command_id, 1);
		fuzz_assert(m->stream == DISPATCH_STDOUT ||
		    m->stream == DISPATCH_STDERR);
		fuzz_assert(m->offset >= 0 && m->offset <= 1LL << 50);
		fuzz_assert(m->b64len <= base64_len(DISPATCH_CHUNK_MAX));
		decode_b64(m->b64, m->b64len);
		break;
	case WMSG_RESULT:
		/* SPEC section 6 sends no command_id: the execution says. */
		check_id(r->command_id, 0);
		check_id(r->execution_id, r->command_id == NULL);
		fuzz_assert(!r->has_step || (r->step_index >= 0 &&
		    r->step_index <= INT_MAX));
		check_id(m->worker_id, 0);
		fuzz_assert(r->success == 0 || r->success == 1);
		fuzz_assert(!r->has_duration || r->duration_ms >= 0);
		for (s = 0; s < 2; s++) {
			fuzz_assert(r->textlen[s] <= PUSHD_WORKER_MSG_MAX);
			fuzz_assert(r->text[s] != NULL || r->textlen[s] == 0);
			decode_b64(r->b64[s], r->b64len[s]);
			fuzz_assert(!r->has_bytes[s] || r->bytes[s] >= 0);
		}
		break;
	case WMSG_WORKFLOW_RESULT:
		check_str(m->execution_id, 1, ID_LEN);
		break;
	case WMSG_PONG:
		if (m->worker_id != NULL)
			check_str(m->worker_id, 0, ID_LEN);
		break;
	case WMSG_KEY_ACK:
		check_id(m->worker_id, 0);
		fuzz_assert(m->key_id >= 1);
		break;
	default:
		fuzz_assert(!"unknown message type");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wmsg	 m;
	char		 why[WHY_LEN];

	if (size > PUSHD_WORKER_MSG_MAX)
		return 0;		/* conn_rx() refuses it first */
	why[0] = '\0';
	if (wmsg_parse(&m, (const char *)data, size, why, sizeof(why)) == -1) {
		fuzz_assert(m.json == NULL);
		goto refused;
	}
	fuzz_assert(m.json != NULL && m.type_name != NULL);
	if (wmsg_fields(&m, why, sizeof(why)) == -1) {
		wmsg_clear(&m);
		goto refused;
	}
	check_fields(&m);
	wmsg_clear(&m);
	return 0;
refused:
	/* workers_cb() sends why as the close reason. */
	fuzz_assert(why[0] != '\0');
	fuzz_assert(strlen(why) <= 123);
	fuzz_assert(fuzz_utf8_valid(why, strlen(why)));
	return 0;
}
