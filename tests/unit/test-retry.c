/*
 * Retries (common/retry.c): every error of the `retry` object with its
 * field, the defaults, and the delay before each try: the exact bounds of
 * the jitter with a fake random source, the backoff never decreasing and
 * capped.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "fielderr-check.h"
#include "pulse-limits.h"
#include "retry.h"
#include "test.h"

static int
read_retry(struct json_object *o, void *out, struct fielderr *err)
{
	return retry_from_json(o, out, err);
}

static int
reads(const char *json, struct retry *out)
{
	return fielderr_check(read_retry, json, out, NULL);
}

/* A fake random source: a fixed sequence covering both ends. */
static const uint32_t randoms[] = {
	0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 12345, 0xdeadbeef,
};
#define NRANDOM	(sizeof(randoms) / sizeof(randoms[0]))

/* What is refused, with the message: one row each. */
static const struct fielderr_case refused[] = {
	{ "not an object", "3", "retry: must be an object" },
	{ "attempts required", "{\"delay\":5}", "retry.attempts: required" },
	{ "attempts 11", "{\"attempts\":11}",
	    "retry.attempts: must be an integer from 0 to 10" },
	{ "attempts -1", "{\"attempts\":-1}",
	    "retry.attempts: must be an integer from 0 to 10" },
	{ "attempts a string", "{\"attempts\":\"3\"}",
	    "retry.attempts: must be an integer from 0 to 10" },
	{ "attempts 1.5", "{\"attempts\":1.5}",
	    "retry.attempts: must be an integer from 0 to 10" },
	{ "delay past an hour", "{\"attempts\":1,\"delay\":3600001}",
	    "retry.delay: must be an integer from 0 to 3600000" },
	{ "delay negative", "{\"attempts\":1,\"delay\":-1}",
	    "retry.delay: must be an integer from 0 to 3600000" },
	{ "backoff below 1", "{\"attempts\":1,\"backoff\":0.5}",
	    "retry.backoff: must be a number from 1 to 10" },
	{ "backoff past 10", "{\"attempts\":1,\"backoff\":10.5}",
	    "retry.backoff: must be a number from 1 to 10" },
	{ "backoff a string", "{\"attempts\":1,\"backoff\":\"2\"}",
	    "retry.backoff: must be a number from 1 to 10" },
	{ "backoff NaN", "{\"attempts\":1,\"backoff\":NaN}",
	    "retry.backoff: must be a number from 1 to 10" },
	{ "max_delay below delay",
	    "{\"attempts\":1,\"delay\":500,\"max_delay\":499}",
	    "retry.max_delay: must be an integer from 500 to 3600000" },
	{ "max_delay past an hour", "{\"attempts\":1,\"max_delay\":3600001}",
	    "retry.max_delay: must be an integer from 1000 to 3600000" },
	{ "unknown key", "{\"attempts\":1,\"jitter\":0}",
	    "retry.jitter: unknown key (attempts, delay, backoff, max_delay)" },
};

static void
test_read(void)
{
	struct retry	 r, scratch;

	test_cond("attempts only: defaults", reads("{\"attempts\":3}", &r) &&
	    r.attempts == 3 && r.delay_ms == 1000 && r.backoff == 1 &&
	    r.max_delay_ms == 1000);
	test_cond("max_delay defaults to delay*backoff^attempts",
	    reads("{\"attempts\":3,\"delay\":500,\"backoff\":2}", &r) &&
	    r.max_delay_ms == 4000);
	test_cond("... capped at an hour", reads("{\"attempts\":10,"
	    "\"delay\":3600000,\"backoff\":10}", &r) &&
	    r.max_delay_ms == 3600000);
	test_cond("a fractional backoff", reads("{\"attempts\":2,\"delay\":1000,"
	    "\"backoff\":1.5}", &r) && r.backoff == 1.5 &&
	    r.max_delay_ms == 2250);
	test_cond("all given", reads("{\"attempts\":0,\"delay\":0,"
	    "\"backoff\":10,\"max_delay\":0}", &r) && r.attempts == 0 &&
	    r.delay_ms == 0 && r.max_delay_ms == 0);

	FIELDERR_TABLE(read_retry, &scratch, refused);
}

/* base within +-10 %: exactly [base - base/10, base + base/10]. */
static int
in_bounds(uint32_t d, uint32_t base)
{
	return d >= base - base / 10 && d <= base + base / 10;
}

