/*
 * Admission of starts (fcgi-api/admit.h, issue 20): when a lag refuses a
 * start, and the Retry-After it gives: whole seconds rounded up, 1..30;
 * a lag not known, at the threshold, or with admission off takes it.
 */
#include <stdio.h>

#include "admit.h"
#include "test.h"

static int
refuses(long long lag, long long threshold, int want_s)
{
	int	 s = -7;

	if (!admit_refuse(lag, threshold, &s))
		return want_s == 0 && s == -7;
	return s == want_s;
}

int
main(void)
{
	test_cond("not known (-1): taken", refuses(-1, 500, 0));
	test_cond("0 ms: taken", refuses(0, 500, 0));
	test_cond("at the threshold: taken", refuses(500, 500, 0));
	test_cond("1 ms past it: refused, 1 s", refuses(501, 500, 1));
	test_cond("999 ms: 1 s", refuses(999, 500, 1));
	test_cond("1000 ms: 1 s", refuses(1000, 500, 1));
	test_cond("1001 ms: 2 s (rounded up)", refuses(1001, 500, 2));
	test_cond("2500 ms: 3 s", refuses(2500, 500, 3));
	test_cond("30000 ms: 30 s", refuses(30000, 500, 30));
	test_cond("30001 ms: clamped to 30 s", refuses(30001, 500, 30));
	test_cond("an hour: 30 s", refuses(3600000, 500, 30));
	test_cond("a threshold of 0 (off): a huge lag is taken",
	    refuses(3600000, 0, 0));
	test_cond("a negative threshold is off too", refuses(5000, -1, 0));
	test_cond("threshold 10000: 10000 taken", refuses(10000, 10000, 0));
	test_cond("threshold 10000: 14321 refused, 15 s",
	    refuses(14321, 10000, 15));
	test_cond("threshold 100: 150 ms refused, 1 s (never 0)",
	    refuses(150, 100, 1));
	test_report();
}
