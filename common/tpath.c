/*
 * Dotted paths into JSON: the shape of one is checked when a trigger is
 * saved, and the walk trusts nothing of the document it walks (a hook's
 * body, anyone's JSON once its signature holds).
 */
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "pulse-limits.h"
#include "tpath.h"

#define TPATH_STR_(x)	#x
#define TPATH_STR(x)	TPATH_STR_(x)

const char *
tpath_check(const char *path)
{
	size_t		 len = strlen(path), seg = 0, depth = 1, digits = 0;
	int		 alldigit = 1;
	const char	*p;

	if (len == 0)
		return "the path is empty";
	if (len > TRIGGER_PATH_MAX)
		return "the path is longer than " TPATH_STR(TRIGGER_PATH_MAX)
		    " bytes";
	for (p = path;; p++) {
		if (*p == '.' || *p == '\0') {
			if (seg == 0)
				return "the path has an empty segment";
			if (alldigit && digits > TRIGGER_INDEX_DIGITS)
				return "an array index has more than "
				    TPATH_STR(TRIGGER_INDEX_DIGITS) " digits";
			if (*p == '\0')
				break;
			if (++depth > TRIGGER_PATH_DEPTH)
				return "the path has more than "
				    TPATH_STR(TRIGGER_PATH_DEPTH) " segments";
			seg = digits = 0;
			alldigit = 1;
			continue;
		}
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return "the path has a control character";
		seg++;
		if (*p >= '0' && *p <= '9')
			digits++;
		else
			alldigit = 0;
	}
	return NULL;
}

struct json_object *
tpath_get(struct json_object *o, const char *path)
{
	char		 seg[TRIGGER_PATH_MAX + 1];
	const char	*p = path;
	size_t		 n;
	char		*end;
	unsigned long	 idx;

	if (tpath_check(path) != NULL)
		return NULL;
	while (o != NULL) {
		n = strcspn(p, ".");
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (json_object_is_type(o, json_type_array)) {
			if (seg[0] < '0' || seg[0] > '9')
				return NULL;
			idx = strtoul(seg, &end, 10);
			if (*end != '\0' ||
			    idx >= json_object_array_length(o))
				return NULL;
			o = json_object_array_get_idx(o, idx);
		} else if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, seg, &o))
			return NULL;
		if (p[n] == '\0')
			return o;
		p += n + 1;
	}
	return NULL;
}
