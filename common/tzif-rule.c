/*
 * The POSIX TZ rule of a TZif footer (RFC 8536 section 3.3), such as
 * "CET-1CEST,M3.5.0,M10.5.0/3" or "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0":
 * parsed once at load, then evaluated for the instants after a zone's
 * last transition (tzdata's files stop listing them in 2037 or earlier).
 */
#include <stdio.h>
#include <string.h>

#include "tzif.h"
#include "tzif-int.h"

#define HOUR	3600L

struct cursor {
	const char	*p, *end;
};

static int
peek(const struct cursor *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int
is_alpha(int ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
}

static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* A name: three or more letters, or <...> of letters, digits, + and -. */
static int
parse_name(struct cursor *c, char *out)
{
	size_t	 n = 0;

	if (peek(c) == '<') {
		c->p++;
		while (is_alpha(peek(c)) || is_digit(peek(c)) ||
		    peek(c) == '+' || peek(c) == '-') {
			if (n + 1 >= TZ_ABBR_MAX)
				return -1;
			out[n++] = *c->p++;
		}
		if (peek(c) != '>' || n < 3)
			return -1;
		c->p++;
	} else {
		while (is_alpha(peek(c))) {
			if (n + 1 >= TZ_ABBR_MAX)
				return -1;
			out[n++] = *c->p++;
		}
		if (n < 3)
			return -1;
	}
	out[n] = '\0';
	return 0;
}

/* Take ch if it comes next. */
static int
take(struct cursor *c, int ch)
{
	if (peek(c) != ch)
		return 0;
	c->p++;
	return 1;
}

/* An unsigned decimal of at most `digits` digits, in min..max. */
static int
parse_num(struct cursor *c, int digits, int min, int max, int *out)
{
	int	 v = 0, n = 0;

	while (is_digit(peek(c)) && n < digits) {
		v = v * 10 + (*c->p++ - '0');
		n++;
	}
	if (n == 0 || is_digit(peek(c)) || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]], hours at most hmax: seconds, west of UTC for offsets. */
static int
parse_time(struct cursor *c, int hmax, long *out)
{
	int	 h, m = 0, s = 0, sign = 1;

	if (take(c, '-'))
		sign = -1;
	else
		take(c, '+');
	if (parse_num(c, 3, 0, hmax, &h) == -1 ||
	    (take(c, ':') && (parse_num(c, 2, 0, 59, &m) == -1 ||
	    (take(c, ':') && parse_num(c, 2, 0, 59, &s) == -1))))
		return -1;
	*out = sign * (h * HOUR + m * 60L + s);
	return 0;
}

static int
parse_date(struct cursor *c, struct tz_rule_date *d)
{
	memset(d, 0, sizeof(*d));
	if (take(c, 'J')) {
		d->kind = 'J';
		if (parse_num(c, 3, 1, 365, &d->n) == -1)
			return -1;
	} else if (take(c, 'M')) {
		d->kind = 'M';
		if (parse_num(c, 2, 1, 12, &d->m) == -1 || !take(c, '.') ||
		    parse_num(c, 1, 1, 5, &d->w) == -1 || !take(c, '.') ||
		    parse_num(c, 1, 0, 6, &d->d) == -1)
			return -1;
	} else {
		d->kind = 'n';
		if (parse_num(c, 3, 0, 365, &d->n) == -1)
			return -1;
	}
	d->time = 2 * HOUR;
	if (take(c, '/') && parse_time(c, 167, &d->time) == -1)
		return -1;
	return 0;
}

/*
 * Parse the footer's len bytes into r. An offset is written west of UTC
 * ("CET-1" is one hour east); DST without an offset is one hour ahead of
 * standard time, and without dates follows the US rule POSIX suggests.
 */
int
tz_rule_parse(struct tz_rule *r, const char *s, size_t len, char *why,
    size_t whylen)
{
	struct cursor	 c = { s, s + len };
	long		 off;

	memset(r, 0, sizeof(*r));
	if (parse_name(&c, r->std_abbr) == -1 ||
	    parse_time(&c, 24, &off) == -1)
		goto fail;
	r->std.off = -off;
	r->std.abbr = r->std_abbr;
	if (peek(&c) == -1)
		return 0;
	r->has_dst = 1;
	if (parse_name(&c, r->dst_abbr) == -1)
		goto fail;
	r->dst.off = r->std.off + HOUR;
	r->dst.isdst = 1;
	r->dst.abbr = r->dst_abbr;
	if (peek(&c) != ',' && peek(&c) != -1) {
		if (parse_time(&c, 24, &off) == -1)
			goto fail;
		r->dst.off = -off;
	}
	if (peek(&c) == -1) {
		r->start = (struct tz_rule_date){ 'M', 0, 3, 2, 0, 2 * HOUR };
		r->end = (struct tz_rule_date){ 'M', 0, 11, 1, 0, 2 * HOUR };
		return 0;
	}
	if (!take(&c, ',') || parse_date(&c, &r->start) == -1 ||
	    !take(&c, ',') || parse_date(&c, &r->end) == -1 || peek(&c) != -1)
		goto fail;
	return 0;
fail:
	snprintf(why, whylen, "bad POSIX TZ rule in the file's footer at "
	    "byte %zu", (size_t)(c.p - s) + 1);
	return -1;
}

/* The UTC instant at which date d of year y begins, in a time off east. */
static long long
rule_instant(const struct tz_rule_date *d, long long y, long off)
{
	long long	 days;
	int		 leap, wd1, first;

	leap = tz_month_days(y, 2) == 29;
	switch (d->kind) {
	case 'J':
		days = tz_days(y, 1, 1) + d->n - 1 + (leap && d->n >= 60);
		break;
	case 'n':
		days = tz_days(y, 1, 1) + d->n;
		break;
	default:
		days = tz_days(y, d->m, 1);
		wd1 = (int)(((days + 4) % 7 + 7) % 7);
		first = 1 + (d->d - wd1 + 7) % 7 + (d->w - 1) * 7;
		while (first > tz_month_days(y, d->m))
			first -= 7;
		days += first - 1;
		break;
	}
	return days * 86400 + d->time - off;
}

/* The type in effect at UTC instant t. */
const struct tz_type *
tz_rule_type(const struct tz_rule *r, long long t)
{
	long long	 y, local, days, start, end;
	int		 m, d;

	if (!r->has_dst)
		return &r->std;
	local = t + r->std.off;
	days = local / 86400 - (local % 86400 < 0);
	tz_civil(days, &y, &m, &d);
	/* The start is written in standard time, the end in DST. */
	start = rule_instant(&r->start, y, r->std.off);
	end = rule_instant(&r->end, y, r->dst.off);
	if (start < end)
		return start <= t && t < end ? &r->dst : &r->std;
	/* Southern hemisphere: DST spans the new year. */
	return end <= t && t < start ? &r->std : &r->dst;
}
