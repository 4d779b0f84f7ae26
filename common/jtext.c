/*
 * A growable buffer of JSON text; see jtext.h. Escaping follows json-c
 * 0.16's json_escape_str() with JSON_C_TO_STRING_NOSLASHESCAPE: the five
 * short escapes, " and \, other bytes below 0x20 as \u00xx (lower-case
 * hex), everything else (UTF-8 included) as is.
 */
#include <stdio.h>
#include <string.h>

#include "jtext.h"
#include "pjson.h"
#include "xmalloc.h"

void
jtext_init(struct jtext *j, size_t cap)
{
	j->cap = cap > 0 ? cap : 64;
	j->s = xmalloc(j->cap);
	j->len = 0;
	j->s[0] = '\0';
}

/* Room for n more bytes and the NUL. */
static void
jtext_room(struct jtext *j, size_t n)
{
	if (j->len + n + 1 <= j->cap)
		return;
	while (j->len + n + 1 > j->cap)
		j->cap *= 2;
	j->s = xrealloc(j->s, j->cap);
}

void
jtext_raw(struct jtext *j, const char *s, size_t n)
{
	jtext_room(j, n);
	memcpy(j->s + j->len, s, n);
	j->len += n;
	j->s[j->len] = '\0';
}

void
jtext_lit(struct jtext *j, const char *s)
{
	jtext_raw(j, s, strlen(s));
}

void
jtext_str(struct jtext *j, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n, i, start = 0;
	char			*o;

	if (s == NULL) {
		jtext_raw(j, "null", 4);
		return;
	}
	n = strlen(s);
	/* The worst case, every byte a \u00xx, at once: one check. */
	jtext_room(j, n * 6 + 2);
	o = j->s + j->len;
	*o++ = '"';
	for (i = 0; i < n; i++) {
		const char	*esc = NULL;

		switch (p[i]) {
		case '\b': esc = "\\b"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\f': esc = "\\f"; break;
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		default:
			if (p[i] >= 0x20)
				continue;
		}
		memcpy(o, s + start, i - start);
		o += i - start;
		start = i + 1;
		if (esc != NULL) {
			*o++ = esc[0];
			*o++ = esc[1];
		} else {
			memcpy(o, "\\u00", 4);
			o[4] = hex[p[i] >> 4];
			o[5] = hex[p[i] & 0xf];
			o += 6;
		}
	}
	memcpy(o, s + start, n - start);
	o += n - start;
	*o++ = '"';
	j->len = (size_t)(o - j->s);
	j->s[j->len] = '\0';
}

void
jtext_int(struct jtext *j, long long v)
{
	char	 buf[24];
	int	 n;

	n = snprintf(buf, sizeof(buf), "%lld", v);
	jtext_raw(j, buf, (size_t)n);
}

void
jtext_time(struct jtext *j, const char *ts)
{
	char	 out[PJSON_TIME_LEN + 1];

	if (pjson_time_text(ts, out) == -1)
		jtext_raw(j, "null", 4);
	else
		jtext_str(j, out);
}

char *
jtext_take(struct jtext *j, size_t *len)
{
	char	*s = j->s;

	*len = j->len;
	j->s = NULL;
	j->len = j->cap = 0;
	return s;
}
