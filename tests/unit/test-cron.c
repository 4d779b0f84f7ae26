/*
 * Unit tests for common/cron.c: parse errors with their exact messages
 * (field and position), what parses, and next fire times from a table:
 * daylight-saving changes both ways in Europe/Berlin, America/New_York
 * and Australia/Lord_Howe (30 minutes), February 29, steps (every 7 minutes),
 * month ends, the day-of-month/day-of-week rule, macros, no fire within
 * 8 years, and the cost of searching that far. Times are written as the
 * local time with its offset, as a person checks them on a calendar.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "tzif.h"
#include "test.h"

static const struct bad {
	const char	*expr;
	const char	*why;
} bad[] = {
	{ "61 * * * *", "minute field: 61 is out of range 0-59" },
	{ "0 9 * * fri2", "day-of-week field at position 9: unknown name "
	    "'fri2'" },
	{ "0 24 * * *", "hour field at position 3: 24 is out of range 0-23" },
	{ "0 0 0 * *", "day-of-month field at position 5: 0 is out of range "
	    "1-31" },
	{ "0 0 32 * *", "day-of-month field at position 5: 32 is out of "
	    "range 1-31" },
	{ "0 0 * 13 *", "month field at position 7: 13 is out of range "
	    "1-12" },
	{ "0 0 * 0 *", "month field at position 7: 0 is out of range 1-12" },
	{ "0 0 * * 8", "day-of-week field at position 9: 8 is out of range "
	    "0-7" },
	{ "0-60 * * * *", "minute field at position 3: 60 is out of range "
	    "0-59" },
	{ "99999999999999999999999 * * * *", "minute field: "
	    "9999999999999999... is out of range 0-59" },
	{ "*/0 * * * *", "minute field at position 3: step 0 is out of "
	    "range 1-60" },
	{ "*/61 * * * *", "minute field at position 3: step 61 is out of "
	    "range 1-60" },
	{ "0 */25 * * *", "hour field at position 5: step 25 is out of "
	    "range 1-24" },
	{ "0 0 * * 1-5/9", "day-of-week field at position 13: step 9 is "
	    "out of range 1-8" },
	{ "*/ * * * *", "minute field at position 3: a step is missing "
	    "after '/'" },
	{ "*/x * * * *", "minute field at position 3: unexpected 'x'" },
	{ "5-3 * * * *", "minute field: range 5-3 ends before it starts" },
	{ "0 0 * dec-jan *", "month field at position 7: range 12-1 ends "
	    "before it starts" },
	{ "0 0 * * sat-mon", "day-of-week field at position 9: range 6-1 "
	    "ends before it starts" },
	{ "1,,2 * * * *", "minute field at position 3: empty list item" },
	{ "1, * * * *", "minute field at position 3: empty list item" },
	{ ",1 * * * *", "minute field: empty list item" },
	{ "5- * * * *", "minute field at position 3: a value is missing" },
	{ "1x * * * *", "minute field at position 2: unexpected 'x'" },
	{ "** * * * *", "minute field at position 2: unexpected '*'" },
	{ "*-5 * * * *", "minute field at position 2: unexpected '-'" },
	{ "mon * * * *", "minute field: unknown name 'mon'" },
	{ "0 0 * jan-foo *", "month field at position 11: unknown name "
	    "'foo'" },
	{ "0 0 * january *", "month field at position 7: unknown name "
	    "'january'" },
	{ "0 0 * * m\xc3\xb6n", "day-of-week field at position 9: unknown "
	    "name 'm'" },
	{ "\xc3\xa9 * * * *", "minute field: unexpected byte 0xc3" },
	{ "0 0 * * mon\x01", "day-of-week field at position 12: unexpected "
	    "byte 0x01" },
	{ "0 0 * * abcdefghijklmnopqrstuvwxyz", "day-of-week field at "
	    "position 9: unknown name 'abcdefghijklmnop'..." },
	{ "* * * * * *", "expected 5 fields (minute hour day-of-month month "
	    "day-of-week), found 6" },
	{ "* * * *", "expected 5 fields (minute hour day-of-month month "
	    "day-of-week), found 4" },
	{ "", "empty expression" },
	{ " \t\n", "empty expression" },
	{ "@reboot", "unknown macro '@reboot' (known: @hourly, @daily, "
	    "@midnight, @weekly, @monthly, @yearly, @annually)" },
	{ "@", "unknown macro '@' (known: @hourly, @daily, @midnight, "
	    "@weekly, @monthly, @yearly, @annually)" },
	{ "@d\xc3\xa4ily", "unknown macro (known: @hourly, @daily, "
	    "@midnight, @weekly, @monthly, @yearly, @annually)" },
	{ "@daily 5", "unexpected text after @daily" },
	{ "@daily@hourly", "unknown macro (known: @hourly, @daily, "
	    "@midnight, @weekly, @monthly, @yearly, @annually)" },
};

