/*
 * Unit tests for common/tzif.c and tzif-rule.c: offsets on both sides of
 * real daylight-saving changes (from the files' tables in 2026 and from
 * their POSIX footers in 2100; expected values from Python's zoneinfo),
 * wall times in a gap and in a repeat, footer rules written out (Jn, n,
 * Mm.w.d, times past 24 h and negative, quoted names, all-year DST),
 * refused names, and files refused: every truncation of a real one, bad
 * counts, version 1, leap seconds, past the size limit.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tzif.h"
#include "test.h"

/* A change of offset: at `at`, from `before` to `after` seconds east. */
static const struct change {
	const char	*zone;
	long long	 at;
	long		 before, after;
	const char	*abbr_after;
} changes[] = {
	{ "Europe/Berlin", 1774746000, 3600, 7200, "CEST" },
	{ "Europe/Berlin", 1792890000, 7200, 3600, "CET" },
	{ "Europe/Berlin", 4109878800, 3600, 7200, "CEST" },	/* footer */
	{ "Europe/Berlin", 4128627600, 7200, 3600, "CET" },
	{ "America/New_York", 1772953200, -18000, -14400, "EDT" },
	{ "America/New_York", 1793512800, -14400, -18000, "EST" },
	{ "America/New_York", 4108690800, -18000, -14400, "EDT" },
	{ "America/New_York", 4129250400, -14400, -18000, "EST" },
	{ "Australia/Lord_Howe", 1775314800, 39600, 37800, "+1030" },
	{ "Australia/Lord_Howe", 1791041400, 37800, 39600, "+11" },
	{ "Australia/Lord_Howe", 4110447600, 39600, 37800, "+1030" },
	{ "Australia/Lord_Howe", 4126174200, 37800, 39600, "+11" },
	/* "<-02>2<-01>,M3.5.0/-1,M10.5.0/0": a rule time before midnight. */
	{ "America/Nuuk", 4109878800, -7200, -3600, "-01" },
	{ "America/Nuuk", 4128627600, -3600, -7200, "-02" },
};

/* A wall time and what tz_utc says of it. */
static const struct wall {
	const char	*zone;
	int		 y, mon, d, h, mi;
	int		 rc;
	long long	 utc;
} walls[] = {
	{ "Europe/Berlin", 2026, 3, 29, 1, 59, 0, 1774745940 },
	{ "Europe/Berlin", 2026, 3, 29, 2, 0, 2, 1774746000 },	/* 03:00 */
	{ "Europe/Berlin", 2026, 3, 29, 2, 30, 2, 1774746000 },
	{ "Europe/Berlin", 2026, 3, 29, 2, 59, 2, 1774746000 },
	{ "Europe/Berlin", 2026, 3, 29, 3, 0, 0, 1774746000 },
	{ "Europe/Berlin", 2026, 10, 25, 1, 59, 0, 1792886340 },
	{ "Europe/Berlin", 2026, 10, 25, 2, 0, 1, 1792886400 },	/* CEST */
	{ "Europe/Berlin", 2026, 10, 25, 2, 30, 1, 1792888200 },
	{ "Europe/Berlin", 2026, 10, 25, 3, 0, 0, 1792893600 },
	{ "Europe/Berlin", 2100, 3, 28, 2, 30, 2, 4109878800 },
	{ "Europe/Berlin", 2100, 10, 31, 2, 30, 1, 4128625800 },
	{ "America/New_York", 2026, 3, 8, 2, 30, 2, 1772953200 },
	{ "America/New_York", 2026, 11, 1, 1, 30, 1, 1793511000 },
	{ "America/New_York", 2026, 11, 1, 2, 0, 0, 1793516400 },
	{ "America/New_York", 2100, 11, 7, 1, 0, 1, 4129246800 },
	{ "Australia/Lord_Howe", 2026, 10, 4, 2, 0, 2, 1791041400 },
	{ "Australia/Lord_Howe", 2026, 10, 4, 2, 29, 2, 1791041400 },
	{ "Australia/Lord_Howe", 2026, 10, 4, 2, 30, 0, 1791041400 },
	{ "Australia/Lord_Howe", 2026, 4, 5, 1, 30, 1, 1775313000 },
	{ "Australia/Lord_Howe", 2026, 4, 5, 2, 0, 0, 1775316600 },
	/* Days and months past their end carry over, as timegm does. */
	{ "UTC", 2026, 13, 1, 0, 0, 0, 1798761600 },	/* 2027-01-01 */
	{ "UTC", 2026, 2, 29, 0, 0, 0, 1772323200 },	/* 2026-03-01 */
	{ "UTC", 2028, 2, 29, 0, 0, 0, 1835395200 },
};

