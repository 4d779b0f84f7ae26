/*
 * metrics.c: the Prometheus page on the third listener. The db and
 * replay threads record what they measure here; what others count
 * (sockets, send queues, jobs, replays) is asked of the gauges function
 * given at metrics_init, so this module depends on no other of pushd's.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#define METRICS_STAGES		2	/* queued -> sent, sent -> result */
#define METRICS_STATUS_MAX	16	/* distinct statuses kept per table */

struct metrics_count {
	char		 status[17];	/* [a-z_] only */
	long long	 n;
};

/* Counts the db thread reads every METRICS_REFRESH_MS. */
struct metrics_db {
	struct metrics_count	 workers[METRICS_STATUS_MAX];
	size_t			 nworkers;
	struct metrics_count	 executions[METRICS_STATUS_MAX];
	size_t			 nexecutions;
	struct metrics_count	 dispatches[METRICS_STATUS_MAX];
	size_t			 ndispatches;
	long long		 queued;
};

/*
 * What is counted elsewhere (the sockets, the queues to the db and replay
 * threads), filled in per scrape on the loop thread before this module
 * takes its own lock: never one lock inside another.
 */
struct metrics_loop {
	size_t		 browsers;	/* open browser sockets */
	size_t		 workers;	/* registered worker sockets */
	size_t		 browser_q;	/* messages waiting to be written */
	size_t		 worker_q;
	size_t		 jobs;		/* handed to the db thread */
	size_t		 replays_waiting;	/* browsers' resumes */
	uint64_t	 replays;	/* replay queries run */
	/* The notification thread's (notifier.h). */
	uint64_t	 notify_delivered, notify_retried, notify_failed;
	uint64_t	 notify_inflight;
};

extern const struct lws_protocols metrics_protocols[];

void	metrics_init(void (*gauges)(struct metrics_loop *));
void	metrics_poll(double secs);
void	metrics_dispatch(int stage, double secs);
void	metrics_db_error(void);
void	metrics_db_jobs(size_t);
void	metrics_db_set(const struct metrics_db *);
void	metrics_retention(size_t executions, size_t events, size_t workers);

#endif
