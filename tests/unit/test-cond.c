/*
 * The condition language (common/cond.c): every grammar rule, operator,
 * method and literal, the semantics a workflow author relies on, every
 * parse and evaluation error with its column, and every limit.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond-context.h"
#include "cond.h"
#include "params.h"
#include "pulse-limits.h"
#include "test.h"

static struct json_object *ctx;

/* Evaluate src in c: 1 or 0 for its truthiness, -1 eval, -2 parse error. */
static int
eval_in(struct json_object *c, const char *src)
{
	struct cond_error	 perr;
	struct cond		*cond;
	char			 err[200];
	int			 rc, result = -1;

	if ((cond = cond_parse(src, strlen(src), &perr)) == NULL) {
		printf("# parse error in %s: %d: %s\n", src, perr.pos,
		    perr.msg);
		return -2;
	}
	rc = cond_eval(cond, c, &result, err, sizeof(err));
	cond_free(cond);
	if (rc == -1) {
		printf("# eval error in %s: %s\n", src, err);
		return -1;
	}
	return result;
}

static int
is_true(const char *src)
{
	return eval_in(ctx, src) == 1;
}

static int
is_false(const char *src)
{
	return eval_in(ctx, src) == 0;
}

/* Parses, fails to evaluate, with exactly msg. */
static int
eval_fails_in(struct json_object *c, const char *src, const char *msg)
{
	struct cond	*cond;
	char		 err[200];
	int		 rc, result = 42;

	if ((cond = cond_parse(src, strlen(src), NULL)) == NULL) {
		printf("# did not parse: %s\n", src);
		return 0;
	}
	rc = cond_eval(cond, c, &result, err, sizeof(err));
	cond_free(cond);
	if (rc != -1 || strcmp(err, msg) != 0 || result != 42) {
		printf("# %s: rc %d, \"%s\"\n", src, rc, err);
		return 0;
	}
	return 1;
}

static int
eval_fails(const char *src, const char *msg)
{
	return eval_fails_in(ctx, src, msg);
}

static int
parse_fails_len(const char *src, size_t len, int pos, const char *msg)
{
	struct cond_error	 err;
	struct cond		*c;

	if ((c = cond_parse(src, len, &err)) != NULL) {
		cond_free(c);
		printf("# parsed: %.*s\n", (int)len, src);
		return 0;
	}
	if (err.pos != pos || strcmp(err.msg, msg) != 0) {
		printf("# %.*s: got %d \"%s\"\n", (int)len, src, err.pos,
		    err.msg);
		return 0;
	}
	return 1;
}

static int
parse_fails(const char *src, int pos, const char *msg)
{
	return parse_fails_len(src, strlen(src), pos, msg);
}

static int
parses(const char *src)
{
	struct cond_error	 err;
	struct cond		*c;

	if ((c = cond_parse(src, strlen(src), &err)) == NULL) {
		printf("# %s: %d: %s\n", src, err.pos, err.msg);
		return 0;
	}
	cond_free(c);
	return 1;
}

/* n copies of s, then mid, then n copies of t. */
static char *
nest(const char *s, size_t n, const char *mid, const char *t)
{
	size_t	 ls = strlen(s), lt = strlen(t), lm = strlen(mid), i;
	char	*out = malloc(n * (ls + lt) + lm + 1), *p = out;

	if (out == NULL)
		abort();
	for (i = 0; i < n; i++, p += ls)
		memcpy(p, s, ls);
	memcpy(p, mid, lm);
	p += lm;
	for (i = 0; i < n; i++, p += lt)
		memcpy(p, t, lt);
	*p = '\0';
	return out;
}

static void
test_literals(void)
{
	test_cond("true is true", is_true("true"));
	test_cond("false is false", is_false("false"));
	test_cond("null is falsy", is_false("null"));
	test_cond("undefined is falsy", is_false("undefined"));
	test_cond("integer literal", is_true("42 === 42"));
	test_cond("zero literal is falsy", is_false("0"));
	test_cond("float literal", is_true("1.25 > 1.2"));
	test_cond("leading-dot float", is_true(".5 === 0.5"));
	test_cond("trailing-dot float", is_true("5. === 5"));
	test_cond("exponent", is_true("1e3 === 1000"));
	test_cond("capital exponent", is_true("1E3 === 1000"));
	test_cond("signed exponent", is_true("1e+3 === 1000 && 15e-1 === 1.5"));
	test_cond("float exponent", is_true("1.5e-3 === 0.0015"));
	test_cond("overflow is Infinity", is_true("1e999 > 1e308"));
	test_cond("0.0 is falsy", is_false("0.0"));
	test_cond("single-quoted string", is_true("'abc' === \"abc\""));
	test_cond("empty string literal", is_false("''"));
	test_cond("non-empty string literal", is_true("'x'"));
	test_cond("double quote inside single",
	    is_true("'say \"hi\"'.length === 8"));
	test_cond("single quote inside double",
	    is_true("\"it's\" === 'it\\'s'"));
	test_cond("escaped double quote", is_true("\"a\\\"b\".length === 3"));
	test_cond("\\n", is_true("'\\n'.length === 1 && '\\n' === '\\u000a'"));
	test_cond("\\t", is_true("'\\t' === '\\u0009'"));
	test_cond("\\\\",
	    is_true("'\\\\'.length === 1 && '\\\\' === '\\u005c'"));
	test_cond("\\r \\b \\f \\v", is_true("'\\r\\b\\f\\v' === "
	    "'\\u000d\\u0008\\u000c\\u000b'"));
	test_cond("\\0 is one NUL byte", is_true("'\\0'.length === 1"));
	test_cond("strings compare past a NUL", is_true("'a\\0b' !== 'a\\0c' "
	    "&& 'a\\0b'.length === 3 && 'a\\0b' !== 'a'"));
	test_cond("\\u two-byte", is_true("'\\u00e9' === '\xc3\xa9'"));
	test_cond("\\u upper-case hex", is_true("'\\u00E9' === '\xc3\xa9'"));
	test_cond("\\u three-byte", is_true("'\\u20ac' === '\xe2\x82\xac'"));
	test_cond("\\u surrogate pair", is_true("'\\uD83D\\uDE00' === "
	    "'\xf0\x9f\x98\x80'"));
	test_cond("\\u0000", is_true("'\\u0000' === '\\0'"));
	test_cond("\\x", is_true("'\\x41' === 'A' && '\\xe9' === '\\u00e9'"));
	test_cond("raw UTF-8 in a string", is_true("'\xc3\xa9t\xc3\xa9'.length "
	    "=== 3"));
	test_cond("whitespace of every kind", is_true(" \t\r\n\v\f1\n===\t1 "));
	test_cond("parenthesised", is_true("(((1)))"));
	test_cond("len, not NUL, ends the source",
	    eval_in(ctx, "1 === 1") == 1);
}

static void
test_not_nul_terminated(void)
{
	struct cond	*c;
	int		 r = -1;
	char		 err[100];

	c = cond_parse("1 === 1 && bad syntax", 7, NULL);
	test_cond("only len bytes are parsed", c != NULL &&
	    cond_eval(c, ctx, &r, err, sizeof(err)) == 0 && r == 1);
	cond_free(c);
	c = cond_parse(NULL, 0, NULL);
	test_cond("NULL source is empty", c == NULL);
}

