/*
 * Canonical JSON and its SHA-256 (canon.h). Recursion is bounded by
 * CANON_DEPTH_MAX, so a value built in C (not only one parsed with a
 * depth limit) cannot take the stack; json-c objects cannot hold a key
 * twice, so sorting the keys gives one order.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "canon.h"
#include "sbuf.h"
#include "xmalloc.h"

void
canon_string(struct sbuf *b, const char *s, size_t len)
{
	size_t	 i, start = 0;

	sbuf_printf(b, "\"");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		/* The run before c has no NUL: c < 0x20 ends every run. */
		sbuf_printf(b, "%.*s", (int)(i - start), s + start);
		if (c == '"' || c == '\\')
			sbuf_printf(b, "\\%c", c);
		else
			sbuf_printf(b, "\\u%04x", c);
		start = i + 1;
	}
	sbuf_printf(b, "%.*s\"", (int)(i - start), s + start);
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The shortest of %.15g, %.16g, %.17g that strtod reads back as d (%.17g
 * always does), with ".0" when it would read back as an integer. The C
 * locale's '.' is assumed: no PULSE program calls setlocale().
 */
static void
canon_double(struct sbuf *b, double d)
{
	char	 buf[40];
	int	 prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(buf, sizeof(buf), "%.17g", d);
	sbuf_printf(b, "%s%s", buf, strpbrk(buf, ".e") == NULL ? ".0" : "");
}

static void
canon_int(struct sbuf *b, struct json_object *v)
{
	int64_t		 i = json_object_get_int64(v);
	uint64_t	 u;

	/* json-c keeps 2^63..2^64-1 as a uint64, which get_int64 clamps. */
	if (i == INT64_MAX && (u = json_object_get_uint64(v)) > INT64_MAX)
		sbuf_printf(b, "%llu", (unsigned long long)u);
	else
		sbuf_printf(b, "%lld", (long long)i);
}

static int
canon_value(struct sbuf *b, struct json_object *v, int flags, int depth,
    char *why, size_t whylen)
{
	struct json_object_iterator	 it, end;
	const char			**keys;
	size_t				 n, i;
	double				 d;
	int				 rc = 0;

	switch (json_object_get_type(v)) {
	case json_type_null:
		sbuf_printf(b, "null");
		return 0;
	case json_type_boolean:
		sbuf_printf(b, "%s", json_object_get_boolean(v) ? "true" :
		    "false");
		return 0;
	case json_type_double:
		d = json_object_get_double(v);
		if (!isfinite(d)) {
			snprintf(why, whylen, "a number is %s: JSON has none",
			    isnan(d) ? "NaN" : "infinite");
			return -1;
		}
		/* FALLTHROUGH */
	case json_type_int:
		/* The audit chain's numbers print as they were written, so
		 * the text stored and the text read back agree. */
		if (flags & CANON_NUMBERS_AS_PARSED)
			sbuf_printf(b, "%s", json_object_to_json_string_ext(v,
			    JSON_C_TO_STRING_PLAIN));
		else if (json_object_is_type(v, json_type_double))
			canon_double(b, json_object_get_double(v));
		else
			canon_int(b, v);
		return 0;
	case json_type_string:
		canon_string(b, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		return 0;
	case json_type_array:
	case json_type_object:
		break;
	}
	if (depth >= CANON_DEPTH_MAX) {
		snprintf(why, whylen, "nested deeper than %d arrays and "
		    "objects", CANON_DEPTH_MAX);
		return -1;
	}
	if (json_object_is_type(v, json_type_array)) {
		sbuf_printf(b, "[");
		n = json_object_array_length(v);
		for (i = 0; i < n && rc == 0; i++) {
			if (i > 0)
				sbuf_printf(b, ",");
			rc = canon_value(b, json_object_array_get_idx(v, i),
			    flags, depth + 1, why, whylen);
		}
		sbuf_printf(b, "]");
		return rc;
	}
	n = (size_t)json_object_object_length(v);
	keys = xcalloc(n + 1, sizeof(*keys));
	it = json_object_iter_begin(v);
	end = json_object_iter_end(v);
	for (i = 0; i < n && !json_object_iter_equal(&it, &end); i++) {
		keys[i] = json_object_iter_peek_name(&it);
		json_object_iter_next(&it);
	}
	n = i;
	qsort(keys, n, sizeof(*keys), key_cmp);
	sbuf_printf(b, "{");
	for (i = 0; i < n && rc == 0; i++) {
		if (i > 0)
			sbuf_printf(b, ",");
		canon_string(b, keys[i], strlen(keys[i]));
		sbuf_printf(b, ":");
		rc = canon_value(b, json_object_object_get(v, keys[i]), flags,
		    depth + 1, why, whylen);
	}
	sbuf_printf(b, "}");
	free(keys);
	return rc;
}

int
canon_json_flags(struct sbuf *out, struct json_object *v, int flags,
    char *why, size_t whylen)
{
	char	 dummy[1];

	if (why == NULL || whylen == 0) {
		why = dummy;
		whylen = sizeof(dummy);
	}
	why[0] = '\0';
	return canon_value(out, v, flags, 0, why, whylen);
}

int
canon_json(struct sbuf *out, struct json_object *v, char *why, size_t whylen)
{
	return canon_json_flags(out, v, 0, why, whylen);
}

void
canon_sha256_hex(const void *buf, size_t len,
    char hex[CANON_SHA256_HEX_LEN + 1])
{
	static const char	 digits[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		abort();	/* only out of memory: xmalloc's policy */
	for (i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 0xf];
	}
	hex[CANON_SHA256_HEX_LEN] = '\0';
}
