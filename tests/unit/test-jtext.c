/* Unit tests for common/jtext.c: the same bytes as json-c prints. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "jtext.h"
#include "pjson.h"
#include "test.h"

#define FLAGS	(JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* json-c's text of o (then freed), against ours. */
static int
same(struct json_object *o, struct jtext *j)
{
	size_t	 len;
	char	*ours = jtext_take(j, &len);
	int	 ok = strcmp(json_object_to_json_string_ext(o, FLAGS),
	    ours) == 0 && len == strlen(ours);

	if (!ok)
		printf("# json-c %s\n# jtext  %s\n",
		    json_object_to_json_string_ext(o, FLAGS), ours);
	json_object_put(o);
	free(ours);
	return ok;
}

static int
same_str(const char *s)
{
	struct jtext	 j;

	jtext_init(&j, 4);
	jtext_str(&j, s);
	return same(json_object_new_string(s), &j);
}

static int
same_time(const char *ts)
{
	struct jtext	 j;
	struct json_object *o = pjson_time(ts);

	jtext_init(&j, 4);
	jtext_time(&j, ts);
	if (o == NULL) {
		size_t	 len;
		char	*ours = jtext_take(&j, &len);
		int	 ok = strcmp(ours, "null") == 0;

		free(ours);
		return ok;
	}
	return same(o, &j);
}

int
main(void)
{
	static const long long	 ints[] = { 0, 1, -1, 42, LLONG_MAX, LLONG_MIN,
	    1000000007LL };
	struct jtext		 j;
	struct json_object	*o;
	char			 s[600];
	size_t			 i, k, len;
	int			 ok;
	char			*t;

	ok = 1;
	for (i = 1; i < 256; i++) {
		s[0] = 'a';
		s[1] = (char)i;
		s[2] = 'z';
		s[3] = '\0';
		ok &= same_str(s);
	}
	test_cond("every byte alone is escaped as json-c does", ok);

	srandom(20);
	ok = 1;
	for (k = 0; k < 2000; k++) {
		len = (size_t)(random() % 500);
		for (i = 0; i < len; i++)
			s[i] = (char)(1 + random() % 255);
		s[len] = '\0';
		ok &= same_str(s);
	}
	test_cond("2,000 random strings as json-c prints them", ok);
	test_cond("the empty string", same_str(""));
	test_cond("UTF-8 and a slash as they are",
	    same_str("caf\xc3\xa9 / \xe2\x80\xa8 \xf0\x9f\x98\x80"));

	jtext_init(&j, 4);
	jtext_str(&j, NULL);
	t = jtext_take(&j, &len);
	test_cond("NULL is null", strcmp(t, "null") == 0 && len == 4);
	free(t);

	ok = 1;
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		jtext_init(&j, 4);
		jtext_int(&j, ints[i]);
		ok &= same(json_object_new_int64(ints[i]), &j);
	}
	test_cond("integers as json-c prints them", ok);

	test_cond("times as pjson_time",
	    same_time("2026-12-07 21:35:24.100") &&
	    same_time("2026-12-07 21:35:24") &&
	    same_time("2026-12-07 21:35:24.1") &&
	    same_time("2026-12-07 21:35:24.123456") &&
	    same_time("2026-12-07 21:35:24.") &&
	    same_time("2026-12-07 21:35:24.9x") &&
	    same_time("2026-12-07") && same_time("") && same_time(NULL));

	/* A row built both ways: punctuation, keys, values. */
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string("x\"y"));
	json_object_object_add(o, "n", json_object_new_int64(-5));
	json_object_object_add(o, "none", NULL);
	json_object_object_add(o, "at", pjson_time("2026-01-02 03:04:05.6"));
	jtext_init(&j, 4);
	jtext_lit(&j, "{\"id\":");
	jtext_str(&j, "x\"y");
	jtext_lit(&j, ",\"n\":");
	jtext_int(&j, -5);
	jtext_lit(&j, ",\"none\":");
	jtext_str(&j, NULL);
	jtext_lit(&j, ",\"at\":");
	jtext_time(&j, "2026-01-02 03:04:05.6");
	jtext_raw(&j, "}", 1);
	test_cond("an object written piece by piece", same(o, &j));

	test_report();
}
