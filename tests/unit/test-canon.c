/*
 * Unit tests for common/canon.c: key order, escapes, embedded NULs, the
 * depth limit, numbers (doubles never read back as integers, the
 * shortest text that reads back equal), refusals, the audit flag, and
 * SHA-256 against the FIPS 180-2 vectors.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "canon.h"
#include "pjson.h"
#include "sbuf.h"
#include "test.h"

static char	 why[128];

/* Canonical text of v with flags (v is put), or NULL with why set. */
static char *
canon_of(struct json_object *v, int flags)
{
	struct sbuf	 b;
	int		 rc;

	sbuf_init(&b, 16, 0);
	rc = canon_json_flags(&b, v, flags, why, sizeof(why));
	json_object_put(v);
	if (rc == -1) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

/* Is the canonical text of JSON text `in` exactly `want`? */
static int
is(const char *in, int flags, const char *want)
{
	char	 err[128], *got;
	int	 ok;

	got = canon_of(pjson_parse(in, strlen(in), CANON_DEPTH_MAX, err,
	    sizeof(err)), flags);
	ok = got != NULL && strcmp(got, want) == 0;
	if (!ok)
		printf("# %s: got %s, want %s\n", in, got ? got : "(null)",
		    want);
	free(got);
	return ok;
}

static int
dbl(double d, const char *want)
{
	char	*got = canon_of(json_object_new_double(d), 0);
	int	 ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		printf("# %.17g: got %s, want %s\n", d, got ? got : "(null)",
		    want);
	free(got);
	return ok;
}

/* n arrays one inside the other, built in C (no parser's limit). */
static struct json_object *
nested(int n)
{
	struct json_object	*v = json_object_new_array(), *outer;
	int			 i;

	for (i = 1; i < n; i++) {
		outer = json_object_new_array();
		json_object_array_add(outer, v);
		v = outer;
	}
	return v;
}

static void
test_keys_and_strings(void)
{
	struct json_object	*a, *b;
	char			*sa, *sb;

	test_cond("keys sorted by bytes at every depth, no whitespace",
	    is("{ \"b\": 1, \"a\": {\"z\": [3, {\"y\": 1, \"x\": 2}], "
	    "\"Z\": null}, \"B\": true, \"aa\": false, \"\": \"\" }", 0,
	    "{\"\":\"\",\"B\":true,\"a\":{\"Z\":null,\"z\":[3,{\"x\":2,"
	    "\"y\":1}]},\"aa\":false,\"b\":1}"));
	test_cond("a key's UTF-8 sorts by its bytes (after ASCII)",
	    is("{\"\\u00e9\": 1, \"z\": 2}", 0, "{\"z\":2,\"\xc3\xa9\":1}"));
	test_cond("only \", \\ and bytes < 0x20 escaped; /, DEL, UTF-8 as is",
	    is("[\"q\\\"\\\\\\n\\t\\u001f\\u007f\\/\\u00e9\"]", 0,
	    "[\"q\\\"\\\\\\u000a\\u0009\\u001f\x7f/\xc3\xa9\"]"));
	test_cond("keys are escaped the same way",
	    is("{\"a\\nb\\\"\": 1}", 0, "{\"a\\u000ab\\\"\":1}"));
	sa = canon_of(json_object_new_string_len("a\0b\0", 4), 0);
	test_cond("an embedded NUL is \\u0000 and the bytes after it stay",
	    sa != NULL && strcmp(sa, "\"a\\u0000b\\u0000\"") == 0);
	free(sa);

	/* The same value built in two orders gives the same bytes. */
	a = json_object_new_object();
	json_object_object_add(a, "x", json_object_new_int(1));
	json_object_object_add(a, "y", json_object_new_string("two"));
	b = json_object_new_object();
	json_object_object_add(b, "y", json_object_new_string("two"));
	json_object_object_add(b, "x", json_object_new_int(1));
	sa = canon_of(a, 0);
	sb = canon_of(b, 0);
	test_cond("same value, any insertion order: same bytes",
	    sa != NULL && sb != NULL && strcmp(sa, sb) == 0 &&
	    strcmp(sa, "{\"x\":1,\"y\":\"two\"}") == 0);
	free(sa);
	free(sb);
	sa = canon_of(NULL, 0);
	test_cond("NULL is null", sa != NULL && strcmp(sa, "null") == 0);
	free(sa);
}

static void
test_depth(void)
{
	struct json_object	*o, *inner;
	char			*s;
	int			 i;

	s = canon_of(nested(CANON_DEPTH_MAX), 0);
	test_cond("64 nested arrays are written",
	    s != NULL && strlen(s) == 2 * CANON_DEPTH_MAX);
	free(s);
	s = canon_of(nested(CANON_DEPTH_MAX + 1), 0);
	test_cond("65 nested arrays refused, saying why",
	    s == NULL && strstr(why, "deeper than 64") != NULL);
	s = canon_of(nested(100000), 0);
	test_cond("100,000 nested arrays refused without a deep recursion",
	    s == NULL);
	/* Objects count like arrays: 64 objects, a scalar at the bottom. */
	o = json_object_new_int(1);
	for (i = 0; i < CANON_DEPTH_MAX; i++) {
		inner = o;
		o = json_object_new_object();
		json_object_object_add(o, "k", inner);
	}
	s = canon_of(json_object_get(o), 0);
	test_cond("64 nested objects with a scalar inside are written",
	    s != NULL && strncmp(s + 5 * (CANON_DEPTH_MAX - 1),
	    "{\"k\":1}", 7) == 0);
	free(s);
	inner = json_object_new_object();
	json_object_object_add(inner, "k", o);
	s = canon_of(inner, 0);
	test_cond("65 nested objects refused", s == NULL);
}

static void
test_numbers(void)
{
	char	*s;

	test_cond("0.1 is 0.1", dbl(0.1, "0.1"));
	test_cond("1e300 is 1e+300", dbl(1e300, "1e+300"));
	test_cond("-0.0 is -0.0 (not -0, an integer)", dbl(-0.0, "-0.0"));
	test_cond("2.0 is 2.0 (not 2, an integer)", dbl(2.0, "2.0"));
	test_cond("100000000000000.0 keeps its .0",
	    dbl(1e14, "100000000000000.0"));
	test_cond("1e21 is 1e+21", dbl(1e21, "1e+21"));
	test_cond("1e-7 is 1e-07", dbl(1e-7, "1e-07"));
	test_cond("0.1 + 0.2 needs 17 digits", dbl(0.1 + 0.2,
	    "0.30000000000000004"));
	test_cond("1/3 needs 16 digits", dbl(1.0 / 3, "0.3333333333333333"));
	test_cond("DBL_MAX reads back", dbl(1.7976931348623157e308,
	    "1.7976931348623157e+308"));
	test_cond("the smallest denormal: 15 digits read back", dbl(4.9406564584124654e-324,
	    "4.94065645841247e-324"));
	s = canon_of(json_object_new_double(NAN), 0);
	test_cond("NaN refused, saying why", s == NULL &&
	    strstr(why, "NaN") != NULL);
	s = canon_of(json_object_new_double(-INFINITY), 0);
	test_cond("-Inf refused", s == NULL && strstr(why, "infinite"));
	s = canon_of(json_object_new_double(NAN), CANON_NUMBERS_AS_PARSED);
	test_cond("NaN refused with CANON_NUMBERS_AS_PARSED too", s == NULL);
	test_cond("a parsed double is its value: 2.50 is 2.5, 1E5 is 100000.0",
	    is("[2.50, 1E5, 0.10]", 0, "[2.5,100000.0,0.1]"));
	test_cond("CANON_NUMBERS_AS_PARSED keeps the text: 2.50 and 1E5",
	    is("{\"b\": [2.50, 1E5], \"a\": 7}", CANON_NUMBERS_AS_PARSED,
	    "{\"a\":7,\"b\":[2.50,1E5]}"));
	test_cond("integers as %lld, INT64_MIN and INT64_MAX included",
	    is("[0, -5, 12345678901, -9223372036854775808, "
	    "9223372036854775807]", 0, "[0,-5,12345678901,"
	    "-9223372036854775808,9223372036854775807]"));
	test_cond("a uint64 past INT64_MAX as %llu",
	    is("[18446744073709551615, 9223372036854775808]", 0,
	    "[18446744073709551615,9223372036854775808]"));
	test_cond("-0 parsed is the integer 0", is("-0", 0, "0"));
}

static void
test_sha256(void)
{
	static const struct {
		const char	*what, *in, *hex;
	} v[] = {
		{ "SHA-256(\"abc\"), FIPS 180-2 B.1", "abc",
		  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "SHA-256 of nothing", "",
		  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "SHA-256 of two blocks, FIPS 180-2 B.2",
		  "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
		/* python3: hashlib.sha256(b'{"a":1}').hexdigest() */
		{ "SHA-256 of a canonical text", "{\"a\":1}",
		  "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862" },
	};
	char	 hex[CANON_SHA256_HEX_LEN + 1];
	size_t	 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		canon_sha256_hex(v[i].in, strlen(v[i].in), hex);
		test_cond(v[i].what, strcmp(hex, v[i].hex) == 0);
	}
}

int
main(void)
{
	test_keys_and_strings();
	test_depth();
	test_numbers();
	test_sha256();
	test_report();
}
