/*
 * pulse-pushd: every websocket of PULSE in one libwebsockets loop (workers
 * on one listener, browsers on another) and one database thread beside it.
 * The loop never waits on the database: it hands jobs to the thread and
 * gets messages back, each way through a mutex-guarded queue (queue.c).
 */
#ifndef PUSHD_H
#define PUSHD_H

#include <sys/queue.h>

#include <pthread.h>

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "dispatch.h"
#include "id.h"
#include "pulse-limits.h"
#include "wkey.h"

struct config;
struct json_object;

/* Ceilings on what the sockets send and on what waits for them. */
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

/* ---------------------------------------------------------------- idmap.c */

/* A hash of short keys (ids, serials) to a number and a pointer. */
struct idmap_node {
	struct idmap_node	*next;
	size_t			 klen;
	unsigned char		 key[ID_LEN + 1];
	uint64_t		 num;
	void			*ptr;
};

struct idmap {
	struct idmap_node	**b;
	size_t			 nb, n;
};

void	 idmap_init(struct idmap *);
void	 idmap_free(struct idmap *);
struct idmap_node *idmap_get(const struct idmap *, const void *, size_t);
struct idmap_node *idmap_put(struct idmap *, const void *, size_t);
void	 idmap_del(struct idmap *, const void *, size_t);
void	 idmap_each(const struct idmap *,
	    void (*)(struct idmap_node *, void *), void *);

/* ---------------------------------------------------------------- queue.c */

/*
 * One websocket message, with LWS_PRE bytes of room in front for lws.
 * Shared by every socket it is queued on (a broadcast is built once);
 * only the loop thread counts references once it has it.
 */
struct msg {
	int		 refs;
	size_t		 len;
	unsigned char	*data;		/* len bytes, buf + LWS_PRE */
	unsigned char	 buf[];
};

struct msg	*msg_new(const char *, size_t);
struct msg	*msg_json(struct json_object *);
struct msg	*msg_ref(struct msg *);
void		 msg_unref(struct msg *);

/* A socket's messages waiting to be written, with a cap. */
struct outq {
	struct msg	**v;
	size_t		 head, n, cap;
	size_t		 bytes;
};

int		 outq_push(struct outq *, struct msg *, size_t max_msgs,
		    size_t max_bytes);
struct msg	*outq_peek(const struct outq *);
void		 outq_pop(struct outq *);
void		 outq_clear(struct outq *);

/* Loop -> db thread. */
enum job_type {
	JOB_CONNECT,		/* worker_connect */
	JOB_GONE,		/* a registered worker's socket closed */
	JOB_STARTED,		/* command_started */
	JOB_OUTPUT,		/* command_output */
	JOB_RESULT,		/* command_result */
	JOB_KEY_ACK,		/* key_ack */
};

struct job {
	TAILQ_ENTRY(job)	 entry;
	enum job_type		 type;
	uint64_t		 conn;		/* the socket it is from */
	char			 worker_id[ID_LEN + 1];
	size_t			 size;		/* bytes held (cap) */
	struct json_object	*msg;		/* owns the strings */

	struct dispatch_worker	 w;		/* JOB_CONNECT */
	char			 key_hash[WKEY_HASH_LEN + 1]; /* its own
						 * key's, or "": shared */
	long long		 key_id;	/* JOB_KEY_ACK */
	const char		**running;
	size_t			 nrunning;
	int			 journaled;	/* it sent running */

	const char		*command_id;	/* STARTED, OUTPUT */
	const char		*execution_id;
	int			 stream;	/* OUTPUT */
	long long		 offset;
	const char		*b64;
	size_t			 b64len;

	struct dispatch_result	 res;		/* JOB_RESULT */
};
TAILQ_HEAD(jobq, job);

/* Db thread -> loop. */
enum out_type {
	OUT_SEND,		/* msg to the socket conn */
	OUT_CLOSE,		/* close conn with code and reason */
	OUT_REGISTERED,		/* conn's worker is on record: online */
	OUT_CURSOR,		/* the events feed starts after event_id */
	OUT_EVENT,		/* an event for the browsers */
	OUT_REPLAY,		/* an old event for one browser */
	OUT_REPLAY_END,		/* a replay got up to event_id */
	OUT_DB_DONE,		/* the db thread has finished */
};

