/*
 * The worker's side of the protocol: turns server messages into runner
 * work, and runner events into messages. It keeps the delivery promises
 * of DESIGN.md section 4: a command_id is journaled before it starts and
 * never starts twice; a result is spooled before it is sent and sent
 * again after every reconnect until the server acknowledges it.
 */
#include <ctype.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "pjson.h"
#include "pulse-autoconf.h"
#include "worker.h"
#include "xmalloc.h"

/* The PULSE_* variables a command gets: how many, and one's length. */
#define AGENT_ENV_N	5
#define AGENT_ENV_LEN	(ID_LEN + WORKER_NAME_MAX + 32)

/* How often to look for results a keeper recorded while we were away. */
#define AGENT_KEEP_SCAN_MS	1000

/* Below this many queued bytes, output and spooled results may go out. */
#define AGENT_QUEUE_SOFT	(256 * 1024)

/*
 * A finished command's result is spooled without fsync and made durable
 * this long after, together with every other result of that moment,
 * unless the server acknowledged it first (it acks after its commit,
 * within milliseconds when connected: then no fsync is needed at all).
 */
#define AGENT_SYNC_MS		200
#define AGENT_LAZY_MAX		1024	/* results waiting for that */

/* An execute_workflow being run, one step at a time (seed compat). */
struct flow {
	TAILQ_ENTRY(flow)	 entry;
	struct agent		*a;
	char			 execution_id[ID_LEN + 1];
	char			*name;
	struct wf_step		*steps;
	size_t			 nsteps, cur;
	struct task		*task;
	lws_sorted_usec_list_t	 sul_wait;
};

struct agent {
	struct lws_context	*ctx;
	struct agent_config	 cfg;
	struct spool		*spool;
	struct runner		*runner;
	struct conn		*conn;
	struct heartbeat	*hb;
	struct metrics		*metrics;
	char			**resend;	/* spooled ids still to send */
	size_t			 nresend, iresend;
	lws_sorted_usec_list_t	 sul_flush;
	lws_sorted_usec_list_t	 sul_keep;
	lws_sorted_usec_list_t	 sul_sync;
	char			(*lazy)[ID_LEN + 1];	/* not synced yet */
	size_t			 nlazy, alazy;
	TAILQ_HEAD(, flow)	 flows;
	int			 stopping;
};

static void	flow_next(struct flow *);

static void
send_owned(struct agent *a, char *buf, size_t len, int flags)
{
	conn_send(a->conn, buf, len, flags);
	free(buf);
}

/* Type names come from the network: print them tamed. */
static void
tame(const char *in, char *out, size_t outlen)
{
	size_t	 i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = isprint((unsigned char)in[i]) ? in[i] : '?';
	out[i] = '\0';
}

/*
 * Send what a task has written since the last chunk, 16 KiB a message,
 * while the socket takes it. 1 if some is left for later.
 */
static int
flush_task(struct agent *a, struct task *t)
{
	static const char *const names[2] = { "stdout", "stderr" };
	const char	*buf;
	size_t		 len, sent, n, mlen;
	char		*m;
	int		 i, left = 0;

	if (task_command_id(t)[0] == '\0' || !conn_up(a->conn))
		return 0;
	for (i = 0; i < 2; i++) {
		buf = task_output(t, i, &len);
		sent = task_sent(t, i);
		while (sent < len && conn_queued(a->conn) < AGENT_QUEUE_SOFT) {
			n = len - sent;
			if (n > WORKER_CHUNK_MAX)
				n = WORKER_CHUNK_MAX;
			m = proto_output(task_command_id(t), names[i], sent,
			    buf + sent, n, &mlen);
			send_owned(a, m, mlen, 0);
			sent += n;
		}
		task_set_sent(t, i, sent);
		left |= sent < len;
	}
	return left;
}

