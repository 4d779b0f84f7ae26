/*
 * JSON helpers over json-c 0.16. json-c accepts trailing garbage and
 * coerces types silently (STACK-NOTES.md); every request body and worker
 * message goes through these so neither reaches our code.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>

#include "pjson.h"
#include "pulse-limits.h"

static size_t	utf8_seq(const unsigned char *, size_t);

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_literal(const unsigned char *w, size_t n)
{
	return (n == 4 && (memcmp(w, "true", 4) == 0 ||
	    memcmp(w, "null", 4) == 0)) || (n == 5 && memcmp(w, "false", 5) == 0);
}

/* A number at p[*i] as RFC 8259 spells it; *i moves past it. */
static int
strict_number(const unsigned char *p, size_t len, size_t *i)
{
	size_t	 j = *i;

	if (p[j] == '-')
		j++;
	if (j < len && p[j] == '0')
		j++;
	else if (j < len && is_digit(p[j]))
		while (j < len && is_digit(p[j]))
			j++;
	else
		return -1;
	if (j < len && p[j] == '.') {
		if (++j == len || !is_digit(p[j]))
			return -1;
		while (j < len && is_digit(p[j]))
			j++;
	}
	if (j < len && (p[j] == 'e' || p[j] == 'E')) {
		if (++j < len && (p[j] == '+' || p[j] == '-'))
			j++;
		if (j == len || !is_digit(p[j]))
			return -1;
		while (j < len && is_digit(p[j]))
			j++;
	}
	/* "00", "01": a leading zero then more digits. */
	if (j < len && (is_digit(p[j]) || p[j] == '.'))
		return -1;
	*i = j;
	return 0;
}

/*
 * What json-c lets through even in STRICT mode, refused before it parses
 * (found by tests/fuzz): its VALIDATE_UTF8 only counts continuation
 * bytes, so overlong forms (C1 A9), UTF-16 surrogates (ED A0 80) and
 * values past U+10FFFF would reach our replies, websocket frames and the
 * database; raw control characters inside strings; and numbers RFC 8259
 * does not have: NaN and Infinity (which json-c writes back out, and no
 * browser or MariaDB reads), 00, -01, 1. and 00.5. json-c checks the
 * structure; this checks the tokens.
 */
/* pjson_utf8_prefix() of n bytes that need not end in a NUL. */
static size_t
prefix_n(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static int
strict_check(const char *buf, size_t len, char *err, size_t errlen)
{
	const unsigned char	*p = (const unsigned char *)buf;
	size_t			 i = 0, k, start, j;
	size_t			 str = 0, key = 0, keylen = 0, last = 0, lastlen = 0;
	int			 in_str = 0, esc = 0, is_value = 0;

	while (i < len) {
		if ((k = utf8_seq(p + i, len - i)) == 0) {
			/* Name the member when the bad bytes are its value. */
			if (in_str && is_value)
				snprintf(err, errlen, "invalid UTF-8 in "
				    "\"%.*s\" at offset %zu",
				    (int)prefix_n(buf + key, keylen, 64),
				    buf + key, i);
			else
				snprintf(err, errlen, "invalid UTF-8 at offset "
				    "%zu", i);
			return -1;
		}
		if (in_str) {
			if (p[i] < 0x20) {
				snprintf(err, errlen, "control character in a "
				    "string at offset %zu", i);
				return -1;
			}
			if (esc)
				esc = 0;
			else if (p[i] == '\\')
				esc = 1;
			else if (p[i] == '"') {
				in_str = 0;
				last = str + 1;
				lastlen = i - last;
			}
			i += k;
		} else if (p[i] == '"') {
			/*
			 * A member's value when a ':' comes before it: its
			 * key is then the string just before that ':'.
			 */
			for (j = i; j > 0 && (p[j - 1] == ' ' ||
			    p[j - 1] == '\t' || p[j - 1] == '\n' ||
			    p[j - 1] == '\r'); j--)
				;
			is_value = j > 0 && p[j - 1] == ':' && lastlen > 0;
			key = last;
			keylen = lastlen;
			in_str = 1;
			str = i;
			i++;
		} else if (is_letter(p[i])) {
			for (start = i; i < len && is_letter(p[i]); i++)
				;
			if (!is_literal(p + start, i - start)) {
				snprintf(err, errlen, "invalid literal at "
				    "offset %zu", start);
				return -1;
			}
		} else if (p[i] == '-' || is_digit(p[i])) {
			start = i;
			if (strict_number(p, len, &i) == -1) {
				snprintf(err, errlen, "invalid number at offset "
				    "%zu", start);
				return -1;
			}
		} else
			i += k;
	}
	return 0;
}

/*
 * json-c reads a number too large for a double ("1e999") as infinity,
 * which no JSON text can say and nothing after us can write back (the
 * canonical writer of an approval's plan refuses it): such a document is
 * refused here, with the others that are not JSON.
 */
static int
all_finite(struct json_object *o)
{
	size_t	 i, n;

	switch (json_object_get_type(o)) {
	case json_type_double:
		return isfinite(json_object_get_double(o));
	case json_type_array:
		n = json_object_array_length(o);
		for (i = 0; i < n; i++)
			if (!all_finite(json_object_array_get_idx(o, i)))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			if (!all_finite(v))
				return 0;
		}
		return 1;
	}
	default:
		return 1;
	}
}