static void
test_equality(void)
{
	test_cond("=== same number", is_true("1 === 1"));
	test_cond("=== number vs string", is_false("1 === '1'"));
	test_cond("== number vs string", is_true("1 == '1'"));
	test_cond("== string vs number", is_true("'1' == 1"));
	test_cond("== numeric string forms", is_true("1 == '1.0' && "
	    "1000 == '1e3' && 42 == ' 42 ' && 5 == '+5' && 0.5 == '.5' && "
	    "5 == '5.'"));
	test_cond("== hex/octal/binary strings", is_true("'0x1F' == 31 && "
	    "'0o17' == 15 && '0b101' == 5"));
	test_cond("== signed hex string is NaN", is_false("'-0x10' == -16"));
	test_cond("== bad hex digit is NaN", is_false("'0b102' == 5"));
	test_cond("== Infinity strings", is_true("'Infinity' == 1e999 && "
	    "'-Infinity' == -1e999 && '+Infinity' == 1e999"));
	test_cond("== 'inf' is not a number", is_false("'inf' == 1e999"));
	test_cond("== non-numeric string", is_false("'12px' == 12"));
	test_cond("== '1,000'", is_false("'1,000' == 1000"));
	test_cond("== lone '0x'", is_false("'0x' == 0"));
	test_cond("== '.' is NaN", is_false("'.' == 0"));
	test_cond("== '1e' is NaN", is_false("'1e' == 1"));
	test_cond("== empty string is 0", is_true("0 == '' && '' == 0"));
	test_cond("== blank string is 0", is_true("' \\t\\n' == 0"));
	test_cond("=== empty string vs 0", is_false("0 === ''"));
	test_cond("== null undefined", is_true("null == undefined"));
	test_cond("=== null undefined", is_false("null === undefined"));
	test_cond("== null 0", is_false("null == 0"));
	test_cond("== undefined 0", is_false("undefined == 0"));
	test_cond("== null false", is_false("null == false"));
	test_cond("== undefined ''", is_false("undefined == ''"));
	test_cond("== null null", is_true("null == null && "
	    "undefined == undefined"));
	test_cond("=== null null", is_true("null === null && "
	    "undefined === undefined"));
	test_cond("== true 1", is_true("true == 1 && false == 0"));
	test_cond("=== true 1", is_false("true === 1"));
	test_cond("== true 2", is_false("true == 2"));
	test_cond("== boolean vs numeric string",
	    is_true("true == '1' && false == '' && false == '0'"));
	test_cond("== boolean vs word", is_false("true == 'true'"));
	test_cond("=== booleans", is_true("true === true && false !== true"));
	test_cond("== strings", is_true("'abc' == 'abc'"));
	test_cond("== is case-sensitive", is_false("'abc' == 'ABC'"));
	test_cond("!== strings", is_true("'a' !== 'b'"));
	test_cond("!= numbers", is_true("1 != 2"));
	test_cond("!= loose", is_false("1 != '1'"));
	test_cond("!== strict", is_true("1 !== '1'"));
	test_cond("NaN never equals", is_false("-'x' == -'x' || "
	    "-'x' === -'x' || nanv === nanv"));
	test_cond("NaN !== NaN", is_true("nanv !== nanv && nanv != nanv"));
	test_cond("0 === -0", is_true("0 === -0"));
	test_cond("object identity", is_true("state === state && "
	    "state.steps === state.steps"));
	test_cond("different objects", is_false("state.steps[0] === "
	    "state.steps[1]"));
	test_cond("empty objects differ", is_false("emptyObj == obj"));
	test_cond("array vs string", is_false("arr == '1,2'"));
	test_cond("object vs string", is_false("obj == '[object Object]'"));
	test_cond("object vs null", is_false("obj == null"));
	test_cond("array vs number", is_false("emptyArr == 0"));
	test_cond("int and double from JSON", is_true("dbl === 1.5 && "
	    "state.steps[0].exitCode === 0"));
	test_cond("JSON integers past 2^53 round like JavaScript",
	    is_true("big === 9007199254740992"));
	test_cond("chains are left-associative",
	    is_true("1 === 1 === true"));
	test_cond("chains are left-associative (2)",
	    is_false("1 === 1 === 1"));
}

static void
test_relational(void)
{
	test_cond("<", is_true("1 < 2"));
	test_cond("< false", is_false("2 < 1"));
	test_cond("<= equal", is_true("1 <= 1"));
	test_cond("<= less", is_true("-1 <= 1"));
	test_cond("<= greater", is_false("2 <= 1"));
	test_cond(">", is_true("3 > 2"));
	test_cond(">=", is_true("3 >= 3"));
	test_cond(">= false", is_false("2 >= 3"));
	test_cond("string <", is_true("'a' < 'b'"));
	test_cond("string byte order", is_true("'B' < 'a'"));
	test_cond("string prefix is less", is_true("'ab' < 'abc' && "
	    "'abc' > 'ab'"));
	test_cond("string <= >=", is_true("'abc' <= 'abc' && 'abd' >= 'abc'"));
	test_cond("numeric strings compare as strings", is_true("'10' < '9'"));
	test_cond("string vs number compares numerically",
	    is_false("'10' < 9"));
	test_cond("number vs string", is_true("10 > '9'"));
	test_cond("UTF-8 sorts after ASCII", is_true("'z' < '\xc3\xa9'"));
	test_cond("null is 0", is_true("null < 1 && null >= 0"));
	test_cond("undefined is NaN", is_false("undefined < 1 || "
	    "undefined >= 0 || undefined <= 0"));
	test_cond("word vs number is false", is_false("'x' < 1 || "
	    "'x' >= 1"));
	test_cond("boolean is a number", is_true("true > 0 && false < true"));
	test_cond("object is NaN", is_false("state.steps < 1 || "
	    "state.steps >= 1"));
	test_cond("NaN <=", is_false("nanv <= nanv"));
	test_cond("chained relational", is_true("1 < 2 < 3"));
	test_cond("chained relational is left-associative",
	    is_false("3 > 2 > 1"));
	test_cond("relational binds tighter than equality",
	    is_true("1 < 2 === true"));
	test_cond("equality after relational",
	    is_false("1 === 1 < 2"));
	test_cond("exit code comparison",
	    is_true("state.steps[2].exitCode >= 100"));
}

static void
test_unary(void)
{
	test_cond("!true", is_false("!true"));
	test_cond("!false", is_true("!false"));
	test_cond("!!", is_true("!!'a'"));
	test_cond("!0", is_true("!0"));
	test_cond("!-0", is_true("!-0"));
	test_cond("unary minus", is_true("-1 < 0"));
	test_cond("minus of a string", is_true("-'3' === -3"));
	test_cond("minus minus with a space", is_true("- -1 === 1"));
	test_cond("minus null", is_true("-null === 0"));
	test_cond("minus true", is_true("-true === -1"));
	test_cond("minus undefined is NaN", is_false("-undefined === "
	    "-undefined"));
	test_cond("minus object is NaN", is_false("-state === -state"));
	test_cond("! binds tighter than ===", is_true("!1 === false"));
	test_cond("! applies to a postfix chain",
	    is_true("!state.steps[1].exitCode"));
	test_cond("- applies to a postfix chain",
	    is_true("-state.steps[2].exitCode === -100"));
}

