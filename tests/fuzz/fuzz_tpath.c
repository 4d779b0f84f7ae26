/*
 * fuzz_tpath: common/tpath.c, a trigger's dotted path into a hook's JSON
 * body. The input is a path, then a NUL byte and a JSON document (none:
 * the path alone). The check is deterministic and its verdict matches the
 * limits counted here (bytes, segments, digits of an all-digit segment,
 * no empty segment, no control character); the walk finds a value only
 * for a path the check accepts, and exactly the one a plain recursive
 * walk written here finds in the same document.
 */
#include <json-c/json.h>
#include <string.h>

#include "fuzz.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "tpath.h"

/* The limits counted the slow way: 1 acceptable, 0 not. */
static int
shape_ok(const char *p)
{
	size_t	 len = strlen(p), i, start = 0, segs = 0, n, k;
	int	 digits;

	if (len == 0 || len > TRIGGER_PATH_MAX)
		return 0;
	for (i = 0; i <= len; i++) {
		if (i < len && p[i] != '.') {
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return 0;
			continue;
		}
		n = i - start;
		digits = n > 0;
		if (n == 0)
			return 0;
		for (k = start; k < i; k++)
			if (p[k] < '0' || p[k] > '9')
				digits = 0;
		if (digits && n > TRIGGER_INDEX_DIGITS)
			return 0;
		segs++;
		start = i + 1;
	}
	return segs <= TRIGGER_PATH_DEPTH;
}

/* The value at path p, one segment a call; NULL for none. */
static struct json_object *
walk(struct json_object *o, const char *p)
{
	const char	*dot = strchr(p, '.');
	size_t		 n = dot != NULL ? (size_t)(dot - p) : strlen(p);
	char		 seg[TRIGGER_PATH_MAX + 1];
	struct json_object *next = NULL;

	if (o == NULL)
		return NULL;
	memcpy(seg, p, n);
	seg[n] = '\0';
	if (json_object_is_type(o, json_type_array)) {
		size_t	 idx = 0, k;

		for (k = 0; k < n; k++) {
			if (seg[k] < '0' || seg[k] > '9')
				return NULL;
			idx = idx * 10 + (size_t)(seg[k] - '0');
		}
		if (idx >= json_object_array_length(o))
			return NULL;
		next = json_object_array_get_idx(o, idx);
	} else if (json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, seg, &next);
	return dot == NULL ? next : walk(next, dot + 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char			*path = malloc(size + 1), err[256];
	const uint8_t		*nul = memchr(data, '\0', size);
	size_t			 plen = nul != NULL ? (size_t)(nul - data) : size;
	struct json_object	*doc = NULL, *got;
	const char		*why;

	memcpy(path, data, plen);
	path[plen] = '\0';
	why = tpath_check(path);
	fuzz_assert((why == NULL) == shape_ok(path));
	fuzz_assert(why == NULL ||
	    (*why != '\0' && fuzz_utf8_valid(why, strlen(why))));
	fuzz_assert((tpath_check(path) == NULL) == (why == NULL));
	if (nul != NULL)
		doc = pjson_parse((const char *)nul + 1, size - plen - 1,
		    API_JSON_DEPTH, err, sizeof(err));
	got = tpath_get(doc, path);
	fuzz_assert(got == NULL || why == NULL);
	if (why == NULL)
		fuzz_assert(got == walk(doc, path));
	json_object_put(doc);
	free(path);
	return 0;
}
