/*
 * Browser replays: a "resume" after a reconnect reads the events it missed
 * from the database. They run here, on a thread and a connection of their
 * own, so that no number of them can delay what the db thread does
 * (claiming commands, recording results): one employee sending resumes in
 * a loop once stopped all dispatch for minutes (issue 12).
 *
 * Each browser connection has at most one ask waiting: a newer resume
 * replaces it in place (the older generation is never queried), a closed
 * connection's ask is dropped, and the whole queue has a ceiling.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "metrics.h"
#include "pushd.h"
#include "queue.h"
#include "replay.h"
#include "xmalloc.h"

#define REPLAY_ASKS_MAX		4096	/* connections waiting for one */
#define REPLAY_RETRY_MS		500	/* database away: again after */

static const char sql_range[] =
    "SELECT id, type, execution_id, payload FROM events "
    "WHERE id > ? AND id <= ? ORDER BY id LIMIT ?";

struct ask {
	TAILQ_ENTRY(ask)	 entry;
	uint64_t		 conn;
	uint64_t		 gen;
	long long		 from, to;
};
TAILQ_HEAD(askq, ask);

static struct {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	struct askq		 asks;
	size_t			 n;
	uint64_t		 runs;		/* queries made */
	int			 stop;
	int			 started;
	pthread_t		 thread;
	struct db		*db;
} rp = {
	.mtx = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.asks = TAILQ_HEAD_INITIALIZER(rp.asks),
};

/* Under rp.mtx: the waiting ask of conn, or NULL. */
static struct ask *
replay_find(uint64_t conn)
{
	struct ask	*a;

	TAILQ_FOREACH(a, &rp.asks, entry)
		if (a->conn == conn)
			return a;
	return NULL;
}

int
replay_ask(uint64_t conn, uint64_t gen, long long from, long long to)
{
	struct ask	*a;

	pthread_mutex_lock(&rp.mtx);
	if ((a = replay_find(conn)) == NULL) {
		if (rp.n >= REPLAY_ASKS_MAX || rp.stop) {
			pthread_mutex_unlock(&rp.mtx);
			return -1;
		}
		a = xcalloc(1, sizeof(*a));
		a->conn = conn;
		TAILQ_INSERT_TAIL(&rp.asks, a, entry);
		rp.n++;
		pthread_cond_signal(&rp.cond);
	}
	/* A newer resume of the same browser: only it counts now. */
	a->gen = gen;
	a->from = from;
	a->to = to;
	pthread_mutex_unlock(&rp.mtx);
	return 0;
}

void
replay_cancel(uint64_t conn)
{
	struct ask	*a;

	pthread_mutex_lock(&rp.mtx);
	if ((a = replay_find(conn)) != NULL) {
		TAILQ_REMOVE(&rp.asks, a, entry);
		rp.n--;
		free(a);
	}
	pthread_mutex_unlock(&rp.mtx);
}

void
replay_counts(size_t *waiting, uint64_t *runs)
{
	pthread_mutex_lock(&rp.mtx);
	*waiting = rp.n;
	*runs = rp.runs;
	pthread_mutex_unlock(&rp.mtx);
}

/*
 * One round of a replay: at most PUSHD_REPLAY_BATCH events, then the end
 * marker (with more set when the batch was full: the browser asks for
 * the next round once its socket has drained). -1: the database failed.
 */
static int
replay_run(const struct ask *a)
{
	struct db_res	*r;
	struct out	*o, *end;
	size_t		 i, rows;

	if (db_exec(rp.db, sql_range, &r, "iii", a->from, a->to,
	    (long long)PUSHD_REPLAY_BATCH + 1) == -1)
		return -1;
	rows = db_res_rows(r);
	end = out_new(OUT_REPLAY_END, a->conn);
	end->gen = a->gen;
	for (i = 0; i < rows && i < PUSHD_REPLAY_BATCH; i++) {
		end->event_id = db_res_int(r, i, 0, 0);
		o = out_event(OUT_REPLAY, a->conn, r, i);
		if (o == NULL)
			continue;
		o->gen = a->gen;
		outs_push(o);
	}
	end->more = i < rows;
	if (!end->more)
		end->event_id = a->to;
	db_res_free(r);
	outs_push(end);
	return 0;
}

static void
replay_sleep(int ms)
{
	struct timespec	 ts = { 0, (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

static void *
replay_main(void *arg)
{
	struct ask	*a;
	int		 away = 0;

	(void)arg;
	mysql_thread_init();
	for (;;) {
		pthread_mutex_lock(&rp.mtx);
		while (TAILQ_EMPTY(&rp.asks) && !rp.stop)
			pthread_cond_wait(&rp.cond, &rp.mtx);
		if (rp.stop) {
			pthread_mutex_unlock(&rp.mtx);
			break;
		}
		a = TAILQ_FIRST(&rp.asks);
		TAILQ_REMOVE(&rp.asks, a, entry);
		rp.n--;
		rp.runs++;
		pthread_mutex_unlock(&rp.mtx);

		if (replay_run(a) == 0) {
			if (away)
				log_info("replays: database reachable again");
			away = 0;
			free(a);
			continue;
		}
		metrics_db_error();
		if (!away)
			log_warnx("replays: %s", db_errmsg(rp.db));
		away = db_down(rp.db);
		/* Put back unless a newer ask of that browser came. */
		pthread_mutex_lock(&rp.mtx);
		if (replay_find(a->conn) == NULL && !rp.stop) {
			TAILQ_INSERT_HEAD(&rp.asks, a, entry);
			rp.n++;
			a = NULL;
		}
		pthread_mutex_unlock(&rp.mtx);
		free(a);
		replay_sleep(REPLAY_RETRY_MS);
	}
	db_free(rp.db);
	rp.db = NULL;
	mysql_thread_end();
	return NULL;
}

int
replay_start(const struct config *cfg)
{
	int		 rc;

	rp.db = db_new_config(cfg);
	rc = pthread_create(&rp.thread, NULL, replay_main, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("pthread_create");
		db_free(rp.db);
		rp.db = NULL;
		return -1;
	}
	rp.started = 1;
	return 0;
}

/* Stop taking asks and wait up to wait_ms: 0 once joined, -1 if busy. */
int
replay_join(int wait_ms)
{
	struct ask	*a;

	if (!rp.started)
		return 0;
	pthread_mutex_lock(&rp.mtx);
	rp.stop = 1;
	while ((a = TAILQ_FIRST(&rp.asks)) != NULL) {
		TAILQ_REMOVE(&rp.asks, a, entry);
		free(a);
	}
	rp.n = 0;
	pthread_cond_signal(&rp.cond);
	pthread_mutex_unlock(&rp.mtx);
	if (thread_join_ms(rp.thread, wait_ms) == -1)
		return -1;
	rp.started = 0;
	return 0;
}