static void
test_logic(void)
{
	test_cond("&&", is_false("true && false"));
	test_cond("&& both", is_true("true && 1 && 'x'"));
	test_cond("||", is_true("false || true"));
	test_cond("|| none", is_false("false || 0 || '' || null"));
	test_cond("|| yields the operand", is_true("(0 || 'x') === 'x'"));
	test_cond("|| yields the first truthy",
	    is_true("('a' || 'b') === 'a'"));
	test_cond("|| yields the last when all falsy",
	    is_true("(null || undefined) === undefined"));
	test_cond("&& yields the last", is_true("('a' && 'b') === 'b'"));
	test_cond("&& yields the first falsy", is_true("(0 && 'b') === 0"));
	test_cond("&& short-circuits errors",
	    is_false("false && undefined.trim()"));
	test_cond("|| short-circuits errors",
	    is_true("true || undefined.trim()"));
	test_cond("&& guards a missing member",
	    is_false("state.nope && state.nope.trim() === 'x'"));
	test_cond("&& binds tighter than ||",
	    is_true("true || false && false"));
	test_cond("parentheses override", is_false("(true || false) && false"));
	test_cond("comparisons inside &&", is_true("1 === 1 && 2 === 2"));
	test_cond("long || chain", is_true("0 || 0 || 0 || 0 || 0 || 1"));
	test_cond("value of || in a comparison",
	    is_true("(state.nope || 'default') === 'default'"));
}

static void
test_truthiness(void)
{
	test_cond("'' falsy", is_false("!!''"));
	test_cond("'a' truthy", is_true("!!'a'"));
	test_cond("'0' truthy", is_true("!!'0'"));
	test_cond("'false' truthy", is_true("!!'false'"));
	test_cond("' ' truthy", is_true("!!' '"));
	test_cond("0 falsy", is_false("!!0"));
	test_cond("-0 falsy", is_false("!!-0"));
	test_cond("1 truthy", is_true("!!1"));
	test_cond("-1 truthy", is_true("!!-1"));
	test_cond("0.5 truthy", is_true("!!0.5"));
	test_cond("Infinity truthy", is_true("!!1e999"));
	test_cond("NaN falsy", is_false("!!-'x'"));
	test_cond("NaN from JSON falsy", is_false("nanv"));
	test_cond("null falsy", is_false("!!null"));
	test_cond("undefined falsy", is_false("!!undefined"));
	test_cond("true truthy", is_true("!!true"));
	test_cond("false falsy", is_false("!!false"));
	test_cond("object truthy", is_true("state"));
	test_cond("empty object truthy", is_true("emptyObj"));
	test_cond("empty array truthy", is_true("emptyArr"));
	test_cond("JSON null falsy", is_false("n"));
	test_cond("string result is truthy", is_true("promptResponse"));
	test_cond("empty stderr falsy", is_false("state.steps[0].stderr"));
}

static void
test_members(void)
{
	test_cond("steps[0].status", is_true("state.steps[0].status === "
	    "'succeeded'"));
	test_cond("steps[2].status", is_true("state.steps[2].status === "
	    "'failed'"));
	test_cond("missing element is undefined",
	    is_true("state.steps[5] === undefined"));
	test_cond("member of a missing element is undefined",
	    is_true("state.steps[5].status === undefined"));
	test_cond("missing member is undefined",
	    is_true("state.nope === undefined"));
	test_cond("member of undefined is undefined",
	    is_true("state.nope.deeper.still === undefined"));
	test_cond("member of null is undefined", is_true("n.x === undefined"));
	test_cond("index of null is undefined",
	    is_true("n[0] === undefined && undefined['a'] === undefined"));
	test_cond("member of a number is undefined",
	    is_true("(1).x === undefined && 1 .x === undefined"));
	test_cond("member of a boolean is undefined",
	    is_true("true.x === undefined"));
	test_cond("member of a string is undefined",
	    is_true("'abc'.x === undefined"));
	test_cond("JSON null member is null",
	    is_true("state.steps[2].stderr === null"));
	test_cond("JSON null == undefined",
	    is_true("state.steps[2].stderr == undefined"));
	test_cond("JSON null !== undefined",
	    is_false("state.steps[2].stderr === undefined"));
	test_cond("member with a space by index",
	    is_true("state.responses['User approval'] === 'Yes'"));
	test_cond("nested results",
	    is_true("state.steps[0].results['web-1'].exitCode === 0"));
	test_cond("array length", is_true("state.steps.length === 3"));
	test_cond("empty array length", is_true("emptyArr.length === 0"));
	test_cond("string length", is_true("promptResponse.length === 3"));
	test_cond("string length counts characters",
	    is_true("'h\xc3\xa9llo'.length === 5"));
	test_cond("string length counts UTF-16 units",
	    is_true("'\xf0\x9f\x98\x80'.length === 2"));
	test_cond("malformed UTF-8 counts bytes",
	    is_true("'\xff\xc3'.length === 2"));
	test_cond("string index", is_true("'ab'[1] === 'b'"));
	test_cond("string index past the end",
	    is_true("'ab'[2] === undefined"));
	test_cond("string index of a non-BMP character",
	    is_true("'\xf0\x9f\x98\x80x'[2] === 'x' && "
	    "'\xf0\x9f\x98\x80x'[1] === '\xf0\x9f\x98\x80'"));
	test_cond("string index by numeric string",
	    is_true("'ab'['0'] === 'a'"));
	test_cond("string['length']", is_true("'abc'['length'] === 3"));
	test_cond("array index", is_true("arr[1] === '2'"));
	test_cond("array index by string", is_true("arr['1'] === '2'"));
	test_cond("array index 1.0", is_true("arr[1.0] === '2'"));
	test_cond("array index 1.5", is_true("arr[1.5] === undefined"));
	test_cond("array index -1", is_true("arr[-1] === undefined"));
	test_cond("array index '01'", is_true("arr['01'] === undefined"));
	test_cond("array index ' 1'", is_true("arr[' 1'] === undefined"));
	test_cond("array index past the end", is_true("arr[10] === undefined"));
	test_cond("array huge index", is_true("arr[4294967295] === undefined "
	    "&& arr[99999999999] === undefined"));
	test_cond("array element null", is_true("arr[2] === null"));
	test_cond("array element object", is_true("arr[4].a === 1"));
	test_cond("array other member", is_true("arr.foo === undefined"));
	test_cond("array['length']", is_true("arr['length'] === 6"));
	test_cond("object member named length",
	    is_true("obj.length === 3"));
	test_cond("object by number key", is_true("obj[0] === 'zero'"));
	test_cond("object by empty key", is_true("obj[''] === 'empty'"));
	test_cond("object by computed key",
	    is_true("obj[promptResponse] === undefined"));
	test_cond("object key with a NUL",
	    is_true("obj['a\\0'] === undefined"));
	test_cond("chained index", is_true("obj['a']['b'] === 'c'"));
	test_cond("member of a string member",
	    is_true("obj.a.b.c === undefined"));
	test_cond("keyword as member name",
	    is_true("obj.new === 'kw' && obj.true === undefined"));
	test_cond("method name as member", is_true("obj.trim === undefined"));
	test_cond("index by boolean", is_true("keys[true] === 'm'"));
	test_cond("index by null", is_true("keys[null] === 'n'"));
	test_cond("index by undefined", is_true("keys[undefined] === 'o'"));
	test_cond("index of a method result",
	    is_true("'ABC'.toLowerCase()[1] === 'b'"));
	test_cond("index in an index", is_true("arr[arr[0]] === '2'"));
	test_cond("parenthesised base", is_true("(state).steps[0].name === "
	    "'Update package list'"));
	test_cond("long member chain", is_true("state.execution.started_by "
	    "=== 'alice'"));
}

