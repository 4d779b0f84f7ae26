/*
 * notifier.c: the delivery thread of the notification outbox (DESIGN
 * section 11). Its own database connection and a libcurl multi handle;
 * nothing on the websocket loop ever waits for a receiver.
 */
#ifndef NOTIFIER_H
#define NOTIFIER_H

#include <stdint.h>

struct config;

/* Counts since start, for /metrics. */
struct notifier_counts {
	uint64_t	delivered;
	uint64_t	retried;	/* failed, tried again later (or dead) */
	uint64_t	failed;		/* refused for good (4xx) */
	uint64_t	inflight;
};

/* curl_global_init() must have run, before any thread. */
int	notifier_start(const struct config *, const char *node);
/* Stop taking deliveries and wait up to wait_ms: 0 once joined, -1. */
int	notifier_join(int wait_ms);
void	notifier_counts(struct notifier_counts *);

#endif
