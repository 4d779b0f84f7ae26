/*
 * Cron expressions (SPEC section 16): five fields, or an @-macro, and the
 * next fire time in an IANA zone with daylight-saving rules a user can
 * predict. Pure: no I/O, no logging, no global state.
 */
#ifndef PULSE_CRON_H
#define PULSE_CRON_H

#include <stddef.h>

#include "pulse-limits.h"
#include "tzif.h"

/*
 * A parsed expression: "minute hour day-of-month month day-of-week", or
 * @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually.
 * Fields: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or
 * jan-dec, day-of-week 0-7 (0 and 7 Sunday) or sun-sat; each a list of
 * `*`, `a`, `a-b`, `*` or `a-b` followed by `/n`, and `a/n` (a to the
 * field's end, step n); names case-insensitive; a day-of-week range
 * that ends on Sunday ends on 7 ("fri-sun", "5-0"). At most
 * PULSE_CRON_EXPR_MAX bytes.
 */
struct cron;

/*
 * 0, or -1 with why set to the field and the 1-based byte position in
 * the expression (left out when it is 1), e.g.
 *   "minute field: 61 is out of range 0-59"
 *   "day-of-week field at position 9: unknown name 'fri2'"
 * why is valid UTF-8: a byte of the expression that is not printable
 * ASCII is shown in hex.
 */
int	 cron_parse(const char *expr, struct cron **out, char *why,
	    size_t whylen);
void	 cron_free(struct cron *);

/*
 * The first fire time strictly after `after` (UTC seconds) in zone tz
 * (NULL: UTC): 0 and *next, or -1 if there is none within 8 years (e.g.
 * "0 0 30 2 *") or `after` is outside years 1..9990.
 * Daylight saving: a local time that does not exist fires at the next
 * valid instant, once (30 2 * * * on the day Europe/Berlin springs
 * forward fires at 03:00); a repeated local time fires once, at its first
 * occurrence. The day rule is Vixie cron's: when day-of-month and
 * day-of-week are both restricted (neither starts with `*`), a day that
 * matches either fires; otherwise a day must match both.
 */
int	 cron_next(const struct cron *, const struct tz *, long long after,
	    long long *next);

#endif