/* Numbers become member names as JavaScript writes them. */
static void
test_number_keys(void)
{
	test_cond("key 1.5", is_true("keys[1.5] === 'a'"));
	test_cond("key 1e21", is_true("keys[1e21] === 'b'"));
	test_cond("key 1e-7", is_true("keys[1e-7] === 'c'"));
	test_cond("key 0.000001", is_true("keys[0.000001] === 'd'"));
	test_cond("key -1", is_true("keys[-1] === 'e'"));
	test_cond("key 1e2", is_true("keys[1e2] === 'f'"));
	test_cond("key NaN", is_true("keys[-'x'] === 'g'"));
	test_cond("key Infinity", is_true("keys[1e999] === 'h'"));
	test_cond("key -Infinity", is_true("keys[-1e999] === 'i'"));
	test_cond("key -0", is_true("keys[-0] === 'j'"));
	test_cond("key of a 21-digit integer",
	    is_true("keys[123456789012345678901] === 'k'"));
	test_cond("key 0.1", is_true("keys[0.1] === 'l'"));
	test_cond("key of the largest double",
	    is_true("keys[1.7976931348623157e308] === 'p'"));
	test_cond("key of the smallest double",
	    is_true("keys[5e-324] === 'q'"));
	test_cond("key -0.5", is_true("keys[-.5] === 'r'"));
}

static void
test_methods(void)
{
	test_cond("includes", is_true("promptResponse.includes('Ye')"));
	test_cond("includes is case-sensitive",
	    is_false("promptResponse.includes('yes')"));
	test_cond("includes ''", is_true("''.includes('')"));
	test_cond("includes longer needle", is_false("'abc'.includes('abcd')"));
	test_cond("includes at the end", is_true("'abc'.includes('bc')"));
	test_cond("includes a number", is_true("'a1b'.includes(1)"));
	test_cond("includes a float", is_true("'v1.5'.includes(1.5)"));
	test_cond("includes true", is_true("'xtrue'.includes(true)"));
	test_cond("includes null", is_true("'null'.includes(null)"));
	test_cond("includes undefined",
	    is_true("'undefined'.includes(undefined)"));
	test_cond("includes in stdout",
	    is_true("state.steps[0].stdout.includes('OK')"));
	test_cond("includes with a NUL", is_true("'a\\0b'.includes('\\0b')"));
	test_cond("array includes a string", is_true("arr.includes('2')"));
	test_cond("array includes is strict", is_false("arr.includes(2)"));
	test_cond("array includes a number", is_true("arr.includes(1)"));
	test_cond("array includes null", is_true("arr.includes(null)"));
	test_cond("array includes true", is_true("arr.includes(true)"));
	test_cond("array includes undefined",
	    is_false("arr.includes(undefined)"));
	test_cond("array includes NaN", is_true("arr.includes(-'x')"));
	test_cond("array includes an object by identity",
	    is_true("arr.includes(arr[4])"));
	test_cond("array includes another object",
	    is_false("arr.includes(obj)"));
	test_cond("empty array includes", is_false("emptyArr.includes(1)"));
	test_cond("startsWith", is_true("'abc'.startsWith('ab')"));
	test_cond("startsWith false", is_false("'abc'.startsWith('bc')"));
	test_cond("startsWith ''", is_true("'abc'.startsWith('')"));
	test_cond("startsWith longer", is_false("'ab'.startsWith('abc')"));
	test_cond("startsWith a number", is_true("'100 ok'.startsWith(100)"));
	test_cond("endsWith", is_true("'abc'.endsWith('bc')"));
	test_cond("endsWith false", is_false("'abc'.endsWith('ab')"));
	test_cond("endsWith ''", is_true("'abc'.endsWith('')"));
	test_cond("endsWith longer", is_false("'bc'.endsWith('abc')"));
	test_cond("endsWith newline",
	    is_true("state.steps[0].stdout.endsWith('OK\\n')"));
	test_cond("trim", is_true("'  a b \\t\\n'.trim() === 'a b'"));
	test_cond("trim empty", is_true("''.trim() === ''"));
	test_cond("trim blank", is_true("' \\r\\n\\v\\f '.trim() === ''"));
	test_cond("trim keeps inner space", is_true("' a  b '.trim() === "
	    "'a  b'"));
	test_cond("trim is ASCII only",
	    is_true("'\\u00a0a'.trim() === '\\u00a0a'"));
	test_cond("toLowerCase", is_true("'AbC'.toLowerCase() === 'abc'"));
	test_cond("toLowerCase is ASCII only",
	    is_true("'\xc3\x84""B'.toLowerCase() === '\xc3\x84""b'"));
	test_cond("toUpperCase", is_true("'abc1'.toUpperCase() === 'ABC1'"));
	test_cond("toUpperCase keeps NUL",
	    is_true("'a\\0b'.toUpperCase() === 'A\\0B'"));
	test_cond("chained methods", is_true("state.steps[2].stdout.trim()"
	    ".toLowerCase() === 'mixed case'"));
	test_cond("trim then startsWith",
	    is_true("' YES '.trim().toLowerCase().startsWith('y')"));
	test_cond("length of a method result",
	    is_true("'ABC '.toLowerCase().trim().length === 3"));
	test_cond("method result as an argument", is_true("'abc'.includes("
	    "'B'.toLowerCase())"));
	test_cond("method on a parenthesised string",
	    is_true("('a' || 'b').toUpperCase() === 'A'"));
	test_cond("space before a method", is_true("' x ' . trim ( ) === 'x'"));
}

static void
test_spec_examples(void)
{
	struct json_object	*c;

	test_cond("SPEC: promptResponse === 'Yes'",
	    is_true("promptResponse === 'Yes'"));
	c = json_tokener_parse("{\"promptResponse\":\"No\",\"state\":{}}");
	test_cond("SPEC: 'No' skips the step",
	    eval_in(c, "promptResponse === 'Yes'") == 0);
	json_object_put(c);
	c = json_tokener_parse("{\"promptResponse\":null,\"state\":{}}");
	test_cond("SPEC: no answer yet skips the step",
	    eval_in(c, "promptResponse === 'Yes'") == 0);
	test_cond("state.steps on an empty state is undefined",
	    eval_in(c, "state.steps[0].status === undefined") == 1);
	json_object_put(c);
	test_cond("state.promptResponse",
	    is_true("state.promptResponse === 'Yes'"));
	test_cond("answer by step name",
	    is_true("state.responses['Cleanup decision'] === 'No'"));
	test_cond("a worker's exit code",
	    is_true("state.steps[0].results['db-1'].exitCode !== 0"));
	test_cond("who started it",
	    is_true("state.execution.started_by === 'alice'"));
	test_cond("status check with ||", is_true("state.steps[0].status === "
	    "'succeeded' || state.steps[0].status === 'skipped'"));
	test_cond("loose exit code", is_true("state.steps[0].exitCode == '0'"));
	test_cond("negated", is_true("!(promptResponse === 'No')"));
	test_cond("evaluating twice gives the same answer",
	    is_true("promptResponse === 'Yes'") &&
	    is_true("promptResponse === 'Yes'"));
}

