/*
 * A ten-line assertion harness in the spirit of redis's testhelp.h: each
 * check prints a TAP line, and the exit status is the number of failures.
 */
#ifndef PULSE_TEST_H
#define PULSE_TEST_H

#include <stdio.h>

static int test_n, test_failed;

#define test_cond(descr, _c) do {					\
	test_n++;							\
	if (_c)								\
		printf("ok %d - %s\n", test_n, descr);			\
	else {								\
		test_failed++;						\
		printf("not ok %d - %s (%s:%d)\n", test_n, descr,	\
		    __FILE__, __LINE__);				\
	}								\
} while (0)

#define test_report() do {						\
	printf("1..%d\n", test_n);					\
	return test_failed ? 1 : 0;					\
} while (0)

#endif
