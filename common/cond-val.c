/*
 * The condition language's values: JSON into values, and JavaScript's
 * conversions and comparisons between them (truthiness, ToNumber,
 * ToString, ===, ==, <), which the interpreter (cond-eval.c) applies.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond-int.h"
#include "xmalloc.h"

/* ---- Values ---- */

void
cond_val_clear(struct val *v)
{
	free(v->own);
	memset(v, 0, sizeof(*v));
}

void
cond_val_from_json(struct json_object *o, struct val *v)
{
	memset(v, 0, sizeof(*v));
	switch (json_object_get_type(o)) {
	case json_type_null:
		v->type = V_NULL;
		break;
	case json_type_boolean:
		v->type = V_BOOL;
		v->b = json_object_get_boolean(o) ? 1 : 0;
		break;
	case json_type_int:
	case json_type_double:
		/* Like JavaScript, integers past 2^53 lose precision. */
		v->type = V_NUMBER;
		v->n = json_object_get_double(o);
		break;
	case json_type_string:
		v->type = V_STRING;
		v->s = json_object_get_string(o);
		v->len = (size_t)json_object_get_string_len(o);
		break;
	case json_type_object:
		v->type = V_OBJECT;
		v->o = o;
		break;
	case json_type_array:
		v->type = V_ARRAY;
		v->o = o;
		break;
	}
}

const char *
cond_type_desc(const struct val *v)
{
	switch (v->type) {
	case V_UNDEFINED:
		return "undefined";
	case V_NULL:
		return "null";
	case V_BOOL:
		return "a boolean";
	case V_NUMBER:
		return "a number";
	case V_STRING:
		return "a string";
	case V_OBJECT:
		return "an object";
	case V_ARRAY:
		return "an array";
	}
	return "a value";
}

int
cond_truthy(const struct val *v)
{
	switch (v->type) {
	case V_BOOL:
		return v->b;
	case V_NUMBER:
		return !(v->n == 0 || isnan(v->n));
	case V_STRING:
		return v->len > 0;
	case V_OBJECT:
	case V_ARRAY:
		return 1;
	default:
		return 0;
	}
}

/*
 * JavaScript's StringToNumber: surrounding whitespace ignored, "" is 0,
 * decimal with optional sign and exponent, Infinity, and unsigned 0x/0o/0b
 * integers; anything else is NaN. Only ASCII whitespace is trimmed here,
 * where JavaScript would also trim Unicode spaces.
 */
static double
str_to_number(const char *s, size_t len)
{
	size_t	 i = 0, digits = 0;
	double	 v = 0;
	char	*buf;
	int	 base;

	while (len > 0 && is_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if (len == 8 && memcmp(s, "Infinity", 8) == 0)
		return INFINITY;
	if (len == 9 && memcmp(s, "+Infinity", 9) == 0)
		return INFINITY;
	if (len == 9 && memcmp(s, "-Infinity", 9) == 0)
		return -INFINITY;
	if (len > 2 && s[0] == '0' && strchr("xXoObB", s[1]) != NULL &&
	    s[1] != '\0') {
		base = (s[1] == 'x' || s[1] == 'X') ? 16 :
		    (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
		for (i = 2; i < len; i++) {
			if (!is_hex(s[i]) || hex_value(s[i]) >= base)
				return NAN;
			v = v * base + hex_value(s[i]);
		}
		return v;
	}
	if (s[i] == '+' || s[i] == '-')
		i++;
	for (; i < len && is_digit(s[i]); i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && is_digit(s[i]); i++)
			digits++;
	if (digits == 0)
		return NAN;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == len || !is_digit(s[i]))
			return NAN;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i != len)
		return NAN;
	buf = xstrndup(s, len);
	v = strtod(buf, NULL);
	free(buf);
	return v;
}

/*
 * JavaScript's ToNumber. Objects and arrays give NaN, where JavaScript
 * would first turn them into strings ([5] is 5 there).
 */
double
cond_to_number(const struct val *v)
{
	switch (v->type) {
	case V_NULL:
		return 0;
	case V_BOOL:
		return v->b;
	case V_NUMBER:
		return v->n;
	case V_STRING:
		return str_to_number(v->s, v->len);
	default:
		return NAN;
	}
}

/*
 * JavaScript's Number::toString: the shortest digits that read back as
 * the same double, laid out as ECMA-262 says (1e+21, 0.000001, 1e-7).
 */
static void
num_to_str(double n, char *buf, size_t len)
{
	char	 tmp[40], digits[20], out[48], *e;
	double	 a = n < 0 ? -n : n;
	int	 p, k = 0, i, o = 0, point;

	if (isnan(n) || isinf(n) || n == 0) {
		snprintf(buf, len, "%s", isnan(n) ? "NaN" : n == 0 ? "0" :
		    n < 0 ? "-Infinity" : "Infinity");
		return;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, a);
		if (strtod(tmp, NULL) == a)
			break;
	}
	e = strchr(tmp, 'e');
	for (i = 0; tmp + i < e; i++)
		if (is_digit(tmp[i]))
			digits[k++] = tmp[i];
	point = atoi(e + 1) + 1;	/* digits before the decimal point */
	if (n < 0)
		out[o++] = '-';
	if (k <= point && point <= 21) {
		for (i = 0; i < point; i++)
			out[o++] = i < k ? digits[i] : '0';
	} else if (0 < point && point <= 21) {
		for (i = 0; i < k; i++) {
			if (i == point)
				out[o++] = '.';
			out[o++] = digits[i];
		}
	} else if (-6 < point && point <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (i = point; i < 0; i++)
			out[o++] = '0';
		for (i = 0; i < k; i++)
			out[o++] = digits[i];
	} else {
		out[o++] = digits[0];
		if (k > 1)
			out[o++] = '.';
		for (i = 1; i < k; i++)
			out[o++] = digits[i];
		o += snprintf(out + o, sizeof(out) - o, "e%c%d",
		    point > 0 ? '+' : '-', point > 0 ? point - 1 : 1 - point);
	}
	out[o] = '\0';
	snprintf(buf, len, "%s", out);
}