static const char *const good[] = {
	"* * * * *", "0 0 1 1 *", "59 23 31 12 7", "*/1 */1 */1 */1 */1",
	"*/60 */24 */31 */12 */8", "0-59/59 0-23/23 1-31/30 1-12/11 0-7/7",
	"1,2,3-5,10-20/5 * * * *", "0 0 * JAN,Feb,mAr *", "0 0 * * SUN-sat",
	"0 0 * * mon-sun", "0 0 * * 5-0", "0 0 * * 7", "5/15 * * * *",
	"\t0\t0 * *\t*\n", "@hourly", "@daily", "@midnight", "@weekly",
	"@monthly", "@yearly", "@annually", " @DAILY ", "0 0 31 2 *",
};

/* Expected fire times, local with offset; NULL ends a list. */
static const struct next {
	const char	*expr, *zone, *after;	/* after: UTC */
	const char	*want[6];
} nexts[] = {
	/* Spring forward, Berlin 2026-03-29 02:00 CET -> 03:00 CEST: the
	 * skipped 02:30 fires at 03:00, once. */
	{ "30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z", {
	    "2026-03-28T02:30+01:00", "2026-03-29T03:00+02:00",
	    "2026-03-30T02:30+02:00", NULL } },
	{ "*/15 2 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", {
	    "2026-03-29T03:00+02:00", "2026-03-30T02:00+02:00",
	    "2026-03-30T02:15+02:00", NULL } },
	{ "0,30 2,3 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", {
	    "2026-03-29T03:00+02:00", "2026-03-29T03:30+02:00",
	    "2026-03-30T02:00+02:00", NULL } },
	{ "59 1 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", {
	    "2026-03-29T01:59+01:00", "2026-03-30T01:59+02:00", NULL } },
	{ "* * * * *", "Europe/Berlin", "2026-03-29T00:58:00Z", {
	    "2026-03-29T01:59+01:00", "2026-03-29T03:00+02:00",
	    "2026-03-29T03:01+02:00", NULL } },
	/* Fall back, Berlin 2026-10-25 03:00 CEST -> 02:00 CET: the repeated
	 * 02:30 fires once, at its first occurrence. */
	{ "30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", {
	    "2026-10-25T02:30+02:00", "2026-10-26T02:30+01:00", NULL } },
	{ "*/30 * * * *", "Europe/Berlin", "2026-10-24T23:15:00Z", {
	    "2026-10-25T01:30+02:00", "2026-10-25T02:00+02:00",
	    "2026-10-25T02:30+02:00", "2026-10-25T03:00+01:00", NULL } },
	/* From inside the second pass: nothing until past it. */
	{ "0 * * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", {
	    "2026-10-25T03:00+01:00", NULL } },
	{ "45 2 * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", {
	    "2026-10-26T02:45+01:00", NULL } },
	/* New York: 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00
	 * EDT -> 01:00 EST. */
	{ "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", {
	    "2026-03-08T03:00-04:00", "2026-03-09T02:30-04:00", NULL } },
	{ "0 3 * * *", "America/New_York", "2026-03-07T12:00:00Z", {
	    "2026-03-08T03:00-04:00", "2026-03-09T03:00-04:00", NULL } },
	{ "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", {
	    "2026-11-01T01:30-04:00", "2026-11-02T01:30-05:00", NULL } },
	{ "0 1,2 * * *", "America/New_York", "2026-10-31T12:00:00Z", {
	    "2026-11-01T01:00-04:00", "2026-11-01T02:00-05:00",
	    "2026-11-02T01:00-05:00", NULL } },
	/* Past 2037: the footer's rule. */
	{ "30 2 * 3 sun", "America/New_York", "2100-03-01T00:00:00Z", {
	    "2100-03-07T02:30-05:00", "2100-03-14T03:00-04:00",
	    "2100-03-21T02:30-04:00", NULL } },
	/* Lord Howe: 30 minutes. 2026-10-04 02:00 +10:30 -> 02:30 +11;
	 * 2026-04-05 02:00 +11 -> 01:30 +10:30. */
	{ "15 2 * * *", "Australia/Lord_Howe", "2026-10-02T12:00:00Z", {
	    "2026-10-03T02:15+10:30", "2026-10-04T02:30+11:00",
	    "2026-10-05T02:15+11:00", NULL } },
	{ "45 1 * * *", "Australia/Lord_Howe", "2026-04-03T12:00:00Z", {
	    "2026-04-04T01:45+11:00", "2026-04-05T01:45+11:00",
	    "2026-04-06T01:45+10:30", NULL } },
	{ "*/20 1 * * *", "Australia/Lord_Howe", "2026-04-04T13:00:00Z", {
	    "2026-04-05T01:00+11:00", "2026-04-05T01:20+11:00",
	    "2026-04-05T01:40+11:00", "2026-04-06T01:00+10:30", NULL } },
	/* February 29. */
	{ "0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", {
	    "2028-02-29T00:00+00:00", "2032-02-29T00:00+00:00", NULL } },
	{ "0 0 29 2 *", "America/New_York", "2096-03-01T00:00:00Z", {
	    "2104-02-29T00:00-05:00", NULL } },
	{ "0 0 28 2 *", "UTC", "2028-02-28T00:00:00Z", {
	    "2029-02-28T00:00+00:00", NULL } },
	/* Steps start at the field's first value. */
	{ "*/7 * * * *", "UTC", "2026-05-01T00:50:00Z", {
	    "2026-05-01T00:56+00:00", "2026-05-01T01:00+00:00",
	    "2026-05-01T01:07+00:00", NULL } },
	{ "0 0 */7 * *", "UTC", "2026-02-23T00:00:00Z", {
	    "2026-03-01T00:00+00:00", "2026-03-08T00:00+00:00", NULL } },
	{ "5/20 * * * *", "UTC", "2026-05-01T00:45:00Z", {
	    "2026-05-01T01:05+00:00", "2026-05-01T01:25+00:00", NULL } },
	/* Month ends. */
	{ "0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", {
	    "2026-03-31T00:00+00:00", "2026-05-31T00:00+00:00",
	    "2026-07-31T00:00+00:00", "2026-08-31T00:00+00:00", NULL } },
	{ "0 0 30 * *", "UTC", "2026-01-30T00:00:00Z", {
	    "2026-03-30T00:00+00:00", NULL } },
	{ "59 23 31 12 *", "Europe/Berlin", "2026-12-31T22:59:00Z", {
	    "2027-12-31T23:59+01:00", NULL } },
	{ "0 0 1 1 *", "America/New_York", "2026-12-31T12:00:00Z", {
	    "2027-01-01T00:00-05:00", NULL } },
	{ "0 12 28-31 2 *", "UTC", "2027-02-27T00:00:00Z", {
	    "2027-02-28T12:00+00:00", "2028-02-28T12:00+00:00",
	    "2028-02-29T12:00+00:00", "2029-02-28T12:00+00:00", NULL } },
	/* Both day fields restricted: either. One a '*': both. */
	{ "0 12 13 * fri", "UTC", "2026-02-01T00:00:00Z", {
	    "2026-02-06T12:00+00:00", "2026-02-13T12:00+00:00",
	    "2026-02-20T12:00+00:00", "2026-02-27T12:00+00:00",
	    "2026-03-06T12:00+00:00", "2026-03-13T12:00+00:00" } },
	{ "0 0 1 * mon", "UTC", "2026-05-26T00:00:00Z", {
	    "2026-06-01T00:00+00:00", "2026-06-08T00:00+00:00", NULL } },
	{ "0 0 */2 * mon", "UTC", "2026-06-01T00:00:00Z", {
	    "2026-06-15T00:00+00:00", "2026-06-29T00:00+00:00",
	    "2026-07-13T00:00+00:00", NULL } },
	{ "0 0 * * 7", "UTC", "2026-06-01T00:00:00Z", {
	    "2026-06-07T00:00+00:00", NULL } },
	{ "0 0 * * fri-sun", "UTC", "2026-06-01T00:00:00Z", {
	    "2026-06-05T00:00+00:00", "2026-06-06T00:00+00:00",
	    "2026-06-07T00:00+00:00", "2026-06-12T00:00+00:00", NULL } },
	/* Macros. */
	{ "@weekly", "UTC", "2026-06-03T00:00:00Z", {
	    "2026-06-07T00:00+00:00", NULL } },
	{ "@monthly", "Europe/Berlin", "2026-06-03T00:00:00Z", {
	    "2026-07-01T00:00+02:00", NULL } },
	{ "@yearly", "UTC", "2026-06-03T00:00:00Z", {
	    "2027-01-01T00:00+00:00", NULL } },
	{ "@hourly", "UTC", "2026-06-03T00:00:00Z", {
	    "2026-06-03T01:00+00:00", NULL } },
	/* Strictly after, from any second. */
	{ "* * * * *", "UTC", "2026-06-03T00:00:30Z", {
	    "2026-06-03T00:01+00:00", "2026-06-03T00:02+00:00", NULL } },
	/* Before 1970. */
	{ "0 0 1 1 *", "UTC", "1969-06-01T00:00:00Z", {
	    "1970-01-01T00:00+00:00", NULL } },
	/* None within 8 years. */
	{ "0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", { NULL } },
	{ "0 0 31 4,6,9,11 *", "Europe/Berlin", "2026-01-01T00:00:00Z",
	    { NULL } },
};

