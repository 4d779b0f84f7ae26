/*
 * Prometheus metrics: what the db thread measures (poll time, dispatch
 * latency, database errors, counts by status every few seconds) kept
 * behind one mutex, rendered in the text exposition format by the loop
 * for GET /metrics on the third listener, with what only the loop knows
 * (connected sockets, send queues) and the process's own numbers.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "sbuf.h"
#include "xmalloc.h"

#define METRICS_BODY_MAX	(256 * 1024)

/* Seconds: from a poll's milliseconds to a command's minutes. */
static const double metrics_poll_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	2.5, 5,
};
static const double metrics_dispatch_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
	300, 600, 1800, 3600,
};
#define NPOLL	(sizeof(metrics_poll_bounds) / sizeof(double))
#define NDISP	(sizeof(metrics_dispatch_bounds) / sizeof(double))

struct metrics_hist {
	uint64_t	 bucket[NDISP + 1];	/* not cumulative; last: +Inf */
	uint64_t	 count;
	double		 sum;
};

static const char *const metrics_stage_names[METRICS_STAGES] = {
	"queued_to_sent", "sent_to_result",
};

static struct {
	pthread_mutex_t		 mtx;
	struct metrics_hist	 poll;
	struct metrics_hist	 dispatch[METRICS_STAGES];
	uint64_t		 db_errors;
	uint64_t		 retention[3];	/* by kind */
	uint64_t		 scrapes;
	size_t			 db_jobs;
	int			 have_db;
	struct metrics_db	 db;
	time_t			 started;
	void			(*gauges)(struct metrics_loop *);
} metrics = { .mtx = PTHREAD_MUTEX_INITIALIZER };

void
metrics_init(void (*gauges)(struct metrics_loop *))
{
	metrics.started = time(NULL);
	metrics.gauges = gauges;
}

static void
hist_add(struct metrics_hist *h, const double *bounds, size_t nb, double v)
{
	size_t	 i;

	for (i = 0; i < nb && v > bounds[i]; i++)
		;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

void
metrics_poll(double secs)
{
	pthread_mutex_lock(&metrics.mtx);
	hist_add(&metrics.poll, metrics_poll_bounds, NPOLL, secs);
	pthread_mutex_unlock(&metrics.mtx);
}

void
metrics_dispatch(int stage, double secs)
{
	if (stage < 0 || stage >= METRICS_STAGES || secs < 0)
		return;
	pthread_mutex_lock(&metrics.mtx);
	hist_add(&metrics.dispatch[stage], metrics_dispatch_bounds, NDISP,
	    secs);
	pthread_mutex_unlock(&metrics.mtx);
}

void
metrics_db_error(void)
{
	pthread_mutex_lock(&metrics.mtx);
	metrics.db_errors++;
	pthread_mutex_unlock(&metrics.mtx);
}

void
metrics_retention(size_t executions, size_t events, size_t workers)
{
	pthread_mutex_lock(&metrics.mtx);
	metrics.retention[0] += executions;
	metrics.retention[1] += events;
	metrics.retention[2] += workers;
	pthread_mutex_unlock(&metrics.mtx);
}

void
metrics_db_jobs(size_t n)
{
	pthread_mutex_lock(&metrics.mtx);
	metrics.db_jobs = n;
	pthread_mutex_unlock(&metrics.mtx);
}

void
metrics_db_set(const struct metrics_db *d)
{
	pthread_mutex_lock(&metrics.mtx);
	metrics.db = *d;
	metrics.have_db = 1;
	pthread_mutex_unlock(&metrics.mtx);
}

/* ------------------------------------------------------------- rendering */

static void
head(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
hist_render(struct sbuf *b, const char *name, const char *label,
    const struct metrics_hist *h, const double *bounds, size_t nb)
{
	uint64_t	 cum = 0;
	size_t		 i;
	const char	*sep = label[0] != '\0' ? "," : "";

	for (i = 0; i < nb; i++) {
		cum += h->bucket[i];
		sbuf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, label,
		    sep, bounds[i], (unsigned long long)cum);
	}
	cum += h->bucket[nb];
	sbuf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label, sep,
	    (unsigned long long)cum);
	if (label[0] != '\0') {
		sbuf_printf(b, "%s_sum{%s} %.6f\n", name, label, h->sum);
		sbuf_printf(b, "%s_count{%s} %llu\n", name, label,
		    (unsigned long long)h->count);
	} else {
		sbuf_printf(b, "%s_sum %.6f\n", name, h->sum);
		sbuf_printf(b, "%s_count %llu\n", name,
		    (unsigned long long)h->count);
	}
}

/* Statuses come from the database: only [a-z_] reaches a label. */
static void
status_render(struct sbuf *b, const char *name, const struct metrics_count *v,
    size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		sbuf_printf(b, "%s{status=\"%s\"} %lld\n", name, v[i].status,
		    v[i].n);
}

