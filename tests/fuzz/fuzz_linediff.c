/*
 * fuzz_linediff: common/linediff.c on two texts, the input split at its
 * first NUL byte (none: b is empty). The script and the hunks must each
 * turn a into b exactly; on small inputs the edit count must be the
 * minimum an LCS table gives; a "too large" answer must say why and be
 * the answer the limits call for.
 */
#include <string.h>

#include "fuzz.h"
#include "linediff.h"
#include "linediff-check.h"

/* Small enough for the fuzzer to reach both ceilings. */
#define FUZZ_LINES_MAX	400
#define FUZZ_EDITS_MAX	60

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*a = (const char *)data, *b, *nul;
	size_t			 alen, blen;
	struct linediff		 d, again;
	struct linediff_limits	 lim = { FUZZ_LINES_MAX, FUZZ_EDITS_MAX, NULL };
	int			 rc;

	nul = memchr(data, '\0', size);
	alen = nul == NULL ? size : (size_t)(nul - a);
	b = nul == NULL ? a + size : nul + 1;
	blen = nul == NULL ? 0 : size - alen - 1;

	rc = linediff_run(&d, a, alen, b, blen, &lim, (size_t)(size % 5));
	if (rc == 0) {
		fuzz_assert(d.na <= FUZZ_LINES_MAX && d.nb <= FUZZ_LINES_MAX);
		fuzz_assert(d.edits <= FUZZ_EDITS_MAX);
		fuzz_assert(linediff_check(&d, a, alen, b, blen) == 0);
		if (d.na * d.nb <= 40000)
			fuzz_assert(d.edits == linediff_min_edits(&d));
		fuzz_assert((d.edits == 0) ==
		    (alen == blen && memcmp(a, b, alen) == 0));
	} else {
		fuzz_assert(rc == -1 && d.reason[0] != '\0' && d.ops == NULL);
		/* Too large only past a ceiling: with them lifted the diff
		 * is found, and it is over one of them. */
		lim.lines_max = 1 << 20;
		lim.edits_max = 1 << 20;
		fuzz_assert(linediff_run(&again, a, alen, b, blen, &lim, 3) == 0);
		fuzz_assert(again.na > FUZZ_LINES_MAX ||
		    again.nb > FUZZ_LINES_MAX || again.edits > FUZZ_EDITS_MAX);
		linediff_free(&again);
	}
	linediff_free(&d);
	return 0;
}
