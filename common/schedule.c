/*
 * A schedule's fire times (schedule.h): cron.c and tzif.c do the
 * calendar work; this file loads a schedule's text into them, reads the
 * one-shot `at`, and keeps the scheduler's clock with its test offset.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "schedule.h"
#include "tzif.h"

const char *
schedule_clock_file(void)
{
	const char	*f = getenv(SCHEDULE_CLOCK_ENV);

	return f != NULL && *f != '\0' ? f : NULL;
}

/* The offset the test clock file holds, bounded; 0 when unreadable. */
static long long
clock_offset(void)
{
	const char	*path = schedule_clock_file();
	FILE		*f;
	char		 buf[32], *end;
	long long	 v;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	v = strtoll(buf, &end, 10);
	if (end == buf || v < -SCHEDULE_CLOCK_MAX || v > SCHEDULE_CLOCK_MAX)
		return 0;
	return v;
}

long long
schedule_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec + clock_offset();
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long	 era;
	unsigned	 yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

void
schedule_iso(long long utc, char *buf, size_t len)
{
	struct tm	 tm;
	time_t		 t = (time_t)utc;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.000Z",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

/* n digits at *p into *v; 0 or -1. */
static int
digits(const char **p, int n, int *v)
{
	int	 i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

int
schedule_parse_iso(const char *s, const struct tz *tz, long long *utc,
    char *why, size_t whylen)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	const char	*p = s;
	struct tm	 tm;
	int		 y, mo, d, h, mi, sec = 0, oh, om, sign = 0, frac;

	if (strlen(s) > 40)
		goto bad;
	if (digits(&p, 4, &y) == -1 || *p++ != '-' ||
	    digits(&p, 2, &mo) == -1 || *p++ != '-' ||
	    digits(&p, 2, &d) == -1 || (*p != 'T' && *p != ' ') ||
	    (p++, digits(&p, 2, &h)) == -1 || *p++ != ':' ||
	    digits(&p, 2, &mi) == -1)
		goto bad;
	if (*p == ':') {
		p++;
		if (digits(&p, 2, &sec) == -1)
			goto bad;
		if (*p == '.') {
			/* Fire times are whole seconds: the fraction is cut. */
			for (p++, frac = 0; isdigit((unsigned char)*p) &&
			    frac < 9; p++, frac++)
				;
			if (frac == 0)
				goto bad;
		}
	}
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59 ||
	    (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 ||
	    y % 400 == 0)))) {
		snprintf(why, whylen, "'%.40s' is not a valid date and time",
		    s);
		return -1;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
		sign = 1;
		oh = om = 0;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (digits(&p, 2, &oh) == -1 || (*p == ':' && *++p == '\0') ||
		    digits(&p, 2, &om) == -1 || oh > 23 || om > 59)
			goto bad;
	}
	if (*p != '\0')
		goto bad;
	if (sign != 0) {
		*utc = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
		    h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	if (tz_utc(tz, &tm, utc) == -1) {
		snprintf(why, whylen, "'%.40s' cannot be placed in the time "
		    "zone", s);
		return -1;
	}
	return 0;
bad:
	snprintf(why, whylen, "'%.40s' is not ISO-8601 "
	    "(YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])", s);
	return -1;
}

int
schedule_when_load(struct schedule_when *w, const char *cron, const char *at,
    const char *timezone, char *field, size_t fieldlen, char *why,
    size_t whylen)
{
	char	 sub[256];

	memset(w, 0, sizeof(*w));
	w->at = -1;
	if ((cron == NULL) == (at == NULL)) {
		snprintf(field, fieldlen, "cron");
		snprintf(why, whylen, "cron: give exactly one of cron and at");
		return -1;
	}
	if (tz_load(timezone, &w->tz, sub, sizeof(sub)) == -1) {
		snprintf(field, fieldlen, "timezone");
		snprintf(why, whylen, "timezone: %s", sub);
		return -1;
	}
	if (cron != NULL &&
	    cron_parse(cron, &w->cron, sub, sizeof(sub)) == -1) {
		snprintf(field, fieldlen, "cron");
		snprintf(why, whylen, "cron: %s", sub);
		goto fail;
	}
	if (at != NULL && schedule_parse_iso(at, w->tz, &w->at, sub,
	    sizeof(sub)) == -1) {
		snprintf(field, fieldlen, "at");
		snprintf(why, whylen, "at: %s", sub);
		goto fail;
	}
	if (at != NULL && w->at > SCHEDULE_TIME_MAX) {
		snprintf(field, fieldlen, "at");
		snprintf(why, whylen, "at: %s is after 2038-01-19T03:14:07Z, "
		    "the last time a schedule can hold", at);
		goto fail;
	}
	return 0;
fail:
	schedule_when_clear(w);
	return -1;
}

void
schedule_when_clear(struct schedule_when *w)
{
	cron_free(w->cron);
	tz_free(w->tz);
	w->cron = NULL;
	w->tz = NULL;
}

int
schedule_when_next(const struct schedule_when *w, long long after,
    long long *next)
{
	if (w->cron == NULL) {
		if (w->at <= after)
			return 1;
		*next = w->at;
		return 0;
	}
	if (cron_next(w->cron, w->tz, after, next) == -1)
		return 1;
	return *next > SCHEDULE_TIME_MAX ? 2 : 0;
}
