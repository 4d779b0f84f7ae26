/*
 * pulse-api's Prometheus metrics: requests by route, method and status,
 * and their duration, counted by every child into one MAP_SHARED mapping
 * the master makes before it forks (atomic adds, no lock), and shown as
 * text at GET /metrics/api (nginx lets only the scrapers' addresses in).
 */
#include <sys/mman.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

#include "api.h"
#include "log.h"
#include "sbuf.h"
#include "xmalloc.h"

static const int metrics_codes[] = {
	200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 414, 415, 429, 500,
	503,
};
static const double metrics_bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10,
};
#define NCODES		(sizeof(metrics_codes) / sizeof(int))
#define NBOUNDS		(sizeof(metrics_bounds) / sizeof(double))

/* One per route, and one more for requests no route took. */
struct metrics_slot {
	uint64_t	 status[NCODES + 1];	/* last: any other status */
	uint64_t	 bucket[NBOUNDS + 1];	/* not cumulative; +Inf */
	uint64_t	 sum_us;
	uint64_t	 count;
};

static struct metrics_slot	*metrics_slots;
static size_t			 metrics_nroutes;

/* The master, before the first fork: every child inherits the mapping. */
void
api_metrics_init(void)
{
	size_t	 n;

	for (n = 0; routes[n].method != NULL; n++)
		;
	metrics_nroutes = n;
	metrics_slots = mmap(NULL, (n + 1) * sizeof(*metrics_slots),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (metrics_slots == MAP_FAILED)
		fatal("mmap for the request metrics");
}

/* A child, once the request is answered. */
void
api_metrics_count(const struct request *req, long long us)
{
	struct metrics_slot	*s;
	size_t			 i, r;
	double			 secs = us / 1e6;

	if (metrics_slots == NULL)
		return;
	r = req->route != NULL ? (size_t)(req->route - routes) :
	    metrics_nroutes;
	s = &metrics_slots[r];
	for (i = 0; i < NCODES && metrics_codes[i] != req->status; i++)
		;
	__atomic_fetch_add(&s->status[i], 1, __ATOMIC_RELAXED);
	for (i = 0; i < NBOUNDS && secs > metrics_bounds[i]; i++)
		;
	__atomic_fetch_add(&s->bucket[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->sum_us, (uint64_t)(us < 0 ? 0 : us),
	    __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->count, 1, __ATOMIC_RELAXED);
}

/* Route patterns are ours ([a-z/:._]): no label escaping needed. */
static void
metrics_labels(char *buf, size_t len, size_t r)
{
	if (r < metrics_nroutes)
		snprintf(buf, len, "route=\"%s\",method=\"%s\"",
		    routes[r].pattern, routes[r].method);
	else
		snprintf(buf, len, "route=\"unmatched\",method=\"any\"");
}

int
metrics_get(struct request *req)
{
	struct metrics_slot	 s;
	struct sbuf		 b;
	FCGX_Stream		*out = req->fcgx->out;
	char			 labels[API_PATH_MAX + 64], head[256],
				 code[8];
	size_t			 r, i;
	uint64_t		 cum, v;

	if (metrics_slots == NULL) {
		reply_error(req, 503, "metrics are not set up");
		return -1;
	}
	sbuf_init(&b, 32768, 0);
	sbuf_printf(&b, "# HELP pulse_api_requests_total Requests answered, "
	    "by route, method and status.\n"
	    "# TYPE pulse_api_requests_total counter\n");
	for (r = 0; r <= metrics_nroutes; r++) {
		metrics_labels(labels, sizeof(labels), r);
		for (i = 0; i <= NCODES; i++) {
			v = __atomic_load_n(&metrics_slots[r].status[i],
			    __ATOMIC_RELAXED);
			if (v == 0)
				continue;
			if (i < NCODES)
				snprintf(code, sizeof(code), "%d",
				    metrics_codes[i]);
			else
				strlcpy_p(code, "other", sizeof(code));
			sbuf_printf(&b, "pulse_api_requests_total{%s,"
			    "status=\"%s\"} %llu\n", labels, code,
			    (unsigned long long)v);
		}
	}
	sbuf_printf(&b, "# HELP pulse_api_request_duration_seconds Time from "
	    "the request's arrival in a child to its answer, by route.\n"
	    "# TYPE pulse_api_request_duration_seconds histogram\n");
	for (r = 0; r <= metrics_nroutes; r++) {
		/* A copy: the buckets may move while they are printed. */
		for (i = 0; i <= NBOUNDS; i++)
			s.bucket[i] = __atomic_load_n(
			    &metrics_slots[r].bucket[i], __ATOMIC_RELAXED);
		s.sum_us = __atomic_load_n(&metrics_slots[r].sum_us,
		    __ATOMIC_RELAXED);
		for (i = 0, s.count = 0; i <= NBOUNDS; i++)
			s.count += s.bucket[i];
		metrics_labels(labels, sizeof(labels), r);
		for (i = 0, cum = 0; i < NBOUNDS; i++) {
			cum += s.bucket[i];
			sbuf_printf(&b, "pulse_api_request_duration_seconds_"
			    "bucket{%s,le=\"%g\"} %llu\n", labels,
			    metrics_bounds[i], (unsigned long long)cum);
		}
		sbuf_printf(&b, "pulse_api_request_duration_seconds_bucket{%s,"
		    "le=\"+Inf\"} %llu\n", labels,
		    (unsigned long long)s.count);
		sbuf_printf(&b, "pulse_api_request_duration_seconds_sum{%s} "
		    "%.6f\n", labels, s.sum_us / 1e6);
		sbuf_printf(&b, "pulse_api_request_duration_seconds_count{%s} "
		    "%llu\n", labels, (unsigned long long)s.count);
	}
	req->replied = 1;
	req->status = 200;
	snprintf(head, sizeof(head), "Status: 200 OK\r\n"
	    "Cache-Control: no-store\r\n"
	    "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n\r\n", b.len);
	FCGX_PutS(head, out);
	FCGX_PutStr(b.s, (int)b.len, out);
	free(b.s);
	return 0;
}