static const char *const bad_names[] = {
	"", "/etc/passwd", "../etc/passwd", "Europe/../../etc/passwd",
	"Europe//Berlin", "Europe/", ".hidden", "Europe/Ber lin",
	"Europe/Berlin\n", "Europe/Berlin;rm", "Europe/B\xc3\xa9rlin",
	"Europe/Berlin/", "..",
};

static char	 dir[] = "/tmp/test-tzif.XXXXXX";

static int
local_is(const struct tz *z, long long t, long off, int isdst,
    const char *abbr)
{
	struct tm	 tm;
	long		 got;

	if (tz_local(z, t, &tm, &got) == -1)
		return 0;
	return got == off && tm.tm_gmtoff == off && tm.tm_isdst == isdst &&
	    (abbr == NULL || strcmp(tm.tm_zone, abbr) == 0);
}

static void
write_file(const char *name, const void *p, size_t n)
{
	char	 path[512];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	if (n > 0 && fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

static size_t
put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
	return 4;
}

/* A TZif v2 file of no transitions, one type (off, abbr "ZZZ"), a footer. */
static size_t
make_tzif(unsigned char *buf, long off, const char *footer, char version,
    uint32_t leaps)
{
	size_t	 n = 0, k;
	int	 part;

	for (part = 0; part < 2; part++) {
		memcpy(buf + n, "TZif", 4);
		buf[n + 4] = version;
		memset(buf + n + 5, 0, 15);
		n += 20;
		n += put32(buf + n, 0);		/* isut */
		n += put32(buf + n, 0);		/* isstd */
		n += put32(buf + n, part == 0 ? 0 : leaps);
		n += put32(buf + n, 0);		/* time */
		n += put32(buf + n, 1);		/* type */
		n += put32(buf + n, 4);		/* chars */
		n += put32(buf + n, (uint32_t)off);
		buf[n++] = 0;
		buf[n++] = 0;
		memcpy(buf + n, "ZZZ", 4);
		n += 4;
		for (k = 0; part == 1 && k < leaps; k++) {
			memset(buf + n, 0, 12);
			n += 12;
		}
	}
	n += (size_t)sprintf((char *)buf + n, "\n%s\n", footer);
	return n;
}

/* Load zone `name` from file bytes buf: 0 or -1, why filled. */
static int
load_bytes(const unsigned char *buf, size_t n, struct tz **z, char *why,
    size_t whylen)
{
	write_file("Test", buf, n);
	return tz_load("Test", z, why, whylen);
}

static long long
utc_of(int y, int mon, int d, int h, int mi)
{
	struct tm	 tm = { 0 };
	long long	 u;

	tm.tm_year = y - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tz_utc(NULL, &tm, &u);
	return u;
}

/*
 * What a footer rule says: UTC instants (minus `back` seconds) and the
 * offset, DST flag and abbreviation in effect then. A zone of no
 * transitions, so the rule alone answers.
 */
static const struct rule_check {
	const char	*rule, *what;
	struct {
		int		 y, mon, d, h, mi, back;
		long		 off;
		int		 isdst;
		const char	*abbr;
	} at[4];
} rules[] = {
	{ "<+0330>-3:30", "3 h 30 east, named +0330", {
	    { 2100, 1, 1, 0, 0, 0, 12600, 0, "+0330" } } },
	{ "AAA0BBB,J60/0,J300/0", "J60 is March 1 in a leap year too", {
	    { 2028, 2, 29, 12, 0, 0, 0, 0, "AAA" },
	    { 2028, 3, 1, 0, 0, 1, 0, 0, "AAA" },
	    { 2028, 3, 1, 0, 0, 0, 3600, 1, "BBB" } } },
	{ "AAA0BBB,59/0,300/0", "zero-based 59 is Feb 29 in a leap year, "
	    "March 1 otherwise; 300 ends it at 00:00 DST", {
	    { 2028, 2, 28, 23, 59, 0, 0, 0, "AAA" },
	    { 2028, 2, 29, 0, 0, 0, 3600, 1, "BBB" },
	    { 2027, 3, 1, 0, 0, 1, 0, 0, "AAA" },
	    { 2027, 10, 27, 23, 0, 0, 0, 0, "AAA" } } },
	{ "AAA0BBB,59/0,300/0", "zero-based 300: October 28 2027 in DST "
	    "time, 23:00 UTC the day before", {
	    { 2027, 3, 1, 0, 0, 0, 3600, 1, "BBB" },
	    { 2027, 10, 27, 22, 59, 0, 3600, 1, "BBB" } } },
	{ "EST5EDT,0/0,J365/25", "DST all year", {
	    { 2030, 1, 1, 5, 0, 0, -14400, 1, "EDT" },
	    { 2030, 7, 1, 0, 0, 0, -14400, 1, "EDT" },
	    { 2030, 12, 31, 23, 59, 0, -14400, 1, "EDT" },
	    { 2031, 1, 1, 4, 30, 0, -14400, 1, "EDT" } } },
	{ "EST5EDT", "no dates: the US rule, second Sunday of March 2030", {
	    { 2030, 3, 10, 6, 59, 0, -18000, 0, "EST" },
	    { 2030, 3, 10, 7, 0, 0, -14400, 1, "EDT" } } },
	/* Last Sunday of February 2026 is the 22nd: -1 h is the 21st at
	 * 23:00 CET. Last Sunday of October is the 25th: 27:00 CEST is the
	 * 26th at 03:00 CEST, 01:00 UTC. */
	{ "CET-1CEST,M2.5.0/-1,M10.5.0/27", "rule times before midnight "
	    "and past 24 h", {
	    { 2026, 2, 21, 21, 59, 0, 3600, 0, "CET" },
	    { 2026, 2, 21, 22, 0, 0, 7200, 1, "CEST" },
	    { 2026, 10, 26, 0, 59, 0, 7200, 1, "CEST" },
	    { 2026, 10, 26, 1, 0, 0, 3600, 0, "CET" } } },
};

static void
test_footers(void)
{
	static const struct footer {
		const char	*rule;
		int		 ok;
	} footers[] = {
		{ "CET-1CEST,M3.5.0,M10.5.0/3", 1 },
		{ "<+03>-3", 1 },
		{ "<-0330>3:30", 1 },
		{ "EST5EDT", 1 },		/* US rule by default */
		{ "AAA0BBB,J60/0,J300/0", 1 },
		{ "AAA0BBB,59/0,300/0", 1 },
		{ "EST5EDT,0/0,J365/25", 1 },	/* DST all year */
		{ "XX-1", 0 },			/* name too short */
		{ "CET", 0 },			/* no offset */
		{ "CET-25", 0 },
		{ "CET-1CEST,M13.5.0,M10.5.0", 0 },
		{ "CET-1CEST,M3.6.0,M10.5.0", 0 },
		{ "CET-1CEST,M3.5.7,M10.5.0", 0 },
		{ "CET-1CEST,M3.5.0", 0 },
		{ "CET-1CEST,M3.5.0,M10.5.0/168", 0 },
		{ "CET-1CEST,J0,J100", 0 },
		{ "CET-1CEST,366,100", 0 },
		{ "CET-1CEST,M3.5.0,M10.5.0x", 0 },
		{ "<+03-3", 0 },
		{ "<ABCDEFGHIJKLMNOPQ>-3", 0 },
	};
	unsigned char	 buf[512];
	char		 why[256], label[160];
	struct tz	*z;
	size_t		 i, k, n;
	int		 rc;

	for (i = 0; i < sizeof(footers) / sizeof(footers[0]); i++) {
		n = make_tzif(buf, 0, footers[i].rule, '2', 0);
		why[0] = '\0';
		rc = load_bytes(buf, n, &z, why, sizeof(why));
		snprintf(label, sizeof(label), "footer \"%s\" %s",
		    footers[i].rule, footers[i].ok ? "accepted" : "refused");
		test_cond(label, footers[i].ok ? rc == 0 : rc == -1 &&
		    strncmp(why, "bad POSIX TZ rule in the file's footer "
		    "at byte ", 46) == 0);
		tz_free(z);
	}

	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule_check *r = &rules[i];

		n = make_tzif(buf, 0, r->rule, '2', 0);
		rc = load_bytes(buf, n, &z, why, sizeof(why)) == 0;
		for (k = 0; rc && k < 4 && r->at[k].abbr != NULL; k++)
			rc = local_is(z, utc_of(r->at[k].y, r->at[k].mon,
			    r->at[k].d, r->at[k].h, r->at[k].mi) -
			    r->at[k].back, r->at[k].off, r->at[k].isdst,
			    r->at[k].abbr);
		snprintf(label, sizeof(label), "\"%s\": %s", r->rule,
		    r->what);
		test_cond(label, rc);
		tz_free(z);
	}
}

