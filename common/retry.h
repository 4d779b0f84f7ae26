/*
 * An execute step's `retry` (SPEC.md section 14): how many more tries
 * after a failed or timed-out one, and how long to wait before each.
 */
#ifndef PULSE_RETRY_H
#define PULSE_RETRY_H

#include <stdint.h>

#include "fielderr.h"
#include "pulse-limits.h"

struct json_object;

struct retry {
	uint32_t	 attempts;	/* extra tries, 0..PULSE_RETRY_ATTEMPTS_MAX */
	uint32_t	 delay_ms;	/* before the first retry */
	double		 backoff;	/* 1..PULSE_RETRY_BACKOFF_MAX */
	uint32_t	 max_delay_ms;	/* ceiling before jitter */
};

/*
 * Read a `retry` object: attempts required (integer 0..10), delay
 * (integer ms 0..PULSE_RETRY_DELAY_MAX_MS, default
 * PULSE_RETRY_DELAY_DEFAULT_MS), backoff (number 1..10, default 1),
 * max_delay (integer ms delay..PULSE_RETRY_DELAY_MAX_MS, default
 * delay * backoff^attempts capped at PULSE_RETRY_DELAY_MAX_MS); any other
 * key refused. 0, or -1 and err.
 */
int		 retry_from_json(struct json_object *, struct retry *r,
		    struct fielderr *err);

/*
 * The wait in ms before the try after try number attempt (1 = the first
 * try failed): min(delay * backoff^(attempt - 1), max_delay), then moved
 * uniformly within +-PULSE_RETRY_JITTER_PCT % of itself by random (any
 * 32-bit value; the caller draws it, so tests can pick it). With the same
 * random the result never decreases as attempt grows.
 */
uint32_t	 retry_delay_ms(const struct retry *, int attempt,
		    uint32_t random);

#endif
