/*
 * System metrics for the heartbeat, read from /proc and statvfs(2): CPU
 * use since the previous beat, memory, load, uptime and the root disk.
 * Cheap enough to read every beat; nothing is kept but the last CPU
 * counters.
 */
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"
#include "xmalloc.h"

struct metrics {
	unsigned long long	 busy, total;	/* /proc/stat at the last beat */
	char			*os;
};

/* PRETTY_NAME from os-release, unquoted; uname(2) when there is none. */
static char *
metrics_os(void)
{
	static const char *const files[] = { "/etc/os-release",
	    "/usr/lib/os-release" };
	struct utsname	 un;
	char		 line[512], *v, *out;
	size_t		 i, n;
	FILE		*f;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		f = fopen(files[i], "re");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			if (strncmp(line, "PRETTY_NAME=", 12) != 0)
				continue;
			v = line + 12;
			v[strcspn(v, "\n")] = '\0';
			n = strlen(v);
			if (n >= 2 && (v[0] == '"' || v[0] == '\'') &&
			    v[n - 1] == v[0]) {
				v[n - 1] = '\0';
				v++;
			}
			fclose(f);
			return xstrdup(v);
		}
		fclose(f);
	}
	if (uname(&un) == -1)
		return xstrdup("unknown");
	xasprintf(&out, "%s %s", un.sysname, un.release);
	return out;
}

struct metrics *
metrics_new(void)
{
	struct metrics	*m = xcalloc(1, sizeof(*m));

	m->os = metrics_os();
	return m;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	free(m->os);
	free(m);
}

/*
 * The first "cpu" line of /proc/stat: user nice system idle iowait irq
 * softirq steal (guest time is already inside user and nice).
 */
static int
cpu_counters(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long	 v[8] = { 0 };
	FILE			*f;
	int			 n;

	f = fopen("/proc/stat", "re");
	if (f == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return -1;
	*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	*busy = *total - v[3] - v[4];
	return 0;
}

/* Value of a "Key: N kB" line of /proc/meminfo, in bytes; -1 if absent. */
static long long
meminfo(const char *buf, const char *key)
{
	const char	*p = strstr(buf, key);

	if (p == NULL)
		return -1;
	return strtoll(p + strlen(key), NULL, 10) * 1024;
}

/* A number with a fixed count of decimals, not %.17g noise. */
static struct json_object *
decimal(double v, int places)
{
	char	 buf[64];

	snprintf(buf, sizeof(buf), "%.*f", places, v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *
triple(long long total, long long used, long long avail)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "total", json_object_new_int64(total));
	json_object_object_add(o, "used", json_object_new_int64(used));
	json_object_object_add(o, "available", json_object_new_int64(avail));
	return o;
}

/*
 * A fresh metadata object with the system part; the caller adds what it
 * knows (version, groups, tasks). A value that cannot be read is null.
 */
struct json_object *
metrics_collect(struct metrics *m)
{
	struct json_object	*o = json_object_new_object(), *load;
	unsigned long long	 busy, total;
	struct statvfs		 sv;
	double			 la[3];
	char			 buf[4096], host[256];
	size_t			 n;
	FILE			*f;
	long long		 mt, ma;
	int			 i;

	/* The first beat reports the average since boot. */
	if (cpu_counters(&busy, &total) == 0) {
		unsigned long long db = busy - m->busy, dt = total - m->total;

		json_object_object_add(o, "cpu_percent", decimal(dt > 0 &&
		    busy >= m->busy ? 100.0 * (double)db / (double)dt : 0.0,
		    1));
		m->busy = busy;
		m->total = total;
	} else
		json_object_object_add(o, "cpu_percent", NULL);

	n = 0;
	f = fopen("/proc/meminfo", "re");
	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	mt = meminfo(buf, "MemTotal:");
	ma = meminfo(buf, "MemAvailable:");
	json_object_object_add(o, "memory", mt >= 0 && ma >= 0 ?
	    triple(mt, mt - ma, ma) : NULL);

	if (getloadavg(la, 3) == 3) {
		load = json_object_new_array_ext(3);
		for (i = 0; i < 3; i++)
			json_object_array_add(load, decimal(la[i], 2));
		json_object_object_add(o, "load", load);
	} else
		json_object_object_add(o, "load", NULL);

	n = 0;
	f = fopen("/proc/uptime", "re");
	if (f != NULL) {
		n = fread(buf, 1, 64, f);
		fclose(f);
	}
	buf[n] = '\0';
	json_object_object_add(o, "uptime", n > 0 ?
	    json_object_new_int64(strtoll(buf, NULL, 10)) : NULL);

	if (statvfs("/", &sv) == 0)
		json_object_object_add(o, "disk", triple(
		    (long long)(sv.f_blocks * sv.f_frsize),
		    (long long)((sv.f_blocks - sv.f_bfree) * sv.f_frsize),
		    (long long)(sv.f_bavail * sv.f_frsize)));
	else
		json_object_object_add(o, "disk", NULL);

	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		json_object_object_add(o, "hostname",
		    json_object_new_string(host));
	} else
		json_object_object_add(o, "hostname", NULL);
	json_object_object_add(o, "os", json_object_new_string(m->os));
	return o;
}