static void
test_files(void)
{
	unsigned char	*real, buf[8192];
	char		 why[256], label[128], path[512];
	struct tz	*z;
	size_t		 n, len, cut, refused = 0;
	FILE		*f;
	int		 fd;

	/* Every truncation of a real file is refused. */
	if ((f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb")) == NULL)
		abort();
	real = malloc(8192);
	len = fread(real, 1, 8192, f);
	fclose(f);
	for (cut = 0; cut < len; cut++) {
		if (load_bytes(real, cut, &z, why, sizeof(why)) == -1)
			refused++;
		tz_free(z);
	}
	snprintf(label, sizeof(label), "every truncation of Europe/Berlin "
	    "(%zu bytes) refused", len);
	test_cond(label, refused == len);
	test_cond("the whole file loads",
	    load_bytes(real, len, &z, why, sizeof(why)) == 0 &&
	    local_is(z, 1774746000, 7200, 1, "CEST"));
	tz_free(z);

	/* A count past the file's end. */
	memcpy(buf, real, len);
	put32(buf + 32, 0x7fffffff);		/* v1 timecnt */
	test_cond("a transition count past the end is refused",
	    load_bytes(buf, len, &z, why, sizeof(why)) == -1 &&
	    strcmp(why, "time zone 'Test': the file is not valid TZif") == 0);
	memcpy(buf, real, len);
	put32(buf + 36, 0xffffffff);		/* v1 typecnt */
	test_cond("a type count of 2^32-1 is refused",
	    load_bytes(buf, len, &z, why, sizeof(why)) == -1);
	free(real);

	n = make_tzif(buf, 3600, "CET-1", '\0', 0);
	test_cond("a version 1 file is refused",
	    load_bytes(buf, n, &z, why, sizeof(why)) == -1 &&
	    strstr(why, "version 1") != NULL);
	n = make_tzif(buf, 3600, "CET-1", '2', 2);
	test_cond("leap seconds are refused",
	    load_bytes(buf, n, &z, why, sizeof(why)) == -1 &&
	    strstr(why, "leap seconds") != NULL);
	n = make_tzif(buf, 3600, "CET-1", '4', 0);
	test_cond("version 4 with a footer loads",
	    load_bytes(buf, n, &z, why, sizeof(why)) == 0 &&
	    local_is(z, 0, 3600, 0, "CET"));
	tz_free(z);
	n = make_tzif(buf, 3600, "", '2', 0);
	test_cond("an empty footer keeps the last type",
	    load_bytes(buf, n, &z, why, sizeof(why)) == 0 &&
	    local_is(z, 4102444800LL, 3600, 0, "ZZZ"));
	tz_free(z);
	n = make_tzif(buf, 27 * 3600, "", '2', 0);
	test_cond("an offset of 27 hours is refused",
	    load_bytes(buf, n, &z, why, sizeof(why)) == -1);
	n = make_tzif(buf, 3600, "CET-1", '2', 0);
	buf[n - 1] = 'x';
	test_cond("a footer without its newline is refused",
	    load_bytes(buf, n, &z, why, sizeof(why)) == -1);

	/* Past PULSE_TZ_FILE_MAX: a sparse file, never read. */
	snprintf(path, sizeof(path), "%s/Big", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	test_cond("a file past 1 MiB is refused",
	    fd != -1 && ftruncate(fd, PULSE_TZ_FILE_MAX + 1) == 0 &&
	    close(fd) == 0 && tz_load("Big", &z, why, sizeof(why)) == -1 &&
	    strcmp(why, "unknown time zone 'Big'") == 0);
	snprintf(path, sizeof(path), "%s/Dir", dir);
	test_cond("a directory is not a zone", mkdir(path, 0755) == 0 &&
	    tz_load("Dir", &z, why, sizeof(why)) == -1);
	test_cond("UTC needs no file", tz_load("UTC", &z, why, sizeof(why))
	    == 0 && local_is(z, 1774746000, 0, 0, "UTC") &&
	    strcmp(tz_name(z), "UTC") == 0);
	tz_free(z);
	test_cond("Etc/UTC needs no file",
	    tz_load("Etc/UTC", &z, why, sizeof(why)) == 0 &&
	    local_is(z, -62135596800LL, 0, 0, "UTC"));
	tz_free(z);
	if (setenv("PULSE_ZONEINFO_DIR", "/nonexistent/zoneinfo", 1))
		abort();
	test_cond("no zoneinfo at all: said so",
	    tz_load("Europe/Berlin", &z, why, sizeof(why)) == -1 &&
	    strcmp(why, "unknown time zone 'Europe/Berlin' (no zoneinfo in "
	    "/nonexistent/zoneinfo: is tzdata installed?)") == 0);
	test_cond("no zoneinfo at all: UTC still works",
	    tz_load("UTC", &z, why, sizeof(why)) == 0);
	tz_free(z);
	if (setenv("PULSE_ZONEINFO_DIR", dir, 1))
		abort();
	test_cond("Europe/Berlin is not in the test directory",
	    tz_load("Europe/Berlin", &z, why, sizeof(why)) == -1 &&
	    strcmp(why, "unknown time zone 'Europe/Berlin'") == 0);
}

int
main(void)
{
	struct tz	*z;
	struct tm	 tm;
	char		 why[256], label[160], long_name[PULSE_TZ_NAME_MAX + 2];
	size_t		 i;
	long long	 u;
	int		 rc;

	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const struct change *c = &changes[i];

		if (tz_load(c->zone, &z, why, sizeof(why)) == -1) {
			test_cond(why, 0);
			continue;
		}
		snprintf(label, sizeof(label), "%s at %lld: %ld until then, "
		    "%ld %s from then", c->zone, c->at, c->before, c->after,
		    c->abbr_after);
		test_cond(label, local_is(z, c->at - 1, c->before,
		    c->before > c->after, NULL) &&
		    local_is(z, c->at, c->after, c->after > c->before,
		    c->abbr_after) &&
		    local_is(z, c->at + 86400 * 30, c->after,
		    c->after > c->before, c->abbr_after));
		tz_free(z);
	}
	for (i = 0; i < sizeof(walls) / sizeof(walls[0]); i++) {
		const struct wall *w = &walls[i];

		if (tz_load(w->zone, &z, why, sizeof(why)) == -1) {
			test_cond(why, 0);
			continue;
		}
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = w->y - 1900;
		tm.tm_mon = w->mon - 1;
		tm.tm_mday = w->d;
		tm.tm_hour = w->h;
		tm.tm_min = w->mi;
		u = 0;
		rc = tz_utc(z, &tm, &u);
		snprintf(label, sizeof(label), "%s %04d-%02d-%02d %02d:%02d: "
		    "%s at %lld (got %d, %lld)", w->zone, w->y, w->mon, w->d,
		    w->h, w->mi, w->rc == 0 ? "unique" : w->rc == 1 ?
		    "repeated, first" : "skipped, end of gap", w->utc, rc, u);
		test_cond(label, rc == w->rc && u == w->utc);
		tz_free(z);
	}

	/* The broken-down time itself. */
	tz_load("Australia/Lord_Howe", &z, why, sizeof(why));
	test_cond("tz_local fills every field", tz_local(z, 1791041400, &tm,
	    NULL) == 0 && tm.tm_year == 126 && tm.tm_mon == 9 &&
	    tm.tm_mday == 4 && tm.tm_hour == 2 && tm.tm_min == 30 &&
	    tm.tm_sec == 0 && tm.tm_wday == 0 && tm.tm_yday == 276);
	test_cond("years 1..9999 only", tz_local(z, -62135596801LL, &tm,
	    NULL) == -1 && tz_local(z, 253402300800LL, &tm, NULL) == -1 &&
	    tz_local(z, 253402300799LL - 86400, &tm, NULL) == 0);
	tz_free(z);
	test_cond("a NULL zone is UTC", tz_local(NULL, 86399, &tm, NULL) ==
	    0 && tm.tm_hour == 23 && tm.tm_min == 59 && tm.tm_sec == 59 &&
	    tm.tm_wday == 4 && strcmp(tm.tm_zone, "UTC") == 0);
	test_cond("before 1970", tz_local(NULL, -1, &tm, NULL) == 0 &&
	    tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31 &&
	    tm.tm_hour == 23 && tm.tm_wday == 3);

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		why[0] = '\0';
		z = (struct tz *)1;
		snprintf(label, sizeof(label), "name %zu refused", i);
		test_cond(label, tz_load(bad_names[i], &z, why, sizeof(why))
		    == -1 && z == NULL && why[0] != '\0' &&
		    strchr(why, '\n') == NULL && strstr(why, "etc") == NULL);
	}
	memset(long_name, 'A', sizeof(long_name));
	long_name[PULSE_TZ_NAME_MAX] = '\0';
	test_cond("a name of 64 bytes is looked up",
	    tz_load(long_name, &z, why, sizeof(why)) == -1 &&
	    strncmp(why, "unknown time zone 'AAAA", 23) == 0);
	long_name[PULSE_TZ_NAME_MAX] = 'A';
	long_name[PULSE_TZ_NAME_MAX + 1] = '\0';
	test_cond("a name of 65 bytes is refused",
	    tz_load(long_name, &z, why, sizeof(why)) == -1 &&
	    strcmp(why, "time zone name must be 1 to 64 bytes") == 0);
	test_cond("an unknown zone says so",
	    tz_load("Mars/Olympus_Mons", &z, why, sizeof(why)) == -1 &&
	    strcmp(why, "unknown time zone 'Mars/Olympus_Mons'") == 0);
	test_cond("a directory of zoneinfo is not a zone",
	    tz_load("Europe", &z, why, sizeof(why)) == -1);

	/* Files written here: PULSE_ZONEINFO_DIR. */
	if (mkdtemp(dir) == NULL || setenv("PULSE_ZONEINFO_DIR", dir, 1))
		abort();
	test_footers();
	test_files();
	{
		char	 cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			test_cond("removing the test directory", 0);
	}
	test_report();
}
