/*
 * When a schedule fires (SPEC section 16): its cron expression or one-shot
 * `at` instant in its time zone, the next fire times, and the scheduler's
 * clock. Shared by pulse-api (validation, next_run_at on save, preview)
 * and pushd (firing), so both compute the same times from the same "now".
 * Pure but for schedule_now(), which reads the test clock file.
 */
#ifndef PULSE_SCHEDULE_H
#define PULSE_SCHEDULE_H

#include <stddef.h>

struct cron;
struct tz;

/*
 * Test hook: when this environment variable names a file, the scheduler's
 * "now" is the real clock plus the whole seconds the file holds (re-read
 * at every call; missing or unreadable: 0), so tests run every-minute
 * schedules without waiting minutes. Never set in production.
 */
#define SCHEDULE_CLOCK_ENV	"PULSE_TEST_CLOCK_FILE"
#define SCHEDULE_CLOCK_MAX	(10LL * 366 * 86400)	/* offset's bound */

/* UTC seconds: the real clock plus the test offset, if any. */
long long	 schedule_now(void);
/* The test clock file, or NULL when the hook is off. */
const char	*schedule_clock_file(void);

/* A schedule's "when", loaded once from its stored or given text. */
struct schedule_when {
	struct cron	*cron;		/* NULL for a one-shot */
	struct tz	*tz;
	long long	 at;		/* UTC seconds, or -1 with a cron */
};

/*
 * Load cron (or at, an ISO-8601 instant: with Z or an offset, or a local
 * time in timezone) and timezone. Exactly one of cron and at is non-NULL.
 * -1 with field ("cron", "at", "timezone") and why (the field named first:
 * "cron: minute field: 61 is out of range 0-59").
 */
int	 schedule_when_load(struct schedule_when *, const char *cron,
	    const char *at, const char *timezone, char *field, size_t fieldlen,
	    char *why, size_t whylen);
void	 schedule_when_clear(struct schedule_when *);

/*
 * The last instant the schedules' columns hold: they are TIMESTAMP(3),
 * written and read with FROM_UNIXTIME/UNIX_TIMESTAMP, which end at
 * 2038-01-19T03:14:07Z in MariaDB before 11.5. An `at` after it is
 * refused (field "at"); a cron time after it is "none".
 */
#define SCHEDULE_TIME_MAX	2147483647LL

/* The first fire time strictly after `after`: 0 and *next, 1 none, 2
 * the next one is after SCHEDULE_TIME_MAX. */
int	 schedule_when_next(const struct schedule_when *, long long after,
	    long long *next);

/* "2026-03-29T01:00:00.000Z": buf of at least SCHEDULE_ISO_LEN + 1. */
#define SCHEDULE_ISO_LEN	24
void	 schedule_iso(long long utc, char *buf, size_t len);

/* ISO-8601 "YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM|-HH:MM]"; without a
 * zone the local time in tz (a skipped local time: the next valid one). */
int	 schedule_parse_iso(const char *s, const struct tz *tz, long long *utc,
	    char *why, size_t whylen);

#endif
