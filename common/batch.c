/*
 * Batches: the `batch` object read at save, and the arithmetic the engine
 * asks of it. Sizes come from a closed form over the (at most 16) list
 * elements, never a loop over the targets.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "pjson.h"

/*
 * N (min..max) or "P%" (pmin..100) into *a. The message says both forms,
 * so a user who wrote either learns the other.
 */
static int
read_amount(struct json_object *v, uint32_t min, uint32_t pmin,
    struct batch_amount *a, const char *field, struct fielderr *err)
{
	const char	*s;
	size_t		 len, i;
	int64_t		 n;
	uint32_t	 p = 0;

	if (json_object_is_type(v, json_type_int)) {
		n = json_object_get_int64(v);
		if (n < min || n > PULSE_BATCH_SIZE_MAX)
			goto bad;
		a->percent = 0;
		a->value = (uint32_t)n;
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		goto bad;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (len < 2 || len > 4 || s[len - 1] != '%' ||
	    (s[0] == '0' && len > 2))
		goto bad;
	for (i = 0; i + 1 < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
		p = p * 10 + (uint32_t)(s[i] - '0');
	}
	if (p < pmin || p > 100)
		goto bad;
	a->percent = 1;
	a->value = p;
	return 0;
bad:
	fielderr_set(err, field, "must be an integer from %u to %d or a percentage "
	    "from \"%u%%\" to \"100%%\"", min, PULSE_BATCH_SIZE_MAX, pmin);
	return -1;
}

int
batch_from_json(struct json_object *o, struct batch *b, struct fielderr *err)
{
	struct json_object	*v;
	char			 f[64];
	size_t			 i, n, len;
	int64_t			 ms;

	memset(b, 0, sizeof(*b));
	fielderr_clear(err);
	if (!json_object_is_type(o, json_type_object)) {
		fielderr_set(err, "batch", "must be an object");
		return -1;
	}
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "size") == 0 ||
		    strcmp(key, "max_failures") == 0 ||
		    strcmp(key, "pause") == 0)
			continue;
		len = pjson_utf8_prefix(key, 32);
		snprintf(f, sizeof(f), "batch.%.*s", (int)len, key);
		fielderr_set(err, f, "unknown key (size, max_failures, pause)");
		return -1;
	}
	if (!json_object_object_get_ex(o, "size", &v)) {
		fielderr_set(err, "batch.size", "required");
		return -1;
	}
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		if (n == 0 || n > PULSE_BATCH_LIST_MAX) {
			fielderr_set(err, "batch.size", "a list of 1 to %d sizes",
			    PULSE_BATCH_LIST_MAX);
			return -1;
		}
		for (i = 0; i < n; i++) {
			snprintf(f, sizeof(f), "batch.size[%zu]", i);
			if (read_amount(json_object_array_get_idx(v, i), 1, 1,
			    &b->size[i], f, err) == -1)
				return -1;
		}
		b->nsize = n;
	} else {
		if (read_amount(v, 1, 1, &b->size[0], "batch.size", err) == -1)
			return -1;
		b->nsize = 1;
	}
	if (json_object_object_get_ex(o, "max_failures", &v) &&
	    read_amount(v, 0, 0, &b->max_failures, "batch.max_failures",
	    err) == -1)
		return -1;
	if (json_object_object_get_ex(o, "pause", &v)) {
		ms = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || ms < 0 ||
		    ms > PULSE_BATCH_PAUSE_MAX_MS) {
			fielderr_set(err, "batch.pause", "must be an integer from 0 "
			    "to %d (ms)", PULSE_BATCH_PAUSE_MAX_MS);
			return -1;
		}
		b->pause_ms = (uint32_t)ms;
	}
	return 0;
}

/* What element i asks for, before the cap: at least 1. */
static uint64_t
wanted(const struct batch *b, size_t i, uint32_t total)
{
	const struct batch_amount	*a = &b->size[i];
	uint64_t			 n;

	n = a->percent ? ((uint64_t)a->value * total + 99) / 100 : a->value;
	return n > 0 ? n : 1;
}

uint32_t
batch_start(const struct batch *b, uint32_t total, uint32_t k)
{
	uint64_t	 start = 0;
	size_t		 i, last;

	if (b->nsize == 0)
		return 0;
	last = b->nsize - 1;
	for (i = 0; i < last && i < k; i++)
		start += wanted(b, i, total);
	if (k > last)
		start += (uint64_t)(k - last) * wanted(b, last, total);
	return start < total ? (uint32_t)start : total;
}

uint32_t
batch_size(const struct batch *b, uint32_t total, uint32_t k)
{
	uint32_t	 start = batch_start(b, total, k);
	uint64_t	 want;

	if (b->nsize == 0 || start >= total)
		return 0;
	want = wanted(b, k < b->nsize ? k : b->nsize - 1, total);
	return want < total - start ? (uint32_t)want : total - start;
}

uint32_t
batch_count(const struct batch *b, uint32_t total)
{
	uint64_t	 start = 0, want;
	size_t		 i, last;

	if (b->nsize == 0 || total == 0)
		return 0;
	last = b->nsize - 1;
	for (i = 0; i < last; i++) {
		start += wanted(b, i, total);
		if (start >= total)
			return (uint32_t)i + 1;
	}
	want = wanted(b, last, total);
	return (uint32_t)(last + (total - start + want - 1) / want);
}

uint32_t
batch_max_failures(const struct batch *b, uint32_t total)
{
	const struct batch_amount	*a = &b->max_failures;

	if (a->percent)
		return (uint32_t)((uint64_t)a->value * total / 100);
	return a->value;
}
