/*
 * Unit tests for common/cron.c.
 */
#include <stdio.h>
#include <string.h>

#include "cron.h"
#include "test.h"

int
main(void)
{
	struct cron	*c;
	char		 why[256];

	test_cond("parses", cron_parse("* * * * *", &c, why, sizeof(why)) == 0);
	cron_free(c);
	test_report();
}