static void
flush_fire(lws_sorted_usec_list_t *sul)
{
	struct agent	*a = lws_container_of(sul, struct agent, sul_flush);
	struct task	*t;
	int		 left = 0;

	for (t = runner_next(a->runner, NULL); t != NULL;
	    t = runner_next(a->runner, t))
		left |= flush_task(a, t);
	if (left)
		lws_sul_schedule(a->ctx, 0, &a->sul_flush, flush_fire,
		    WORKER_CHUNK_MS * LWS_US_PER_MS);
}

/*
 * No running task has output left to send: the flush timer has nothing
 * to do. Cancelled rather than left to fire, since lws waits for a timer
 * in whole milliseconds and spins through the last one (poll with no
 * timeout, ~100 calls): most of every command's flush timer, which the
 * result's own flush made useless.
 */
static void
flush_idle(struct agent *a)
{
	struct task	*t;
	size_t		 len;
	int		 i;

	for (t = runner_next(a->runner, NULL); t != NULL;
	    t = runner_next(a->runner, t))
		for (i = 0; i < 2; i++) {
			task_output(t, i, &len);
			if (task_sent(t, i) < len)
				return;
		}
	lws_sul_cancel(&a->sul_flush);
}

static void
flush_later(struct agent *a)
{
	if (lws_dll2_is_detached(&a->sul_flush.list))
		lws_sul_schedule(a->ctx, 0, &a->sul_flush, flush_fire,
		    WORKER_CHUNK_MS * LWS_US_PER_MS);
}

/* runner hooks */

static int
on_prestart(struct task *t, void *arg)
{
	struct agent	*a = arg;

	if (task_command_id(t)[0] == '\0')
		return 0;
	return spool_start(a->spool, task_command_id(t));
}

static void
on_started(struct task *t, void *arg)
{
	struct agent	*a = arg;
	char		*m;
	size_t		 len;

	if (task_command_id(t)[0] == '\0')
		return;
	log_info("command %s: started (pid %d)", task_command_id(t),
	    (int)task_pid(t));
	if (conn_up(a->conn)) {
		m = proto_started(task_command_id(t), task_execution_id(t),
		    &len);
		send_owned(a, m, len, 0);
	}
}

static void
on_output(struct task *t, void *arg)
{
	struct agent	*a = arg;
	size_t		 len;
	int		 i, big = 0;

	if (task_command_id(t)[0] == '\0' || !conn_up(a->conn))
		return;
	for (i = 0; i < 2; i++) {
		task_output(t, i, &len);
		big |= len - task_sent(t, i) >= WORKER_CHUNK_MAX;
	}
	if (!big || flush_task(a, t))
		flush_later(a);
}

static void
log_result(const struct result *r)
{
	const char	*id = r->command_id;

	if (r->timed_out)
		log_info("command %s: timed out (signal %d) after %lld ms", id,
		    r->signal, r->duration_ms);
	else if (r->cancelled)
		log_info("command %s: cancelled (signal %d)", id, r->signal);
	else if (r->message != NULL)
		log_info("command %s: %s", id, r->message);
	else if (r->exited)
		log_info("command %s: exit code %d in %lld ms", id,
		    r->exit_code, r->duration_ms);
	else
		log_info("command %s: killed by signal %d in %lld ms", id,
		    r->signal, r->duration_ms);
}

static void
flow_task_done(struct flow *f, const struct result *r);

static void
lazy_free(struct agent *a)
{
	free(a->lazy);
	a->lazy = NULL;
	a->alazy = 0;
}

/* The results spooled lazily so far, durable now. */
static void
sync_now(struct agent *a)
{
	lws_sul_cancel(&a->sul_sync);
	if (a->nlazy == 0)
		return;
	spool_sync(a->spool, a->lazy, a->nlazy);
	a->nlazy = 0;
	lazy_free(a);
}

static void
sync_fire(lws_sorted_usec_list_t *sul)
{
	sync_now(lws_container_of(sul, struct agent, sul_sync));
}

/*
 * Spool a finished command's result before it is sent. Without fsync:
 * across a kill -9 or a restart of the agent the file is there all the
 * same (the page cache outlives any process), and that is what the
 * at-least-once result rests on; the batch sync AGENT_SYNC_MS later
 * covers a crash of the host for a result the server has not
 * acknowledged by then. Two fsyncs (the file, the directory) were on the
 * path of every result before it went out.
 */