static void
test_parse_errors(void)
{
	test_cond("empty", parse_fails("", 1,
	    "expected an expression but found end of input"));
	test_cond("blank", parse_fails("   ", 4,
	    "expected an expression but found end of input"));
	test_cond("assignment", parse_fails("a = 1", 3,
	    "unexpected character '='"));
	test_cond("member assignment", parse_fails("a.b = 1", 5,
	    "unexpected character '='"));
	test_cond("index assignment", parse_fails("a[0] = 1", 6,
	    "unexpected character '='"));
	test_cond("=== =", parse_fails("a === = b", 7,
	    "unexpected character '='"));
	test_cond("arrow function", parse_fails("a => 1", 3,
	    "unexpected character '='"));
	test_cond("plus", parse_fails("1 + 2", 3, "unexpected character '+'"));
	test_cond("unary plus", parse_fails("+1", 1,
	    "unexpected character '+'"));
	test_cond("template literal", parse_fails("`x${a}`", 1,
	    "template literals are not allowed"));
	test_cond("template literal later", parse_fails("a === `x`", 7,
	    "template literals are not allowed"));
	test_cond("ternary", parse_fails("a ? b : c", 3,
	    "unexpected character '?'"));
	test_cond("optional chaining", parse_fails("a?.b", 2,
	    "unexpected character '?'"));
	test_cond("bitwise or", parse_fails("a | b", 3,
	    "unexpected character '|'"));
	test_cond("bitwise and", parse_fails("a & b", 3,
	    "unexpected character '&'"));
	test_cond("semicolon", parse_fails("a; b", 2,
	    "unexpected character ';'"));
	test_cond("comment", parse_fails("1 // x", 3,
	    "unexpected character '/'"));
	test_cond("object literal", parse_fails("{}", 1,
	    "unexpected character '{'"));
	test_cond("array literal", parse_fails("[1]", 1,
	    "expected an expression but found '['"));
	test_cond("non-ASCII outside a string", parse_fails("\xc3\xa9", 1,
	    "unexpected byte 0xc3"));
	test_cond("NUL byte", parse_fails_len("a\0", 2, 2,
	    "unexpected byte 0x00"));
	test_cond("backslash outside a string", parse_fails("\\u0061", 1,
	    "unexpected character '\\'"));
	test_cond("decrement", parse_fails("--a", 1, "'--' is not allowed"));
	test_cond("post-decrement", parse_fails("a--", 2,
	    "'--' is not allowed"));
	test_cond("HTML comment", parse_fails("a <!--b", 5,
	    "'--' is not allowed"));
	test_cond("unclosed paren", parse_fails("(a", 3,
	    "expected ')' but found end of input"));
	test_cond("wrong closer", parse_fails("(a]", 3,
	    "expected ')' but found ']'"));
	test_cond("unclosed bracket", parse_fails("a[1", 4,
	    "expected ']' but found end of input"));
	test_cond("empty index", parse_fails("a[]", 3,
	    "expected an expression but found ']'"));
	test_cond("stray closer", parse_fails(")", 1,
	    "expected an expression but found ')'"));
	test_cond("empty parens", parse_fails("()", 2,
	    "expected an expression but found ')'"));
	test_cond("two identifiers", parse_fails("a b", 3,
	    "expected an operator or end of input but found 'b'"));
	test_cond("two numbers", parse_fails("1 2", 3,
	    "expected an operator or end of input but found '2'"));
	test_cond("a string after", parse_fails("a 'x'", 3,
	    "expected an operator or end of input but found a string"));
	test_cond("trailing paren", parse_fails("a)", 2,
	    "expected an operator or end of input but found ')'"));
	test_cond("long token is cut in the message", parse_fails(
	    "a abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", 3,
	    "expected an operator or end of input but found "
	    "'abcdefghijklmnopqrstuvwxyzABCDEF...'"));
	test_cond("in operator", parse_fails("a in b", 3,
	    "expected an operator or end of input but found 'in'"));
	test_cond("dot at the end", parse_fails("a.", 3,
	    "expected a member name after '.' but found end of input"));
	test_cond("dot number", parse_fails("a.1", 2,
	    "expected an operator or end of input but found '.1'"));
	test_cond("dot string", parse_fails("a.'x'", 3,
	    "expected a member name after '.' but found a string"));
	test_cond("spread", parse_fails("a...b", 3,
	    "expected a member name after '.' but found '.'"));
	test_cond("missing right operand", parse_fails("a ===", 6,
	    "expected an expression but found end of input"));
	test_cond("missing operand of !", parse_fails("!", 2,
	    "expected an expression but found end of input"));
	test_cond("missing operand of &&", parse_fails("a &&", 5,
	    "expected an expression but found end of input"));
	test_cond("missing left operand", parse_fails("|| a", 1,
	    "expected an expression but found '||'"));
	test_cond("==== ", parse_fails("a ==== b", 6,
	    "unexpected character '='"));
	test_cond("unterminated string", parse_fails("a === 'abc", 7,
	    "unterminated string"));
	test_cond("mismatched quotes", parse_fails("\"abc'", 1,
	    "unterminated string"));
	test_cond("newline in a string", parse_fails("'a\nb'", 1,
	    "unterminated string"));
	test_cond("CR in a string", parse_fails("'a\rb'", 1,
	    "unterminated string"));
	test_cond("backslash at the end", parse_fails("'abc\\", 1,
	    "unterminated string"));
	test_cond("escaped closing quote only", parse_fails("'abc\\'", 1,
	    "unterminated string"));
	test_cond("unknown escape", parse_fails("'\\q'", 2,
	    "unknown escape '\\q'"));
	test_cond("line continuation", parse_fails("'a\\\nb'", 3,
	    "unknown escape"));
	test_cond("octal escape \\01", parse_fails("'\\01'", 2,
	    "octal escapes are not allowed"));
	test_cond("octal escape \\1", parse_fails("'x\\1'", 3,
	    "octal escapes are not allowed"));
	test_cond("\\8", parse_fails("'\\8'", 2,
	    "octal escapes are not allowed"));
	test_cond("short \\u", parse_fails("'\\u12'", 2,
	    "\\u must be followed by four hex digits"));
	test_cond("\\u at the end", parse_fails("'\\u", 2,
	    "\\u must be followed by four hex digits"));
	test_cond("\\u{}", parse_fails("'\\u{41}'", 2,
	    "\\u must be followed by four hex digits"));
	test_cond("\\u non-hex", parse_fails("'\\u00g0'", 2,
	    "\\u must be followed by four hex digits"));
	test_cond("lone high surrogate", parse_fails("'x\\uD83D'", 3,
	    "unpaired surrogate in \\u escape"));
	test_cond("high surrogate then text", parse_fails("'\\uD83Dabcdef'", 2,
	    "unpaired surrogate in \\u escape"));
	test_cond("two high surrogates", parse_fails("'\\uD83D\\uD83D'", 2,
	    "unpaired surrogate in \\u escape"));
	test_cond("lone low surrogate", parse_fails("'\\uDE00'", 2,
	    "unpaired surrogate in \\u escape"));
	test_cond("short \\x", parse_fails("'\\x4'", 2,
	    "\\x must be followed by two hex digits"));
	test_cond("\\x non-hex", parse_fails("'\\xG1'", 2,
	    "\\x must be followed by two hex digits"));
	test_cond("leading zero", parse_fails("01", 1,
	    "numbers with a leading zero are not allowed"));
	test_cond("hex literal", parse_fails("0x10", 2,
	    "unexpected character 'x'"));
	test_cond("BigInt literal", parse_fails("1n", 2,
	    "unexpected character 'n'"));
	test_cond("numeric separator", parse_fails("1_000", 2,
	    "unexpected character '_'"));
	test_cond("bad exponent", parse_fails("1e", 2,
	    "malformed exponent in number"));
	test_cond("bad signed exponent", parse_fails("2 < 1e+", 6,
	    "malformed exponent in number"));
	test_cond("number then identifier", parse_fails("1.foo", 3,
	    "unexpected character 'f'"));
	test_cond("function call", parse_fails("foo()", 4,
	    "only the methods includes, startsWith, endsWith, trim, "
	    "toLowerCase and toUpperCase can be called"));
	test_cond("call of a parenthesised expression", parse_fails(
	    "(a)(1)", 4, "only the methods includes, startsWith, endsWith, "
	    "trim, toLowerCase and toUpperCase can be called"));
	test_cond("call of an index", parse_fails("a['trim']()", 10,
	    "only the methods includes, startsWith, endsWith, trim, "
	    "toLowerCase and toUpperCase can be called"));
	test_cond("call of a method result", parse_fails("a.trim()()", 9,
	    "only the methods includes, startsWith, endsWith, trim, "
	    "toLowerCase and toUpperCase can be called"));
	test_cond("unknown method", parse_fails("a.foo()", 3,
	    "'foo' cannot be called: the only methods are includes, "
	    "startsWith, endsWith, trim, toLowerCase and toUpperCase"));
	test_cond("eval is not a method", parse_fails("a.eval('1')", 3,
	    "'eval' cannot be called: the only methods are includes, "
	    "startsWith, endsWith, trim, toLowerCase and toUpperCase"));
	test_cond("method names are case-sensitive", parse_fails(
	    "a.TRIM()", 3, "'TRIM' cannot be called: the only methods are "
	    "includes, startsWith, endsWith, trim, toLowerCase and "
	    "toUpperCase"));
	test_cond("trim with an argument", parse_fails("a.trim(1)", 3,
	    "trim() takes no arguments"));
	test_cond("toLowerCase with an argument", parse_fails(
	    "a.toLowerCase('x')", 3, "toLowerCase() takes no arguments"));
	test_cond("toUpperCase with an argument", parse_fails(
	    "a.toUpperCase(1, 2)", 3, "toUpperCase() takes no arguments"));
	test_cond("includes without an argument", parse_fails(
	    "a.includes()", 3, "includes() takes exactly one argument"));
	test_cond("includes with two arguments", parse_fails(
	    "a.includes('a', 1)", 3, "includes() takes exactly one argument"));
	test_cond("startsWith with two arguments", parse_fails(
	    "a.startsWith('a', 1)", 3,
	    "startsWith() takes exactly one argument"));
	test_cond("endsWith without an argument", parse_fails(
	    "a.endsWith()", 3, "endsWith() takes exactly one argument"));
	test_cond("trailing comma in a call", parse_fails("a.includes('a',)",
	    16, "expected an expression but found ')'"));
	test_cond("unclosed call", parse_fails("a.includes('a'", 15,
	    "expected ',' or ')' but found end of input"));
	test_cond("unclosed empty call", parse_fails("a.trim(", 8,
	    "expected an expression but found end of input"));
	test_cond("new", parse_fails("new Foo()", 1, "'new' is not allowed"));
	test_cond("typeof", parse_fails("typeof a", 1,
	    "'typeof' is not allowed"));
	test_cond("this", parse_fails("this.x", 1, "'this' is not allowed"));
	test_cond("function", parse_fails("function(){}", 1,
	    "'function' is not allowed"));
	test_cond("void", parse_fails("a || void 0", 6,
	    "'void' is not allowed"));
	test_cond("delete", parse_fails("delete a.b", 1,
	    "'delete' is not allowed"));
	test_cond("keywords inside a call", parse_fails(
	    "a.includes(new b)", 12, "'new' is not allowed"));
	test_cond("a near-keyword is an identifier", parse_fails(
	    "newer(1)", 6, "only the methods includes, startsWith, endsWith, "
	    "trim, toLowerCase and toUpperCase can be called"));
	test_cond("the first error wins", parse_fails("(a = 1", 4,
	    "unexpected character '='"));
}

