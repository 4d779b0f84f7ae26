/*
 * Batches (common/batch.c): every error of the `batch` object with its
 * field, and the arithmetic for every total from 1 to 1000 against a
 * reference that simply walks the targets one batch at a time.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "fielderr-check.h"
#include "pulse-limits.h"
#include "test.h"

static int
read_batch(struct json_object *o, void *out, struct fielderr *err)
{
	return batch_from_json(o, out, err);
}

static int
reads(const char *json, struct batch *out)
{
	return fielderr_check(read_batch, json, out, NULL);
}

#define SIZE_MSG(f) f ": must be an integer from 1 to 100000 or a " \
	"percentage from \"1%\" to \"100%\""
#define FAIL_MSG "batch.max_failures: must be an integer from 0 to 100000 " \
	"or a percentage from \"0%\" to \"100%\""

/* What is refused, with the message: one row each. */
static const struct fielderr_case refused[] = {
	{ "not an object", "[1]", "batch: must be an object" },
	{ "size required", "{}", "batch.size: required" },
	{ "size 0", "{\"size\":0}", SIZE_MSG("batch.size") },
	{ "size negative", "{\"size\":-1}", SIZE_MSG("batch.size") },
	{ "size past the max", "{\"size\":100001}", SIZE_MSG("batch.size") },
	{ "size 0%", "{\"size\":\"0%\"}", SIZE_MSG("batch.size") },
	{ "size 101%", "{\"size\":\"101%\"}", SIZE_MSG("batch.size") },
	{ "size 1000%", "{\"size\":\"1000%\"}", SIZE_MSG("batch.size") },
	{ "size 5.5%", "{\"size\":\"5.5%\"}", SIZE_MSG("batch.size") },
	{ "size ' 5%'", "{\"size\":\" 5%\"}", SIZE_MSG("batch.size") },
	{ "size '+5%'", "{\"size\":\"+5%\"}", SIZE_MSG("batch.size") },
	{ "size '05%'", "{\"size\":\"05%\"}", SIZE_MSG("batch.size") },
	{ "size '%'", "{\"size\":\"%\"}", SIZE_MSG("batch.size") },
	{ "size '5'", "{\"size\":\"5\"}", SIZE_MSG("batch.size") },
	{ "size '5 %'", "{\"size\":\"5 %\"}", SIZE_MSG("batch.size") },
	{ "size 2.0", "{\"size\":2.0}", SIZE_MSG("batch.size") },
	{ "size true", "{\"size\":true}", SIZE_MSG("batch.size") },
	{ "size null", "{\"size\":null}", SIZE_MSG("batch.size") },
	{ "size empty list", "{\"size\":[]}",
	    "batch.size: a list of 1 to 16 sizes" },
	{ "size 17 items", "{\"size\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}",
	    "batch.size: a list of 1 to 16 sizes" },
	{ "a bad list item named", "{\"size\":[1,\"10%\",\"0%\"]}",
	    SIZE_MSG("batch.size[2]") },
	{ "a nested list", "{\"size\":[[1]]}", SIZE_MSG("batch.size[0]") },
	{ "max_failures negative", "{\"size\":1,\"max_failures\":-1}",
	    FAIL_MSG },
	{ "max_failures 101%", "{\"size\":1,\"max_failures\":\"101%\"}",
	    FAIL_MSG },
	{ "max_failures a list", "{\"size\":1,\"max_failures\":[1]}",
	    FAIL_MSG },
	{ "pause negative", "{\"size\":1,\"pause\":-1}",
	    "batch.pause: must be an integer from 0 to 86400000 (ms)" },
	{ "pause past a day", "{\"size\":1,\"pause\":86400001}",
	    "batch.pause: must be an integer from 0 to 86400000 (ms)" },
	{ "pause a string", "{\"size\":1,\"pause\":\"1s\"}",
	    "batch.pause: must be an integer from 0 to 86400000 (ms)" },
	{ "unknown key", "{\"size\":1,\"parallel\":2}",
	    "batch.parallel: unknown key (size, max_failures, pause)" },
};