struct out {
	TAILQ_ENTRY(out)	 entry;
	enum out_type		 type;
	uint64_t		 conn;
	struct msg		*msg;
	int			 code;
	char			 reason[124];
	long long		 event_id;
	int			 is_output;	/* for subscribers only */
	char			 execution_id[ID_LEN + 1];
	uint64_t		 gen;		/* REPLAY, REPLAY_END */
	int			 more;		/* REPLAY_END: batch full */
};
TAILQ_HEAD(outq_list, out);

void		 queue_init(struct lws_context *);
void		 queue_detach(void);
void		 queue_free(void);
struct job	*job_new(enum job_type, uint64_t conn, const char *worker_id);
void		 job_free(struct job *);
int		 jobs_push(struct job *);
void		 jobs_stop(void);
int		 jobs_take(struct jobq *, int timeout_ms);
struct out	*out_new(enum out_type, uint64_t conn);
void		 out_free(struct out *);
void		 outs_push(struct out *);
void		 outs_take(struct outq_list *);
size_t		 jobs_depth(void);
int		 thread_join_ms(pthread_t, int wait_ms);
struct db_res;
/* Row i of (id, type, execution_id, payload) as an out (NULL: unreadable). */
struct out	*out_event(enum out_type, uint64_t conn, const struct db_res *,
		    size_t i);

/* --------------------------------------------------------------- server.c */

enum conn_kind {
	CONN_WORKER,
	CONN_BROWSER,
};

enum worker_state {
	WORKER_HELLO,		/* upgraded, waiting for worker_connect */
	WORKER_CONNECTING,	/* the db thread records it */
	WORKER_ONLINE,		/* on record: commands may come */
};

/* One websocket: lws's per-session data, zeroed by lws. */
struct conn {
	struct lws		*wsi;
	uint64_t		 serial;	/* names it across threads */
	enum conn_kind		 kind;
	TAILQ_ENTRY(conn)	 entry;
	struct outq		 q;
	int			 closing;	/* close once flushed */
	int			 close_flush;
	int			 close_code;
	char			 close_reason[124];
	unsigned char		*rx;		/* message coming in */
	size_t			 rxlen, rxcap;
	long long		 last_rx_ms;	/* monotonic */
	long long		 since_ms;

	/* Workers: the key from the handshake, then who it is. */
	int			 key_shared;	/* WORKER_API_KEY */
	char			 key_worker[ID_LEN + 1]; /* X-Worker-Id */
	char			 key_hash[WKEY_HASH_LEN + 1];
	enum worker_state	 wstate;
	int			 replaced;	/* a newer one took over */
	char			 worker_id[ID_LEN + 1];
	char			 worker_name[WORKER_NAME_MAX + 1];
	long long		 last_ping_ms;

	/* Browsers: identity from the handshake, then the feed. */
	char			 user[USER_NAME_MAX + 1];
	char			 (*subs)[ID_LEN + 1];
	size_t			 nsubs;
	long long		 floor;		/* has events up to here */
	double			 tokens;	/* browsers_rate() */
	long long		 rate_ms;
	int			 replaying;
	uint64_t		 replay_gen;
	long long		 replay_to;
	int			 replay_next;	/* ask more once drained */
	long long		 replay_from;
};
TAILQ_HEAD(connq, conn);

struct server {
	const struct config	*cfg;
	struct lws_context	*ctx;
	struct idmap		 conns;		/* serial -> conn */
	struct connq		 workers, browsers;
	uint64_t		 next_serial;
	int			 feed_ready;	/* cursor known */
	long long		 cursor;	/* last event id broadcast */
	int			 stopping;
	int			 db_done;
	long long		 stop_at_ms;
	int			 quit;
};

extern struct server	 server;

