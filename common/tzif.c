/*
 * Time zones from the system's TZif files (RFC 8536), for schedules:
 * local time of an instant, and the instant of a local wall time with the
 * daylight-saving gaps and repeats named. A file is read whole (at most
 * PULSE_TZ_FILE_MAX bytes), every count checked against its size, into an
 * immutable struct tz; no TZ, tzset() or localtime(), so threads share it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tzif.h"
#include "tzif-int.h"
#include "xmalloc.h"

#define TZ_ZONEINFO_DIR		"/usr/share/zoneinfo"
#define TZ_HEADER_LEN		44
#define TZ_TYPES_MAX		256	/* a transition's type is one byte */
#define TZ_FOOTER_MAX		128
#define TZ_OFFSET_MAX		(26 * 3600L)	/* |UTC offset|, RFC 8536 */
/* Years 1..9999, as Python's datetime and ISO 8601 without expansion. */
#define TZ_UTC_MIN		(-62135596800LL)
#define TZ_UTC_MAX		253402300799LL

static const struct tz_type utc_type = { 0, 0, "UTC" };

long long
tz_days(long long y, int m, int d)
{
	long long	 era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
tz_civil(long long days, long long *y, int *m, int *d)
{
	long long	 era, doe, yoe, doy, mp;

	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int
tz_month_days(long long y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* [A-Za-z0-9_+-/], no "..", no empty part, no leading or trailing '/'. */
static int
name_check(const char *name, char *why, size_t whylen)
{
	size_t	 i, n = strlen(name);

	if (n == 0 || n > PULSE_TZ_NAME_MAX) {
		snprintf(why, whylen, "time zone name must be 1 to %d bytes",
		    PULSE_TZ_NAME_MAX);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char	 ch = name[i];

		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '+' ||
		    ch == '-' || ch == '/')) {
			snprintf(why, whylen, "time zone name: character %zu "
			    "is not one of A-Z a-z 0-9 _ + - /", i + 1);
			return -1;
		}
	}
	if (name[0] == '/' || name[n - 1] == '/' || strstr(name, "//") ||
	    strstr(name, "..") || name[0] == '.') {
		snprintf(why, whylen, "time zone name must be an IANA name "
		    "such as Europe/Berlin");
		return -1;
	}
	return 0;
}

/* Read the whole file, at most PULSE_TZ_FILE_MAX bytes. */
static unsigned char *
read_file(const char *path, size_t *len)
{
	struct stat	 st;
	unsigned char	*buf = NULL;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > PULSE_TZ_FILE_MAX)
		goto fail;
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static long long
be64(const unsigned char *p)
{
	return (long long)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct counts {
	size_t	 isut, isstd, leap, time, type, chars;
};

/* A header at p (len bytes left): its counts and its data block's size. */
static int
header(const unsigned char *p, size_t len, int tsize, struct counts *n,
    size_t *datalen)
{
	if (len < TZ_HEADER_LEN || memcmp(p, "TZif", 4) != 0)
		return -1;
	n->isut = be32(p + 20);
	n->isstd = be32(p + 24);
	n->leap = be32(p + 28);
	n->time = be32(p + 32);
	n->type = be32(p + 36);
	n->chars = be32(p + 40);
	len -= TZ_HEADER_LEN;
	/* Each count alone is checked first, so the sum cannot overflow. */
	if (n->isut > len || n->isstd > len || n->leap > len ||
	    n->time > len || n->type > len || n->chars > len)
		return -1;
	*datalen = n->time * (size_t)(tsize + 1) + n->type * 6 + n->chars +
	    n->leap * (size_t)(tsize + 4) + n->isstd + n->isut;
	if (*datalen > len)
		return -1;
	return 0;
}

static int
parse(struct tz *z, const unsigned char *buf, size_t len, char *why,
    size_t whylen)
{
	const unsigned char	*p, *q, *end = buf + len;
	struct counts		 n;
	size_t			 dlen, i;

	if (header(buf, len, 4, &n, &dlen) == -1)
		goto bad;
	if (buf[4] < '2') {
		snprintf(why, whylen, "time zone '%s': the file is TZif "
		    "version 1; version 2 or later is needed", z->name);
		return -1;
	}
	p = buf + TZ_HEADER_LEN + dlen;
	if (header(p, (size_t)(end - p), 8, &n, &dlen) == -1)
		goto bad;
	if (n.leap != 0) {
		snprintf(why, whylen, "time zone '%s': files with leap "
		    "seconds (right/) are not supported", z->name);
		return -1;
	}
	if (n.type == 0 || n.type > TZ_TYPES_MAX || n.chars == 0 ||
	    (n.isstd != 0 && n.isstd != n.type) ||
	    (n.isut != 0 && n.isut != n.type))
		goto bad;
	p += TZ_HEADER_LEN;
	z->ntrans = n.time;
	z->trans = xcalloc(n.time + 1, sizeof(*z->trans));
	z->tidx = xcalloc(n.time + 1, 1);
	for (i = 0; i < n.time; i++, p += 8) {
		z->trans[i] = be64(p);
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			goto bad;
	}
	for (i = 0; i < n.time; i++, p++) {
		if (*p >= n.type)
			goto bad;
		z->tidx[i] = *p;
	}
	q = p + n.type * 6;
	z->abbrs = xcalloc(n.chars + 1, 1);
	memcpy(z->abbrs, q, n.chars);
	z->ntypes = n.type;
	z->types = xcalloc(n.type, sizeof(*z->types));
	for (i = 0; i < n.type; i++, p += 6) {
		z->types[i].off = (long)(int32_t)be32(p);
		z->types[i].isdst = p[4] != 0;
		if (z->types[i].off > TZ_OFFSET_MAX ||
		    z->types[i].off < -TZ_OFFSET_MAX || p[4] > 1 ||
		    p[5] >= n.chars)
			goto bad;
		z->types[i].abbr = z->abbrs + p[5];
	}
	p = q + n.chars + n.isstd + n.isut;
	/* The footer: "\n" rule "\n"; an empty rule means none. */
	if (p >= end || *p != '\n')
		goto bad;
	p++;
	q = memchr(p, '\n', (size_t)(end - p));
	if (q == NULL || q - p > TZ_FOOTER_MAX)
		goto bad;
	if (q > p) {
		if (tz_rule_parse(&z->rule, (const char *)p, (size_t)(q - p),
		    why, whylen) == -1)
			return -1;
		if (z->rule.std.off > TZ_OFFSET_MAX ||
		    z->rule.std.off < -TZ_OFFSET_MAX ||
		    z->rule.dst.off > TZ_OFFSET_MAX ||
		    z->rule.dst.off < -TZ_OFFSET_MAX)
			goto bad;
		z->has_rule = 1;
	}
	return 0;
bad:
	snprintf(why, whylen, "time zone '%s': the file is not valid TZif",
	    z->name);
	return -1;
}

int
tz_load(const char *name, struct tz **out, char *why, size_t whylen)
{
	struct tz	*z = NULL;
	unsigned char	*buf = NULL;
	const char	*dir;
	char		*path = NULL;
	size_t		 len;

	*out = NULL;
	if (name_check(name, why, whylen) == -1)
		return -1;
	z = xcalloc(1, sizeof(*z));
	strlcpy_p(z->name, name, sizeof(z->name));
	if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
		*out = z;
		return 0;
	}
	dir = getenv("PULSE_ZONEINFO_DIR");
	if (dir == NULL || *dir == '\0')
		dir = TZ_ZONEINFO_DIR;
	xasprintf(&path, "%s/%s", dir, name);
	if ((buf = read_file(path, &len)) == NULL) {
		/* Say so when the whole database is missing. */
		if (access(dir, F_OK) == -1)
			snprintf(why, whylen, "unknown time zone '%s' (no "
			    "zoneinfo in %s: is tzdata installed?)", name,
			    dir);
		else
			snprintf(why, whylen, "unknown time zone '%s'", name);
		goto fail;
	}
	if (parse(z, buf, len, why, whylen) == -1)
		goto fail;
	free(buf);
	free(path);
	*out = z;
	return 0;
fail:
	free(buf);
	free(path);
	tz_free(z);
	return -1;
}

void
tz_free(struct tz *z)
{
	if (z == NULL)
		return;
	free(z->trans);
	free(z->tidx);
	free(z->types);
	free(z->abbrs);
	free(z);
}

const char *
tz_name(const struct tz *z)
{
	return z->name;
}

/* The local time type in effect at UTC instant t. */
static const struct tz_type *
type_at(const struct tz *z, long long t)
{
	size_t	 lo, hi, mid;

	if (z == NULL || z->types == NULL)
		return &utc_type;
	if (z->ntrans == 0 || t > z->trans[z->ntrans - 1])
		return z->has_rule ? tz_rule_type(&z->rule, t) :
		    &z->types[z->ntrans == 0 ? 0 : z->tidx[z->ntrans - 1]];
	/* Before the first transition: type 0 (RFC 8536 section 3.2). */
	if (t < z->trans[0])
		return &z->types[0];
	lo = 0;
	hi = z->ntrans - 1;	/* trans[lo] <= t, the answer in [lo, hi] */
	while (lo < hi) {
		mid = lo + (hi - lo + 1) / 2;
		if (z->trans[mid] <= t)
			lo = mid;
		else
			hi = mid - 1;
	}
	return &z->types[z->tidx[lo]];
}

int
tz_local(const struct tz *z, long long utc, struct tm *out, long *gmtoff)
{
	const struct tz_type	*ty;
	long long		 local, days, secs, y;
	int			 m, d;

	if (utc < TZ_UTC_MIN || utc > TZ_UTC_MAX)
		return -1;
	ty = type_at(z, utc);
	local = utc + ty->off;
	days = local / 86400 - (local % 86400 < 0);
	secs = local - days * 86400;
	tz_civil(days, &y, &m, &d);
	memset(out, 0, sizeof(*out));
	out->tm_year = (int)(y - 1900);
	out->tm_mon = m - 1;
	out->tm_mday = d;
	out->tm_hour = (int)(secs / 3600);
	out->tm_min = (int)(secs / 60 % 60);
	out->tm_sec = (int)(secs % 60);
	out->tm_wday = (int)(((days + 4) % 7 + 7) % 7);
	out->tm_yday = (int)(days - tz_days(y, 1, 1));
	out->tm_isdst = ty->isdst;
	out->tm_gmtoff = ty->off;
	out->tm_zone = ty->abbr;
	if (gmtoff != NULL)
		*gmtoff = ty->off;
	return 0;
}

static long
off_at(const struct tz *z, long long t)
{
	return type_at(z, t)->off;
}

int
tz_utc(const struct tz *z, const struct tm *tm, long long *utc)
{
	long long	 y, mon, carry, local, u, best = 0, lo, hi, mid;
	long		 cand[5], omin, omax;
	int		 i, j, found = 0;

	/* tm_mon past 0-11 carries into the year, as timegm() does. */
	carry = tm->tm_mon >= 0 ? tm->tm_mon / 12 : -((11 - tm->tm_mon) / 12);
	y = (long long)tm->tm_year + 1900 + carry;
	mon = tm->tm_mon - carry * 12;
	if (y < 0 || y > 10000)
		return -1;
	local = (tz_days(y, (int)mon + 1, 1) + tm->tm_mday - 1) * 86400 +
	    (long long)tm->tm_hour * 3600 + (long long)tm->tm_min * 60 +
	    tm->tm_sec;
	if (local < TZ_UTC_MIN || local > TZ_UTC_MAX)
		return -1;
	/*
	 * The offsets around this wall time; each one o for which the
	 * instant local - o really has offset o is an occurrence.
	 */
	for (i = 0; i < 5; i++)
		cand[i] = off_at(z, local + (i - 2) * 43200LL);
	omin = omax = cand[0];
	for (i = 0; i < 5; i++) {
		for (j = 0; j < i; j++)
			if (cand[j] == cand[i])
				break;
		if (cand[i] < omin)
			omin = cand[i];
		if (cand[i] > omax)
			omax = cand[i];
		if (j < i)
			continue;
		u = local - cand[i];
		if (off_at(z, u) != cand[i])
			continue;
		if (found == 0 || u < best)
			best = u;
		found++;
	}
	if (found > 0) {
		*utc = best;
		return found > 1;
	}
	/*
	 * A gap: the clock jumped from before this wall time to after it.
	 * The first valid instant after it is the transition, the first u
	 * whose wall time u + offset reaches it.
	 */
	lo = local - omax;
	hi = local - omin;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (mid + off_at(z, mid) >= local)
			hi = mid;
		else
			lo = mid + 1;
	}
	*utc = lo;
	return 2;
}
