/*
 * fuzz_cron: common/cron.c and common/tzif.c. The input: a zone byte, four
 * bytes of start time, then the expression. Parsing never crashes; a
 * refusal has a reason (valid UTF-8, naming a field or the whole); an
 * accepted expression's next fire times are strictly increasing, and each
 * is a first occurrence of a local time that matches, by a small matcher
 * written here, or the end of a daylight-saving gap holding one that does;
 * and no minute between the start and the first fire time (up to two
 * days, walked here minute by minute) should have fired before it.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "fuzz.h"
#include "tzif.h"

#define FIRES		12
#define WALK_MAX	(2 * 1440)	/* minutes walked after the start */

static const char *const zones[] = { "UTC", "Europe/Berlin",
    "America/New_York", "Australia/Lord_Howe" };

/* The expression read the plain way, trusting cron_parse accepted it. */
struct plain {
	unsigned char	 set[5][64];
	int		 dom_star, dow_star;
};

static int
plain_value(const char *s, int field)
{
	static const char *const mon[] = { "jan", "feb", "mar", "apr", "may",
	    "jun", "jul", "aug", "sep", "oct", "nov", "dec" };
	static const char *const dow[] = { "sun", "mon", "tue", "wed", "thu",
	    "fri", "sat" };
	int	 i;

	if (isdigit((unsigned char)*s))
		return atoi(s);
	for (i = 0; field == 3 && i < 12; i++)
		if (strncasecmp(s, mon[i], 3) == 0)
			return i + 1;
	for (i = 0; field == 4 && i < 7; i++)
		if (strncasecmp(s, dow[i], 3) == 0)
			return i;
	fuzz_assert(!"a value cron_parse accepted is a number or a name");
	return 0;
}

