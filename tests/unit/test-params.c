/*
 * Workflow parameters (common/params.c): every declaration error with the
 * field it names, every value error at a start with its "params.NAME: "
 * message, normalisation, defaults, and the env object.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "pulse-limits.h"
#include "test.h"

/* A table row: what is given and what must come of it. */
struct row {
	const char	*desc, *a, *b;
};

static struct json_object *
J(const char *s)
{
	struct json_object	*o = json_tokener_parse(s);

	if (o == NULL) {
		printf("# bad JSON in test: %s\n", s);
		exit(2);
	}
	return o;
}

/* Declarations decl are refused with exactly msg. */
static int
save_fails(const char *decl, const char *msg)
{
	struct json_object	*o = J(decl);
	struct params		*ps = (struct params *)1;
	struct fielderr	 err;
	int			 rc;

	memset(&err, 0, sizeof(err));
	rc = params_from_json(o, &ps, &err);
	json_object_put(o);
	if (rc != -1 || ps != NULL) {
		printf("# accepted: %s\n", decl);
		params_free(ps);
		return 0;
	}
	if (strcmp(err.msg, msg) != 0) {
		printf("# got: %s\n# want: %s\n", err.msg, msg);
		return 0;
	}
	return 1;
}

/* Refused, the message beginning with prefix. */
static int
save_fails_prefix(const char *decl, const char *prefix)
{
	struct json_object	*o = J(decl);
	struct params		*ps = NULL;
	struct fielderr	 err;
	int			 rc;

	rc = params_from_json(o, &ps, &err);
	json_object_put(o);
	params_free(ps);
	if (rc != -1 || strncmp(err.msg, prefix, strlen(prefix)) != 0) {
		printf("# got: %s\n# want prefix: %s\n", rc == -1 ? err.msg :
		    "(accepted)", prefix);
		return 0;
	}
	return 1;
}

static struct params *
decl(const char *s)
{
	struct json_object	*o = J(s);
	struct params		*ps = NULL;
	struct fielderr	 err;

	if (params_from_json(o, &ps, &err) == -1) {
		printf("# refused: %s: %s\n", s, err.msg);
		exit(2);
	}
	json_object_put(o);
	return ps;
}

/* Resolve given against ps: the resolved JSON text, or the error. */
static char out[4096];

static const char *
resolve(const struct params *ps, const char *given)
{
	struct json_object	*g = given != NULL ? J(given) : NULL, *r;
	struct fielderr	 err;

	if (params_resolve(ps, g, &r, &err) == -1) {
		snprintf(out, sizeof(out), "ERR %s", err.msg);
		if (r != NULL)
			snprintf(out, sizeof(out), "ERR with a result");
	} else {
		snprintf(out, sizeof(out), "%s", json_object_to_json_string_ext(
		    r, JSON_C_TO_STRING_PLAIN));
		json_object_put(r);
	}
	json_object_put(g);
	return out;
}

static int
resolves(const struct params *ps, const char *given, const char *want)
{
	const char	*got = resolve(ps, given);

	if (strcmp(got, want) != 0) {
		printf("# %s\n#   got: %s\n#  want: %s\n", given ? given :
		    "(null)", got, want);
		return 0;
	}
	return 1;
}

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

/* Each row's declarations a refused with exactly the message b. */
static void
save_fails_rows(const struct row *rows, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		test_cond(rows[i].desc, save_fails(rows[i].a, rows[i].b));
}

/* Each row's values a resolved against ps into b (or "ERR msg"). */
static void
resolves_rows(const struct params *ps, const struct row *rows, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		test_cond(rows[i].desc, resolves(ps, rows[i].a, rows[i].b));
}

