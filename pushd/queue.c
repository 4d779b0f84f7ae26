/*
 * What passes between the loop and the db thread: jobs one way, outgoing
 * messages the other, each list behind one mutex. The db thread sleeps on
 * a condition variable; the loop is woken with lws_cancel_service(), the
 * one lws call another thread may make. Also the messages themselves and
 * the bounded per-socket queues they wait in.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "log.h"
#include "pjson.h"
#include "pushd.h"
#include "queue.h"
#include "xmalloc.h"

static pthread_mutex_t	 queue_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 queue_cond;
static struct jobq	 queue_jobs = TAILQ_HEAD_INITIALIZER(queue_jobs);
static struct outq_list	 queue_outs = TAILQ_HEAD_INITIALIZER(queue_outs);
static size_t		 queue_job_bytes;
static size_t		 queue_njobs;	/* waiting, not yet taken */
static int		 queue_stopped;
static struct lws_context *queue_ctx;

/* ---------------------------------------------------------------- messages */

struct msg *
msg_new(const char *data, size_t len)
{
	struct msg	*m = xmalloc(sizeof(*m) + LWS_PRE + len + 1);

	m->refs = 1;
	m->len = len;
	m->data = m->buf + LWS_PRE;
	memcpy(m->data, data, len);
	m->data[len] = '\0';
	return m;
}

struct msg *
msg_json(struct json_object *o)
{
	const char	*s;
	size_t		 len;

	s = pjson_str(o, &len);
	return msg_new(s, len);
}

struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

void
msg_unref(struct msg *m)
{
	if (m != NULL && --m->refs == 0)
		free(m);
}

/* ------------------------------------------------------------ socket queues */

int
outq_push(struct outq *q, struct msg *m, size_t max_msgs, size_t max_bytes)
{
	size_t	 i;

	if (q->n >= max_msgs || q->bytes + m->len > max_bytes)
		return -1;
	if (q->n == q->cap) {
		struct msg **v;
		size_t	 cap = q->cap ? q->cap * 2 : 8;

		/* Unroll the ring into the new array. */
		v = xreallocarray(NULL, cap, sizeof(*v));
		for (i = 0; i < q->n; i++)
			v[i] = q->v[(q->head + i) % q->cap];
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	q->v[(q->head + q->n) % q->cap] = msg_ref(m);
	q->n++;
	q->bytes += m->len;
	return 0;
}

struct msg *
outq_peek(const struct outq *q)
{
	return q->n == 0 ? NULL : q->v[q->head];
}

void
outq_pop(struct outq *q)
{
	struct msg	*m;

	if (q->n == 0)
		return;
	m = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	q->bytes -= m->len;
	msg_unref(m);
}

void
outq_clear(struct outq *q)
{
	while (q->n > 0)
		outq_pop(q);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/* ------------------------------------------------------------ thread queues */

void
queue_init(struct lws_context *ctx)
{
	pthread_condattr_t	 attr;

	/* Monotonic, so a clock step never stalls the db thread's polls. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&queue_cond, &attr);
	pthread_condattr_destroy(&attr);
	queue_ctx = ctx;
}

void
queue_free(void)
{
	struct job	*j;
	struct out	*o;

	while ((j = TAILQ_FIRST(&queue_jobs)) != NULL) {
		TAILQ_REMOVE(&queue_jobs, j, entry);
		job_free(j);
	}
	while ((o = TAILQ_FIRST(&queue_outs)) != NULL) {
		TAILQ_REMOVE(&queue_outs, o, entry);
		out_free(o);
	}
	pthread_cond_destroy(&queue_cond);
}

struct job *
job_new(enum job_type type, uint64_t conn, const char *worker_id)
{
	struct job	*j = xcalloc(1, sizeof(*j));

	j->type = type;
	j->conn = conn;
	if (worker_id != NULL)
		strlcpy_p(j->worker_id, worker_id, sizeof(j->worker_id));
	j->size = sizeof(*j);
	j->queued_ms = pushd_now_ms();	/* its wait is lag (dbt-load.c) */
	return j;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	json_object_put(j->msg);
	free(j->running);
	free(j);
}

/*
 * Hand a job to the db thread: 0, or -1 (and the job stays the caller's)
 * when the thread has stopped taking work or too much already waits.
 * Connects and disconnects always fit: the db thread's view of who is
 * here must not miss one.
 */
int
jobs_push(struct job *j)
{
	int	 small = j->type == JOB_CONNECT || j->type == JOB_GONE;

	pthread_mutex_lock(&queue_mtx);
	if (queue_stopped ||
	    (!small && queue_job_bytes + j->size > PUSHD_JOBS_BYTES)) {
		pthread_mutex_unlock(&queue_mtx);
		return -1;
	}
	TAILQ_INSERT_TAIL(&queue_jobs, j, entry);
	queue_job_bytes += j->size;
	queue_njobs++;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_mtx);
	return 0;
}

/* Jobs handed over and not yet taken by the db thread. */
size_t
jobs_depth(void)
{
	size_t	 n;

	pthread_mutex_lock(&queue_mtx);
	n = queue_njobs;
	pthread_mutex_unlock(&queue_mtx);
	return n;
}

/* No more jobs: the db thread finishes what it has and returns. */
void
jobs_stop(void)
{
	pthread_mutex_lock(&queue_mtx);
	queue_stopped = 1;
	pthread_cond_signal(&queue_cond);
	pthread_mutex_unlock(&queue_mtx);
}

/*
 * Db thread: move every waiting job to the end of *to, waiting up to
 * timeout_ms for one. Returns 1 once jobs_stop() was called (no job can
 * come after those taken now), else 0.
 */
int
jobs_take(struct jobq *to, int timeout_ms)
{
	struct timespec	 ts;
	int		 stopped;

	pthread_mutex_lock(&queue_mtx);
	if (TAILQ_EMPTY(&queue_jobs) && !queue_stopped && timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += timeout_ms / 1000;
		ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&queue_cond, &queue_mtx, &ts);
	}
	TAILQ_CONCAT(to, &queue_jobs, entry);
	queue_job_bytes = 0;
	queue_njobs = 0;
	stopped = queue_stopped;
	pthread_mutex_unlock(&queue_mtx);
	return stopped;
}

