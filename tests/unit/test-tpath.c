/* Unit tests for common/tpath.c: the shape of a dotted path, each of its
 * limits at and past the edge, and the walk through objects and arrays. */
#include <string.h>

#include "pjson.h"
#include "pulse-limits.h"
#include "test.h"
#include "tpath.h"

static char	 err[256];

/* "a.a.a..." of n segments. */
static const char *
segs(size_t n)
{
	static char	 buf[2 * TRIGGER_PATH_MAX];
	size_t		 i;

	for (i = 0; i < n; i++) {
		buf[2 * i] = 'a';
		buf[2 * i + 1] = '.';
	}
	buf[n == 0 ? 0 : 2 * n - 1] = '\0';
	return buf;
}

static const char *
repeat(char c, size_t n)
{
	static char	 buf[2 * TRIGGER_PATH_MAX];

	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* The value at path in doc as JSON text, or "(none)". */
static int
at(struct json_object *doc, const char *path, const char *want)
{
	struct json_object	*v = tpath_get(doc, path);
	const char		*got = v == NULL ? "(none)" :
	    json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);

	if (strcmp(got, want) != 0)
		printf("# %s: %s, not %s\n", path, got, want);
	return strcmp(got, want) == 0;
}

int
main(void)
{
	static const char doc_text[] =
	    "{\"release\":{\"tag_name\":\"v1.2\",\"draft\":false},"
	    "\"commits\":[{\"id\":\"abc\"},{\"id\":\"def\",\"n\":[1,[2,3]]}],"
	    "\"7\":\"seven\",\"a b\":1,\"n\":null}";
	struct json_object	*doc;

	test_cond("a simple path", tpath_check("release.tag_name") == NULL);
	test_cond("an index", tpath_check("commits.0.id") == NULL);
	test_cond("empty", tpath_check("") != NULL);
	test_cond("an empty segment", tpath_check("a..b") != NULL);
	test_cond("a leading dot", tpath_check(".a") != NULL);
	test_cond("a trailing dot", tpath_check("a.") != NULL);
	test_cond("a control character", tpath_check("a\tb") != NULL);
	test_cond("DEL", tpath_check("a\x7f") != NULL);
	test_cond("16 segments", tpath_check(segs(TRIGGER_PATH_DEPTH)) == NULL);
	test_cond("17 segments", tpath_check(segs(TRIGGER_PATH_DEPTH + 1)) !=
	    NULL);
	test_cond("256 bytes", tpath_check(repeat('a', TRIGGER_PATH_MAX)) ==
	    NULL);
	test_cond("257 bytes", tpath_check(repeat('a', TRIGGER_PATH_MAX + 1)) !=
	    NULL);
	test_cond("an index of 6 digits",
	    tpath_check(repeat('9', TRIGGER_INDEX_DIGITS)) == NULL);
	test_cond("an index of 7 digits",
	    tpath_check(repeat('9', TRIGGER_INDEX_DIGITS + 1)) != NULL);
	test_cond("7 characters with a letter are a key, not an index",
	    tpath_check("1234567a") == NULL);
	test_cond("the reason names the limit", strstr(tpath_check(
	    segs(TRIGGER_PATH_DEPTH + 1)), "16") != NULL);

	doc = pjson_parse(doc_text, strlen(doc_text), 32, err, sizeof(err));
	test_cond("the document parses", doc != NULL);
	test_cond("release.tag_name", at(doc, "release.tag_name", "\"v1.2\""));
	test_cond("a whole object", at(doc, "release",
	    "{\"tag_name\":\"v1.2\",\"draft\":false}"));
	test_cond("false is a value", at(doc, "release.draft", "false"));
	test_cond("commits.0.id", at(doc, "commits.0.id", "\"abc\""));
	test_cond("commits.1.n.1.0", at(doc, "commits.1.n.1.0", "2"));
	test_cond("past the end of an array", at(doc, "commits.2.id",
	    "(none)"));
	test_cond("a word as an index", at(doc, "commits.first", "(none)"));
	test_cond("a signed index", at(doc, "commits.+1", "(none)"));
	test_cond("digits name an object's key", at(doc, "7", "\"seven\""));
	test_cond("a key with a space", at(doc, "a b", "1"));
	test_cond("a missing key", at(doc, "release.body", "(none)"));
	test_cond("through a string", at(doc, "release.tag_name.x", "(none)"));
	test_cond("through null", at(doc, "n.x", "(none)"));
	test_cond("null is no value (GitHub sends many)", at(doc, "n",
	    "(none)"));
	test_cond("a malformed path finds nothing", at(doc, "release..tag_name",
	    "(none)"));
	test_cond("an index past 6 digits finds nothing",
	    at(doc, "commits.0000000", "(none)"));
	json_object_put(doc);
	test_report();
}
