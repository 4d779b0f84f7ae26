/*
 * pulse-pushd: every websocket of PULSE in one libwebsockets loop (workers
 * on one listener, browsers on another) and one database thread beside it.
 * The loop never waits on the database: it hands jobs to the thread and
 * gets messages back, each way through a mutex-guarded queue (queue.c).
 *
 * Who depends on whom (each module has its own header; no circles):
 *   main -> server -> workers, browsers -> conn -> queue, idmap
 *   dbthread, dbt-*.c -> dbt.h -> queue, idmap; replay -> queue, metrics
 * conn.c knows no protocol: workers.c and browsers.c describe theirs with
 * a struct conn_kind. metrics.c gets what others count through a function
 * server.c gives it.
 * This header holds only what every part shares: the ceilings on what the
 * sockets send and on what waits for them, and two helpers (pushd.c).
 */
#ifndef PUSHD_H
#define PUSHD_H

#include <stddef.h>

#define PUSHD_WORKER_MSG_MAX	(4 * 1024 * 1024)	/* reassembled */
#define PUSHD_WORKER_DEPTH	8			/* JSON nesting */
#define PUSHD_VERSION_MAX	64
#define PUSHD_BROWSER_MSG_MAX	4096
#define PUSHD_BROWSER_DEPTH	4
#define PUSHD_BROWSER_RATE	20	/* messages a second, per socket */
#define PUSHD_BROWSER_BURST	100	/* ... after a burst of this many */
#define PUSHD_WORKER_Q_MSGS	65536		/* queued for a worker */
#define PUSHD_WORKER_Q_BYTES	(64 * 1024 * 1024)
#define PUSHD_BROWSER_Q_MSGS	4096		/* queued for a browser */
#define PUSHD_BROWSER_Q_BYTES	(8 * 1024 * 1024)
#define PUSHD_JOBS_BYTES	(256 * 1024 * 1024)	/* db thread's */
#define PUSHD_RX_CHUNK		16384	/* a worker's bytes per read */
#define PUSHD_TX_CHUNK		(256 * 1024)	/* bytes per send() */
#define PUSHD_SUBS_MAX		64	/* executions a browser follows */
#define PUSHD_REPLAY_BATCH	500	/* events per replay query */
#define PUSHD_REPLAY_MAX	50000	/* a resume further back: resync */
#define PUSHD_HELLO_S		30	/* worker_connect comes by then */
#define PUSHD_STOP_MS		8000	/* SIGTERM: time for db work */
#define PUSHD_CLOSE_MS		1000	/* then sockets flush, close */
#define PUSHD_WHY_MAX		124	/* a close reason, with its NUL */

/* The monotonic clock in milliseconds. */
long long	 pushd_now_ms(void);
/* Why a handshake or message is refused, into buf: -1, so a check can
 * fail with one call. */
int		 pushd_why(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

#endif