static void
test_forbidden(void)
{
	test_cond("constructor", parse_fails("constructor", 1,
	    "'constructor' is not allowed"));
	test_cond("constructor.constructor", parse_fails(
	    "constructor.constructor", 1, "'constructor' is not allowed"));
	test_cond("__proto__", parse_fails("__proto__", 1,
	    "'__proto__' is not allowed"));
	test_cond("prototype", parse_fails("prototype", 1,
	    "'prototype' is not allowed"));
	test_cond(".constructor", parse_fails("state.constructor", 7,
	    "member 'constructor' is not allowed"));
	test_cond(".__proto__", parse_fails("state.__proto__", 7,
	    "member '__proto__' is not allowed"));
	test_cond(".prototype", parse_fails("state.steps.prototype", 13,
	    "member 'prototype' is not allowed"));
	test_cond("['__proto__']", parse_fails("state['__proto__']", 7,
	    "member '__proto__' is not allowed"));
	test_cond("[\"constructor\"]", parse_fails("state[\"constructor\"]",
	    7, "member 'constructor' is not allowed"));
	test_cond("escaped name in []", parse_fails(
	    "state['\\u005f_proto__']", 7,
	    "member '__proto__' is not allowed"));
	test_cond("constructor escape", parse_fails(
	    "promptResponse.constructor.constructor('return 1')()", 16,
	    "member 'constructor' is not allowed"));
	test_cond("similar names are fine",
	    is_true("state.constructors === undefined && "
	    "state['__proto'] === undefined"));
	test_cond("computed __proto__ at run time", eval_fails("state[pk]",
	    "at column 6: member '__proto__' is not allowed"));
	test_cond("computed constructor at run time", eval_fails(
	    "promptResponse[ck] === 1", "at column 15: member 'constructor' "
	    "is not allowed"));
	test_cond("even on undefined", eval_fails("state.nope[ck]",
	    "at column 11: member 'constructor' is not allowed"));
}