static void
test_delay(void)
{
	struct retry	 r;
	uint32_t	 d, prev, base;
	size_t		 i;
	int		 n, ok;

	reads("{\"attempts\":10,\"delay\":1000,\"backoff\":2,"
	    "\"max_delay\":60000}", &r);
	test_cond("random 0: the low bound", retry_delay_ms(&r, 1, 0) == 900);
	test_cond("random max: the high bound",
	    retry_delay_ms(&r, 1, UINT32_MAX) == 1100);
	test_cond("random half: the middle",
	    retry_delay_ms(&r, 1, 0x80000000) == 1000);
	test_cond("attempt 2 doubles", retry_delay_ms(&r, 2, 0) == 1800 &&
	    retry_delay_ms(&r, 2, UINT32_MAX) == 2200);
	test_cond("attempt 6 is capped at max_delay",
	    retry_delay_ms(&r, 6, 0x80000000) == 32000 &&
	    retry_delay_ms(&r, 7, 0x80000000) == 60000 &&
	    retry_delay_ms(&r, 10, 0) == 54000 &&
	    retry_delay_ms(&r, 10, UINT32_MAX) == 66000);
	test_cond("attempt 0 or below counts as 1",
	    retry_delay_ms(&r, 0, 0) == 900 &&
	    retry_delay_ms(&r, -5, UINT32_MAX) == 1100);
	test_cond("a huge attempt stays at max_delay",
	    retry_delay_ms(&r, 1000000, 0x80000000) == 60000 &&
	    retry_delay_ms(&r, 2147483647, 0x80000000) == 60000);

	/* Every random value of the fake source, every attempt. */
	ok = 1;
	for (i = 0; i < NRANDOM; i++) {
		prev = 0;
		for (n = 1; n <= 12; n++) {
			base = 1000u << (n - 1 < 6 ? n - 1 : 6);
			if (base > 60000)
				base = 60000;
			d = retry_delay_ms(&r, n, randoms[i]);
			if (!in_bounds(d, base) || d < prev) {
				printf("# n=%d random=%u: %u (base %u, before %u)\n",
				    n, randoms[i], d, base, prev);
				ok = 0;
			}
			prev = d;
		}
	}
	test_cond("within +-10 % and never decreasing, each random", ok);

	/* Uniform: 2j + 1 equal slices of the 32-bit range. */
	reads("{\"attempts\":1,\"delay\":10}", &r);
	{
		unsigned	 seen[3] = { 0, 0, 0 };
		uint64_t	 x;

		for (x = 0; x <= UINT32_MAX; x += 65537)
			seen[retry_delay_ms(&r, 1, (uint32_t)x) - 9]++;
		test_cond("delay 10: 9, 10 and 11 about equally likely",
		    seen[0] > 21000 && seen[1] > 21000 && seen[2] > 21000);
	}
	reads("{\"attempts\":3,\"delay\":0,\"backoff\":10}", &r);
	test_cond("delay 0 is always 0", retry_delay_ms(&r, 1, UINT32_MAX) == 0 &&
	    retry_delay_ms(&r, 3, UINT32_MAX) == 0 &&
	    retry_delay_ms(&r, 2000, UINT32_MAX) == 0);
	reads("{\"attempts\":3,\"delay\":0,\"max_delay\":5000}", &r);
	test_cond("delay 0 with a max_delay is still 0",
	    retry_delay_ms(&r, 1000, UINT32_MAX) == 0);
	reads("{\"attempts\":10,\"delay\":3600000,\"backoff\":10}", &r);
	test_cond("an hour, jittered past it by at most 10 %",
	    retry_delay_ms(&r, 10, UINT32_MAX) == 3960000 &&
	    retry_delay_ms(&r, 10, 0) == 3240000);
	reads("{\"attempts\":3,\"delay\":1000,\"backoff\":1.5}", &r);
	test_cond("backoff 1, any attempt: the delay",
	    reads("{\"attempts\":10,\"delay\":700}", &r) &&
	    retry_delay_ms(&r, 2147483647, 0x80000000) == 700);
	reads("{\"attempts\":3,\"delay\":1000,\"backoff\":1.5}", &r);
	test_cond("backoff 1.5", retry_delay_ms(&r, 1, 0x80000000) == 1000 &&
	    retry_delay_ms(&r, 2, 0x80000000) == 1500 &&
	    retry_delay_ms(&r, 3, 0x80000000) == 2250 &&
	    retry_delay_ms(&r, 4, 0x80000000) == 3375 &&
	    retry_delay_ms(&r, 5, 0x80000000) == 3375);
	reads("{\"attempts\":2,\"delay\":5}", &r);
	test_cond("a delay under 10 ms has no jitter",
	    retry_delay_ms(&r, 1, 0) == 5 &&
	    retry_delay_ms(&r, 1, UINT32_MAX) == 5);
}

int
main(void)
{
	test_read();
	test_delay();
	test_report();
}
