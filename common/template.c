/*
 * Templates: one scanner finds each {{ ... }} and names what it refers
 * to; the checker and the expander both walk the source with it, so what
 * is checked at save is exactly what is expanded at run time.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "template.h"
#include "xmalloc.h"

/* Longest piece of the source quoted in a message. */
#define QUOTE_MAX	40

enum ref {
	REF_PARAM, REF_EXEC_ID, REF_EXEC_STARTED_BY,
};

/* One template found at src[start..end). */
struct tmpl {
	size_t		 start, end;
	enum ref	 ref;
	const char	*name;		/* REF_PARAM: the parameter's name */
	size_t		 namelen;
};

static void	tfail(struct template_err *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
tfail(struct template_err *err, size_t off, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL)
		return;
	err->off = off;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	pjson_utf8_trim(err->msg);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int
is_name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    (!first && c >= '0' && c <= '9');
}

/*
 * The text between the braces (s, len) as a message quotes it: at most
 * QUOTE_MAX bytes, control bytes as '?', and every byte past ASCII as '?'
 * unless what is left is valid UTF-8 (the message must be).
 */
static void
quote_expr(const char *s, size_t len, char *buf, size_t buflen)
{
	char	 tmp[QUOTE_MAX + 1];
	size_t	 n, i, chars;

	n = len > QUOTE_MAX ? QUOTE_MAX : len;
	for (i = 0; i < n; i++)
		tmp[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	tmp[n] = '\0';
	if (pjson_utf8_count(tmp, n, &chars) == -1)
		for (i = 0; i < n; i++)
			if ((unsigned char)tmp[i] >= 0x80)
				tmp[i] = '?';
	snprintf(buf, buflen, "'%s%s'", tmp, n < len ? "..." : "");
}

/*
 * The next template at or after *pos: 1 and t filled, 0 when there is
 * none, -1 with err on a malformed one. Does not look at declarations.
 */
static int
next_tmpl(const char *src, size_t len, size_t *pos, struct tmpl *t,
    struct template_err *err)
{
	const char	*p, *close, *in, *dot;
	size_t		 start, inlen, limit, a, b;
	char		 q[QUOTE_MAX + 8];

	for (start = *pos; start + 1 < len; start++)
		if (src[start] == '{' && src[start + 1] == '{')
			break;
	if (start + 1 >= len)
		return 0;
	p = src + start + 2;
	limit = len - start - 2;
	if (limit > PULSE_TEMPLATE_EXPR_MAX + 2)
		limit = PULSE_TEMPLATE_EXPR_MAX + 2;
	close = memmem(p, limit, "}}", 2);
	if (close == NULL) {
		tfail(err, start, "unterminated '{{' (no '}}' within %d bytes)",
		    PULSE_TEMPLATE_EXPR_MAX);
		return -1;
	}
	in = p;
	inlen = (size_t)(close - p);
	for (a = 0; a < inlen && is_space(in[a]); a++)
		;
	for (b = inlen; b > a && is_space(in[b - 1]); b--)
		;
	if (a == b) {
		tfail(err, start, "empty '{{ }}'");
		return -1;
	}
	in += a;
	inlen = b - a;
	t->start = start;
	t->end = (size_t)(close - src) + 2;
	t->name = NULL;
	t->namelen = 0;
	dot = memchr(in, '.', inlen);
	if (dot != NULL && dot - in == 6 && memcmp(in, "params", 6) == 0) {
		t->ref = REF_PARAM;
		t->name = dot + 1;
		t->namelen = inlen - 7;
		for (a = 0; a < t->namelen; a++)
			if (!is_name_char(t->name[a], a == 0))
				break;
		if (t->namelen == 0 || a < t->namelen ||
		    t->namelen > PULSE_PARAM_NAME_MAX) {
			quote_expr(in, inlen, q, sizeof(q));
			tfail(err, start, "%s is not params.NAME with NAME an "
			    "identifier", q);
			return -1;
		}
	} else if (inlen == 12 && memcmp(in, "execution.id", 12) == 0)
		t->ref = REF_EXEC_ID;
	else if (inlen == 20 && memcmp(in, "execution.started_by", 20) == 0)
		t->ref = REF_EXEC_STARTED_BY;
	else {
		quote_expr(in, inlen, q, sizeof(q));
		tfail(err, start, "unknown name %s (params.NAME, execution.id "
		    "or execution.started_by)", q);
		return -1;
	}
	*pos = t->end;
	return 1;
}

int
template_check(const char *src, size_t len, const struct params *ps,
    int flags, struct template_err *err)
{
	struct tmpl	 t;
	size_t		 pos = 0;
	int		 rc;

	if (err != NULL) {
		err->off = 0;
		err->msg[0] = '\0';
	}
	while ((rc = next_tmpl(src, len, &pos, &t, err)) == 1) {
		if (t.ref == REF_PARAM &&
		    params_find(ps, t.name, t.namelen) == -1) {
			tfail(err, t.start, "unknown parameter '%.*s'",
			    (int)t.namelen, t.name);
			return -1;
		}
	}
	if (rc == 0 && (flags & TEMPLATE_SH))
		rc = template_sh_check(src, len, err);
	return rc;
}

size_t
template_quote(char *dst, const char *s, size_t len)
{
	size_t	 i, n = 0;

#define PUT(c) do { if (dst != NULL) dst[n] = (c); n++; } while (0)
	PUT('\'');
	for (i = 0; i < len; i++) {
		if (s[i] == '\'') {
			PUT('\'');
			PUT('\\');
			PUT('\'');
			PUT('\'');
		} else
			PUT(s[i]);
	}
	PUT('\'');
#undef PUT
	return n;
}

/* The text a template stands for, unquoted; "" when absent. */
static int
tmpl_value(const struct tmpl *t, struct json_object *resolved,
    const char *execution_id, const char *started_by, const char **s,
    size_t *len, char buf[PARAMS_TEXT_BUF], struct template_err *err)
{
	struct json_object	*v;
	char			*name;
	int			 found;

	*s = "";
	*len = 0;
	switch (t->ref) {
	case REF_EXEC_ID:
		*s = execution_id != NULL ? execution_id : "";
		*len = strlen(*s);
		return 0;
	case REF_EXEC_STARTED_BY:
		*s = started_by != NULL ? started_by : "";
		*len = strlen(*s);
		return 0;
	case REF_PARAM:
		break;
	}
	if (resolved == NULL)
		return 0;
	name = xstrndup(t->name, t->namelen);
	found = json_object_object_get_ex(resolved, name, &v);
	free(name);
	if (!found || json_object_is_type(v, json_type_null))
		return 0;
	if (params_text(v, s, len, buf) == -1) {
		tfail(err, t->start, "params.%.*s has no text", (int)t->namelen,
		    t->name);
		return -1;
	}
	return 0;
}

int
template_expand(const char *src, size_t len, struct json_object *resolved,
    const char *execution_id, const char *started_by, size_t max,
    char **out, size_t *outlen, struct template_err *err)
{
	struct tmpl	 t;
	const char	*s;
	char		*buf = NULL, text[PARAMS_TEXT_BUF];
	size_t		 pass, pos, last, n, slen;
	int		 rc;

	*out = NULL;
	*outlen = 0;
	if (err != NULL) {
		err->off = 0;
		err->msg[0] = '\0';
	}
	/* Pass 0 measures, pass 1 writes into exactly that much. */
	for (pass = 0; pass < 2; pass++) {
		pos = last = n = 0;
		while ((rc = next_tmpl(src, len, &pos, &t, err)) == 1) {
			if (tmpl_value(&t, resolved, execution_id, started_by,
			    &s, &slen, text, err) == -1)
				goto fail;
			if (buf != NULL) {
				memcpy(buf + n, src + last, t.start - last);
				n += t.start - last;
				n += template_quote(buf + n, s, slen);
			} else {
				n += t.start - last + template_quote(NULL, s,
				    slen);
				if (n > max)
					break;
			}
			last = t.end;
		}
		if (rc == -1)
			goto fail;
		if (buf != NULL)
			memcpy(buf + n, src + last, len - last);
		n += len - last;
		if (n > max) {
			tfail(err, 0, "expanded text longer than %zu bytes",
			    max);
			goto fail;
		}
		if (buf == NULL)
			buf = xmalloc(n + 1);
	}
	buf[n] = '\0';
	*out = buf;
	*outlen = n;
	return 0;
fail:
	free(buf);
	return -1;
}
