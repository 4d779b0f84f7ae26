/*
 * libFuzzer target: the condition language (common/cond.c). The input is
 * a condition's source, optionally followed by a NUL byte and a JSON
 * object to evaluate it in. Every source that parses is evaluated in the
 * context of tests/unit/test-cond.c (what the engine hands over, plus a
 * member of every JSON type) and in the fuzzer's own, twice each. Beyond
 * crashes it checks that an error has a message a user can read (valid
 * UTF-8, for the 400 and the execution log) at a column inside the
 * source, and that evaluation is deterministic.
 */
#include <json-c/json.h>
#include <string.h>

#include "cond-context.h"
#include "cond.h"
#include "fuzz.h"
#include "pjson.h"
#include "pulse-limits.h"

static struct json_object *fixed_ctx;

static void
eval_in(const struct cond *c, struct json_object *ctx)
{
	char	 err[256], err2[256];
	int	 rc, rc2, result = -1, result2 = -1;

	rc = cond_eval(c, ctx, &result, err, sizeof(err));
	rc2 = cond_eval(c, ctx, &result2, err2, sizeof(err2));
	fuzz_assert(rc == rc2);
	if (rc == 0) {
		fuzz_assert(result == 0 || result == 1);
		fuzz_assert(result == result2);
	} else {
		fuzz_assert(rc == -1);
		fuzz_assert(err[0] != '\0');
		fuzz_assert(strcmp(err, err2) == 0);
		fuzz_assert(fuzz_utf8_valid(err, strlen(err)));
	}
	/* A short buffer must cut the message, not overrun it. */
	rc2 = cond_eval(c, ctx, &result2, err2, 8);
	fuzz_assert(rc2 == rc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*src = (const char *)data, *nul;
	struct cond_error	 cerr;
	struct cond		*c;
	struct json_object	*ctx = NULL;
	size_t			 len = size;
	char			 perr[128];

	if (fixed_ctx == NULL) {
		fixed_ctx = json_tokener_parse(ctx_json);
		fuzz_assert(fixed_ctx != NULL);
	}
	if ((nul = memchr(src, '\0', size)) != NULL) {
		len = (size_t)(nul - src);
		ctx = pjson_parse(nul + 1, size - len - 1, API_JSON_DEPTH,
		    perr, sizeof(perr));
	}
	memset(&cerr, 0x55, sizeof(cerr));
	c = cond_parse(src, len, &cerr);
	if (c == NULL) {
		fuzz_assert(cerr.msg[0] != '\0');
		fuzz_assert(memchr(cerr.msg, '\0', sizeof(cerr.msg)) != NULL);
		fuzz_assert(fuzz_utf8_valid(cerr.msg, strlen(cerr.msg)));
		if (len > COND_SOURCE_MAX)
			fuzz_assert(cerr.pos == 0);
		else
			fuzz_assert(cerr.pos >= 1 && (size_t)cerr.pos <= len + 1);
		json_object_put(ctx);
		return 0;
	}
	fuzz_assert(len <= COND_SOURCE_MAX);
	eval_in(c, fixed_ctx);
	if (ctx != NULL)
		eval_in(c, ctx);
	eval_in(c, NULL);
	cond_free(c);
	json_object_put(ctx);
	return 0;
}