static void
process_render(struct sbuf *b)
{
	struct rusage	 ru;
	DIR		*d;
	struct dirent	*de;
	FILE		*f;
	long		 pages, rss = 0;
	size_t		 fds = 0;

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		head(b, "process_cpu_seconds_total", "counter",
		    "User and system CPU time spent in seconds.");
		sbuf_printf(b, "process_cpu_seconds_total %.3f\n",
		    (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	}
	if ((f = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(f, "%ld %ld", &pages, &rss) == 2) {
			head(b, "process_resident_memory_bytes", "gauge",
			    "Resident memory size in bytes.");
			sbuf_printf(b, "process_resident_memory_bytes %lld\n",
			    (long long)rss * sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				fds++;
		closedir(d);
		head(b, "process_open_fds", "gauge",
		    "Number of open file descriptors.");
		sbuf_printf(b, "process_open_fds %zu\n", fds > 0 ? fds - 1 : 0);
	}
	head(b, "process_start_time_seconds", "gauge",
	    "Start time of the process since the epoch in seconds.");
	sbuf_printf(b, "process_start_time_seconds %lld\n",
	    (long long)metrics.started);
}

/* The whole page, LWS_PRE bytes of room in front; the loop thread only. */
static unsigned char *
metrics_render(size_t *lenp)
{
	struct sbuf		 b;
	struct metrics_loop	 loop;
	size_t			 i;
	char		 label[64];

	sbuf_init(&b, 16384, LWS_PRE);
	/* Their own locks, taken before ours: never one inside another. */
	memset(&loop, 0, sizeof(loop));
	if (metrics.gauges != NULL)
		metrics.gauges(&loop);
	pthread_mutex_lock(&metrics.mtx);
	metrics.scrapes++;
	if (metrics.have_db) {
		head(&b, "pulse_workers", "gauge",
		    "Workers on record by status (database, every few "
		    "seconds).");
		status_render(&b, "pulse_workers", metrics.db.workers,
		    metrics.db.nworkers);
		head(&b, "pulse_executions", "gauge",
		    "Executions on record by status (database, every few "
		    "seconds).");
		status_render(&b, "pulse_executions", metrics.db.executions,
		    metrics.db.nexecutions);
		head(&b, "pulse_dispatches", "gauge",
		    "Commands not yet finished by status (database).");
		status_render(&b, "pulse_dispatches", metrics.db.dispatches,
		    metrics.db.ndispatches);
	}
	head(&b, "pulse_dispatch_latency_seconds", "histogram",
	    "Commands: queued to sent to a worker, and sent to result "
	    "stored (every pushd sees every command).");
	for (i = 0; i < METRICS_STAGES; i++) {
		snprintf(label, sizeof(label), "stage=\"%s\"",
		    metrics_stage_names[i]);
		hist_render(&b, "pulse_dispatch_latency_seconds", label,
		    &metrics.dispatch[i], metrics_dispatch_bounds, NDISP);
	}
	head(&b, "pulse_poll_duration_seconds", "histogram",
	    "Time of one database poll (claim, event feed, timers).");
	hist_render(&b, "pulse_poll_duration_seconds", "", &metrics.poll,
	    metrics_poll_bounds, NPOLL);
	head(&b, "pulse_browsers_connected", "gauge",
	    "Browser websockets open on this pushd.");
	sbuf_printf(&b, "pulse_browsers_connected %zu\n", loop.browsers);
	head(&b, "pulse_workers_connected", "gauge",
	    "Registered worker websockets open on this pushd.");
	sbuf_printf(&b, "pulse_workers_connected %zu\n", loop.workers);
	head(&b, "pulse_queue_depth", "gauge",
	    "Items waiting: dispatch (queued commands, database), db_jobs "
	    "(for the database thread: handed over, and taken in its last "
	    "round), replays (browsers' resumes, one at most each), "
	    "worker_send and browser_send (messages not yet written to "
	    "sockets).");
	if (metrics.have_db)
		sbuf_printf(&b, "pulse_queue_depth{queue=\"dispatch\"} %lld\n",
		    metrics.db.queued);
	sbuf_printf(&b, "pulse_queue_depth{queue=\"db_jobs\"} %zu\n",
	    metrics.db_jobs + loop.jobs);
	sbuf_printf(&b, "pulse_queue_depth{queue=\"replays\"} %zu\n",
	    loop.replays_waiting);
	sbuf_printf(&b, "pulse_queue_depth{queue=\"worker_send\"} %zu\n",
	    loop.worker_q);
	sbuf_printf(&b, "pulse_queue_depth{queue=\"browser_send\"} %zu\n",
	    loop.browser_q);
	head(&b, "pulse_replays_total", "counter",
	    "Replay queries run for browsers that resumed (a batch each).");
	sbuf_printf(&b, "pulse_replays_total %llu\n",
	    (unsigned long long)loop.replays);
	head(&b, "pulse_notifications_total", "counter",
	    "Notification delivery attempts by this pushd, by outcome: "
	    "delivered, retried (tried again later, or dead after 24 h), "
	    "failed (refused by the receiver).");
	sbuf_printf(&b, "pulse_notifications_total{outcome=\"delivered\"} "
	    "%llu\n", (unsigned long long)loop.notify_delivered);
	sbuf_printf(&b, "pulse_notifications_total{outcome=\"retried\"} "
	    "%llu\n", (unsigned long long)loop.notify_retried);
	sbuf_printf(&b, "pulse_notifications_total{outcome=\"failed\"} "
	    "%llu\n", (unsigned long long)loop.notify_failed);
	head(&b, "pulse_notifications_in_flight", "gauge",
	    "Notifications being sent now by this pushd.");
	sbuf_printf(&b, "pulse_notifications_in_flight %llu\n",
	    (unsigned long long)loop.notify_inflight);
	head(&b, "pulse_db_errors_total", "counter",
	    "Failed database operations of the database and replay "
	    "threads.");
	sbuf_printf(&b, "pulse_db_errors_total %llu\n",
	    (unsigned long long)metrics.db_errors);
	head(&b, "pulse_retention_deleted_total", "counter",
	    "Rows deleted by retention on this pushd.");
	sbuf_printf(&b, "pulse_retention_deleted_total{kind=\"executions\"} "
	    "%llu\n", (unsigned long long)metrics.retention[0]);
	sbuf_printf(&b, "pulse_retention_deleted_total{kind=\"events\"} %llu\n",
	    (unsigned long long)metrics.retention[1]);
	sbuf_printf(&b, "pulse_retention_deleted_total{kind=\"workers\"} %llu\n",
	    (unsigned long long)metrics.retention[2]);
	head(&b, "pulse_metrics_scrapes_total", "counter",
	    "Requests for this page.");
	sbuf_printf(&b, "pulse_metrics_scrapes_total %llu\n",
	    (unsigned long long)metrics.scrapes);
	pthread_mutex_unlock(&metrics.mtx);
	process_render(&b);
	*lenp = b.len - LWS_PRE;
	return (unsigned char *)b.s;
}

/* ------------------------------------------------------------------ HTTP */

struct metrics_pss {
	unsigned char	*body;		/* LWS_PRE + len */
	size_t		 len;
};

static int
metrics_reply(struct lws *wsi, struct metrics_pss *pss, unsigned int status,
    const char *type)
{
	unsigned char	 hdr[LWS_PRE + 512];
	unsigned char	*start = hdr + LWS_PRE, *p = start;
	unsigned char	*end = hdr + sizeof(hdr) - 1;

	if (lws_add_http_common_headers(wsi, status, type, pss->len, &p,
	    end) != 0 ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	    (const unsigned char *)"no-store", 8, &p, end) != 0 ||
	    lws_finalize_write_http_header(wsi, start, &p, end) != 0)
		return -1;
	lws_callback_on_writable(wsi);
	return 0;
}

static int
metrics_http_cb(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct metrics_pss	*pss = user;
	static const char	 not_found[] = "not found\n";
	static const char	 not_get[] = "only GET\n";
	const char		*msg;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		free(pss->body);
		pss->body = NULL;
		if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
			msg = not_get;
		else if (in == NULL || strcmp(in, "/metrics") != 0)
			msg = not_found;
		else {
			pss->body = metrics_render(&pss->len);
			if (pss->len > METRICS_BODY_MAX)
				log_warnx("metrics page is %zu bytes",
				    pss->len);
			return metrics_reply(wsi, pss, HTTP_STATUS_OK,
			    "text/plain; version=0.0.4; charset=utf-8");
		}
		pss->len = strlen(msg);
		pss->body = xmalloc(LWS_PRE + pss->len);
		memcpy(pss->body + LWS_PRE, msg, pss->len);
		return metrics_reply(wsi, pss, msg == not_get ?
		    HTTP_STATUS_METHOD_NOT_ALLOWED : HTTP_STATUS_NOT_FOUND,
		    "text/plain; charset=utf-8");
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (pss == NULL || pss->body == NULL)
			return 0;
		if (lws_write(wsi, pss->body + LWS_PRE, pss->len,
		    LWS_WRITE_HTTP_FINAL) < (int)pss->len)
			return -1;
		free(pss->body);
		pss->body = NULL;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		/*
		 * A connection closed before it sent a request has no
		 * per-session data yet (lws allocates it with the request).
		 */
		if (pss != NULL) {
			free(pss->body);
			pss->body = NULL;
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		return 0;	/* server_wake() runs on the worker vhost */
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

const struct lws_protocols metrics_protocols[] = {
	{ "pulse-pushd-metrics", metrics_http_cb, sizeof(struct metrics_pss),
	    0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};