static void
test_declarations(void)
{
	struct params	*ps;
	char		 buf[8192];
	size_t		 i, o;

	ps = decl("[]");
	test_cond("an empty array: no parameters", params_count(ps) == 0);
	params_free(ps);
	test_cond("NULL: no parameters",
	    params_from_json(NULL, &ps, NULL) == 0 && params_count(ps) == 0);
	params_free(ps);
	params_free(NULL);

	ps = decl("[{\"name\":\"version\",\"type\":\"string\","
	    "\"description\":\"what to deploy\",\"required\":true,"
	    "\"pattern\":\"[0-9.]+\",\"max_length\":20},"
	    "{\"name\":\"n\",\"type\":\"integer\",\"min\":1,\"max\":5,"
	    "\"default\":2},"
	    "{\"name\":\"ratio\",\"type\":\"number\",\"min\":-1.5},"
	    "{\"name\":\"dry_run\",\"type\":\"boolean\",\"default\":false},"
	    "{\"name\":\"env\",\"type\":\"choice\",\"options\":[\"dev\","
	    "\"prod\"],\"default\":\"dev\"}]");
	test_cond("five declarations", params_count(ps) == 5);
	test_cond("names in order", strcmp(params_name(ps, 0), "version") == 0 &&
	    strcmp(params_name(ps, 4), "env") == 0 &&
	    params_name(ps, 5) == NULL);
	test_cond("types", params_type(ps, 0) == PARAM_STRING &&
	    params_type(ps, 1) == PARAM_INTEGER &&
	    params_type(ps, 2) == PARAM_NUMBER &&
	    params_type(ps, 3) == PARAM_BOOLEAN &&
	    params_type(ps, 4) == PARAM_CHOICE);
	test_cond("find by name", params_find(ps, "ratio", 5) == 2 &&
	    params_find(ps, "envx", 3) == 4 && params_find(ps, "ENV", 3) == -1 &&
	    params_find(ps, "x", 1) == -1 && params_find(NULL, "x", 1) == -1);
	params_free(ps);

	{
		static const struct row rows[] = {
			{ "params not an array",
			    "{}",
			    "params: must be an array" },
			{ "a declaration not an object",
			    "[1]",
			    "params[0]: must be an object" },
			{ "name required",
			    "[{\"type\":\"string\"}]",
			    "params[0].name: required" },
		};

		save_fails_rows(rows, NROWS(rows));
	}
	test_cond("name not an identifier", save_fails_prefix(
	    "[{\"name\":\"1a\",\"type\":\"string\"}]",
	    "params[0].name: must be an identifier"));
	test_cond("name with a dash", save_fails_prefix(
	    "[{\"name\":\"a-b\",\"type\":\"string\"}]",
	    "params[0].name: must be an identifier"));
	test_cond("name empty", save_fails_prefix(
	    "[{\"name\":\"\",\"type\":\"string\"}]",
	    "params[0].name: must be an identifier"));
	test_cond("name a number", save_fails_prefix(
	    "[{\"name\":5,\"type\":\"string\"}]",
	    "params[0].name: must be an identifier"));
	test_cond("name non-ASCII", save_fails_prefix(
	    "[{\"name\":\"caf\\u00e9\",\"type\":\"string\"}]",
	    "params[0].name: must be an identifier"));
	o = (size_t)snprintf(buf, sizeof(buf), "[{\"name\":\"_");
	for (i = 1; i < PULSE_PARAM_NAME_MAX; i++)
		buf[o++] = (char)('a' + i % 26);
	snprintf(buf + o, sizeof(buf) - o, "\",\"type\":\"string\"}]");
	test_cond("64-byte name accepted", (ps = decl(buf)) != NULL &&
	    strlen(params_name(ps, 0)) == 64);
	params_free(ps);
	buf[o] = 'x';
	snprintf(buf + o + 1, sizeof(buf) - o - 1, "\",\"type\":\"string\"}]");
	test_cond("65-byte name refused", save_fails_prefix(buf,
	    "params[0].name: must be an identifier"));
	{
		static const struct row rows[] = {
			{ "names distinct",
			    "[{\"name\":\"a\",\"type\":\"string\"},"
			    "{\"name\":\"b\",\"type\":\"string\"},"
			    "{\"name\":\"a\",\"type\":\"integer\"}]",
			    "params[2].name: repeats the name of params[0]" },
			{ "names distinct upper-cased",
			    "[{\"name\":\"my_Var\",\"type\":\"string\"},"
			    "{\"name\":\"MY_var\",\"type\":\"string\"}]",
			    "params[1].name: is the name of params[0] once "
			    "upper-cased (both would be PULSE_PARAM_MY_VAR)" },
			{ "type required",
			    "[{\"name\":\"a\"}]",
			    "params[0].type: required" },
			{ "type unknown",
			    "[{\"name\":\"a\",\"type\":\"float\"}]",
			    "params[0].type: must be string, integer, number,"
			    " boolean or choice" },
			{ "unknown key",
			    "[{\"name\":\"a\",\"type\":\"string\","
			    "\"secret\":true}]",
			    "params[0].secret: unknown key for a parameter "
			    "of type string" },
			{ "pattern on an integer",
			    "[{\"name\":\"a\",\"type\":\"integer\","
			    "\"pattern\":\"x\"}]",
			    "params[0].pattern: unknown key for a parameter "
			    "of type integer" },
			{ "options on a string",
			    "[{\"name\":\"a\",\"type\":\"string\","
			    "\"options\":[\"x\"]}]",
			    "params[0].options: unknown key for a parameter "
			    "of type string" },
			{ "min on a boolean",
			    "[{\"name\":\"a\",\"type\":\"boolean\",\"min\":0}]",
			    "params[0].min: unknown key for a parameter of "
			    "type boolean" },
			{ "max_length on a choice",
			    "[{\"name\":\"a\",\"type\":\"choice\","
			    "\"options\":[\"x\"],\"max_length\":3}]",
			    "params[0].max_length: unknown key for a "
			    "parameter of type choice" },
			{ "required not a boolean",
			    "[{\"name\":\"a\",\"type\":\"string\","
			    "\"required\":1}]",
			    "params[0].required: must be true or false" },
			{ "description not a string",
			    "[{\"name\":\"a\",\"type\":\"string\","
			    "\"description\":1}]",
			    "params[0].description: must be a string" },
		};

		save_fails_rows(rows, NROWS(rows));
	}
	test_cond("description empty is fine", (ps = decl(
	    "[{\"name\":\"a\",\"type\":\"string\",\"description\":\"\"}]"))
	    != NULL);
	params_free(ps);
	o = (size_t)snprintf(buf, sizeof(buf), "[{\"name\":\"a\",\"type\":"
	    "\"string\",\"description\":\"");
	for (i = 0; i <= PULSE_PARAM_DESCRIPTION_MAX; i++)
		buf[o++] = 'd';
	snprintf(buf + o, sizeof(buf) - o, "\"}]");
	test_cond("description too long", save_fails(buf,
	    "params[0].description: must be 0 to 4096 bytes"));
	test_cond("max_length 0", save_fails(
	    "[{\"name\":\"a\",\"type\":\"string\",\"max_length\":0}]",
	    "params[0].max_length: must be an integer from 1 to 65536"));
	test_cond("max_length past the ceiling", save_fails(
	    "[{\"name\":\"a\",\"type\":\"string\",\"max_length\":65537}]",
	    "params[0].max_length: must be an integer from 1 to 65536"));
	test_cond("max_length a string", save_fails(
	    "[{\"name\":\"a\",\"type\":\"string\",\"max_length\":\"5\"}]",
	    "params[0].max_length: must be an integer from 1 to 65536"));
	test_cond("pattern that does not compile", save_fails_prefix(
	    "[{\"name\":\"a\",\"type\":\"string\",\"pattern\":\"[a-\"}]",
	    "params[0].pattern: does not compile: "));
	test_cond("pattern with a lone ')'", save_fails(
	    "[{\"name\":\"a\",\"type\":\"string\",\"pattern\":\"a)\"}]",
	    "params[0].pattern: has unbalanced parentheses"));
	test_cond("a pattern cannot escape the anchors", save_fails(
	    "[{\"name\":\"a\",\"type\":\"string\",\"pattern\":"
	    "\"[0-9]+)|(.*\"}]", "params[0].pattern: has unbalanced parentheses"));
	test_cond("')' inside brackets and escaped is literal",
	    (ps = decl("[{\"name\":\"a\",\"type\":\"string\",\"pattern\":"
	    "\"[)]\\\\)[^]a)][[:alpha:])]\"}]")) != NULL &&
	    resolves(ps, "{\"a\":\"))b)\"}", "{\"a\":\"))b)\"}") &&
	    resolves(ps, "{\"a\":\")))\"}",
	    "ERR params.a: does not match pattern [)]\\)[^]a)][[:alpha:])]"));
	params_free(ps);
	test_cond("pattern with a back-reference", save_fails(
	    "[{\"name\":\"a\",\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}]",
	    "params[0].pattern: back-references (\\1) are not allowed"));
	test_cond("an escaped backslash then a digit is no back-reference",
	    (ps = decl("[{\"name\":\"a\",\"type\":\"string\","
	    "\"pattern\":\"a\\\\\\\\1\"}]")) != NULL);
	test_cond("... and matches a backslash and 1",
	    resolves(ps, "{\"a\":\"a\\\\1\"}", "{\"a\":\"a\\\\1\"}"));
	params_free(ps);
	{
		static const struct row rows[] = {
			{ "pattern empty",
			    "[{\"name\":\"a\",\"type\":\"string\","
			    "\"pattern\":\"\"}]",
			    "params[0].pattern: must be 1 to 1024 bytes" },
			{ "pattern not a string",
			    "[{\"name\":\"a\",\"type\":\"string\","
			    "\"pattern\":1}]",
			    "params[0].pattern: must be a string" },
			{ "min not an integer",
			    "[{\"name\":\"a\",\"type\":\"integer\","
			    "\"min\":1.5}]",
			    "params[0].min: must be an integer" },
			{ "max not a number",
			    "[{\"name\":\"a\",\"type\":\"number\","
			    "\"max\":\"3\"}]",
			    "params[0].max: must be a number" },
			{ "max below min",
			    "[{\"name\":\"a\",\"type\":\"integer\",\"min\":3,"
			    "\"max\":2}]",
			    "params[0].max: less than min" },
			{ "max below min (number)",
			    "[{\"name\":\"a\",\"type\":\"number\","
			    "\"min\":0.5,\"max\":0.25}]",
			    "params[0].max: less than min" },
			{ "choice needs options",
			    "[{\"name\":\"a\",\"type\":\"choice\"}]",
			    "params[0].options: required for a choice" },
			{ "options empty",
			    "[{\"name\":\"a\",\"type\":\"choice\","
			    "\"options\":[]}]",
			    "params[0].options: must hold 1 to 64 options" },
			{ "options not strings",
			    "[{\"name\":\"a\",\"type\":\"choice\","
			    "\"options\":[\"x\",2]}]",
			    "params[0].options[1]: must be a string" },
			{ "options repeat",
			    "[{\"name\":\"a\",\"type\":\"choice\","
			    "\"options\":[\"x\",\"y\",\"x\"]}]",
			    "params[0].options[2]: repeats option 0" },
			{ "option empty",
			    "[{\"name\":\"a\",\"type\":\"choice\","
			    "\"options\":[\"\"]}]",
			    "params[0].options[0]: must be 1 to 1024 bytes" },
		};

		save_fails_rows(rows, NROWS(rows));
	}
	o = (size_t)snprintf(buf, sizeof(buf), "[{\"name\":\"a\",\"type\":"
	    "\"choice\",\"options\":[");
	for (i = 0; i <= PULSE_PARAM_OPTIONS_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"o%zu\"",
		    i ? "," : "", i);
	snprintf(buf + o, sizeof(buf) - o, "]}]");
	test_cond("65 options", save_fails(buf,
	    "params[0].options: must hold 1 to 64 options"));

	/* Defaults are checked like values. */
	{
		static const struct row rows[] = {
			{ "default of the wrong type",
			    "[{\"name\":\"a\",\"type\":\"integer\","
			    "\"default\":\"x\"}]",
			    "params[0].default: must be an integer" },
			{ "default past max",
			    "[{\"name\":\"a\",\"type\":\"integer\",\"max\":3,"
			    "\"default\":4}]",
			    "params[0].default: greater than max 3" },
			{ "default not matching the pattern",
			    "[{\"name\":\"a\",\"type\":\"string\","
			    "\"pattern\":\"[a-z]+\",\"default\":\"A\"}]",
			    "params[0].default: does not match pattern [a-z]+" },
			{ "default not an option",
			    "[{\"name\":\"a\",\"type\":\"choice\","
			    "\"options\":[\"x\"],\"default\":\"y\"}]",
			    "params[0].default: is not one of the options" },
			{ "default too long",
			    "[{\"name\":\"a\",\"type\":\"string\","
			    "\"max_length\":2,\"default\":\"abc\"}]",
			    "params[0].default: longer than max_length (2 "
			    "bytes)" },
		};

		save_fails_rows(rows, NROWS(rows));
	}
	test_cond("default boolean as a string is fine",
	    (ps = decl("[{\"name\":\"a\",\"type\":\"boolean\","
	    "\"default\":\"true\"}]")) != NULL &&
	    resolves(ps, NULL, "{\"a\":true}"));
	params_free(ps);

	/* 32 declarations, not 33. */
	o = (size_t)snprintf(buf, sizeof(buf), "[");
	for (i = 0; i < PULSE_PARAMS_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "%s{\"name\":\"p%zu\",\"type\":\"string\"}", i ? "," : "",
		    i);
	snprintf(buf + o, sizeof(buf) - o, "]");
	test_cond("32 parameters accepted", (ps = decl(buf)) != NULL &&
	    params_count(ps) == 32);
	params_free(ps);
	snprintf(buf + o, sizeof(buf) - o, ",{\"name\":\"x\",\"type\":"
	    "\"string\"}]");
	test_cond("33 refused", save_fails(buf,
	    "params: more than 32 parameters"));
	test_cond("the first error wins", save_fails(
	    "[{\"name\":\"a\",\"type\":\"string\"},{\"name\":\"a\"},"
	    "{\"name\":\"1\"}]", "params[1].name: repeats the name of params[0]"));
}

