/*
 * queue.c: what passes between the loop and the db thread (jobs one way,
 * outs the other), the messages themselves, and the bounded queue a
 * socket's messages wait in. Knows no socket and no protocol.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <sys/queue.h>

#include <pthread.h>

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "dispatch.h"
#include "id.h"
#include "wkey.h"

struct db_res;
struct json_object;

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
	long long		 queued_ms;	/* pushd_now_ms() at job_new */
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
/* Row i of (id, type, execution_id, payload) as an out (NULL: unreadable). */
struct out	*out_event(enum out_type, uint64_t conn, const struct db_res *,
		    size_t i);

#endif