/*
 * Operand of includes(), startsWith() and endsWith(): primitives become
 * strings as in JavaScript; objects and arrays are refused rather than
 * turned into "[object Object]".
 */
int
cond_to_string(const struct val *v, char *buf, size_t buflen, const char **s,
    size_t *len)
{
	switch (v->type) {
	case V_STRING:
		*s = v->s;
		*len = v->len;
		return 0;
	case V_NUMBER:
		num_to_str(v->n, buf, buflen);
		break;
	case V_BOOL:
		snprintf(buf, buflen, "%s", v->b ? "true" : "false");
		break;
	case V_NULL:
		snprintf(buf, buflen, "null");
		break;
	case V_UNDEFINED:
		snprintf(buf, buflen, "undefined");
		break;
	default:
		return -1;
	}
	*s = buf;
	*len = strlen(buf);
	return 0;
}

/* ===: same type and value; NaN differs from itself, 0 equals -0. */
static int
strict_eq(const struct val *a, const struct val *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case V_UNDEFINED:
	case V_NULL:
		return 1;
	case V_BOOL:
		return a->b == b->b;
	case V_NUMBER:
		return a->n == b->n;
	case V_STRING:
		return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	case V_OBJECT:
	case V_ARRAY:
		return a->o == b->o;
	}
	return 0;
}

/*
 * ==, exactly:
 *  - same type: as ===;
 *  - null and undefined equal each other and nothing else;
 *  - an object or array equals only itself (JavaScript would turn it into
 *    a string first: [1] == 1 is true there, false here);
 *  - any other mix of boolean, number and string compares as numbers, as
 *    JavaScript does: 1 == '1', '1.0' == 1, true == 1, true == '1',
 *    0 == '' and false == '' hold; 'abc' == NaN does not.
 */
static int
loose_eq(const struct val *a, const struct val *b)
{
	int	 anil, bnil;

	if (a->type == b->type)
		return strict_eq(a, b);
	anil = a->type == V_NULL || a->type == V_UNDEFINED;
	bnil = b->type == V_NULL || b->type == V_UNDEFINED;
	if (anil || bnil)
		return anil && bnil;
	if (a->type == V_OBJECT || a->type == V_ARRAY ||
	    b->type == V_OBJECT || b->type == V_ARRAY)
		return 0;
	return cond_to_number(a) == cond_to_number(b);
}

/* Array.prototype.includes: like === but NaN finds NaN. */
int
cond_same_value_zero(const struct val *a, const struct val *b)
{
	if (a->type == V_NUMBER && b->type == V_NUMBER && isnan(a->n) &&
	    isnan(b->n))
		return 1;
	return strict_eq(a, b);
}

/*
 * < <= > >=: two strings compare bytewise, which for UTF-8 is code point
 * order (JavaScript uses UTF-16 units; they differ only between astral
 * characters and U+E000..U+FFFF). Anything else compares as numbers, and
 * NaN (from undefined, 'abc', an object) makes every comparison false.
 */
static int
relational(enum tok op, const struct val *a, const struct val *b)
{
	double	 x, y;
	int	 c;

	if (a->type == V_STRING && b->type == V_STRING) {
		c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
		if (c == 0)
			c = a->len < b->len ? -1 : a->len > b->len;
		x = c;
		y = 0;
	} else {
		x = cond_to_number(a);
		y = cond_to_number(b);
	}
	switch (op) {
	case T_LT:
		return x < y;
	case T_LE:
		return x <= y;
	case T_GT:
		return x > y;
	default:
		return x >= y;
	}
}

int
cond_compare(enum tok op, const struct val *a, const struct val *b)
{
	switch (op) {
	case T_SEQ:
		return strict_eq(a, b);
	case T_SNE:
		return !strict_eq(a, b);
	case T_EQ:
		return loose_eq(a, b);
	case T_NE:
		return !loose_eq(a, b);
	default:
		return relational(op, a, b);
	}
}

/*
 * Bytes in the UTF-8 sequence at s[i], and in *units how many UTF-16
 * units JavaScript would count for it. A malformed byte counts alone.
 */
size_t
cond_utf8_step(const char *s, size_t len, size_t i, int *units)
{
	unsigned char	 c = (unsigned char)s[i];
	size_t		 n, k;

	*units = 1;
	if (c >= 0xc0 && c < 0xe0)
		n = 2;
	else if (c >= 0xe0 && c < 0xf0)
		n = 3;
	else if (c >= 0xf0 && c < 0xf8)
		n = 4;
	else
		return 1;
	if (i + n > len)
		return 1;
	for (k = 1; k < n; k++)
		if (((unsigned char)s[i + k] & 0xc0) != 0x80)
			return 1;
	if (n == 4)
		*units = 2;
	return n;
}

/* A canonical array index ("0", "17", not "01" or "1.0"), or -1. */
long long
cond_array_index(const char *k, size_t len)
{
	long long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 10 || (k[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(k[i]))
			return -1;
		v = v * 10 + (k[i] - '0');
	}
	return v < 4294967295LL ? v : -1;
}