static void
test_resolve(void)
{
	struct params	*ps;
	char		*big;
	size_t		 i;

	ps = decl("[{\"name\":\"version\",\"type\":\"string\",\"required\":true,"
	    "\"pattern\":\"[0-9.]+\",\"max_length\":10},"
	    "{\"name\":\"n\",\"type\":\"integer\",\"min\":-5,\"max\":5,"
	    "\"default\":2},"
	    "{\"name\":\"ratio\",\"type\":\"number\",\"min\":-1.5,\"max\":1e6},"
	    "{\"name\":\"dry\",\"type\":\"boolean\",\"default\":false},"
	    "{\"name\":\"env\",\"type\":\"choice\",\"options\":[\"dev\","
	    "\"prod\"]},"
	    "{\"name\":\"note\",\"type\":\"string\"}]");

	{
		static const struct row rows[] = {
			{ "required, defaults filled, optional absent",
			    "{\"version\":\"1.2\"}",
			    "{\"version\":\"1.2\",\"n\":2,\"dry\":false}" },
			{ "NULL given: required missing",
			    NULL,
			    "ERR params.version: required" },
			{ "null counts as not given",
			    "{\"version\":\"1\",\"n\":null}",
			    "{\"version\":\"1\",\"n\":2,\"dry\":false}" },
			{ "given not an object",
			    "[1]",
			    "ERR params: must be an object" },
			{ "unknown parameter",
			    "{\"version\":\"1\",\"nope\":1}",
			    "ERR params.nope: unknown parameter" },
			{ "unknown parameter with odd bytes",
			    "{\"a b\\u00e9\\n\":1}",
			    "ERR params.a?b???: unknown parameter" },
			{ "name case matters",
			    "{\"VERSION\":\"1\"}",
			    "ERR params.VERSION: unknown parameter" },
			{ "pattern matched against the whole value",
			    "{\"version\":\"1.2x\"}",
			    "ERR params.version: does not match pattern [0-9.]+" },
			{ "pattern: no match inside",
			    "{\"version\":\"x1\"}",
			    "ERR params.version: does not match pattern [0-9.]+" },
			{ "max_length",
			    "{\"version\":\"12345678901\"}",
			    "ERR params.version: longer than max_length (10 "
			    "bytes)" },
			{ "string of the wrong type",
			    "{\"version\":1}",
			    "ERR params.version: must be a string" },
			{ "all values normalised",
			    "{\"version\":\"1.0\",\"n\":\"-5\","
			    "\"ratio\":\"2.5e2\",\"dry\":\"true\","
			    "\"env\":\"prod\",\"note\":\"it's\"}",
			    "{\"version\":\"1.0\",\"n\":-5,\"ratio\":250.0,"
			    "\"dry\":true,\"env\":\"prod\",\"note\":\"it's\"}" },
			{ "an integer ratio becomes a number",
			    "{\"version\":\"1\",\"ratio\":3}",
			    "{\"version\":\"1\",\"n\":2,\"ratio\":3.0,"
			    "\"dry\":false}" },
			{ "integer below min",
			    "{\"version\":\"1\",\"n\":-6}",
			    "ERR params.n: less than min -5" },
			{ "integer above max",
			    "{\"version\":\"1\",\"n\":\"6\"}",
			    "ERR params.n: greater than max 5" },
			{ "integer as a float",
			    "{\"version\":\"1\",\"n\":1.5}",
			    "ERR params.n: must be an integer" },
			{ "integer text with a sign",
			    "{\"version\":\"1\",\"n\":\"+1\"}",
			    "ERR params.n: must be an integer" },
			{ "integer text with spaces",
			    "{\"version\":\"1\",\"n\":\" 1\"}",
			    "ERR params.n: must be an integer" },
			{ "integer text empty",
			    "{\"version\":\"1\",\"n\":\"\"}",
			    "ERR params.n: must be an integer" },
			{ "integer text too big",
			    "{\"version\":\"1\",\"n\":\"99999999999999999999\"}",
			    "ERR params.n: must be an integer" },
			{ "integer as a boolean",
			    "{\"version\":\"1\",\"n\":true}",
			    "ERR params.n: must be an integer" },
			{ "number below min",
			    "{\"version\":\"1\",\"ratio\":-2}",
			    "ERR params.ratio: less than min -1.5" },
			{ "number above max",
			    "{\"version\":\"1\",\"ratio\":\"1e7\"}",
			    "ERR params.ratio: greater than max 1000000" },
			{ "number text not JSON syntax",
			    "{\"version\":\"1\",\"ratio\":\"0x10\"}",
			    "ERR params.ratio: must be a number" },
			{ "number text inf",
			    "{\"version\":\"1\",\"ratio\":\"inf\"}",
			    "ERR params.ratio: must be a number" },
			{ "number text .5",
			    "{\"version\":\"1\",\"ratio\":\".5\"}",
			    "ERR params.ratio: must be a number" },
			{ "number text 1e999 overflows",
			    "{\"version\":\"1\",\"ratio\":\"1e999\"}",
			    "ERR params.ratio: must be a number" },
			{ "boolean other text",
			    "{\"version\":\"1\",\"dry\":\"yes\"}",
			    "ERR params.dry: must be true or false" },
			{ "boolean as 1",
			    "{\"version\":\"1\",\"dry\":1}",
			    "ERR params.dry: must be true or false" },
			{ "choice not an option",
			    "{\"version\":\"1\",\"env\":\"Prod\"}",
			    "ERR params.env: is not one of the options" },
			{ "choice not a string",
			    "{\"version\":\"1\",\"env\":1}",
			    "ERR params.env: must be a string" },
			{ "string with NUL",
			    "{\"version\":\"1\",\"note\":\"a\\u0000b\"}",
			    "ERR params.note: contains NUL" },
			{ "string of invalid UTF-8",
			    "{\"version\":\"1\",\"note\":\"\xff\"}",
			    "ERR params.note: is not valid UTF-8" },
		};

		resolves_rows(ps, rows, NROWS(rows));
	}
	test_cond("an integer past int64 (json-c saturates it)", resolves(ps,
	    "{\"version\":\"1\",\"n\":99999999999999999999}",
	    "ERR params.n: is out of range") && resolves(ps,
	    "{\"version\":\"1\",\"n\":-99999999999999999999}",
	    "ERR params.n: is out of range") && resolves(ps,
	    "{\"version\":\"1\",\"n\":\"9223372036854775807\"}",
	    "ERR params.n: is out of range"));
	test_cond("the value is never quoted back", strstr(resolve(ps,
	    "{\"version\":\"s3cr3t-x\"}"), "s3cr3t") == NULL);

	/* The 1024-byte default and max_length. */
	big = malloc(PULSE_PARAM_STRING_MAX + 64);
	memcpy(big, "{\"version\":\"1\",\"note\":\"", 23);
	for (i = 0; i < 1024; i++)
		big[23 + i] = 'x';
	memcpy(big + 23 + 1024, "\"}", 3);
	test_cond("1024 bytes by default", strncmp(resolve(ps, big), "ERR", 3) != 0);
	memcpy(big + 23 + 1024, "x\"}", 4);
	test_cond("1025 refused", resolves(ps, big,
	    "ERR params.note: longer than max_length (1024 bytes)"));
	free(big);
	params_free(ps);

	ps = decl("[{\"name\":\"s\",\"type\":\"string\",\"max_length\":65536}]");
	big = malloc(PULSE_PARAM_STRING_MAX + 64);
	memcpy(big, "{\"s\":\"", 6);
	for (i = 0; i < PULSE_PARAM_STRING_MAX; i++)
		big[6 + i] = (char)('a' + i % 26);
	memcpy(big + 6 + PULSE_PARAM_STRING_MAX, "\"}", 3);
	test_cond("65536 bytes at most", strncmp(resolve(ps, big), "ERR", 3) != 0);
	memcpy(big + 6 + PULSE_PARAM_STRING_MAX, "a\"}", 4);
	test_cond("65537 refused", resolves(ps, big,
	    "ERR params.s: longer than max_length (65536 bytes)"));
	free(big);
	params_free(ps);

	ps = decl("[{\"name\":\"u\",\"type\":\"string\",\"pattern\":"
	    "\"caf\\u00e9|[a-z]{2,3}|x*\"}]");
	test_cond("alternation anchored as a group",
	    resolves(ps, "{\"u\":\"caf\\u00e9\"}", "{\"u\":\"caf\xc3\xa9\"}") &&
	    resolves(ps, "{\"u\":\"abc\"}", "{\"u\":\"abc\"}") &&
	    resolves(ps, "{\"u\":\"\"}", "{\"u\":\"\"}") &&
	    resolves(ps, "{\"u\":\"abcd\"}",
	    "ERR params.u: does not match pattern caf\xc3\xa9|[a-z]{2,3}|x*") &&
	    resolves(ps, "{\"u\":\"cafe\"}",
	    "ERR params.u: does not match pattern caf\xc3\xa9|[a-z]{2,3}|x*"));
	params_free(ps);

	ps = decl("[]");
	test_cond("no declarations, nothing given: {}", resolves(ps, "{}", "{}")
	    && resolves(ps, NULL, "{}"));
	test_cond("no declarations: anything given is unknown",
	    resolves(ps, "{\"a\":1}", "ERR params.a: unknown parameter"));
	params_free(ps);
}