static void
spool_result(struct agent *a, const char *id, const char *m, size_t len)
{
	if (a->nlazy == AGENT_LAZY_MAX)
		sync_now(a);
	if (spool_put_lazy(a->spool, id, m, len) == -1)
		return;
	/* Grown as needed: an idle agent holds none of it. */
	if (a->nlazy == a->alazy) {
		a->alazy = a->alazy == 0 ? 16 : a->alazy * 2;
		a->lazy = xreallocarray(a->lazy, a->alazy, sizeof(*a->lazy));
	}
	strlcpy_p(a->lazy[a->nlazy++], id, ID_LEN + 1);
	if (lws_dll2_is_detached(&a->sul_sync.list))
		lws_sul_schedule(a->ctx, 0, &a->sul_sync, sync_fire,
		    AGENT_SYNC_MS * LWS_US_PER_MS);
}

/* Acknowledged: nothing to make durable any more. */
static void
spool_acked(struct agent *a, const char *id)
{
	size_t	 i;

	for (i = 0; i < a->nlazy; i++)
		if (strcmp(a->lazy[i], id) == 0) {
			a->nlazy--;
			memcpy(a->lazy[i], a->lazy[a->nlazy], ID_LEN + 1);
			break;
		}
	/* Not left to fire for nothing (flush_idle says why). */
	if (a->nlazy == 0 && a->lazy != NULL) {
		lws_sul_cancel(&a->sul_sync);
		lazy_free(a);
	}
}

static void
on_finished(struct task *t, const struct result *r, void *arg)
{
	struct agent	*a = arg;
	struct result	 res = *r;
	char		*m;
	size_t		 len;

	if (task_owner(t) != NULL) {
		flow_task_done(task_owner(t), r);
		return;
	}
	log_result(r);
	flush_task(a, t);
	flush_idle(a);
	res.worker_id = a->cfg.worker_id;
	m = proto_result(&res, WORKER_MSG_MAX, &len);
	if (m == NULL) {
		log_warnx("command %s: the result does not fit in a message",
		    r->command_id);
		return;
	}
	/* Never started (cancelled while queued): it must not start later. */
	if (task_pid(t) == 0 && spool_started(a->spool, r->command_id) == 0)
		spool_start(a->spool, r->command_id);
	/* On disk first: the send may be lost, the spool is not. */
	spool_result(a, r->command_id, m, len);
	send_owned(a, m, len, 0);
	if (runner_count(a->runner) == 0)
		malloc_trim(0);
}

/*
 * Commands that ended while no agent watched them (it was killed, it
 * crashed): their keeper recorded how (runner-keep.c). Spool and send that
 * real result, as if the runner had reported it; the server takes it if
 * the dispatch is still in flight and ignores it otherwise.
 */