struct out *
out_new(enum out_type type, uint64_t conn)
{
	struct out	*o = xcalloc(1, sizeof(*o));

	o->type = type;
	o->conn = conn;
	return o;
}

void
out_free(struct out *o)
{
	if (o == NULL)
		return;
	msg_unref(o->msg);
	free(o);
}

void
outs_push(struct out *o)
{
	int	 wake;

	pthread_mutex_lock(&queue_mtx);
	/* One wake-up per batch: the loop drains the whole list. */
	wake = TAILQ_EMPTY(&queue_outs);
	TAILQ_INSERT_TAIL(&queue_outs, o, entry);
	/* Under the lock: queue_detach() may be ending the context. */
	if (wake && queue_ctx != NULL)
		lws_cancel_service(queue_ctx);
	pthread_mutex_unlock(&queue_mtx);
}

/* An events row as the browsers get it: the payload plus event_id. */
struct out *
out_event(enum out_type type, uint64_t conn, const struct db_res *r,
    size_t i)
{
	struct json_object	*p;
	struct out		*o;
	const char		*eid;
	char			 perr[64];

	p = pjson_parse(db_res_get(r, i, 3), db_res_len(r, i, 3), 64, perr,
	    sizeof(perr));
	if (p == NULL || !json_object_is_type(p, json_type_object)) {
		log_warnx("event %s: payload unreadable: %s",
		    db_res_get(r, i, 0), p == NULL ? perr : "not an object");
		json_object_put(p);
		return NULL;
	}
	o = out_new(type, conn);
	o->event_id = db_res_int(r, i, 0, 0);
	/* events_append() puts the type in; a row written by hand may not. */
	if (!json_object_object_get_ex(p, "type", NULL))
		json_object_object_add(p, "type",
		    json_object_new_string(db_res_get(r, i, 1)));
	json_object_object_add(p, "event_id",
	    json_object_new_int64(o->event_id));
	o->msg = msg_json(p);
	json_object_put(p);
	o->is_output = strcmp(db_res_get(r, i, 1), "command_output") == 0;
	eid = db_res_get(r, i, 2);
	if (eid != NULL)
		strlcpy_p(o->execution_id, eid, sizeof(o->execution_id));
	return o;
}

/* The loop is ending: no more wake-ups into its context. */
void
queue_detach(void)
{
	pthread_mutex_lock(&queue_mtx);
	queue_ctx = NULL;
	pthread_mutex_unlock(&queue_mtx);
}

void
outs_take(struct outq_list *to)
{
	pthread_mutex_lock(&queue_mtx);
	TAILQ_CONCAT(to, &queue_outs, entry);
	pthread_mutex_unlock(&queue_mtx);
}

/* Join t, waiting up to wait_ms: 0 once joined, -1 if it is still busy. */
int
thread_join_ms(pthread_t t, int wait_ms)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += wait_ms / 1000;
	ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == 0 ? 0 : -1;
}
