/* Unit tests for common/pjson.c: parsing limits, getters, text, times. */
#include <stdlib.h>
#include <string.h>

#include "pjson.h"
#include "test.h"

static char	 err[256];

static int
parses(const char *s)
{
	struct json_object *o = pjson_parse(s, strlen(s), 32, err, sizeof(err));
	int	 ok = o != NULL;

	json_object_put(o);
	return ok;
}

static char *
nested(int depth)
{
	char	*s = malloc(depth * 2 + 1);

	memset(s, '[', depth);
	memset(s + depth, ']', depth);
	s[depth * 2] = '\0';
	return s;
}

int
main(void)
{
	struct json_object	*o;
	const char		*s;
	size_t			 len;
	long long		 i;
	int			 b;
	char			*deep;

	test_cond("object parses", parses("{\"a\":1}"));
	test_cond("surrounding whitespace ok", parses(" \n{\"a\":1}\n "));
	test_cond("trailing garbage rejected", !parses("{\"a\":1} x") &&
	    strstr(err, "offset") != NULL);
	test_cond("two documents rejected", !parses("{} {}"));
	test_cond("truncated rejected", !parses("{\"a\":") &&
	    strstr(err, "end of input") != NULL);
	test_cond("empty rejected", !parses(""));
	/* json-c's null is a NULL object: refused, with a message (fuzz). */
	strcpy(err, "unchanged");
	test_cond("null document rejected with a reason",
	    !parses("null ") && strstr(err, "null") != NULL);
	test_cond("null inside a document accepted", parses("{\"a\":null}"));
	strcpy(err, "unchanged");
	test_cond("null document without a delimiter rejected as null",
	    !parses("null") && strstr(err, "null") != NULL);
	/* json-c waits for a delimiter after these: they end the input. */
	test_cond("a number alone parses", parses("1") && parses("-1.5e3"));
	test_cond("true alone parses", parses("true") && parses("false"));
	test_cond("a cut literal or number refused", !parses("tru") &&
	    strstr(err, "invalid literal at offset 0") != NULL &&
	    !parses("-") && !parses("1e") &&
	    strstr(err, "invalid number at offset 0") != NULL);
	test_cond("a number then garbage rejected", !parses("1x") &&
	    !parses("1 2"));
	test_cond("invalid UTF-8 rejected", !parses("[\"\xff\"]"));
	test_cond("valid UTF-8 accepted", parses("[\"\xc3\xa9\"]"));
	/* json-c lets these through; found by tests/fuzz (fuzz_api_body). */
	test_cond("overlong UTF-8 rejected", !parses("[\"\xc1\xa9\"]") &&
	    strstr(err, "invalid UTF-8 at offset 2") != NULL);
	test_cond("overlong 3-byte UTF-8 rejected",
	    !parses("[\"\xe0\x80\xaf\"]"));
	test_cond("UTF-8 surrogate rejected", !parses("[\"\xed\xa0\x80\"]"));
	test_cond("UTF-8 past U+10FFFF rejected",
	    !parses("[\"\xf4\x90\x80\x80\"]") &&
	    !parses("[\"\xf5\x80\x80\x80\"]"));
	test_cond("invalid UTF-8 in a key rejected",
	    !parses("{\"\xc0\x80\":1}"));
	test_cond("invalid UTF-8 in a member's value names the member",
	    !parses("{\"id\":\"x\", \"name\" :\n \"ab\xff\"}") &&
	    strstr(err, "invalid UTF-8 in \"name\" at offset 24") != NULL);
	test_cond("invalid UTF-8 in an array item names no member",
	    !parses("{\"a\":[\"x\",\"\xff\"]}") &&
	    strstr(err, "invalid UTF-8 at offset 11") != NULL);
	test_cond("raw control character in a string rejected",
	    !parses("[\"a\nb\"]") && strstr(err, "control character") &&
	    !parses("{\"a\\\\\":\"\t\"}"));
	test_cond("escaped control characters and outside whitespace accepted",
	    parses("[\"a\\nb\\\"\\u0001\"\n,\t\"\\\\\"]"));
	test_cond("NaN and Infinity rejected", !parses("[NaN]") &&
	    strstr(err, "invalid literal at offset 1") != NULL &&
	    !parses("{\"a\":Infinity}") && !parses("[-Infinity]") &&
	    strstr(err, "invalid number") != NULL);
	test_cond("leading zeros and bare points rejected", !parses("[00]") &&
	    !parses("[-01]") && !parses("[1.]") && !parses("[00.5]") &&
	    !parses("[0.]") && !parses("[1.e5]") &&
	    strstr(err, "invalid number") != NULL);
	test_cond("RFC 8259 numbers accepted", parses("[0,-0,0.5,-0.5e-3,1E+9,"
	    "10,123.456e7,0e0]"));
	test_cond("a number past a double's range (json-c: infinity) refused",
	    !parses("[1e999]") && strstr(err, "too large for a double") &&
	    !parses("{\"a\":{\"b\":[-5e308]}}") && parses("[1.7e308,1e-999]"));
	test_cond("digits and words inside strings are text",
	    parses("[\"00 NaN 1. \\\"01\"]"));
	test_cond("4-byte UTF-8 accepted", parses("[\"\xf0\x9f\x98\x80\"]"));
	test_cond("UTF-8 prefix: short string whole",
	    pjson_utf8_prefix("ab\xc3\xa9", 10) == 4);
	test_cond("UTF-8 prefix: cut before a character, not inside",
	    pjson_utf8_prefix("ab\xc3\xa9x", 3) == 2 &&
	    pjson_utf8_prefix("ab\xc3\xa9x", 4) == 4 &&
	    pjson_utf8_prefix("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 6) == 4);
	test_cond("trailing comma rejected", !parses("[1,2,]"));
	test_cond("comments rejected", !parses("/* x */ {}"));
	deep = nested(31);
	test_cond("depth 31 accepted at limit 32", parses(deep));
	free(deep);
	deep = nested(33);
	test_cond("depth 33 rejected", !parses(deep) &&
	    strstr(err, "deep") != NULL);
	free(deep);
	deep = nested(100000);
	test_cond("depth 100000 rejected without crashing", !parses(deep));
	free(deep);
	o = pjson_parse("{\"a\":1}\0{}", 10, 32, err, sizeof(err));
	test_cond("embedded NUL rejected", o == NULL);

	s = "{\"s\":\"x\",\"i\":7,\"b\":true,\"n\":null,"
	    "\"big\":9007199254740993,\"f\":1.5,\"o\":{},\"a\":[]}";
	o = pjson_parse(s, strlen(s), 32, err, sizeof(err));
	test_cond("getter fixture parses", o != NULL);
	test_cond("string present", pjson_get_string(o, "s", &s, &len) == 1 &&
	    strcmp(s, "x") == 0 && len == 1);
	test_cond("string absent", pjson_get_string(o, "zz", &s, NULL) == 0);
	test_cond("int is not a string", pjson_get_string(o, "i", &s,
	    NULL) == -1);
	test_cond("null counts as absent", pjson_get_string(o, "n", &s,
	    NULL) == 0);
	test_cond("int present", pjson_get_int(o, "i", &i) == 1 && i == 7);
	test_cond("string is not an int (no coercion)",
	    pjson_get_int(o, "s", &i) == -1);
	test_cond("double is not an int", pjson_get_int(o, "f", &i) == -1);
	test_cond("64-bit int kept", pjson_get_int(o, "big", &i) == 1 &&
	    i == 9007199254740993LL);
	test_cond("bool present", pjson_get_bool(o, "b", &b) == 1 && b == 1);
	test_cond("int is not a bool", pjson_get_bool(o, "i", &b) == -1);
	test_cond("object getter", pjson_get_object(o, "o",
	    &(struct json_object *){0}) == 1);
	test_cond("array getter", pjson_get_array(o, "a",
	    &(struct json_object *){0}) == 1);
	test_cond("array is not an object", pjson_get_object(o, "a",
	    &(struct json_object *){0}) == -1);
	json_object_put(o);

	o = pjson_text("ok \xc3\xa9", 5);
	test_cond("valid UTF-8 kept", strcmp(json_object_get_string(o),
	    "ok \xc3\xa9") == 0);
	json_object_put(o);
	o = pjson_text("a\xff" "b\xc3", 4);
	test_cond("invalid bytes become U+FFFD", strcmp(
	    json_object_get_string(o), "a\xef\xbf\xbd" "b\xef\xbf\xbd") == 0);
	json_object_put(o);
	o = pjson_text("\xed\xa0\x80", 3);
	test_cond("surrogate rejected", strcmp(json_object_get_string(o),
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") == 0);
	json_object_put(o);
	o = pjson_text("x\0y", 3);
	test_cond("NUL byte kept inside the string",
	    json_object_get_string_len(o) == 3);
	s = pjson_str(o, &len);
	test_cond("NUL serialized as \\u0000", strstr(s, "\\u0000") != NULL);
	json_object_put(o);

	o = pjson_time("2026-11-29 18:00:01.5");
	test_cond("time with 1 fraction digit", strcmp(
	    json_object_get_string(o), "2026-11-29T18:00:01.500Z") == 0);
	json_object_put(o);
	o = pjson_time("2026-11-29 18:00:01");
	test_cond("time without fraction", strcmp(json_object_get_string(o),
	    "2026-11-29T18:00:01.000Z") == 0);
	json_object_put(o);
	o = pjson_time("2026-11-29 18:00:01.123456");
	test_cond("time with microseconds", strcmp(json_object_get_string(o),
	    "2026-11-29T18:00:01.123Z") == 0);
	json_object_put(o);
	test_cond("NULL time is JSON null", pjson_time(NULL) == NULL);

	/* Names for VARCHAR(255) columns: characters, not bytes. */
	{
		char	 name[4 * 300 + 1], why[64];
		size_t	 n, k;

		for (k = 0; k < 300; k++)
			memcpy(name + 2 * k, "\xc3\xa9", 2);
		test_cond("pjson_utf8_count: 200 e-acute are 200 characters",
		    pjson_utf8_count(name, 400, &n) == 0 && n == 200);
		test_cond("pjson_utf8_count: invalid UTF-8 is -1",
		    pjson_utf8_count("a\xff" "b", 3, &n) == -1 &&
		    pjson_utf8_count("\xed\xa0\x80", 3, &n) == -1 &&
		    pjson_utf8_count("\xc3", 1, &n) == -1);
		test_cond("a name of 200 e-acute (400 bytes) fits 255",
		    pjson_check_name(name, 400, 255, why, sizeof(why)) == 0);
		test_cond("255 e-acute fit, 256 do not",
		    pjson_check_name(name, 510, 255, why, sizeof(why)) == 0 &&
		    pjson_check_name(name, 512, 255, why, sizeof(why)) == -1 &&
		    strcmp(why, "is longer than 255 characters (256)") == 0);
		for (k = 0; k < 256; k++)
			memcpy(name + 4 * k, "\xf0\x9f\x98\x80", 4);
		test_cond("255 4-byte characters (1020 bytes) fit, 256 do not",
		    pjson_check_name(name, 1020, 255, why, sizeof(why)) == 0 &&
		    pjson_check_name(name, 1024, 255, why, sizeof(why)) == -1 &&
		    strcmp(why, "is longer than 255 characters") == 0);
		memset(name, 'a', 256);
		test_cond("256 ASCII characters do not fit",
		    pjson_check_name(name, 256, 255, why, sizeof(why)) == -1 &&
		    strcmp(why, "is longer than 255 characters (256)") == 0);
		test_cond("invalid UTF-8 is refused as such",
		    pjson_check_name("ab\xc1\xa9", 4, 255, why,
		    sizeof(why)) == -1 &&
		    strcmp(why, "is not valid UTF-8") == 0);
	}
	test_cond("short time is null", pjson_time("2026") == NULL);
	{
		char	 t1[] = "ab\xc3", t2[] = "ab\xe2\x82",
			 t3[] = "ab\xe2\x82\xac", t4[] = "ab\xf0\x9f\x98",
			 t5[] = "abc";

		pjson_utf8_trim(t1);
		pjson_utf8_trim(t2);
		pjson_utf8_trim(t3);
		pjson_utf8_trim(t4);
		pjson_utf8_trim(t5);
		test_cond("utf8_trim drops a cut character, keeps whole ones",
		    strcmp(t1, "ab") == 0 && strcmp(t2, "ab") == 0 &&
		    strcmp(t3, "ab\xe2\x82\xac") == 0 &&
		    strcmp(t4, "ab") == 0 && strcmp(t5, "abc") == 0);
	}
	test_report();
}