static void
test_eval_errors(void)
{
	struct json_object	*c;
	struct cond		*cond;
	char			 small[16];
	int			 r = 7;

	test_cond("unknown identifier", eval_fails("nope",
	    "at column 1: unknown identifier 'nope'"));
	test_cond("unknown identifier later", eval_fails(
	    "promptResponse === Yes",
	    "at column 20: unknown identifier 'Yes'"));
	test_cond("NaN is an identifier", eval_fails("1 === NaN",
	    "at column 7: unknown identifier 'NaN'"));
	test_cond("unknown identifier in an argument", eval_fails(
	    "'a'.includes(x)", "at column 14: unknown identifier 'x'"));
	test_cond("unknown identifier in an index", eval_fails(
	    "state[x]", "at column 7: unknown identifier 'x'"));
	test_cond("unknown identifier after &&", eval_fails(
	    "true && x", "at column 9: unknown identifier 'x'"));
	test_cond("unknown identifier under !", eval_fails(
	    "!x", "at column 2: unknown identifier 'x'"));
	test_cond("unknown identifier in a comparison", eval_fails(
	    "1 < x", "at column 5: unknown identifier 'x'"));
	test_cond("unknown identifier on the left", eval_fails(
	    "x < 1", "at column 1: unknown identifier 'x'"));
	test_cond("trim() on undefined", eval_fails("undefined.trim()",
	    "at column 11: trim() called on undefined"));
	test_cond("trim() on a missing member", eval_fails(
	    "state.nope.trim() === ''", "at column 12: trim() called on "
	    "undefined"));
	test_cond("toLowerCase() on null", eval_fails("n.toLowerCase()",
	    "at column 3: toLowerCase() called on null"));
	test_cond("toUpperCase() on a number", eval_fails(
	    "state.steps[0].exitCode.toUpperCase()",
	    "at column 25: toUpperCase() called on a number"));
	test_cond("includes() on a number", eval_fails("(1).includes(1)",
	    "at column 5: includes() called on a number"));
	test_cond("startsWith() on an object", eval_fails(
	    "state.startsWith('a')", "at column 7: startsWith() called on "
	    "an object"));
	test_cond("trim() on an array", eval_fails("state.steps.trim()",
	    "at column 13: trim() called on an array"));
	test_cond("endsWith() on a boolean", eval_fails("true.endsWith('')",
	    "at column 6: endsWith() called on a boolean"));
	test_cond("startsWith() on an array", eval_fails("arr.startsWith(1)",
	    "at column 5: startsWith() called on an array"));
	test_cond("includes() of an object", eval_fails(
	    "'abc'.includes(state)", "at column 7: includes() argument "
	    "cannot be an object"));
	test_cond("endsWith() of an array", eval_fails(
	    "'abc'.endsWith(arr)", "at column 7: endsWith() argument "
	    "cannot be an array"));
	test_cond("object as a member name", eval_fails("obj[obj]",
	    "at column 4: an object cannot be used as a member name"));
	test_cond("array as a member name", eval_fails("obj[arr]",
	    "at column 4: an array cannot be used as a member name"));
	test_cond("error inside a method chain", eval_fails(
	    "' A '.trim().toLowerCase().x.trim()",
	    "at column 30: trim() called on undefined"));

	c = json_object_new_object();
	test_cond("empty context: unknown identifier", eval_fails_in(c,
	    "promptResponse", "at column 1: unknown identifier "
	    "'promptResponse'"));
	json_object_put(c);
	test_cond("NULL context: unknown identifier", eval_fails_in(NULL,
	    "state.x", "at column 1: unknown identifier 'state'"));
	c = json_object_new_array();
	test_cond("array context: unknown identifier", eval_fails_in(c,
	    "state", "at column 1: unknown identifier 'state'"));
	json_object_put(c);
	test_cond("literals need no context", eval_in(NULL, "1 < 2") == 1);

	cond = cond_parse("nope", 4, NULL);
	test_cond("NULL error buffer", cond != NULL &&
	    cond_eval(cond, ctx, &r, NULL, 0) == -1 && r == 7);
	test_cond("small error buffer is cut",
	    cond_eval(cond, ctx, &r, small, sizeof(small)) == -1 &&
	    strcmp(small, "at column 1: un") == 0);
	test_cond("tiny error buffer",
	    cond_eval(cond, ctx, &r, small, 5) == -1 &&
	    strcmp(small, "at c") == 0);
	cond_free(cond);
	test_cond("NULL condition", cond_eval(NULL, ctx, &r, small,
	    sizeof(small)) == -1 && strcmp(small, "no condition") == 0);
	cond_free(NULL);	/* a crash here fails the run */
}

static void
test_limits(void)
{
	struct json_object	*c;
	char			*s, *big;
	int			 ok;

	/* Source: COND_SOURCE_MAX bytes, then one more. */
	big = malloc(COND_SOURCE_MAX + 2);
	if (big == NULL)
		abort();
	memset(big, 'a', COND_SOURCE_MAX + 1);
	big[0] = '\'';
	big[COND_SOURCE_MAX - 1] = '\'';
	big[COND_SOURCE_MAX] = '\0';
	test_cond("source of exactly COND_SOURCE_MAX bytes parses",
	    parses(big));
	test_cond("a literal as long as the source allows",
	    is_true(big));
	big[COND_SOURCE_MAX - 1] = 'a';
	big[COND_SOURCE_MAX] = '\'';
	big[COND_SOURCE_MAX + 1] = '\0';
	test_cond("one byte more is refused", parse_fails(big, 0,
	    "expression longer than 4096 bytes"));
	free(big);

	/* Nesting: parentheses, !, [], method calls, and a mix. */
	s = nest("(", COND_DEPTH_MAX, "1", ")");
	test_cond("64 parentheses parse", is_true(s));
	free(s);
	s = nest("(", COND_DEPTH_MAX + 1, "1", ")");
	test_cond("65 parentheses fail at the 65th", parse_fails(s, 65,
	    "expression nested more than 64 levels deep"));
	free(s);
	s = nest("!", COND_DEPTH_MAX, "1", "");
	test_cond("64 ! parse", is_true(s));
	free(s);
	s = nest("!", COND_DEPTH_MAX + 1, "1", "");
	test_cond("65 ! fail", parse_fails(s, 65,
	    "expression nested more than 64 levels deep"));
	free(s);
	s = nest("- ", COND_DEPTH_MAX + 1, "1", "");
	test_cond("65 unary minus fail", parse_fails(s, 129,
	    "expression nested more than 64 levels deep"));
	free(s);
	s = nest("arr[", COND_DEPTH_MAX, "0", "]");
	test_cond("64 nested indexes parse", eval_in(ctx, s) == 0);
	free(s);
	s = nest("arr[", COND_DEPTH_MAX + 1, "0", "]");
	test_cond("65 nested indexes fail", parse_fails(s, 260,
	    "expression nested more than 64 levels deep"));
	free(s);
	s = nest("'a'.includes(", COND_DEPTH_MAX, "'a'", ")");
	test_cond("64 nested method calls parse", is_false(s));
	free(s);
	s = nest("'a'.includes(", COND_DEPTH_MAX + 1, "'a'", ")");
	test_cond("65 nested method calls fail", parse_fails(s, 845,
	    "expression nested more than 64 levels deep"));
	free(s);
	s = nest("(!", COND_DEPTH_MAX / 2, "0", ")");
	test_cond("32 parentheses and 32 ! parse", is_false(s));
	free(s);
	s = nest("(!", COND_DEPTH_MAX / 2, "(0)", ")");
	test_cond("one more level fails", parse_fails(s, 65,
	    "expression nested more than 64 levels deep"));
	free(s);
	s = nest("(", 100000, "1", ")");
	test_cond("100000 parentheses fail cleanly", parse_fails(s, 0,
	    "expression longer than 4096 bytes"));
	free(s);
	s = nest("(", COND_SOURCE_MAX, "", "");
	test_cond("4096 open parentheses fail at the 65th", parse_fails(s, 65,
	    "expression nested more than 64 levels deep"));
	free(s);
	s = nest("!", COND_SOURCE_MAX, "", "");
	test_cond("4096 ! fail at the 65th", parse_fails(s, 65,
	    "expression nested more than 64 levels deep"));
	free(s);

	/* Long flat chains are not nesting, and evaluate without it. */
	s = nest("0||", 1365, "1", "");
	test_cond("a 1366-term || chain", is_true(s));
	free(s);
	s = nest("", 0, "state", "");
	big = nest(".x", 2000, "", "");
	s = realloc(s, strlen(big) + 6);
	if (s == NULL)
		abort();
	strcat(s, big);
	test_cond("a 2000-member chain is undefined", is_false(s));
	free(s);
	free(big);
	s = nest("1==", 1365, "1", "");
	test_cond("a 1366-term == chain", is_true(s));
	free(s);

	/* Strings made at run time stay within COND_STRING_MAX. */
	c = json_object_new_object();
	big = malloc(COND_STRING_MAX + 2);
	if (big == NULL)
		abort();
	memset(big, 'A', COND_STRING_MAX + 1);
	big[COND_STRING_MAX + 1] = '\0';
	json_object_object_add(c, "longer",
	    json_object_new_string_len(big, COND_STRING_MAX + 1));
	big[COND_STRING_MAX - 1] = 'B';
	json_object_object_add(c, "max",
	    json_object_new_string_len(big, COND_STRING_MAX));
	free(big);
	ok = eval_in(c, "max.toLowerCase().endsWith('ab') && "
	    "max.toLowerCase().length === 65536") == 1;
	test_cond("toLowerCase() of COND_STRING_MAX bytes", ok);
	test_cond("toUpperCase() of COND_STRING_MAX bytes",
	    eval_in(c, "max.toUpperCase().length === 65536") == 1);
	test_cond("toLowerCase() of one byte more", eval_fails_in(c,
	    "longer.toLowerCase()", "at column 8: toLowerCase() result "
	    "longer than 65536 bytes"));
	test_cond("toUpperCase() of one byte more", eval_fails_in(c,
	    "longer.trim().toUpperCase()", "at column 15: toUpperCase() "
	    "result longer than 65536 bytes"));
	test_cond("reading a long string is fine", eval_in(c,
	    "longer.length === 65537 && longer.includes('A') && "
	    "longer.trim().startsWith('AAA') && longer < max") == 1);
	json_object_put(c);
}

