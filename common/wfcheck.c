/*
 * The checks of workflow.c shared with the step types' validate
 * (step-*.c): every refusal says which step and which field, and the
 * messages are part of the API (tests/integration/test_validation.py).
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pjson.h"
#include "wfcheck.h"
#include "xmalloc.h"

/*
 * Copy at most max bytes of s into dst without splitting a UTF-8
 * character (the message goes out as JSON), marking a cut with "...".
 */
void
wf_clip(char *dst, size_t dstlen, const char *s, size_t max)
{
	size_t	 n = strlen(s);
	int	 cut = 0;

	if (n > max) {
		n = max;
		cut = 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	snprintf(dst, dstlen, "%.*s%s", (int)n, s, cut ? "..." : "");
}

static size_t
prefix(const struct wf_check *ck, char *buf, size_t len)
{
	char	 name[WF_QUOTE_MAX + 4];
	size_t	 o;
	int	 n;

	buf[0] = '\0';
	if (ck->step < 0)
		return 0;
	n = snprintf(buf, len, "%sstep %d", ck->list ? "on_failure " : "",
	    ck->step + 1);
	o = n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
	if (ck->name != NULL) {
		wf_clip(name, sizeof(name), ck->name, WF_QUOTE_MAX);
		n = snprintf(buf + o, len - o, " (\"%s\")", name);
		o += n < 0 ? 0 : (size_t)n >= len - o ? len - o - 1 : (size_t)n;
	}
	/* A parallel group's step: which of its steps, by its own name. */
	if (ck->child >= 0) {
		n = snprintf(buf + o, len - o, ", steps[%d]", ck->child);
		o += n < 0 ? 0 : (size_t)n >= len - o ? len - o - 1 : (size_t)n;
		if (ck->child_name != NULL) {
			wf_clip(name, sizeof(name), ck->child_name,
			    WF_QUOTE_MAX);
			n = snprintf(buf + o, len - o, " (\"%s\")", name);
			o += n < 0 ? 0 : (size_t)n >= len - o ? len - o - 1 :
			    (size_t)n;
		}
	}
	n = snprintf(buf + o, len - o, ": ");
	o += n < 0 ? 0 : (size_t)n >= len - o ? len - o - 1 : (size_t)n;
	return o;
}

/* Record "<prefix><text>" with field as the culprit; returns -1. */
int
wf_fail(struct wf_check *ck, const char *field, const char *fmt, ...)
{
	struct workflow_error	*err = ck->err;
	va_list			 ap;
	size_t			 n;
	char			 f[sizeof(err->field) + 64];

	err->step = ck->step;
	/* on_failure[i].field, steps[c].field: where in the lists. */
	f[0] = '\0';
	if (ck->list != NULL && ck->step >= 0)
		snprintf(f, sizeof(f), "%s[%d].", ck->list, ck->step);
	if (ck->child >= 0)
		snprintf(f + strlen(f), sizeof(f) - strlen(f), "steps[%d].",
		    ck->child);
	/* A user's key is cut at WF_FIELD_QUOTE bytes, as it always was. */
	wf_clip(f + strlen(f), sizeof(f) - strlen(f), field, WF_FIELD_QUOTE);
	snprintf(err->field, sizeof(err->field), "%s", f);
	n = prefix(ck, err->msg, sizeof(err->msg));
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
	va_end(ap);
	return -1;
}

int
wf_fail_unknown(struct wf_check *ck, const char *key, const char *where)
{
	char	 q[WF_QUOTE_MAX + 4];

	wf_clip(q, sizeof(q), key, WF_QUOTE_MAX);
	return wf_fail(ck, key, "unknown field '%s'%s", q, where);
}

int
wf_in_list(const char *const *list, size_t n, const char *s)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], s) == 0)
			return 1;
	return 0;
}

/*
 * The checks every text field shares; item is "" or "item N ". A NUL is
 * refused because everything downstream (the shell, C strings, the
 * database) would silently cut the text there.
 */
static int
check_text(struct wf_check *ck, const char *field, const char *item,
    struct json_object *v, size_t max, size_t maxchars)
{
	size_t	 len;
	char	 why[64];

