/*
 * libFuzzer target: canonical JSON (common/canon.c). The input is parsed
 * by json-c as leniently as it goes (NaN, raw control bytes, bytes that
 * are not UTF-8, nesting past the limit) and, separately, as pulse-api
 * parses a body (pjson_parse). For any value parsed: the canonical bytes
 * are the same twice; they are refused exactly when the value has a
 * non-finite number or nests past CANON_DEPTH_MAX (never too deep for
 * what pjson_parse accepts); they hold no whitespace or control byte; strict
 * json-c reads them back, whole, as a json_object_equal value, whose
 * canonical bytes are the same again.
 */
#include <math.h>
#include <string.h>

#include <json-c/json.h>

#include "canon.h"
#include "fuzz.h"
#include "pjson.h"
#include "sbuf.h"

/* Deeper than the limit, so that refusals are fuzzed too. */
#define PARSE_DEPTH	(CANON_DEPTH_MAX + 8)

/* json-c's parse of all of buf; 0 (*out may be NULL: JSON null) or -1. */
static int
parse(const char *buf, size_t len, int flags, struct json_object **out)
{
	struct json_tokener	*tok = json_tokener_new_ex(PARSE_DEPTH);
	struct json_object	*v;
	size_t			 end;

	fuzz_assert(tok != NULL);
	json_tokener_set_flags(tok, flags);
	v = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (v == NULL && json_tokener_get_error(tok) == json_tokener_continue) {
		/* "1" waits for a delimiter; json-c's end is a NUL. */
		v = json_tokener_parse_ex(tok, "", 1);
		end = len;
	}
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    end != len) {
		json_object_put(v);
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	*out = v;
	return 0;
}

/*
 * What canon_json must refuse: nesting past the limit (1), NaN or Inf
 * (2), or 0.
 */
static int
refusable(struct json_object *v, int depth)
{
	int	 r;

	size_t				 i, n;
	struct json_object_iterator	 it, end;
	double				 d;

	switch (json_object_get_type(v)) {
	case json_type_double:
		d = json_object_get_double(v);
		return isfinite(d) ? 0 : 2;
	case json_type_array:
		if (depth >= CANON_DEPTH_MAX)
			return 1;
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if ((r = refusable(json_object_array_get_idx(v, i),
			    depth + 1)) != 0)
				return r;
		return 0;
	case json_type_object:
		if (depth >= CANON_DEPTH_MAX)
			return 1;
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it))
			if ((r = refusable(json_object_iter_peek_value(&it),
			    depth + 1)) != 0)
				return r;
		return 0;
	default:
		return 0;
	}
}

/* Canonical bytes of v (NULL when refused, with a reason). */
static char *
canon(struct json_object *v, int flags, size_t *len)
{
	struct sbuf	 b;
	char		 why[128];

	sbuf_init(&b, 64, 0);
	if (canon_json_flags(&b, v, flags, why, sizeof(why)) == -1) {
		fuzz_assert(why[0] != '\0');
		free(b.s);
		return NULL;
	}
	*len = b.len;
	return b.s;
}

static void
check(struct json_object *v)
{
	struct json_object	*back = NULL;
	char			*c1, *c2, *c3;
	char			 h1[CANON_SHA256_HEX_LEN + 1];
	char			 h2[CANON_SHA256_HEX_LEN + 1];
	size_t			 l1 = 0, l2 = 0, l3 = 0, i;

	c1 = canon(v, 0, &l1);
	c2 = canon(v, 0, &l2);
	fuzz_assert((c1 == NULL) == (c2 == NULL));
	fuzz_assert((c1 == NULL) == (refusable(v, 0) != 0));
	/* The audit flag only changes numbers' text, never what is refused. */
	c3 = canon(v, CANON_NUMBERS_AS_PARSED, &l3);
	fuzz_assert((c3 == NULL) == (c1 == NULL));
	free(c3);
	if (c1 == NULL)
		return;
	fuzz_assert(l1 == l2 && memcmp(c1, c2, l1) == 0);
	fuzz_assert(strlen(c1) == l1);
	for (i = 0; i < l1; i++)
		fuzz_assert((unsigned char)c1[i] >= 0x20);
	canon_sha256_hex(c1, l1, h1);
	canon_sha256_hex(c2, l2, h2);
	fuzz_assert(strcmp(h1, h2) == 0 && strspn(h1, "0123456789abcdef") ==
	    CANON_SHA256_HEX_LEN);
	free(c2);

	fuzz_assert(parse(c1, l1, JSON_TOKENER_STRICT, &back) == 0);
	fuzz_assert(json_object_equal(v, back));
	c2 = canon(back, 0, &l2);
	fuzz_assert(c2 != NULL && l2 == l1 && memcmp(c1, c2, l1) == 0);
	json_object_put(back);
	free(c1);
	free(c2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object	*v = NULL;
	char			 err[128];

	if (size > (1 << 20))
		return 0;
	if (parse((const char *)data, size, 0, &v) == 0) {
		check(v);
		json_object_put(v);
	}
	/*
	 * What pulse-api accepts is never too deep. It may hold an infinite
	 * number: json-c reads 5e308 as Inf (found by this target), which
	 * canon_json refuses and the caller reports.
	 */
	v = pjson_parse((const char *)data, size, CANON_DEPTH_MAX, err,
	    sizeof(err));
	if (v != NULL) {
		fuzz_assert(refusable(v, 0) != 1);
		check(v);
		json_object_put(v);
	}
	return 0;
}
