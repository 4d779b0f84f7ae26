/*
 * The two helpers every part of pushd uses: the monotonic clock that
 * every timeout and poll is measured on, and the formatting of a refusal
 * into a close reason.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "pushd.h"

long long
pushd_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A close reason is at most 123 bytes: len is the buffer's size. */
int
pushd_why(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return -1;
}
