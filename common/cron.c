/*
 * Cron expressions for schedules: the parser, whose errors name the field
 * and the byte where it went wrong, and the next fire time, found on the
 * local calendar a month, a day or an hour at a time (never a minute walk
 * over years) and then placed on the UTC line by tz_utc(), which names
 * the daylight-saving gaps and repeats that cron_next() resolves.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "xmalloc.h"

#define CRON_FIELDS		5
#define CRON_MINUTE		0
#define CRON_HOUR		1
#define CRON_DOM		2
#define CRON_MONTH		3
#define CRON_DOW		4
#define CRON_SEARCH_DAYS	2922	/* 8 years of 365.25 days */
#define CRON_TOKEN_SHOWN	16	/* bytes of a bad token quoted back */

struct cron {
	uint64_t	 bits[CRON_FIELDS];	/* bit v: value v matches */
	int		 dom_star, dow_star;	/* the field starts with '*' */
};

static const char *const month_names[] = { "jan", "feb", "mar", "apr",
    "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const day_names[] = { "sun", "mon", "tue", "wed", "thu",
    "fri", "sat", NULL };

static const struct field {
	const char		*name;
	int			 min, max;
	const char *const	*names;	/* names[i] is min + i */
} fields[CRON_FIELDS] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day-of-week", 0, 7, day_names },
};

static const struct macro {
	const char	*name;
	const char	*expr;
} macros[] = {
	{ "@hourly", "0 * * * *" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@monthly", "0 0 1 * *" },
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
};

/* What parsing one field needs: where it is and where to say why. */
struct parse {
	const char		*expr;
	const char		*p, *end;	/* the field's bytes */
	const struct field	*f;
	char			*why;
	size_t			 whylen;
};

static int
is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	    ch == '\v' || ch == '\f';
}

static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static int
lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int
is_alnum(int ch)
{
	return is_digit(ch) || (lower(ch) >= 'a' && lower(ch) <= 'z');
}