static void
test_read(void)
{
	struct batch	 b, scratch;

	test_cond("size N", reads("{\"size\":5}", &b) && b.nsize == 1 &&
	    !b.size[0].percent && b.size[0].value == 5 &&
	    b.max_failures.value == 0 && !b.max_failures.percent &&
	    b.pause_ms == 0);
	test_cond("size P%", reads("{\"size\":\"25%\"}", &b) && b.nsize == 1 &&
	    b.size[0].percent && b.size[0].value == 25);
	test_cond("size 100%", reads("{\"size\":\"100%\"}", &b) &&
	    b.size[0].value == 100);
	test_cond("size a list, everything", reads("{\"size\":[1,\"10%\",50],"
	    "\"max_failures\":\"5%\",\"pause\":30000}", &b) && b.nsize == 3 &&
	    b.size[1].percent && b.size[2].value == 50 &&
	    b.max_failures.percent && b.max_failures.value == 5 &&
	    b.pause_ms == 30000);
	test_cond("max_failures N and 0%", reads("{\"size\":1,"
	    "\"max_failures\":3}", &b) && b.max_failures.value == 3 &&
	    reads("{\"size\":1,\"max_failures\":\"0%\"}", &b) &&
	    b.max_failures.percent && b.max_failures.value == 0);
	test_cond("the limits themselves", reads("{\"size\":100000,"
	    "\"max_failures\":100000,\"pause\":86400000}", &b) &&
	    reads("{\"size\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}", &b) &&
	    b.nsize == 16);

	FIELDERR_TABLE(read_batch, &scratch, refused);
}

/* The reference: walk the targets, one batch at a time. */
static uint32_t
ref_sizes(const struct batch *b, uint32_t total, uint32_t *sizes)
{
	uint32_t	 left = total, k = 0, want;
	const struct batch_amount *a;

	while (left > 0) {
		a = &b->size[k < b->nsize ? k : b->nsize - 1];
		if (a->percent) {
			/* ceil(p * total / 100) by repeated addition */
			want = 0;
			while (want * 100 < a->value * total)
				want++;
		} else
			want = a->value;
		if (want == 0)
			want = 1;
		if (want > left)
			want = left;
		sizes[k++] = want;
		left -= want;
	}
	return k;
}

static int
arithmetic_matches(const struct batch *b, uint32_t total)
{
	static uint32_t	 sizes[1001];
	uint32_t	 n, k, start = 0, sum = 0;

	n = ref_sizes(b, total, sizes);
	if (batch_count(b, total) != n) {
		printf("# T=%u count %u, reference %u\n", total,
		    batch_count(b, total), n);
		return 0;
	}
	for (k = 0; k < n; k++) {
		if (sizes[k] < 1 || batch_size(b, total, k) != sizes[k] ||
		    batch_start(b, total, k) != start) {
			printf("# T=%u k=%u size %u start %u, reference %u %u\n",
			    total, k, batch_size(b, total, k),
			    batch_start(b, total, k), sizes[k], start);
			return 0;
		}
		start += sizes[k];
		sum += sizes[k];
	}
	if (sum != total || batch_size(b, total, n) != 0 ||
	    batch_size(b, total, n + 7) != 0 ||
	    batch_start(b, total, n) != total) {
		printf("# T=%u: sum %u, past the end %u\n", total, sum,
		    batch_size(b, total, n));
		return 0;
	}
	return 1;
}

