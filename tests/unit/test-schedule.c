/*
 * Unit tests for common/schedule.c: one-shot instants (ISO-8601 with Z,
 * an offset, or local time in a zone across its daylight-saving gap),
 * loading a schedule's text with the field at fault named, the next fire
 * time of a cron and of an `at`, and the test clock file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "schedule.h"
#include "test.h"
#include "tzif.h"

static long long
iso(const char *s, const char *zone, int *ok)
{
	struct tz	*tz = NULL;
	char		 why[256];
	long long	 t = -1;

	*ok = tz_load(zone, &tz, why, sizeof(why)) == 0 &&
	    schedule_parse_iso(s, tz, &t, why, sizeof(why)) == 0;
	tz_free(tz);
	return t;
}

int
main(void)
{
	struct schedule_when	 w;
	char			 field[32], why[512], buf[SCHEDULE_ISO_LEN + 1],
				 path[] = "/tmp/pulse-test-clock-XXXXXX";
	long long		 t, real;
	int			 ok, fd;
	FILE			*f;

	t = iso("2027-01-15T09:00:00Z", "UTC", &ok);
	test_cond("ISO with Z", ok && t == 1800003600LL);
	t = iso("2027-01-15T10:30:00+01:30", "UTC", &ok);
	test_cond("ISO with an offset", ok && t == 1800003600LL);
	t = iso("2027-01-15T04:00-0500", "UTC", &ok);
	test_cond("ISO with an offset without colon, no seconds",
	    ok && t == 1800003600LL);
	t = iso("2027-01-15T10:00:00.999", "Europe/Berlin", &ok);
	test_cond("local time in Europe/Berlin (CET), fraction cut",
	    ok && t == 1800003600LL);
	t = iso("2027-03-28T02:30", "Europe/Berlin", &ok);
	test_cond("a local time in the spring-forward gap: 03:00 CEST",
	    ok && t == 1806195600LL);
	iso("2027-02-29T00:00Z", "UTC", &ok);
	test_cond("29 February of a common year refused", !ok);
	iso("2028-02-29T00:00Z", "UTC", &ok);
	test_cond("29 February of a leap year taken", ok);
	iso("2027-01-15", "UTC", &ok);
	test_cond("a date without a time refused", !ok);
	iso("2027-01-15T09:00:00Zjunk", "UTC", &ok);
	test_cond("trailing bytes refused", !ok);
	iso("2027-13-01T00:00Z", "UTC", &ok);
	test_cond("month 13 refused", !ok);

	schedule_iso(1800003600LL, buf, sizeof(buf));
	test_cond("schedule_iso", strcmp(buf, "2027-01-15T09:00:00.000Z") == 0);

	test_cond("cron and at both: field cron",
	    schedule_when_load(&w, "* * * * *", "2027-01-15T09:00Z", "UTC",
	    field, sizeof(field), why, sizeof(why)) == -1 &&
	    strcmp(field, "cron") == 0);
	test_cond("a bad zone: field timezone, message begins with it",
	    schedule_when_load(&w, "* * * * *", NULL, "No/Where", field,
	    sizeof(field), why, sizeof(why)) == -1 &&
	    strcmp(field, "timezone") == 0 &&
	    strncmp(why, "timezone: ", 10) == 0);
	test_cond("a bad cron: field cron, the cron field in the message",
	    schedule_when_load(&w, "61 * * * *", NULL, "UTC", field,
	    sizeof(field), why, sizeof(why)) == -1 &&
	    strcmp(field, "cron") == 0 && strstr(why, "minute") != NULL);
	test_cond("a bad at: field at",
	    schedule_when_load(&w, NULL, "soon", "UTC", field, sizeof(field),
	    why, sizeof(why)) == -1 && strcmp(field, "at") == 0);

	test_cond("an at loads", schedule_when_load(&w, NULL,
	    "2027-01-15T09:00Z", "UTC", field, sizeof(field), why,
	    sizeof(why)) == 0);
	test_cond("an at: its time is next before it",
	    schedule_when_next(&w, 1800003599LL, &t) == 0 &&
	    t == 1800003600LL);
	test_cond("an at: none once it has passed",
	    schedule_when_next(&w, 1800003600LL, &t) == 1);
	schedule_when_clear(&w);

	test_cond("a cron loads", schedule_when_load(&w, "*/15 * * * *", NULL,
	    "UTC", field, sizeof(field), why, sizeof(why)) == 0);
	test_cond("a cron: the next quarter hour, strictly after",
	    schedule_when_next(&w, 1800003600LL, &t) == 0 &&
	    t == 1800003600LL + 900);
	schedule_when_clear(&w);

	/* The columns end at 2038-01-19T03:14:07Z (FROM_UNIXTIME). */
	test_cond("an at after 2038 is refused, naming at",
	    schedule_when_load(&w, NULL, "2040-01-01T00:00:00Z", "UTC", field,
	    sizeof(field), why, sizeof(why)) == -1 &&
	    strcmp(field, "at") == 0 && strstr(why, "2038") != NULL);
	test_cond("an at at the last second loads",
	    schedule_when_load(&w, NULL, "2038-01-19T03:14:07Z", "UTC", field,
	    sizeof(field), why, sizeof(why)) == 0 &&
	    w.at == SCHEDULE_TIME_MAX);
	schedule_when_clear(&w);
	test_cond("a yearly cron loads", schedule_when_load(&w, "0 0 1 1 *",
	    NULL, "UTC", field, sizeof(field), why, sizeof(why)) == 0);
	test_cond("a cron time before the end is one",
	    schedule_when_next(&w, 2114380800LL, &t) == 0 &&
	    t == 2145916800LL);	/* 2038-01-01 */
	test_cond("a cron time after the end is none (2)",
	    schedule_when_next(&w, 2145916800LL, &t) == 2);
	schedule_when_clear(&w);

	/* The test clock: off, a file with an offset, a file with junk. */
	unsetenv(SCHEDULE_CLOCK_ENV);
	real = (long long)time(NULL);
	t = schedule_now();
	test_cond("no clock file: the real clock", schedule_clock_file() ==
	    NULL && t >= real && t <= real + 2);
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return 1;
	fprintf(f, "3600\n");
	fclose(f);
	setenv(SCHEDULE_CLOCK_ENV, path, 1);
	t = schedule_now();
	test_cond("a clock file adds its offset", t >= real + 3600 &&
	    t <= real + 3602);
	f = fopen(path, "w");
	fprintf(f, "9999999999999\n");
	fclose(f);
	t = schedule_now();
	test_cond("an offset past the bound is ignored", t >= real &&
	    t <= real + 2);
	unlink(path);
	test_cond("a missing clock file: offset 0",
	    schedule_now() <= real + 2);
	unsetenv(SCHEDULE_CLOCK_ENV);
	test_report();
}
