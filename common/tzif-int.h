/*
 * Inside a loaded zone: tzif.c reads the file and answers tz_local() and
 * tz_utc(); tzif-rule.c parses and evaluates the POSIX TZ rule of its
 * footer, which covers every instant after the last transition.
 */
#ifndef PULSE_TZIF_INT_H
#define PULSE_TZIF_INT_H

#include <stddef.h>

#include "pulse-limits.h"

#define TZ_ABBR_MAX	16	/* an abbreviation's bytes, NUL included */

/* One of a zone's local time types: its offset east of UTC in seconds. */
struct tz_type {
	long		 off;
	int		 isdst;
	const char	*abbr;
};

/*
 * A rule's date: 'J' Julian day n (1-365, February 29 never counted),
 * 'n' zero-based day n (0-365), 'M' day d (0 Sunday) of week w (1-5, 5
 * the last) of month m; at `time` seconds after local midnight (-167 to
 * 167 hours, RFC 8536's extension of POSIX).
 */
struct tz_rule_date {
	char		 kind;
	int		 n, m, w, d;
	long		 time;
};

/* "CET-1CEST,M3.5.0,M10.5.0/3": offsets east of UTC, as tz_type holds. */
struct tz_rule {
	struct tz_type	 std, dst;
	int		 has_dst;
	struct tz_rule_date start, end;
	char		 std_abbr[TZ_ABBR_MAX], dst_abbr[TZ_ABBR_MAX];
};

struct tz {
	char		 name[PULSE_TZ_NAME_MAX + 1];
	size_t		 ntrans;
	long long	*trans;		/* strictly increasing */
	unsigned char	*tidx;		/* type of each transition */
	size_t		 ntypes;
	struct tz_type	*types;
	char		*abbrs;
	int		 has_rule;
	struct tz_rule	 rule;
};

/* tzif-rule.c */
int	 tz_rule_parse(struct tz_rule *, const char *, size_t, char *, size_t);
const struct tz_type *tz_rule_type(const struct tz_rule *, long long);

#endif