static int
known_param(const char *name, size_t len, void *arg)
{
	return params_find(arg, name, len) != -1;
}

/* src checks against ps: pos 0 and msg NULL for "passes". */
static int
check_params(struct params *ps, const char *src, int pos, const char *msg)
{
	struct cond_error	 err;
	struct cond		*c;
	int			 rc;

	if ((c = cond_parse(src, strlen(src), NULL)) == NULL)
		return 0;
	rc = cond_check_params(c, known_param, ps, &err);
	cond_free(c);
	if (msg == NULL ? rc != 0 : rc != -1 || err.pos != pos ||
	    strcmp(err.msg, msg) != 0) {
		printf("# %s: rc %d at %d: %s\n", src, rc, err.pos, err.msg);
		return 0;
	}
	return 1;
}

/*
 * params: the execution's resolved parameters, as the engine hands them
 * over (params_resolve(), then cond_set_params()), and an empty object
 * when there are none, so params.x of a parameter not given is undefined.
 */
static void
test_params(void)
{
	struct json_object	*decl, *given, *resolved, *c;
	struct params		*ps;
	struct fielderr	 perr;
	int			 ok;

	decl = json_tokener_parse("[{\"name\":\"env\",\"type\":\"choice\","
	    "\"options\":[\"dev\",\"prod\"]},{\"name\":\"n\",\"type\":"
	    "\"integer\",\"default\":5},{\"name\":\"ratio\",\"type\":"
	    "\"number\"},{\"name\":\"dry\",\"type\":\"boolean\"},"
	    "{\"name\":\"version\",\"type\":\"string\"},"
	    "{\"name\":\"note\",\"type\":\"string\"}]");
	given = json_tokener_parse("{\"env\":\"prod\",\"ratio\":\"0.1\","
	    "\"dry\":\"false\",\"version\":\"1.2.3\"}");
	ok = params_from_json(decl, &ps, &perr) == 0 &&
	    params_resolve(ps, given, &resolved, &perr) == 0;
	test_cond("params resolve for the condition tests", ok);
	if (!ok) {
		printf("# %s\n", perr.msg);
		return;
	}
	c = json_tokener_parse(ctx_json);
	cond_set_params(c, resolved);
	json_object_put(resolved);	/* c holds its own reference */
	test_cond("params.env === 'prod'", eval_in(c, "params.env === 'prod'")
	    == 1);
	test_cond("params.env !== 'dev'", eval_in(c, "params.env !== 'dev'")
	    == 1);
	test_cond("a default: params.n === 5 and > 3",
	    eval_in(c, "params.n === 5 && params.n > 3") == 1);
	test_cond("a normalised number", eval_in(c, "params.ratio === 0.1 && "
	    "params.ratio < 1") == 1);
	test_cond("a normalised boolean", eval_in(c, "params.dry === false && "
	    "!params.dry") == 1);
	test_cond("string methods", eval_in(c, "params.version.startsWith('1.')"
	    " && params.version.length === 5") == 1);
	test_cond("index access", eval_in(c, "params['env'] == 'prod'") == 1);
	test_cond("not given: undefined", eval_in(c, "params.note === undefined"
	    " && !params.note && params.note == null") == 1);
	test_cond("not declared: undefined too",
	    eval_in(c, "params.nope === undefined") == 1);
	test_cond("member of undefined is undefined",
	    eval_in(c, "params.nope.deeper === undefined") == 1);
	test_cond("method on undefined is an error", eval_fails_in(c,
	    "params.note.trim()", "at column 13: trim() called on undefined"));
	test_cond("params beside state", eval_in(c, "params.env === 'prod' && "
	    "state.steps[0].status === 'succeeded'") == 1);
	test_cond("params.__proto__ refused", eval_in(c, "params.__proto__")
	    == -2);

	/* Without params: an empty object, whatever the context. */
	cond_set_params(c, NULL);
	test_cond("no params: params.x is undefined",
	    eval_in(c, "params.env === undefined") == 1);
	test_cond("no params: params is an object, truthy",
	    eval_in(c, "params") == 1 && eval_in(c, "params.length") == 0);
	test_cond("no context at all: params.x is undefined",
	    eval_in(NULL, "params.env === undefined") == 1);
	test_cond("no context at all: other names still unknown",
	    eval_fails_in(NULL, "state.x", "at column 1: unknown identifier "
	    "'state'"));
	test_cond("params compared to itself", eval_in(c, "params === params")
	    == 1);
	cond_set_params(c, NULL);
	test_cond("removing twice is fine", eval_in(c, "!params.x") == 1);
	cond_set_params(NULL, NULL);	/* no context: nothing to do */

	/* At save: the names read are declared. */
	test_cond("check: declared names pass",
	    check_params(ps, "params.env === 'prod' && params['nope'] !== 1 "
	    "&& params.n > 1", 0, NULL));
	test_cond("check: an unknown name, with its column",
	    check_params(ps, "params.env === 'prod' || params.nope", 33,
	    "unknown parameter 'nope'"));
	test_cond("check: the leftmost unknown name",
	    check_params(ps, "(params.a || params.b).length", 9,
	    "unknown parameter 'a'"));
	test_cond("check: inside a method argument",
	    check_params(ps, "state.stdout.includes(params.vers)", 30,
	    "unknown parameter 'vers'"));
	test_cond("check: state.params is not params",
	    check_params(ps, "state.params.x === undefined", 0, NULL));
	test_cond("check: a bare params is fine",
	    check_params(ps, "!params", 0, NULL));
	test_cond("check: names are case-sensitive",
	    check_params(ps, "params.ENV", 8, "unknown parameter 'ENV'"));
	json_object_put(c);
	params_free(ps);
	json_object_put(decl);
	json_object_put(given);
}

int
main(void)
{
	if ((ctx = json_tokener_parse(ctx_json)) == NULL) {
		printf("Bail out! test context does not parse\n");
		return 1;
	}
	test_literals();
	test_not_nul_terminated();
	test_equality();
	test_relational();
	test_unary();
	test_logic();
	test_truthiness();
	test_members();
	test_number_keys();
	test_methods();
	test_spec_examples();
	test_parse_errors();
	test_forbidden();
	test_eval_errors();
	test_limits();
	test_params();
	json_object_put(ctx);
	test_report();
}