	if (!json_object_is_type(v, json_type_string))
		return wf_fail(ck, field, "%s: %smust be a string", field, item);
	len = (size_t)json_object_get_string_len(v);
	if (len == 0)
		return wf_fail(ck, field, "%s: %smust not be empty", field, item);
	/* A name's bound is stated in characters, below. */
	if (maxchars == 0 && len > max)
		return wf_fail(ck, field, "%s: %slonger than %zu bytes", field,
		    item, max);
	if (memchr(json_object_get_string(v), '\0', len) != NULL)
		return wf_fail(ck, field, "%s: %smust not contain a NUL byte",
		    field, item);
	if (maxchars > 0 && pjson_check_name(json_object_get_string(v), len,
	    maxchars, why, sizeof(why)) == -1)
		return wf_fail(ck, field, "%s: %s%s", field, item, why);
	return 0;
}

/*
 * A text field: 1 and *out if present, 0 if absent and optional. maxchars:
 * a name stored in a VARCHAR column, counted in characters; 0 for text
 * bounded only in bytes.
 */
int
wf_text(struct wf_check *ck, struct json_object *o, const char *field,
    int required, size_t max, size_t maxchars, const char **out)
{
	struct json_object	*v;

	*out = NULL;
	if (!json_object_object_get_ex(o, field, &v)) {
		if (required)
			return wf_fail(ck, field, "%s: missing", field);
		return 0;
	}
	if (check_text(ck, field, "", v, max, maxchars) == -1)
		return -1;
	*out = json_object_get_string(v);
	return 1;
}

/*
 * An integer field in ms. Only a JSON integer will do: 1.5, 1e3, "100"
 * and true are refused rather than rounded or coerced.
 */
int
wf_ms(struct wf_check *ck, struct json_object *o, const char *field,
    int required, long long min, long long max, long long *out)
{
	struct json_object	*v;
	long long		 n;

	if (!json_object_object_get_ex(o, field, &v)) {
		if (required)
			return wf_fail(ck, field, "%s: missing", field);
		return 0;
	}
	if (!json_object_is_type(v, json_type_int))
		return wf_fail(ck, field, "%s: must be an integer (milliseconds)",
		    field);
	/* get_int64 saturates, so a huge value still lands above max. */
	n = (long long)json_object_get_int64(v);
	if (n < min || n > max)
		return wf_fail(ck, field, "%s: must be between %lld and %lld ms",
		    field, min, max);
	*out = n;
	return 1;
}

/* A required array of 1..maxcount texts, copied into *out. */
int
wf_texts_as(struct wf_check *ck, struct json_object *o, const char *key,
    const char *field,
    size_t maxcount, size_t maxlen, size_t maxchars, int distinct,
    char ***out, size_t *nout)
{
	struct json_object	*a, *v;
	char			 item[32];
	size_t			 n, i, j;

	if (!json_object_object_get_ex(o, key, &a))
		return wf_fail(ck, field, "%s: missing", field);
	if (!json_object_is_type(a, json_type_array))
		return wf_fail(ck, field, "%s: must be an array of strings",
		    field);
	n = json_object_array_length(a);
	if (n == 0)
		return wf_fail(ck, field, "%s: must not be empty", field);
	if (n > maxcount)
		return wf_fail(ck, field, "%s: more than %zu items", field,
		    maxcount);
	*out = xcalloc(n, sizeof(**out));
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		snprintf(item, sizeof(item), "item %zu ", i + 1);
		if (check_text(ck, field, item, v, maxlen, maxchars) == -1)
			return -1;
		for (j = 0; distinct && j < i; j++)
			if (strcmp((*out)[j], json_object_get_string(v)) == 0)
				return wf_fail(ck, field, "%s: item %zu repeats "
				    "item %zu", field, i + 1, j + 1);
		(*out)[i] = xstrdup(json_object_get_string(v));
		*nout = i + 1;
	}
	return 0;
}

int
wf_texts(struct wf_check *ck, struct json_object *o, const char *field,
    size_t maxcount, size_t maxlen, size_t maxchars, int distinct,
    char ***out, size_t *nout)
{
	return wf_texts_as(ck, o, field, field, maxcount, maxlen, maxchars,
	    distinct, out, nout);
}

