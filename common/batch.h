/*
 * An execute step's `batch` (SPEC.md section 14): run the targets a few
 * at a time. size is N, "P%" or a list of those (the size of each batch
 * in turn, the last repeating); max_failures N or "P%" of all targets;
 * pause ms between batches. Read once at save, then only arithmetic.
 */
#ifndef PULSE_BATCH_H
#define PULSE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "fielderr.h"
#include "pulse-limits.h"

struct json_object;

/* N targets, or P percent of all of them. */
struct batch_amount {
	int		 percent;	/* 1: value is a percentage */
	uint32_t	 value;
};

struct batch {
	struct batch_amount	 size[PULSE_BATCH_LIST_MAX];
	size_t			 nsize;		/* 1.. */
	struct batch_amount	 max_failures;	/* default 0 */
	uint32_t		 pause_ms;	/* default 0 */
};

/*
 * Read a `batch` object into *b: size required (N 1..PULSE_BATCH_SIZE_MAX,
 * "P%" 1..100, or a list of 1..PULSE_BATCH_LIST_MAX of those),
 * max_failures (N 0..PULSE_BATCH_SIZE_MAX or "P%" 0..100), pause
 * (0..PULSE_BATCH_PAUSE_MAX_MS); any other key refused. A percentage is
 * digits and '%' only ("5%", not "5.5%", " 5%" or "+5%"). 0 or -1.
 */
int		 batch_from_json(struct json_object *, struct batch *b,
		    struct fielderr *err);

/*
 * With total targets: how many batches, the size of batch k (0-based; 0
 * past the last) and the index of its first target. Batch k takes its
 * list element (the last one once the list is used up): N, or P % of
 * total rounded up, at least 1, capped at the targets left.
 */
uint32_t	 batch_count(const struct batch *, uint32_t total);
uint32_t	 batch_size(const struct batch *, uint32_t total, uint32_t k);
uint32_t	 batch_start(const struct batch *, uint32_t total, uint32_t k);

/* max_failures as a count: N, or P % of total rounded down. */
uint32_t	 batch_max_failures(const struct batch *, uint32_t total);

#endif
