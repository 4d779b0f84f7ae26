/*
 * JSON helpers over json-c 0.16. json-c accepts trailing garbage and
 * coerces types silently (STACK-NOTES.md); every request body and worker
 * message goes through these so neither reaches our code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/printbuf.h>

#include "pjson.h"

static size_t	utf8_seq(const unsigned char *, size_t);

struct json_object *
pjson_parse(const char *buf, size_t len, int depth, char *err, size_t errlen)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	enum json_tokener_error	 jerr;
	size_t			 end, k;

	if (len > (size_t)INT32_MAX) {
		snprintf(err, errlen, "document too large");
		return NULL;
	}
	/*
	 * json-c's JSON_TOKENER_VALIDATE_UTF8 only counts continuation
	 * bytes: overlong forms (C1 A9), UTF-16 surrogates (ED A0 80) and
	 * values past U+10FFFF get through, and would reach our replies,
	 * websocket frames and the database (found by tests/fuzz).
	 */
	for (end = 0; end < len; end += k)
		if ((k = utf8_seq((const unsigned char *)buf + end,
		    len - end)) == 0) {
			snprintf(err, errlen, "invalid UTF-8 at offset %zu",
			    end);
			return NULL;
		}
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

struct json_object *
pjson_time(const char *ts)
{
	char	 out[32];
	size_t	 n;

	if (ts == NULL || strlen(ts) < 19)
		return NULL;
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
	return json_object_new_string(out);
}
