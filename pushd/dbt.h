/*
 * The database thread's private header: its state, one struct the files
 * dbthread.c, dbt-jobs.c, dbt-poll.c, dbt-timers.c, dbt-schedules.c,
 * dbt-load.c and dbt-trust.c share (only that thread touches it), and what each of them
 * offers the others.
 */
#ifndef DBT_H
#define DBT_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "dispatch.h"
#include "id.h"
#include "idmap.h"
#include "idtail.h"
#include "pushd.h"
#include "queue.h"
#include "retention.h"

struct config;
struct db;
struct json_object;

#define DBT_TAIL_BATCH		1000	/* events per feed query */
#define DBT_REPORT_BATCH	200	/* reports per transaction */
#define DBT_REPORT_BYTES	(16 * 1024 * 1024)	/* ... and their bytes */
#define DBT_RETRY_MS		500	/* database away: retry after */
#define DBT_TIMERS_MS		1000
#define DBT_STALE_MS		5000
#define DBT_TOUCH_MS		10000
#define DBT_SWEEP_MS		30000
#define DBT_SWEEP_IDLE_S	10
#define DBT_RETAIN_MORE_MS	200	/* a full batch: the next one soon */
#define DBT_METRICS_MS		5000
#define DBT_BUSY_MS		2000	/* fast polls after work */
#define DBT_LATENCY_LAG		"2"	/* s: a finish may commit this late */
#define DBT_UNKNOWN_SEEN	64	/* unknown command ids logged */
#define DBT_POISON_TRIES	5	/* an execution that fails to move */
#define DBT_POISON_SLOTS	64
#define DBT_REATTACH_MS		60000	/* an earlier run's workers: back? */
#define DBT_SCHEDULES_MS	100	/* due schedules looked for */
#define DBT_SCHEDULES_BATCH	50	/* schedules fired per look */
#define DBT_FIRES_PRUNE_MS	60000	/* old schedule_fires deleted */
#define DBT_FIRES_PRUNE_BATCH	1000
#define DBT_LOAD_MS		250	/* lag written this often when behind */
#define DBT_LOAD_IDLE_MS	1000	/* ... and when not (kept fresh) */
#define DBT_LOAD_QUIET_MS	100	/* under this: not behind */
#define DBT_LOAD_MAX_MS		3600000	/* a lag is written capped */
#define DBT_LOAD_OLDEST		20	/* queued commands looked at */
#define DBT_STR_(x)		#x
#define DBT_STR(x)		DBT_STR_(x)

struct dbt {
	const struct config	*cfg;
	char			 node[256];
	struct db		*db;
	pthread_t		 thread;
	int			 started;
	struct jobq		 pending;	/* taken, not yet done */
	struct idmap		 held;		/* worker_id -> serial */
	struct idmap		 refused;	/* serials whose key was
						 * refused: nothing more from
						 * them is taken */
	int			 trust_ready;
	struct idtail		 trust;		/* worker_trust_events */
	long long		 grace_ms;
	long long		 retry_at;	/* db away until then */
	int			 away;		/* logged that */

	int			 feed_ready;
	struct idtail		 feed;		/* events sent on */

	long long		 next_timers, next_stale, next_touch,
				 next_sweep, next_retain, next_metrics;
	struct retention_counts	 retained;	/* this sweep, so far */
	size_t			 retain_rounds;
	long long		 retain_ms;	/* time in the database */
	char			 latency_wm[32];	/* finished_at seen */
	struct dispatch_ids	 advance;	/* executions to move */
	int			 claim_now;
	/* Claimed by a COMMIT whose answer was lost: checked, and those
	 * it did mark sent sent, before the next claim (dispatch_claimed). */
	struct dispatch_cmd	*unsure;
	size_t			 nunsure;
	long long		 detach_at;	/* earlier run's workers */
	int			 detached;
	long long		 busy_until;	/* poll fast until then */
	long long		 next_schedules, next_fires_prune;
	int			 schedules_told; /* the test clock logged */
	/* Reports on commands that no longer exist, each logged once. */
	char			 unknown[DBT_UNKNOWN_SEEN][ID_LEN + 1];
	size_t			 nunknown;
	/* Executions whose advance failed, not for the database being away. */
	struct {
		char		 id[ID_LEN + 1];
		int		 fails;
	}			 poison[DBT_POISON_SLOTS];
	size_t			 npoison;
};

extern struct dbt	 dbt;

/* dbthread.c */
void	dbt_close(uint64_t conn, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	dbt_send(uint64_t conn, struct json_object *msg);
void	dbt_busy(void);
int	dbt_held(const char *worker_id, void *arg);
int	dbt_failed(const char *what);
int	dbt_start_at(const char *sql, long long *cursor, const char *what);
void	dbt_refuse(uint64_t conn);
int	dbt_is_refused(uint64_t conn);

/* dbt-jobs.c */
void	dbt_jobs(void);

/* dbt-poll.c */
void	dbt_send_cmds(struct dispatch_cmd *cmds, size_t n, uint64_t conn);
void	dbt_claim(int look_first);
void	dbt_advance(void);
void	dbt_want_advance(const char *id);
void	dbt_tail(void);

/* dbt-load.c */
void	dbt_load(long long now);
void	dbt_load_attached(const char *worker_id);
void	dbt_load_gone(const char *worker_id);
void	dbt_load_claimed(const struct dispatch_cmd *, size_t n,
	    long long took_ms);
void	dbt_load_free(void);

/* dbt-timers.c */
void	dbt_timers(long long now);

/* dbt-schedules.c */
void	dbt_schedules(long long now);

/* dbt-trust.c */
void	dbt_worker_state(uint64_t conn, const char *worker_id,
	    const char *state);
void	dbt_offer(const char *worker_id, uint64_t conn);
void	dbt_trust(void);
void	dbt_untrusted(void);

#endif