static void
kept_scan(struct agent *a)
{
	struct result	 res;
	char		**ids, exec[ID_LEN + 1], *bufs[2], *m;
	size_t		 n, i, len;

	if (runner_kept_ids(a->runner, &ids, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (runner_find(a->runner, ids[i]) != NULL)
			continue;	/* ours: the runner reports it */
		if (spool_has(a->spool, ids[i]) == 1) {
			runner_keep_forget(a->runner, ids[i]);
			continue;
		}
		if (runner_kept(a->runner, ids[i], &res, exec, bufs) == 0) {
			res.worker_id = a->cfg.worker_id;
			log_info("command %s: ended while no agent watched it; "
			    "reporting what its keeper recorded", ids[i]);
			log_result(&res);
			m = proto_result(&res, WORKER_MSG_MAX, &len);
			if (m != NULL) {
				spool_put(a->spool, ids[i], m, len);
				send_owned(a, m, len, 0);
			}
			runner_keep_forget(a->runner, ids[i]);
		}
		free(bufs[0]);
		free(bufs[1]);
	}
	spool_list_free(ids, n);
}

static void
keep_fire(lws_sorted_usec_list_t *sul)
{
	struct agent	*a = lws_container_of(sul, struct agent, sul_keep);

	kept_scan(a);
	lws_sul_schedule(a->ctx, 0, &a->sul_keep, keep_fire,
	    AGENT_KEEP_SCAN_MS * LWS_US_PER_MS);
}

/* execute_workflow: the seed's one-worker workflows, run here in order. */

static void
flow_free(struct flow *f)
{
	size_t	 i;

	lws_sul_cancel(&f->sul_wait);
	for (i = 0; i < f->nsteps; i++) {
		free(f->steps[i].name);
		free(f->steps[i].command);
	}
	free(f->steps);
	free(f->name);
	free(f);
}

static void
flow_end(struct flow *f, int success, const char *message)
{
	struct agent	*a = f->a;
	char		*m;
	size_t		 len;

	log_info("workflow %s (execution %s): %s", f->name, f->execution_id,
	    message);
	m = proto_workflow_result(f->execution_id, a->cfg.worker_id, success,
	    message, &len);
	/* No spool for these (the seed had none): kept across a reconnect. */
	send_owned(a, m, len, CONN_KEEP);
	TAILQ_REMOVE(&a->flows, f, entry);
	flow_free(f);
}

static void
flow_wait_done(lws_sorted_usec_list_t *sul)
{
	struct flow	*f = lws_container_of(sul, struct flow, sul_wait);

	f->cur++;
	flow_next(f);
}

/* A workflow step knows its execution and index, not a dispatch. */
static struct task *
flow_submit(struct flow *f, const struct wf_step *st)
{
	char	 env[3][AGENT_ENV_LEN];
	char	*envp[4] = { env[0], env[1], env[2], NULL };

	snprintf(env[0], sizeof(env[0]), "PULSE_EXECUTION_ID=%s",
	    f->execution_id);
	snprintf(env[1], sizeof(env[1]), "PULSE_STEP_INDEX=%zu", f->cur);
	snprintf(env[2], sizeof(env[2]), "PULSE_WORKER_NAME=%s",
	    f->a->cfg.name);
	return runner_submit(f->a->runner, NULL, f->execution_id,
	    st->command, st->timeout_ms, envp, f);
}

static void
flow_next(struct flow *f)
{
	struct wf_step	*st;
	char		 msg[128], *why;

	for (; f->cur < f->nsteps; f->cur++) {
		st = &f->steps[f->cur];
		if (st->type == WF_STEP_PROMPT) {
			log_info("workflow %s: skipping prompt step %zu",
			    f->name, f->cur);
			continue;
		}
		if (st->type == WF_STEP_WAIT) {
			lws_sul_schedule(f->a->ctx, 0, &f->sul_wait,
			    flow_wait_done, st->duration_ms * LWS_US_PER_MS);
			return;
		}
		if (f->a->cfg.allow != NULL &&
		    allow_match(f->a->cfg.allow, st->command) == 0) {
			xasprintf(&why, "step %zu (%s) %s", f->cur, st->name,
			    allow_reason(f->a->cfg.allow));
			flow_end(f, 0, why);
			free(why);
			return;
		}
		f->task = flow_submit(f, st);
		if (f->task == NULL) {
			snprintf(msg, sizeof(msg), "step %zu not run: the "
			    "worker is stopping", f->cur);
			flow_end(f, 0, msg);
		}
		return;
	}
	flow_end(f, 1, "workflow completed");
}

static void
flow_task_done(struct flow *f, const struct result *r)
{
	struct wf_step	*st = &f->steps[f->cur];
	char		 msg[WF_STEP_NAME_MAX + 128];

	f->task = NULL;
	if (proto_result_success(r)) {
		f->cur++;
		flow_next(f);
		return;
	}
	if (r->timed_out)
		snprintf(msg, sizeof(msg), "step %zu (%s) timed out after "
		    "%lld ms", f->cur, st->name, st->timeout_ms);
	else if (r->message != NULL)
		snprintf(msg, sizeof(msg), "step %zu (%s) failed: %s", f->cur,
		    st->name, r->message);
	else if (r->exited)
		snprintf(msg, sizeof(msg), "step %zu (%s) failed with exit "
		    "code %d", f->cur, st->name, r->exit_code);
	else
		snprintf(msg, sizeof(msg), "step %zu (%s) was killed by "
		    "signal %d", f->cur, st->name, r->signal);
	flow_end(f, 0, msg);
}

static void
flow_start(struct agent *a, struct msg *m)
{
	struct flow	*f = xcalloc(1, sizeof(*f));

	f->a = a;
	memcpy(f->execution_id, m->execution_id, sizeof(f->execution_id));
	f->name = m->workflow_name;
	f->steps = m->steps;
	f->nsteps = m->nsteps;
	m->workflow_name = NULL;
	m->steps = NULL;
	m->nsteps = 0;
	TAILQ_INSERT_TAIL(&a->flows, f, entry);
	log_info("workflow %s (execution %s): %zu steps", f->name,
	    f->execution_id, f->nsteps);
	if (a->stopping) {
		flow_end(f, 0, "the worker is stopping");
		return;
	}
	flow_next(f);
}

/* conn hooks */

static void
resend_more(struct agent *a)
{
	const char	*id;
	char		*buf;
	size_t		 len;

	while (a->iresend < a->nresend && conn_up(a->conn) &&
	    conn_queued(a->conn) < AGENT_QUEUE_SOFT) {
		id = a->resend[a->iresend++];
		buf = spool_get(a->spool, id, &len);
		if (buf == NULL)
			continue;
		/*
		 * A lazily spooled result that a crash of the host caught
		 * before its sync may be empty or zeroes: it would be sent
		 * at every connect for ever. Ours always is one JSON object.
		 */
		if (len == 0 || buf[0] != '{' || buf[len - 1] != '}' ||
		    strlen(buf) != len) {
			log_warnx("%s/spool: the result of command %s is "
			    "damaged (a crash before it was synced?); dropped",
			    spool_dir(a->spool), id);
			spool_remove(a->spool, id);
			free(buf);
			continue;
		}
		send_owned(a, buf, len, 0);
	}
	if (a->iresend == a->nresend && a->resend != NULL) {
		spool_list_free(a->resend, a->nresend);
		a->resend = NULL;
		a->nresend = a->iresend = 0;
	}
}

static void
on_connected(void *arg)
{
	struct agent	*a = arg;
	char		**ids, *m;
	size_t		 n, len;

	n = runner_ids(a->runner, &ids);
	m = proto_connect(a->cfg.worker_id, a->cfg.name, a->cfg.groups,
	    a->cfg.ngroups, PACKAGE_VERSION, ids, n, &len);
	free(ids);
	send_owned(a, m, len, CONN_FRONT);

	spool_list_free(a->resend, a->nresend);
	a->resend = NULL;
	a->nresend = a->iresend = 0;
	if (spool_list(a->spool, &a->resend, &a->nresend) == 0 &&
	    a->nresend > 0)
		log_info("sending %zu unacknowledged result(s) again",
		    a->nresend);
	resend_more(a);
	flush_later(a);
}

static void
on_room(void *arg)
{
	struct agent	*a = arg;

	resend_more(a);
}

/*
 * Who a command is, for the command itself (README "Worker"): only what
 * the server said; PULSE_ATTEMPT is absent when it did not say. Then
 * its parameters, PULSE_PARAM_* (the message's env, checked by
 * proto_decode).
 */
static char **
execute_env(struct agent *a, const struct msg *m,
    char env[AGENT_ENV_N][AGENT_ENV_LEN],
    char *v[AGENT_ENV_N + PULSE_ENV_MAX + 1])
{
	size_t		 n = 0, i;

	snprintf(env[n], sizeof(env[n]), "PULSE_EXECUTION_ID=%s",
	    m->execution_id);
	v[n] = env[n];
	n++;
	snprintf(env[n], sizeof(env[n]), "PULSE_STEP_INDEX=%lld",
	    m->step_index);
	v[n] = env[n];
	n++;
	if (m->attempt > 0) {
		snprintf(env[n], sizeof(env[n]), "PULSE_ATTEMPT=%lld",
		    m->attempt);
		v[n] = env[n];
		n++;
	}
	snprintf(env[n], sizeof(env[n]), "PULSE_COMMAND_ID=%s",
	    m->command_id);
	v[n] = env[n];
	n++;
	snprintf(env[n], sizeof(env[n]), "PULSE_WORKER_NAME=%s",
	    a->cfg.name);
	v[n] = env[n];
	n++;
	for (i = 0; i < m->nenv && i < PULSE_ENV_MAX; i++)
		v[n++] = m->env[i];
	v[n] = NULL;
	return v;
}

/*
 * A command that is answered without running: WORKER_ALLOW_FILE has no
 * rule for it (refused), or its message's env is bad (rejected, status
 * failed). Never forked, never journaled as started; its result is
 * spooled and sent like any other, so the server hears of it across a
 * reconnect. The command is not logged: it may carry a secret, and the
 * server has it. why goes out as stderr (and, rejected, as message).
 */
static void
answer_unrun(struct agent *a, const struct msg *m, const char *why,
    int refused)
{
	struct result	 r;
	struct timespec	 ts;
	char		*buf;
	size_t		 len;

	log_warnx("command %s: %s%s", m->command_id, why, refused ? "" :
	    "; not run");
	memset(&r, 0, sizeof(r));
	r.command_id = m->command_id;
	r.execution_id = m->execution_id;
	r.worker_id = a->cfg.worker_id;
	r.refused = refused;
	r.rejected = !refused;
	r.message = refused ? NULL : why;
	r.out[STREAM_STDERR].buf = why;
	r.out[STREAM_STDERR].len = strlen(why);
	r.out[STREAM_STDERR].total = r.out[STREAM_STDERR].len;
	r.out[STREAM_STDOUT].buf = "";
	clock_gettime(CLOCK_REALTIME, &ts);
	r.finished_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if ((buf = proto_result(&r, WORKER_MSG_MAX, &len)) == NULL)
		return;		/* cannot be: it is a few hundred bytes */
	spool_put(a->spool, m->command_id, buf, len);
	send_owned(a, buf, len, 0);
}

static void
do_execute(struct agent *a, struct msg *m)
{
	char		 env[AGENT_ENV_N][AGENT_ENV_LEN];
	char		*envp[AGENT_ENV_N + PULSE_ENV_MAX + 1];
	struct task	*t;
	char		*buf;
	size_t		 len;
	int		 rc;

	if (m->worker_id[0] != '\0' &&
	    strcmp(m->worker_id, a->cfg.worker_id) != 0) {
		log_warnx("command %s is addressed to worker %s, not to this "
		    "one; ignored", m->command_id, m->worker_id);
		return;
	}
	if (a->stopping) {
		log_info("command %s: not started, the worker is stopping",
		    m->command_id);
		return;
	}
	if (runner_find(a->runner, m->command_id) != NULL) {
		log_info("command %s: already running or queued here",
		    m->command_id);
		return;
	}
	buf = spool_get(a->spool, m->command_id, &len);
	if (buf != NULL) {
		log_info("command %s: already finished; sending its result "
		    "again", m->command_id);
		send_owned(a, buf, len, 0);
		return;
	}
	rc = spool_started(a->spool, m->command_id);
	if (rc != 0) {
		log_warnx("command %s: %s; it is not started again",
		    m->command_id, rc == 1 ? "it was started here before "
		    "and its result is already acknowledged or lost" :
		    "the journal cannot be read");
		return;
	}
	if (m->env_error != NULL) {
		answer_unrun(a, m, m->env_error, 0);
		return;
	}
	if (a->cfg.allow != NULL && allow_match(a->cfg.allow, m->command) ==
	    0) {
		answer_unrun(a, m, allow_reason(a->cfg.allow), 1);
		return;
	}
	t = runner_submit(a->runner, m->command_id, m->execution_id,
	    m->command, m->timeout_ms, execute_env(a, m, env, envp), NULL);
	/* It may have started, or even failed to, already. */
	if (t != NULL && runner_find(a->runner, m->command_id) == t &&
	    task_pid(t) == 0)
		log_info("command %s: queued (%zu in flight)", m->command_id,
		    runner_count(a->runner));
}

/*
 * rotate_key: the new key is on disk before it is used or acked, so a
 * crash at any point leaves a key the server takes (the old one until
 * the ack, the offered one after it, or as the ack). Unstored, it is not
 * acked: the server keeps the old key and offers the new one again.
 */
static void
do_rotate(struct agent *a, struct msg *m)
{
	struct identity	*who = a->cfg.ident;
	char		*out;
	size_t		 len;

	if (spool_key_store(a->spool, m->key) == -1) {
		log_warnx("rotate_key %s: the new key cannot be stored in %s/key;"
		    " not acknowledged, the current key stays in use",
		    m->key_id, spool_dir(a->spool));
		return;
	}
	secret_free(who->key);
	who->key = secret_copy(m->key);
	who->own = 1;
	who->gen++;
	out = proto_key_ack(m->key_id, a->cfg.worker_id, &len);
	send_owned(a, out, len, 0);
	log_info("rotate_key %s: new key stored in %s/key and used from now on;"
	    " acknowledged", m->key_id, spool_dir(a->spool));
}

static void
on_message(const char *buf, size_t len, void *arg)
{
	struct agent	*a = arg;
	struct msg	 m;
	char		 err[256], type[WORKER_TYPE_MAX + 1], *out;
	size_t		 olen;

	if (proto_decode(buf, len, &m, err, sizeof(err)) == -1) {
		log_warnx("websocket: ignoring a malformed message: %s", err);
		return;
	}
	switch (m.type) {
	case MSG_PING:
		out = proto_pong(a->cfg.worker_id, &olen);
		send_owned(a, out, olen, 0);
		break;
	case MSG_EXECUTE_COMMAND:
		do_execute(a, &m);
		break;
	case MSG_CANCEL_COMMAND:
		if (runner_cancel(a->runner, m.command_id) == -1)
			log_info("cancel_command %s: not running here",
			    m.command_id);
		break;
	case MSG_RESULT_ACK:
		if (spool_remove(a->spool, m.command_id) == 0)
			log_debug("command %s: result acknowledged",
			    m.command_id);
		spool_acked(a, m.command_id);
		break;
	case MSG_EXECUTE_WORKFLOW:
		flow_start(a, &m);
		break;
	case MSG_ROTATE_KEY:
		do_rotate(a, &m);
		break;
	case MSG_WORKER_STATE:
		tame(m.state, type, sizeof(type));
		if (strcmp(m.state, "pending") == 0)
			log_warnx("pending: waiting for an admin to accept this "
			    "worker (it gets no commands until then)");
		else
			log_info("%s", strcmp(m.state, "accepted") == 0 ?
			    "accepted" : type);
		break;
	case MSG_UNKNOWN:
		/* A newer server may say more than we know. */
		tame(m.type_name, type, sizeof(type));
		log_info("websocket: ignoring a message of unknown type '%s'",
		    type);
		break;
	}
	proto_msg_clear(&m);
}

/*
 * A heartbeat goes to the control host the websocket uses when the two
 * lists pair up (PULSE_WS unset, or as long as PULSE_SERVER); else to
 * whichever PULSE_SERVER entry answers (-1).
 */
static int
agent_heartbeat_pick(void *arg)
{
	struct agent	*a = arg;

	if (a->cfg.ws_urls->n != a->cfg.hb_urls->n)
		return -1;
	return (int)conn_index(a->conn);
}

struct agent *
agent_new(struct lws_context *ctx, struct lws_vhost *vh,
    const struct agent_config *cfg, struct spool *spool)
{
	struct agent		*a = xcalloc(1, sizeof(*a));
	struct runner_hooks	 rh = { on_prestart, on_started, on_output,
	    on_finished, NULL };
	struct conn_hooks	 ch = { on_connected, on_message, on_room,
	    NULL };
	char			*keep;

	a->ctx = ctx;
	a->cfg = *cfg;
	a->spool = spool;
	TAILQ_INIT(&a->flows);
	rh.arg = a;
	ch.arg = a;
	a->metrics = metrics_new();
	a->runner = runner_new(ctx, vh, cfg->max_tasks, cfg->output_cap, &rh);
	xasprintf(&keep, "%s/keep", spool_dir(spool));
	if (runner_keep(a->runner, keep) == -1)
		log_warnx("results of commands that outlive the agent will "
		    "be lost");
	free(keep);
	a->conn = conn_new(a->ctx, cfg->ws_urls, cfg->ident, &ch);
	a->hb = heartbeat_new(a->ctx, cfg->hb_urls, cfg->ident,
	    cfg->heartbeat_s, agent_heartbeat_body, agent_heartbeat_pick, a);
	return a;
}

void
agent_start(struct agent *a)
{
	/* Spooled before the first connect, so they go out with the rest. */
	kept_scan(a);
	lws_sul_schedule(a->ctx, 0, &a->sul_keep, keep_fire,
	    AGENT_KEEP_SCAN_MS * LWS_US_PER_MS);
	conn_start(a->conn);
	heartbeat_start(a->hb);
}

/* Stop taking work; kill what runs (its results are spooled and sent). */
void
agent_stop(struct agent *a)
{
	struct flow	*f;

	if (a->stopping)
		return;
	a->stopping = 1;
	runner_stop_all(a->runner, "stopped: pulse-worker is shutting down");
	while ((f = TAILQ_FIRST(&a->flows)) != NULL)
		flow_end(f, 0, "the worker is shutting down");
}

int
agent_done(struct agent *a)
{
	return runner_idle(a->runner) && TAILQ_EMPTY(&a->flows);
}

/* Close the websocket once what is queued has gone out. */
void
agent_close(struct agent *a)
{
	conn_stop(a->conn);
}

int
agent_closed(struct agent *a)
{
	return conn_closed(a->conn);
}

void
agent_free(struct agent *a)
{
	struct flow	*f;

	if (a == NULL)
		return;
	lws_sul_cancel(&a->sul_flush);
	lws_sul_cancel(&a->sul_keep);
	/* What is spooled and not acknowledged is durable before we go. */
	sync_now(a);
	lazy_free(a);
	while ((f = TAILQ_FIRST(&a->flows)) != NULL) {
		TAILQ_REMOVE(&a->flows, f, entry);
		flow_free(f);
	}
	heartbeat_free(a->hb);
	conn_free(a->conn);
	runner_free(a->runner);
	metrics_free(a->metrics);
	spool_list_free(a->resend, a->nresend);
	free(a);
}

char *
agent_heartbeat_body(void *arg, size_t *lenp)
{
	struct agent		*a = arg;
	struct json_object	*o = json_object_new_object(), *meta, *g;
	const char		*s;
	char			*out;
	size_t			 i, n;

	meta = metrics_collect(a->metrics);
	json_object_object_add(meta, "version",
	    json_object_new_string(PACKAGE_VERSION));
	g = json_object_new_array_ext((int)a->cfg.ngroups);
	for (i = 0; i < a->cfg.ngroups; i++)
		json_object_array_add(g,
		    json_object_new_string(a->cfg.groups[i]));
	json_object_object_add(meta, "groups", g);
	json_object_object_add(meta, "max_concurrent_tasks",
	    json_object_new_int(a->cfg.max_tasks));
	json_object_object_add(meta, "running",
	    json_object_new_int((int)runner_running(a->runner)));
	json_object_object_add(o, "worker_id",
	    json_object_new_string(a->cfg.worker_id));
	json_object_object_add(o, "name", json_object_new_string(a->cfg.name));
	json_object_object_add(o, "metadata", meta);
	s = pjson_str(o, &n);
	out = xmemdup(s, n + 1);
	json_object_put(o);
	*lenp = n;
	return out;
}