/* "2026-03-27T12:00:00Z" -> UTC seconds. */
static long long
parse_utc(const char *s)
{
	struct tm	 tm = { 0 };
	long long	 u;

	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		abort();
	tm.tm_year -= 1900;
	tm.tm_mon--;
	if (tz_utc(NULL, &tm, &u) != 0)
		abort();
	return u;
}

static void
format_local(const struct tz *z, long long t, char *buf, size_t len)
{
	struct tm	 tm;
	long		 off;

	tz_local(z, t, &tm, &off);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d%c%02ld:%02ld",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, off < 0 ? '-' : '+', labs(off) / 3600,
	    labs(off) / 60 % 60);
}

static void
test_nexts(void)
{
	char		 why[256], label[512], got[64];
	struct cron	*c;
	struct tz	*z;
	size_t		 i, k, o;
	long long	 t, next;
	int		 ok, rc;

	for (i = 0; i < sizeof(nexts) / sizeof(nexts[0]); i++) {
		const struct next *n = &nexts[i];

		if (cron_parse(n->expr, &c, why, sizeof(why)) == -1 ||
		    tz_load(n->zone, &z, why, sizeof(why)) == -1) {
			test_cond(why, 0);
			continue;
		}
		o = (size_t)snprintf(label, sizeof(label), "\"%s\" in %s "
		    "after %s:", n->expr, n->zone, n->after);
		t = parse_utc(n->after);
		ok = 1;
		for (k = 0; k < 6; k++) {
			rc = cron_next(c, z, t, &next);
			if (n->want[k] == NULL) {
				if (k == 0 && rc == -1)
					o += (size_t)snprintf(label + o,
					    sizeof(label) - o, " none");
				if (k == 0)
					ok = rc == -1;
				break;
			}
			if (rc == -1) {
				ok = 0;
				o += (size_t)snprintf(label + o,
				    sizeof(label) - o, " [none, want %s]",
				    n->want[k]);
				break;
			}
			format_local(z, next, got, sizeof(got));
			if (strcmp(got, n->want[k]) != 0 || next <= t) {
				ok = 0;
				o += (size_t)snprintf(label + o,
				    sizeof(label) - o, " [%s, want %s]", got,
				    n->want[k]);
				break;
			}
			o += (size_t)snprintf(label + o, sizeof(label) - o,
			    " %s", got);
			t = next;
		}
		test_cond(label, ok);
		cron_free(c);
		tz_free(z);
	}
}