/* "<field> field at position P: <message>"; no position when P is 1. */
static int __attribute__((format(printf, 3, 4)))
field_error(struct parse *ps, const char *at, const char *fmt, ...)
{
	va_list	 ap;
	size_t	 pos = (size_t)(at - ps->expr) + 1;
	int	 n;

	if (pos > 1)
		n = snprintf(ps->why, ps->whylen, "%s field at position %zu: ",
		    ps->f->name, pos);
	else
		n = snprintf(ps->why, ps->whylen, "%s field: ", ps->f->name);
	if (n >= 0 && (size_t)n < ps->whylen) {
		va_start(ap, fmt);
		vsnprintf(ps->why + n, ps->whylen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* The byte at p, not understood here: quoted if printable, else in hex. */
static int
unexpected(struct parse *ps, const char *p)
{
	unsigned char	 ch = (unsigned char)*p;

	if (ch > ' ' && ch < 0x7f)
		return field_error(ps, p, "unexpected '%c'", ch);
	return field_error(ps, p, "unexpected byte 0x%02x", ch);
}

/*
 * A number or, in the month and day-of-week fields, a three-letter name
 * (case-insensitive). A token of letters and digits is quoted back in an
 * error, cut to CRON_TOKEN_SHOWN bytes.
 */
static int
value(struct parse *ps, int *out)
{
	const char	*start = ps->p;
	size_t		 len, i;
	long		 v = 0;

	if (ps->p >= ps->end)
		return field_error(ps, ps->p, "a value is missing");
	if (is_digit(*ps->p)) {
		while (ps->p < ps->end && is_digit(*ps->p)) {
			if (v < 1000)
				v = v * 10 + (*ps->p - '0');
			ps->p++;
		}
		len = (size_t)(ps->p - start);
		if (v < ps->f->min || v > ps->f->max)
			return field_error(ps, start, "%.*s%s is out of range "
			    "%d-%d", (int)(len > CRON_TOKEN_SHOWN ?
			    CRON_TOKEN_SHOWN : len), start,
			    len > CRON_TOKEN_SHOWN ? "..." : "",
			    ps->f->min, ps->f->max);
		*out = (int)v;
		return 0;
	}
	if (!is_alnum(*ps->p))
		return unexpected(ps, ps->p);
	while (ps->p < ps->end && is_alnum(*ps->p))
		ps->p++;
	len = (size_t)(ps->p - start);
	if (ps->f->names != NULL && len == 3) {
		for (i = 0; ps->f->names[i] != NULL; i++) {
			if (lower(start[0]) == ps->f->names[i][0] &&
			    lower(start[1]) == ps->f->names[i][1] &&
			    lower(start[2]) == ps->f->names[i][2]) {
				*out = ps->f->min + (int)i;
				return 0;
			}
		}
	}
	return field_error(ps, start, "unknown name '%.*s'%s",
	    (int)(len > CRON_TOKEN_SHOWN ? CRON_TOKEN_SHOWN : len), start,
	    len > CRON_TOKEN_SHOWN ? "..." : "");
}

/* One list item: "*", "a" or "a-b", then "/n" if any. */
static int
item(struct parse *ps, uint64_t *bits)
{
	const char	*start = ps->p, *at;
	int		 lo, hi, step = 1, v, span;

	if (ps->p < ps->end && *ps->p == '*') {
		ps->p++;
		lo = ps->f->min;
		hi = ps->f->max;
	} else {
		if (ps->p >= ps->end || *ps->p == ',')
			return field_error(ps, ps->p, "empty list item");
		if (value(ps, &lo) == -1)
			return -1;
		hi = lo;
		if (ps->p < ps->end && *ps->p == '-') {
			ps->p++;
			if (value(ps, &hi) == -1)
				return -1;
			/* Sunday is 0 and 7: "fri-sun" is 5-7. */
			if (ps->f == &fields[CRON_DOW] && hi == 0 && lo > 0)
				hi = 7;
			if (hi < lo)
				return field_error(ps, start, "range %d-%d "
				    "ends before it starts", lo, hi);
		} else if (ps->p < ps->end && *ps->p == '/')
			hi = ps->f->max;	/* "a/n": a to the end */
	}
	if (ps->p < ps->end && *ps->p == '/') {
		ps->p++;
		at = ps->p;
		span = ps->f->max - ps->f->min + 1;
		if (at >= ps->end || !is_digit(*at))
			return at < ps->end ? unexpected(ps, at) :
			    field_error(ps, at, "a step is missing after '/'");
		step = 0;
		while (ps->p < ps->end && is_digit(*ps->p)) {
			if (step <= span)
				step = step * 10 + (*ps->p - '0');
			ps->p++;
		}
		if (step < 1 || step > span)
			return field_error(ps, at, "step %.*s is out of range "
			    "1-%d", (int)((size_t)(ps->p - at) >
			    CRON_TOKEN_SHOWN ? CRON_TOKEN_SHOWN :
			    (size_t)(ps->p - at)), at, span);
	}
	for (v = lo; v <= hi; v += step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

static int
field(struct parse *ps, uint64_t *bits)
{
	*bits = 0;
	for (;;) {
		if (item(ps, bits) == -1)
			return -1;
		if (ps->p == ps->end)
			break;
		if (*ps->p != ',')
			return unexpected(ps, ps->p);
		ps->p++;
		if (ps->p == ps->end)
			return field_error(ps, ps->p, "empty list item");
	}
	return 0;
}

/* "@daily" and the others, alone on the line: their five fields. */
static const char *
macro(const char *p, char *why, size_t whylen)
{
	const char	*start = p;
	size_t		 len, i, k;

	while (*p != '\0' && !is_space((unsigned char)*p))
		p++;
	len = (size_t)(p - start);
	for (i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
		if (strlen(macros[i].name) != len)
			continue;
		for (k = 0; k < len; k++)
			if (lower((unsigned char)start[k]) != macros[i].name[k])
				break;
		if (k < len)
			continue;
		while (is_space((unsigned char)*p))
			p++;
		if (*p != '\0') {
			snprintf(why, whylen, "unexpected text after %s",
			    macros[i].name);
			return NULL;
		}
		return macros[i].expr;
	}
	for (k = 1; k < len && k <= CRON_TOKEN_SHOWN; k++)
		if (!is_alnum((unsigned char)start[k]))
			break;
	if (k == len)
		snprintf(why, whylen, "unknown macro '%.*s' (known: @hourly, "
		    "@daily, @midnight, @weekly, @monthly, @yearly, "
		    "@annually)", (int)len, start);
	else
		snprintf(why, whylen, "unknown macro (known: @hourly, @daily, "
		    "@midnight, @weekly, @monthly, @yearly, @annually)");
	return NULL;
}

int
cron_parse(const char *expr, struct cron **out, char *why, size_t whylen)
{
	struct cron	 c;
	struct parse	 ps;
	const char	*p, *start[CRON_FIELDS];
	size_t		 len[CRON_FIELDS], n = 0;
	int		 i;

	*out = NULL;
	if (strlen(expr) > PULSE_CRON_EXPR_MAX) {
		snprintf(why, whylen, "expression is longer than %d bytes",
		    PULSE_CRON_EXPR_MAX);
		return -1;
	}
	p = expr;
	while (is_space((unsigned char)*p))
		p++;
	if (*p == '\0') {
		snprintf(why, whylen, "empty expression");
		return -1;
	}
	if (*p == '@' && (expr = p = macro(p, why, whylen)) == NULL)
		return -1;
	while (*p != '\0') {
		while (is_space((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		if (n < CRON_FIELDS)
			start[n] = p;
		while (*p != '\0' && !is_space((unsigned char)*p))
			p++;
		if (n < CRON_FIELDS)
			len[n] = (size_t)(p - start[n]);
		n++;
	}
	if (n != CRON_FIELDS) {
		snprintf(why, whylen, "expected 5 fields (minute hour "
		    "day-of-month month day-of-week), found %zu", n);
		return -1;
	}
	memset(&c, 0, sizeof(c));
	for (i = 0; i < CRON_FIELDS; i++) {
		ps = (struct parse){ expr, start[i], start[i] + len[i],
		    &fields[i], why, whylen };
		if (field(&ps, &c.bits[i]) == -1)
			return -1;
	}
	/* Sunday is 0 and 7. */
	if (c.bits[CRON_DOW] & (uint64_t)1 << 7)
		c.bits[CRON_DOW] = (c.bits[CRON_DOW] | 1) & 0x7f;
	c.dom_star = *start[CRON_DOM] == '*';
	c.dow_star = *start[CRON_DOW] == '*';
	*out = xmemdup(&c, sizeof(c));
	return 0;
}

void
cron_free(struct cron *c)
{
	free(c);
}

/* A local wall time, minute by minute. */
struct wall {
	long long	 y;
	int		 mon, d, h, mi;
};

/* The lowest value >= from in bits, or -1. */
static int
next_bit(uint64_t bits, int from)
{
	if (from > 63 || (bits >> from) == 0)
		return -1;
	return from + __builtin_ctzll(bits >> from);
}

static int
day_matches(const struct cron *c, long long y, int mon, int d)
{
	long long	 days = tz_days(y, mon, d);
	int		 wd = (int)(((days + 4) % 7 + 7) % 7);
	int		 dom = (c->bits[CRON_DOM] >> d) & 1;
	int		 dow = (c->bits[CRON_DOW] >> wd) & 1;

	/* Vixie cron: either day field matches when both are restricted. */
	if (c->dom_star || c->dow_star)
		return dom && dow;
	return dom || dow;
}

/*
 * Move w to the first matching wall time at or after it, skipping whole
 * months, days and hours that cannot match; -1 past day `limit`.
 */
static int
wall_next(const struct cron *c, struct wall *w, long long limit)
{
	int	 v;

	for (;;) {
		if (w->mi > 59) {
			w->mi = 0;
			w->h++;
		}
		if (w->h > 23) {
			w->h = 0;
			w->d++;
		}
		if (w->mon > 12) {
			w->mon = 1;
			w->y++;
		}
		if (w->d > tz_month_days(w->y, w->mon)) {
			w->d = 1;
			if (++w->mon > 12) {
				w->mon = 1;
				w->y++;
			}
		}
		if (tz_days(w->y, w->mon, w->d) > limit)
			return -1;
		if (!((c->bits[CRON_MONTH] >> w->mon) & 1)) {
			w->mon++;
			w->d = 1;
			w->h = w->mi = 0;
			continue;
		}
		if (!day_matches(c, w->y, w->mon, w->d)) {
			w->d++;
			w->h = w->mi = 0;
			continue;
		}
		if ((v = next_bit(c->bits[CRON_HOUR], w->h)) == -1) {
			w->d++;
			w->h = w->mi = 0;
			continue;
		}
		if (v != w->h) {
			w->h = v;
			w->mi = 0;
		}
		if ((v = next_bit(c->bits[CRON_MINUTE], w->mi)) == -1) {
			w->h++;
			w->mi = 0;
			continue;
		}
		w->mi = v;
		return 0;
	}
}

int
cron_next(const struct cron *c, const struct tz *tz, long long after,
    long long *next)
{
	struct tm	 tm;
	struct wall	 w;
	long long	 limit, u;

	if (tz_local(tz, after, &tm, NULL) == -1 || tm.tm_year + 1900 > 9990)
		return -1;
	w = (struct wall){ tm.tm_year + 1900LL, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min + 1 };
	limit = tz_days(w.y, w.mon, w.d) + CRON_SEARCH_DAYS;
	/*
	 * Wall times come in order and their instants never go back: a
	 * skipped one maps to the end of its gap, a repeated one to its
	 * first occurrence. So the answer is the first matching wall time
	 * after `after`'s whose instant is after `after`; the ones before
	 * it are those of a repeated hour `after` is in the second pass of.
	 */
	for (;;) {
		if (wall_next(c, &w, limit) == -1)
			return -1;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = (int)(w.y - 1900);
		tm.tm_mon = w.mon - 1;
		tm.tm_mday = w.d;
		tm.tm_hour = w.h;
		tm.tm_min = w.mi;
		if (tz_utc(tz, &tm, &u) == -1)
			return -1;
		if (u > after) {
			*next = u;
			return 0;
		}
		w.mi++;
	}
}
