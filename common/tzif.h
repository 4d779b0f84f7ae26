/*
 * A time zone read from the system's TZif files (RFC 8536; tzdata's
 * /usr/share/zoneinfo, PULSE_ZONEINFO_DIR overrides it for tests): the
 * 64-bit data of a version 2+ file, and its POSIX TZ footer for instants
 * after the last transition. A loaded zone is immutable, so any number of
 * threads may share one; nothing here touches TZ, tzset() or localtime().
 */
#ifndef PULSE_TZIF_H
#define PULSE_TZIF_H

#include <stddef.h>
#include <time.h>

#include "pulse-limits.h"

struct tz;

/*
 * Load zone `name` (an IANA name such as "Europe/Berlin"). "UTC" and
 * "Etc/UTC" always work, with no zoneinfo installed. A name is at most
 * PULSE_TZ_NAME_MAX bytes of [A-Za-z0-9_+-/], with no "..", no empty
 * part and no leading or trailing '/'; the file at most PULSE_TZ_FILE_MAX
 * bytes, every count in it checked against its size. -1 with a reason in
 * why (valid UTF-8, never the bytes of a bad name) on failure.
 */
int	 tz_load(const char *name, struct tz **out, char *why, size_t whylen);
void	 tz_free(struct tz *);
/* The name it was loaded by. */
const char *tz_name(const struct tz *);

/*
 * For these two, a NULL zone is UTC.
 * UTC seconds -> local broken-down time (tm_isdst, tm_gmtoff and tm_zone
 * set; tm_zone points into the zone) and its offset east of UTC in
 * seconds. -1 outside years 1..9999.
 */
int	 tz_local(const struct tz *, long long utc, struct tm *out,
	    long *gmtoff);

/*
 * Local wall time (tm_year, tm_mon, tm_mday, tm_hour, tm_min, tm_sec;
 * out-of-range fields carry over like timegm) -> UTC seconds:
 *   0  unique;
 *   1  ambiguous (a repeated hour): *utc is the FIRST occurrence;
 *   2  nonexistent (a skipped hour): *utc is the first valid instant
 *      after it, e.g. 02:30 on a spring-forward day -> 03:00 local;
 *  -1  outside years 1..9999.
 */
int	 tz_utc(const struct tz *, const struct tm *local, long long *utc);

/*
 * The proleptic Gregorian calendar, shared with cron.c: days since
 * 1970-01-01 of y-m-d (m 1-12; d may run past the month's end), and back.
 */
long long tz_days(long long y, int m, int d);
void	 tz_civil(long long days, long long *y, int *m, int *d);
int	 tz_month_days(long long y, int m);

#endif