static int
env_is(const char *resolved, const char *want)
{
	struct json_object	*r = J(resolved), *e;
	struct fielderr	 err;
	char			 got[4096];

	if (params_env(r, &e, &err) == -1)
		snprintf(got, sizeof(got), "ERR %s", err.msg);
	else {
		snprintf(got, sizeof(got), "%s", json_object_to_json_string_ext(
		    e, JSON_C_TO_STRING_PLAIN));
		json_object_put(e);
	}
	json_object_put(r);
	if (strcmp(got, want) != 0) {
		printf("#   got: %s\n#  want: %s\n", got, want);
		return 0;
	}
	return 1;
}

static void
test_env(void)
{
	struct json_object	*e, *v;
	struct fielderr	 err;
	char			 name[PARAMS_ENV_NAME_BUF], buf[PARAMS_TEXT_BUF];
	char			*big;
	const char		*s;
	size_t			 len, i, o;

	test_cond("env names upper-cased, values as text", env_is(
	    "{\"version\":\"1.2 it's\",\"n\":-5,\"ratio\":0.1,\"big\":1e21,"
	    "\"dry\":true,\"off\":false,\"my_Var\":\"\",\"third\":0.3333333333333333}",
	    "{\"PULSE_PARAM_VERSION\":\"1.2 it's\",\"PULSE_PARAM_N\":\"-5\","
	    "\"PULSE_PARAM_RATIO\":\"0.1\",\"PULSE_PARAM_BIG\":\"1e+21\","
	    "\"PULSE_PARAM_DRY\":\"true\",\"PULSE_PARAM_OFF\":\"false\","
	    "\"PULSE_PARAM_MY_VAR\":\"\","
	    "\"PULSE_PARAM_THIRD\":\"0.3333333333333333\"}"));
	test_cond("env of {} is {}", env_is("{}", "{}"));
	test_cond("env of NULL is {}", params_env(NULL, &e, &err) == 0 &&
	    json_object_object_length(e) == 0);
	json_object_put(e);
	test_cond("env refuses a non-identifier key", env_is("{\"a-b\":\"x\"}",
	    "ERR params.a?b: is not a parameter name"));
	test_cond("env refuses an object value", env_is("{\"a\":{}}",
	    "ERR params.a: has no text for the environment"));
	test_cond("env refuses null", env_is("{\"a\":null}",
	    "ERR params.a: has no text for the environment"));

	/* 256 KiB of names and values at most. */
	big = malloc(8 * PULSE_PARAM_STRING_MAX);
	o = (size_t)sprintf(big, "{");
	for (i = 0; i < 4; i++) {
		o += (size_t)sprintf(big + o, "%s\"p%zu\":\"", i ? "," : "", i);
		memset(big + o, 'v', PULSE_PARAM_STRING_MAX - 20);
		o += PULSE_PARAM_STRING_MAX - 20;
		big[o++] = '"';
	}
	big[o++] = '}';
	big[o] = '\0';
	v = J(big);
	test_cond("env within 256 KiB", params_env(v, &e, &err) == 0 &&
	    json_object_object_length(e) == 4);
	json_object_put(e);
	json_object_put(v);
	strcpy(big + o - 1, ",\"q\":\"0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789\"}");
	v = J(big);
	test_cond("env past 256 KiB refused", params_env(v, &e, &err) == -1 &&
	    e == NULL && strcmp(err.msg, "params.q: the environment would pass "
	    "64 entries or 262144 bytes") == 0);
	json_object_put(v);
	free(big);

	test_cond("env name", params_env_name("abc_D9", name, sizeof(name)) == 0
	    && strcmp(name, "PULSE_PARAM_ABC_D9") == 0);
	test_cond("env name too small a buffer",
	    params_env_name("abc", name, 15) == -1 &&
	    params_env_name("abc", name, 16) == 0);
	test_cond("env name of a non-identifier",
	    params_env_name("a.b", name, sizeof(name)) == -1 &&
	    params_env_name("", name, sizeof(name)) == -1);

	v = json_object_new_double(1.0 / 3);
	test_cond("text of 1/3 reads back", params_text(v, &s, &len, buf) == 0 &&
	    strtod(s, NULL) == 1.0 / 3 && strlen(s) == len);
	json_object_put(v);
	v = json_object_new_double(5e-324);
	test_cond("text of the smallest double",
	    params_text(v, &s, &len, buf) == 0 && strcmp(s, "4.9406564584124654e-324") != 0 &&
	    strtod(s, NULL) == 5e-324 && strcmp(s, "5e-324") == 0);
	json_object_put(v);
	v = json_object_new_double(-1.7976931348623157e308);
	test_cond("text of -DBL_MAX", params_text(v, &s, &len, buf) == 0 &&
	    strcmp(s, "-1.7976931348623157e+308") == 0 && len < PARAMS_TEXT_BUF);
	json_object_put(v);
	v = json_object_new_int64(INT64_MIN);
	test_cond("text of INT64_MIN", params_text(v, &s, &len, buf) == 0 &&
	    strcmp(s, "-9223372036854775808") == 0);
	json_object_put(v);
	v = json_object_new_array();
	test_cond("no text for an array", params_text(v, &s, &len, buf) == -1);
	json_object_put(v);
}

int
main(void)
{
	test_declarations();
	test_resolve();
	test_env();
	test_report();
}