static void
test_arithmetic(void)
{
	static const char *const specs[] = {
		"{\"size\":1}", "{\"size\":3}", "{\"size\":1000}",
		"{\"size\":100000}", "{\"size\":\"1%\"}", "{\"size\":\"10%\"}",
		"{\"size\":\"33%\"}", "{\"size\":\"50%\"}", "{\"size\":\"99%\"}",
		"{\"size\":\"100%\"}", "{\"size\":[1,\"10%\",\"50%\"]}",
		"{\"size\":[\"1%\",\"1%\",5]}", "{\"size\":[5,2]}",
		"{\"size\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}",
		"{\"size\":[\"100%\",1]}", "{\"size\":[\"7%\",\"13%\",\"3%\"]}",
	};
	struct batch	 b;
	uint32_t	 t;
	size_t		 i;
	char		 desc[120];
	int		 ok;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		ok = reads(specs[i], &b);
		for (t = 1; ok && t <= 1000; t++)
			ok = arithmetic_matches(&b, t);
		snprintf(desc, sizeof(desc), "%s: every T in 1..1000 matches "
		    "the reference", specs[i]);
		test_cond(desc, ok);
	}
	reads("{\"size\":\"10%\"}", &b);
	test_cond("no targets: no batches", batch_count(&b, 0) == 0 &&
	    batch_size(&b, 0, 0) == 0);
	test_cond("10% of 95 is 10 a batch, 10 batches",
	    batch_size(&b, 95, 0) == 10 && batch_count(&b, 95) == 10 &&
	    batch_size(&b, 95, 9) == 5);
	test_cond("1% of 5 rounds up to 1", reads("{\"size\":\"1%\"}", &b) &&
	    batch_size(&b, 5, 0) == 1 && batch_count(&b, 5) == 5);
	reads("{\"size\":[1,\"10%\",\"50%\"]}", &b);
	test_cond("canary, 10 %, then halves of 200",
	    batch_size(&b, 200, 0) == 1 && batch_size(&b, 200, 1) == 20 &&
	    batch_size(&b, 200, 2) == 100 && batch_size(&b, 200, 3) == 79 &&
	    batch_count(&b, 200) == 4 && batch_start(&b, 200, 3) == 121);
	test_cond("the largest total", reads("{\"size\":1}", &b) &&
	    batch_count(&b, UINT32_MAX) == UINT32_MAX &&
	    batch_size(&b, UINT32_MAX, UINT32_MAX - 1) == 1 &&
	    batch_start(&b, UINT32_MAX, UINT32_MAX - 1) == UINT32_MAX - 1);
	test_cond("100% of the largest total is one batch",
	    reads("{\"size\":\"100%\"}", &b) &&
	    batch_count(&b, UINT32_MAX) == 1 &&
	    batch_size(&b, UINT32_MAX, 0) == UINT32_MAX);

	reads("{\"size\":1,\"max_failures\":\"10%\"}", &b);
	test_cond("max_failures 10% rounds down", batch_max_failures(&b, 9) == 0
	    && batch_max_failures(&b, 10) == 1 &&
	    batch_max_failures(&b, 19) == 1 && batch_max_failures(&b, 20) == 2);
	reads("{\"size\":1,\"max_failures\":\"100%\"}", &b);
	test_cond("max_failures 100%", batch_max_failures(&b, 37) == 37 &&
	    batch_max_failures(&b, UINT32_MAX) == UINT32_MAX);
	reads("{\"size\":1,\"max_failures\":4}", &b);
	test_cond("max_failures N whatever the total",
	    batch_max_failures(&b, 1) == 4 && batch_max_failures(&b, 100) == 4);
	reads("{\"size\":1}", &b);
	test_cond("max_failures defaults to 0", batch_max_failures(&b, 100) == 0);
	for (t = 0, ok = 1; t <= 1000 && ok; t++) {
		reads("{\"size\":1,\"max_failures\":\"37%\"}", &b);
		ok = batch_max_failures(&b, t) * 100 <= 37 * t &&
		    (batch_max_failures(&b, t) + 1) * 100 > 37 * t;
	}
	test_cond("max_failures 37%: floor for every T in 0..1000", ok);
}

int
main(void)
{
	test_read();
	test_arithmetic();
	test_report();
}