long long	 server_now_ms(void);
int		 why_set(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
int		 server_init(const struct config *);
void		 server_run(void);
void		 server_free(void);
void		 server_request_stop(void);
int		 server_wake(void);
void		 conn_register(struct conn *, struct lws *, enum conn_kind);
void		 conn_unregister(struct conn *);
struct conn	*conn_find(uint64_t serial);
int		 conn_send(struct conn *, struct msg *);
void		 conn_close(struct conn *, int code, const char *reason,
		    int flush);
int		 conn_writeable(struct conn *);
int		 conn_rx(struct conn *, const void *, size_t, size_t max,
		    int *complete);
void		 conn_rx_reset(struct conn *);
int		 header_copy(struct lws *, const char *name, char *, size_t);
int		 upgrade_refuse(struct lws *, int status, const char *why);

/* -------------------------------------------------------------- workers.c */

extern const struct lws_protocols workers_protocols[];

void	workers_init(void);
void	workers_free(void);
void	workers_out(struct out *);
void	workers_tick(long long now_ms);
void	workers_close_all(void);

/* ---------------------------------------------------------------- wmsg.c */

/* A worker's message, decoded and checked; no socket, no lws call. */
enum wmsg_type {
	WMSG_CONNECT,		/* worker_connect */
	WMSG_STARTED,		/* command_started */
	WMSG_OUTPUT,		/* command_output */
	WMSG_RESULT,		/* command_result */
	WMSG_WORKFLOW_RESULT,	/* workflow_result (older agents) */
	WMSG_PONG,		/* pong */
	WMSG_KEY_ACK,		/* key_ack: a rotated key is stored */
};

struct wmsg {
	enum wmsg_type		 type;
	const char		*type_name;
	int			 any_time;	/* may precede worker_connect */
	struct json_object	*json;		/* owns every string below */

	const char		*worker_id;	/* CONNECT; any other: NULL
						   when not given */
	long long		 key_id;	/* KEY_ACK */
	const char		*worker_name;	/* CONNECT */
	const char		*version;
	const char		**groups;
	size_t			 ngroups;
	int			 has_groups;
	const char		**running;
	size_t			 nrunning;
	int			 has_running;	/* a journaling agent */

	const char		*command_id;	/* STARTED, OUTPUT */
	const char		*execution_id;	/* STARTED, WORKFLOW_RESULT */
	int			 stream;	/* OUTPUT */
	long long		 offset;
	const char		*b64;
	size_t			 b64len;

	struct dispatch_result	 res;		/* RESULT */
};

/* The JSON and a known type: 0, or -1 with why (nothing held). */
int		 wmsg_parse(struct wmsg *, const char *, size_t, char *why,
		    size_t);
/* That type's fields: 0, or -1 with why (call wmsg_clear all the same). */
int		 wmsg_fields(struct wmsg *, char *why, size_t);
struct json_object *wmsg_take_json(struct wmsg *);
const char	**wmsg_take_running(struct wmsg *);
void		 wmsg_clear(struct wmsg *);

/* ------------------------------------------------------------- browsers.c */

extern const struct lws_protocols browsers_protocols[];

void	browsers_out(struct out *);
void	browsers_close_all(void);

/* -------------------------------------------------------------- metrics.c */

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

extern const struct lws_protocols metrics_protocols[];

void	metrics_init(void);
void	metrics_poll(double secs);
void	metrics_dispatch(int stage, double secs);
void	metrics_db_error(void);
void	metrics_db_jobs(size_t);
void	metrics_db_set(const struct metrics_db *);
void	metrics_retention(size_t executions, size_t events, size_t workers);

/* --------------------------------------------------------------- replay.c */

int	replay_start(const struct config *);
int	replay_join(int wait_ms);
/* 0, or -1 when too many wait (the browser is told to come back). */
int	replay_ask(uint64_t conn, uint64_t gen, long long from, long long to);
void	replay_cancel(uint64_t conn);
void	replay_counts(size_t *waiting, uint64_t *runs);

/* ------------------------------------------------------------- dbthread.c */

int	dbthread_start(const struct config *, const char *node);
int	dbthread_join(int wait_ms);

#endif