struct json_object *
pjson_parse(const char *buf, size_t len, int depth, char *err, size_t errlen)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	enum json_tokener_error	 jerr;
	size_t			 end;

	if (len > (size_t)INT32_MAX) {
		snprintf(err, errlen, "document too large");
		return NULL;
	}
	if (strict_check(buf, len, err, errlen) == -1)
		return NULL;
	if ((tok = json_tokener_new_ex(depth)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* STRICT: no comments, no trailing commas; and only valid UTF-8. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (obj == NULL && jerr == json_tokener_continue) {
		/*
		 * A number or literal that ends the input ("1", "true") waits
		 * for a delimiter; json-c's end of input is a NUL byte.
		 */
		obj = json_tokener_parse_ex(tok, "", 1);
		if (json_tokener_get_error(tok) != json_tokener_success) {
			snprintf(err, errlen, "unexpected end of input");
			goto fail;
		}
		jerr = json_tokener_success;
		end = len;
	}
	if (jerr != json_tokener_success) {
		snprintf(err, errlen, "%s at offset %zu",
		    jerr == json_tokener_error_depth ?
		    "nested too deeply" : json_tokener_error_desc(jerr), end);
		goto fail;
	}
	while (end < len && (buf[end] == ' ' || buf[end] == '\t' ||
	    buf[end] == '\n' || buf[end] == '\r'))
		end++;
	if (end != len) {
		snprintf(err, errlen, "unexpected data after the JSON value "
		    "at offset %zu", end);
		goto fail;
	}
	/*
	 * json-c's null is a NULL pointer, our failure: say so, or callers
	 * print an err never written (found by tests/fuzz).
	 */
	if (obj == NULL) {
		snprintf(err, errlen, "the document is JSON null");
		goto fail;
	}
	if (!all_finite(obj)) {
		snprintf(err, errlen, "a number is too large for a double");
		goto fail;
	}
	json_tokener_free(tok);
	return obj;
fail:
	json_object_put(obj);
	json_tokener_free(tok);
	return NULL;
}

static int
get_typed(struct json_object *o, const char *key, enum json_type type,
    struct json_object **out)
{
	struct json_object	*v;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return 0;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, type))
		return -1;
	*out = v;
	return 1;
}

int
pjson_get_string(struct json_object *o, const char *key, const char **out,
    size_t *len)
{
	struct json_object	*v;
	int			 rc;

	if ((rc = get_typed(o, key, json_type_string, &v)) != 1)
		return rc;
	*out = json_object_get_string(v);
	if (len != NULL)
		*len = (size_t)json_object_get_string_len(v);
	return 1;
}

int
pjson_get_int(struct json_object *o, const char *key, long long *out)
{
	struct json_object	*v;
	int			 rc;

	if ((rc = get_typed(o, key, json_type_int, &v)) != 1)
		return rc;
	*out = json_object_get_int64(v);
	return 1;
}

int
pjson_get_bool(struct json_object *o, const char *key, int *out)
{
	struct json_object	*v;
	int			 rc;

	if ((rc = get_typed(o, key, json_type_boolean, &v)) != 1)
		return rc;
	*out = json_object_get_boolean(v);
	return 1;
}

int
pjson_get_object(struct json_object *o, const char *key,
    struct json_object **out)
{
	return get_typed(o, key, json_type_object, out);
}

int
pjson_get_array(struct json_object *o, const char *key,
    struct json_object **out)
{
	return get_typed(o, key, json_type_array, out);
}