static void
plain_field(struct plain *p, int field, char *text)
{
	static const int lo_b[] = { 0, 0, 1, 1, 0 }, hi_b[] = { 59, 23, 31,
	    12, 7 };
	char	*item, *save, *slash, *dash;
	int	 lo, hi, step, v;

	for (item = strtok_r(text, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		step = 1;
		if ((slash = strchr(item, '/')) != NULL) {
			*slash = '\0';
			step = atoi(slash + 1);
		}
		if (strcmp(item, "*") == 0) {
			lo = lo_b[field];
			hi = hi_b[field];
		} else if ((dash = strchr(item, '-')) != NULL) {
			*dash = '\0';
			lo = plain_value(item, field);
			hi = plain_value(dash + 1, field);
			if (field == 4 && hi == 0 && lo > 0)
				hi = 7;
		} else {
			lo = plain_value(item, field);
			hi = slash != NULL ? hi_b[field] : lo;
		}
		fuzz_assert(step >= 1 && lo >= lo_b[field] &&
		    hi <= hi_b[field]);
		for (v = lo; v <= hi; v += step)
			p->set[field][v == 7 && field == 4 ? 0 : v] = 1;
	}
}

static void
plain_parse(struct plain *p, const char *expr)
{
	static const char *const macros[][2] = { { "@hourly", "0 * * * *" },
	    { "@daily", "0 0 * * *" }, { "@midnight", "0 0 * * *" },
	    { "@weekly", "0 0 * * 0" }, { "@monthly", "0 0 1 * *" },
	    { "@yearly", "0 0 1 1 *" }, { "@annually", "0 0 1 1 *" } };
	char	 buf[PULSE_CRON_EXPR_MAX + 1], *f[5], *save, *tok;
	size_t	 i;
	int	 n = 0;

	memset(p, 0, sizeof(*p));
	snprintf(buf, sizeof(buf), "%s", expr);
	tok = strtok_r(buf, " \t\n\r\v\f", &save);
	for (i = 0; tok != NULL && i < 7; i++) {
		if (strcasecmp(tok, macros[i][0]) == 0) {
			snprintf(buf, sizeof(buf), "%s", macros[i][1]);
			tok = strtok_r(buf, " ", &save);
			break;
		}
	}
	for (; tok != NULL; tok = strtok_r(NULL, " \t\n\r\v\f", &save)) {
		fuzz_assert(n < 5);
		f[n++] = tok;
	}
	fuzz_assert(n == 5);
	p->dom_star = f[2][0] == '*';
	p->dow_star = f[4][0] == '*';
	for (n = 0; n < 5; n++)
		plain_field(p, n, f[n]);
}

/* Does local wall time tm match? */
static int
plain_match(const struct plain *p, const struct tm *tm)
{
	int	 dom = p->set[2][tm->tm_mday], dow = p->set[4][tm->tm_wday];

	if (!p->set[0][tm->tm_min] || !p->set[1][tm->tm_hour] ||
	    !p->set[3][tm->tm_mon + 1])
		return 0;
	return p->dom_star || p->dow_star ? dom && dow : dom || dow;
}

/* Any wall minute in (from, to) matching: a gap's skipped minutes. */
static int
gap_matches(const struct plain *p, long long from, long long to)
{
	struct tm	 tm;
	long long	 w;

	for (w = (from / 60 + 1) * 60; w < to; w += 60) {
		tz_local(NULL, w, &tm, NULL);
		if (plain_match(p, &tm))
			return 1;
	}
	return 0;
}

static void
check_fire(const struct plain *p, const struct tz *z, long long t)
{
	struct tm	 tm, before;
	long long	 u;
	long		 off, off_before;

	fuzz_assert(tz_local(z, t, &tm, &off) == 0);
	tz_local(z, t - 1, &before, &off_before);
	if (tm.tm_sec == 0 && plain_match(p, &tm)) {
		/* The first time that wall time occurs. */
		fuzz_assert(tz_utc(z, &tm, &u) >= 0 && u == t);
		return;
	}
	/* Else the end of a gap, where a skipped minute matched. */
	fuzz_assert(off > off_before);
	fuzz_assert(gap_matches(p, t - 1 + off_before, t + off));
}

/*
 * Walk the minutes from after to the first fire time: none may fire
 * before it (the high-water rule of tests/unit/cron_oracle.py).
 */
static void
check_nothing_before(const struct plain *p, const struct tz *z,
    long long after, long long first)
{
	struct tm	 tm;
	long long	 u = after / 60 * 60 - (after % 60 < 0 ? 60 : 0), mark;
	long		 off;
	int		 k;

	if (first - after > WALK_MAX * 60LL)
		return;
	/* The mark: the latest wall time seen up to the start. */
	mark = -(1LL << 62);
	for (k = 0; k <= 180; k++) {
		tz_local(z, u - k * 60LL, &tm, &off);
		if (u - k * 60LL + off > mark)
			mark = u - k * 60LL + off;
	}
	for (u += 60; u < first; u += 60) {
		tz_local(z, u, &tm, &off);
		if (u + off <= mark)
			continue;
		fuzz_assert(!gap_matches(p, mark, u + off) &&
		    !plain_match(p, &tm));
		mark = u + off;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tz	*tz[4];
	static int		 loaded;
	struct cron		*c = NULL;
	struct plain		 p;
	char			 expr[PULSE_CRON_EXPR_MAX + 64], why[256];
	long long		 after, t, prev;
	uint32_t		 r;
	size_t			 i, n;
	int			 k;

	if (!loaded) {
		for (i = 0; i < 4; i++)
			if (tz_load(zones[i], &tz[i], why, sizeof(why)) == -1)
				tz_load("UTC", &tz[i], why, sizeof(why));
		loaded = 1;
	}
	if (size < 5)
		return 0;
	r = (uint32_t)data[1] << 24 | (uint32_t)data[2] << 16 |
	    (uint32_t)data[3] << 8 | data[4];
	/* 1990 to 2150, to the second: the tables and the footers. */
	after = 631152000LL + (long long)(r % (160u * 366 * 1440)) * 60 +
	    data[0] % 7 * 17 % 60;
	n = size - 5 < sizeof(expr) - 1 ? size - 5 : sizeof(expr) - 1;
	memcpy(expr, data + 5, n);
	expr[n] = '\0';

	why[0] = '\0';
	if (cron_parse(expr, &c, why, sizeof(why)) == -1) {
		fuzz_assert(c == NULL && why[0] != '\0');
		fuzz_assert(fuzz_utf8_valid(why, strlen(why)));
		return 0;
	}
	fuzz_assert(c != NULL && strlen(expr) <= PULSE_CRON_EXPR_MAX);
	plain_parse(&p, expr);
	k = data[0] % 4;
	prev = after;
	for (i = 0; i < FIRES; i++) {
		if (cron_next(c, tz[k], prev, &t) == -1)
			break;
		fuzz_assert(t > prev);
		check_fire(&p, tz[k], t);
		if (i == 0)
			check_nothing_before(&p, tz[k], after, t);
		prev = t;
	}
	cron_free(c);
	return 0;
}
