/*
 * cron-next EXPR TZ AFTER N: the next N fire times of a cron expression in
 * a zone after AFTER (UTC seconds), one a line as "<UTC seconds> <local
 * time with offset>"; fewer when none is left within 8 years. A test
 * program for tests/unit/cron_oracle.py and a person at a shell; not
 * installed. Exit 2 with the parser's reason on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cron.h"
#include "tzif.h"

int
main(int argc, char **argv)
{
	struct cron	*c = NULL;
	struct tz	*tz = NULL;
	struct tm	 tm;
	char		 why[256], *end;
	long long	 after, t;
	long		 n, i, off;

	if (argc != 5) {
		fprintf(stderr, "usage: cron-next EXPR TZ AFTER_EPOCH N\n");
		return 2;
	}
	errno = 0;
	after = strtoll(argv[3], &end, 10);
	if (errno != 0 || *end != '\0' || end == argv[3]) {
		fprintf(stderr, "cron-next: AFTER is not a number\n");
		return 2;
	}
	n = strtol(argv[4], &end, 10);
	if (*end != '\0' || n < 0 || n > 1000000) {
		fprintf(stderr, "cron-next: N must be 0 to 1000000\n");
		return 2;
	}
	if (cron_parse(argv[1], &c, why, sizeof(why)) == -1 ||
	    tz_load(argv[2], &tz, why, sizeof(why)) == -1) {
		fprintf(stderr, "cron-next: %s\n", why);
		cron_free(c);
		return 2;
	}
	for (i = 0; i < n && cron_next(c, tz, after, &t) == 0; i++) {
		tz_local(tz, t, &tm, &off);
		printf("%lld %04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld %s\n",
		    t, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		    tm.tm_hour, tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+',
		    labs(off) / 3600, labs(off) / 60 % 60, tm.tm_zone);
		after = t;
	}
	cron_free(c);
	tz_free(tz);
	return 0;
}