const char *
pjson_str(struct json_object *o, size_t *len)
{
	return json_object_to_json_string_length(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
}

struct json_object *
pjson_string_or_null(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

struct json_object *
pjson_stringn(const char *s, size_t len)
{
	return s == NULL ? NULL : json_object_new_string_len(s, (int)len);
}

/* Length of a valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	size_t		 need, i;
	unsigned	 cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF. */
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return need;
}

struct json_object *
pjson_text(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	struct json_object	*o;
	char			*buf;
	size_t			 i = 0, o_len = 0, k;

	if (s == NULL)
		return NULL;
	for (i = 0; i < len; i += k)
		if ((k = utf8_seq(p + i, len - i)) == 0)
			break;
	if (i == len)
		return json_object_new_string_len(s, (int)len);
	/* Worst case every byte becomes a 3-byte U+FFFD. */
	buf = malloc(len * 3 + 1);
	if (buf == NULL)
		return NULL;
	for (i = 0; i < len; i += k) {
		if ((k = utf8_seq(p + i, len - i)) == 0) {
			memcpy(buf + o_len, "\xef\xbf\xbd", 3);
			o_len += 3;
			k = 1;
		} else {
			memcpy(buf + o_len, p + i, k);
			o_len += k;
		}
	}
	o = json_object_new_string_len(buf, (int)o_len);
	free(buf);
	return o;
}

int
pjson_utf8_count(const char *s, size_t len, size_t *chars)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, k, n = 0;

	for (i = 0; i < len; i += k, n++)
		if ((k = utf8_seq(p + i, len - i)) == 0)
			return -1;
	*chars = n;
	return 0;
}

int
pjson_check_name(const char *s, size_t len, size_t maxchars, char *why,
    size_t whylen)
{
	size_t	 n;

	/* Past 4 bytes a character it is too long whatever it holds. */
	if (len > UTF8_BYTES(maxchars)) {
		snprintf(why, whylen, "is longer than %zu characters",
		    maxchars);
		return -1;
	}
	if (pjson_utf8_count(s, len, &n) == -1) {
		snprintf(why, whylen, "is not valid UTF-8");
		return -1;
	}
	if (n > maxchars) {
		snprintf(why, whylen, "is longer than %zu characters (%zu)",
		    maxchars, n);
		return -1;
	}
	return 0;
}

size_t
pjson_utf8_prefix(const char *s, size_t max)
{
	size_t	 n = strlen(s);

	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

static int
raw_print(struct json_object *o, struct printbuf *pb, int level, int flags)
{
	(void)level;
	(void)flags;
	return printbuf_memappend(pb, json_object_get_string(o),
	    json_object_get_string_len(o));
}

struct json_object *
pjson_raw(const char *text, size_t len)
{
	struct json_object	*o;

	if (text == NULL)
		return NULL;
	o = json_object_new_string_len(text, (int)len);
	json_object_set_serializer(o, raw_print, NULL, NULL);
	return o;
}

int
pjson_time_text(const char *ts, char out[PJSON_TIME_LEN + 1])
{
	size_t	 n;

	if (ts == NULL || strlen(ts) < 19)
		return -1;
	memcpy(out, ts, 19);
	out[10] = 'T';
	n = 19;
	/* Always three fraction digits: clients compare these as strings. */
	out[n++] = '.';
	if (ts[19] == '.') {
		size_t	 i;
		int	 digits = 1;

		for (i = 0; i < 3; i++) {
			/* Stop reading at the first non-digit (the NUL). */
			if (digits && (ts[20 + i] < '0' || ts[20 + i] > '9'))
				digits = 0;
			out[n++] = digits ? ts[20 + i] : '0';
		}
	} else {
		memcpy(out + n, "000", 3);
		n += 3;
	}
	out[n++] = 'Z';
	out[n] = '\0';
	return 0;
}

struct json_object *
pjson_time(const char *ts)
{
	char	 out[PJSON_TIME_LEN + 1];

	if (pjson_time_text(ts, out) == -1)
		return NULL;
	return json_object_new_string(out);
}

void
pjson_utf8_trim(char *s)
{
	size_t		 n = strlen(s), j = n, need;
	unsigned char	 lead;

	while (j > 0 && n - j < 3 && ((unsigned char)s[j - 1] & 0xc0) == 0x80)
		j--;
	if (j == 0)
		return;
	lead = (unsigned char)s[j - 1];
	if (lead < 0xc0)
		return;		/* ASCII, or stray continuations: not ours */
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
	if (n - (j - 1) < need)
		s[j - 1] = '\0';
}
