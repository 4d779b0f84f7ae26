/*
 * Retries: the `retry` object read at save, and the delay before each
 * new try. No clock and no random source here: the caller passes the
 * random value in, so the jitter is a pure function tests can pin.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "pjson.h"
#include "retry.h"

/* An integer member from min to max: 1 read, 0 absent, -1 bad. */
static int
read_int(struct json_object *o, const char *key, int64_t min, int64_t max,
    uint32_t *out, const char *field, struct fielderr *err)
{
	struct json_object	*v;
	int64_t			 n;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	n = json_object_get_int64(v);
	if (!json_object_is_type(v, json_type_int) || n < min || n > max) {
		fielderr_set(err, field, "must be an integer from %lld to %lld",
		    (long long)min, (long long)max);
		return -1;
	}
	*out = (uint32_t)n;
	return 1;
}

/*
 * delay * backoff^n, capped at PULSE_RETRY_DELAY_MAX_MS. n past
 * PULSE_RETRY_ATTEMPTS_MAX counts as that: no try goes further, and the
 * loop stays short. A loop rather than pow() keeps libm out of every
 * program that links libcommon.
 */
static uint32_t
grown(const struct retry *r, int n)
{
	double	 d = r->delay_ms;
	int	 i;

	if (n > PULSE_RETRY_ATTEMPTS_MAX)
		n = PULSE_RETRY_ATTEMPTS_MAX;
	for (i = 0; i < n && d > 0 && d < PULSE_RETRY_DELAY_MAX_MS; i++)
		d *= r->backoff;
	return d < PULSE_RETRY_DELAY_MAX_MS ? (uint32_t)d :
	    PULSE_RETRY_DELAY_MAX_MS;
}

int
retry_from_json(struct json_object *o, struct retry *r, struct fielderr *err)
{
	struct json_object	*v;
	char			 f[48];
	size_t			 len;
	double			 b;
	int			 rc;

	memset(r, 0, sizeof(*r));
	r->delay_ms = PULSE_RETRY_DELAY_DEFAULT_MS;
	r->backoff = 1;
	fielderr_clear(err);
	if (!json_object_is_type(o, json_type_object)) {
		fielderr_set(err, "retry", "must be an object");
		return -1;
	}
	json_object_object_foreach(o, key, val) {
		(void)val;
		if (strcmp(key, "attempts") == 0 || strcmp(key, "delay") == 0 ||
		    strcmp(key, "backoff") == 0 ||
		    strcmp(key, "max_delay") == 0)
			continue;
		len = pjson_utf8_prefix(key, 24);
		snprintf(f, sizeof(f), "retry.%.*s", (int)len, key);
		fielderr_set(err, f, "unknown key (attempts, delay, backoff, "
		    "max_delay)");
		return -1;
	}
	if ((rc = read_int(o, "attempts", 0, PULSE_RETRY_ATTEMPTS_MAX,
	    &r->attempts, "retry.attempts", err)) != 1) {
		if (rc == 0)
			fielderr_set(err, "retry.attempts", "required");
		return -1;
	}
	if (read_int(o, "delay", 0, PULSE_RETRY_DELAY_MAX_MS, &r->delay_ms,
	    "retry.delay", err) == -1)
		return -1;
	if (json_object_object_get_ex(o, "backoff", &v)) {
		b = json_object_get_double(v);
		if ((!json_object_is_type(v, json_type_int) &&
		    !json_object_is_type(v, json_type_double)) ||
		    !(b >= 1 && b <= PULSE_RETRY_BACKOFF_MAX)) {
			fielderr_set(err, "retry.backoff", "must be a number from 1 "
			    "to %d", PULSE_RETRY_BACKOFF_MAX);
			return -1;
		}
		r->backoff = b;
	}
	r->max_delay_ms = grown(r, (int)r->attempts);
	if (read_int(o, "max_delay", r->delay_ms, PULSE_RETRY_DELAY_MAX_MS,
	    &r->max_delay_ms, "retry.max_delay", err) == -1)
		return -1;
	return 0;
}

uint32_t
retry_delay_ms(const struct retry *r, int attempt, uint32_t random)
{
	uint32_t	 base, j;

	if (attempt < 1)
		attempt = 1;
	base = grown(r, attempt - 1);
	if (base > r->max_delay_ms)
		base = r->max_delay_ms;
	/* base - j .. base + j, each of the 2j + 1 values equally likely. */
	j = base * PULSE_RETRY_JITTER_PCT / 100;
	return base - j + (uint32_t)(((uint64_t)random * (2 * (uint64_t)j +
	    1)) >> 32);
}