int
main(void)
{
	char		 why[256], label[400], expr[PULSE_CRON_EXPR_MAX + 2];
	struct cron	*c;
	struct tz	*z;
	size_t		 i;
	long long	 next, t;
	clock_t		 t0;
	int		 rc, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		c = (struct cron *)1;
		rc = cron_parse(bad[i].expr, &c, why, sizeof(why));
		snprintf(label, sizeof(label), "refused: %s (got \"%s\")",
		    bad[i].why, why);
		test_cond(label, rc == -1 && c == NULL &&
		    strcmp(why, bad[i].why) == 0);
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		why[0] = '\0';
		rc = cron_parse(good[i], &c, why, sizeof(why));
		snprintf(label, sizeof(label), "parses: \"%s\" %s", good[i],
		    why);
		test_cond(label, rc == 0 && c != NULL);
		cron_free(c);
	}

	/* The length limit, and a short buffer for the reason. */
	memset(expr, ' ', sizeof(expr));
	memcpy(expr, "* * * * *", 9);
	expr[PULSE_CRON_EXPR_MAX] = '\0';
	test_cond("256 bytes parse",
	    cron_parse(expr, &c, why, sizeof(why)) == 0);
	cron_free(c);
	expr[PULSE_CRON_EXPR_MAX] = ' ';
	expr[PULSE_CRON_EXPR_MAX + 1] = '\0';
	test_cond("257 bytes do not", cron_parse(expr, &c, why,
	    sizeof(why)) == -1 && strcmp(why, "expression is longer than "
	    "256 bytes") == 0);
	test_cond("a short reason buffer is cut, terminated",
	    cron_parse("0 0 * * fri2", &c, why, 12) == -1 &&
	    strcmp(why, "day-of-week") == 0);
	cron_free(NULL);

	test_nexts();

	/* Sunday 0 and 7, and "mon-sun", are the same days. */
	{
		struct cron	*a, *b;
		long long	 na, nb;

		cron_parse("0 0 * * 0", &a, why, sizeof(why));
		cron_parse("0 0 * * 7", &b, why, sizeof(why));
		t = parse_utc("2026-06-01T00:00:00Z");
		test_cond("0 and 7 are both Sunday",
		    cron_next(a, NULL, t, &na) == 0 &&
		    cron_next(b, NULL, t, &nb) == 0 && na == nb);
		cron_free(a);
		cron_free(b);
	}

	/* Search cost: none within 8 years, 1,000 times, is quick (months
	 * and days are skipped whole, never walked minute by minute). */
	cron_parse("0 0 30 2 *", &c, why, sizeof(why));
	tz_load("Europe/Berlin", &z, why, sizeof(why));
	t0 = clock();
	for (n = 0, rc = 0; n < 1000; n++)
		rc |= cron_next(c, z, 1700000000LL + n * 86400LL, &next) + 1;
	snprintf(label, sizeof(label), "1,000 searches of 8 years for "
	    "\"0 0 30 2 *\" in %.0f ms (limit 2,000)",
	    (double)(clock() - t0) * 1000 / CLOCKS_PER_SEC);
	test_cond(label, rc == 0 &&
	    (double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	cron_free(c);
	cron_parse("59 23 31 12 *", &c, why, sizeof(why));
	t0 = clock();
	for (n = 0, t = 1700000000LL, rc = 0; n < 1000 && rc == 0; n++)
		rc = cron_next(c, z, t, &t);
	snprintf(label, sizeof(label), "1,000 yearly fire times in %.0f ms "
	    "(limit 2,000)", (double)(clock() - t0) * 1000 / CLOCKS_PER_SEC);
	test_cond(label, rc == 0 && n == 1000 &&
	    (double)(clock() - t0) / CLOCKS_PER_SEC < 2.0);
	cron_free(c);

	/* Years 1..9990 only. */
	cron_parse("* * * * *", &c, why, sizeof(why));
	test_cond("after year 9990: none",
	    cron_next(c, z, 253402300799LL - 86400LL * 366 * 5, &next) == -1);
	test_cond("before year 1: none",
	    cron_next(c, z, -62135596800LL - 1, &next) == -1);
	test_cond("a NULL zone is UTC", cron_next(c, NULL, 59, &next) == 0 &&
	    next == 60);
	cron_free(c);
	tz_free(z);
	test_report();
}
