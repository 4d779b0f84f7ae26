/*
 * Part of the runner (runner.c says what it is): the descriptors it
 * adopts into the lws loop. A task's output pipes are read as they fill
 * (up to the cap; the rest is counted and dropped) and SIGCHLD, a
 * signalfd, reaps its sh; the task is over when both are done.
 */
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"
#include "runner-int.h"
#include "xmalloc.h"

#define RUNNER_READ_BUDGET	(64 * 1024)	/* per wakeup, for fairness */
#define RUNNER_BUF_MIN		4096

/*
 * Read what is there (up to a budget): bytes up to the cap are kept, the
 * rest is counted and dropped so that the command never blocks on a full
 * pipe. 1 at end of file, 0 otherwise.
 */
int
rn_stream_read(struct stream *s, size_t cap, int *got)
{
	char		 sink[4096];
	size_t		 budget = RUNNER_READ_BUDGET, want;
	ssize_t		 n;
	char		*dst;

	*got = 0;
	while (budget > 0) {
		if (s->len < cap) {
			if (s->len == s->alloc) {
				s->alloc = s->alloc == 0 ? RUNNER_BUF_MIN :
				    s->alloc * 2;
				if (s->alloc > cap)
					s->alloc = cap;
				s->buf = xrealloc(s->buf, s->alloc);
			}
			dst = s->buf + s->len;
			want = s->alloc - s->len;
		} else {
			dst = sink;
			want = sizeof(sink);
		}
		if (want > budget)
			want = budget;
		n = read(s->fd, dst, want);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n == -1) {
			log_warn("command %s: reading its output",
			    s->task->command_id);
			return 1;
		}
		if (n == 0)
			return 1;
		s->total += (unsigned long long)n;
		if (dst != sink)
			s->len += (size_t)n;
		budget -= (size_t)n;
		*got = 1;
	}
	return 0;
}

static void
linger_fire(lws_sorted_usec_list_t *sul)
{
	rn_finish(lws_container_of(sul, struct task, sul_linger));
}

/*
 * A task is over when sh has been reaped and both pipes are closed. A
 * background child may hold the pipes for ever ("cmd &"): then the task
 * ends WORKER_LINGER_MS after sh, and the child keeps running.
 */
static void
check_done(struct task *t)
{
	if (!t->reaped)
		return;
	if (t->out[0].wsi == NULL && t->out[1].wsi == NULL) {
		rn_finish(t);
		return;
	}
	if (!lws_dll2_is_detached(&t->sul_linger.list))
		return;
	lws_sul_schedule(t->r->ctx, 0, &t->sul_linger, linger_fire,
	    WORKER_LINGER_MS * LWS_US_PER_MS);
}

static void
reap(struct runner *r)
{
	struct signalfd_siginfo	 si;
	struct task		*t;
	pid_t			 pid;
	int			 status;

	while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		;
	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		TAILQ_FOREACH(t, &r->running, entry)
			if (t->pid == pid)
				break;
		if (t == NULL)
			continue;
		t->reaped = 1;
		t->status = status;
		t->end_ms = rn_mono_ms();
		check_done(t);
	}
}

int
runner_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct rfd	*rfd;
	struct stream	*s;
	struct task	*t;
	int		 eof, got;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		rfd = lws_get_opaque_user_data(wsi);
		if (rfd == NULL)
			return -1;
		if (rfd->kind == RFD_SIGCHLD) {
			reap(lws_container_of(rfd, struct runner, sig_rfd));
			return 0;
		}
		s = (struct stream *)rfd;
		t = s->task;
		eof = rn_stream_read(s, t->r->cap, &got);
		if (got && t->r->hooks.output != NULL)
			t->r->hooks.output(t, t->r->hooks.arg);
		return eof ? -1 : 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		rfd = lws_get_opaque_user_data(wsi);
		if (rfd == NULL)
			return 0;
		if (rfd->kind == RFD_SIGCHLD) {
			lws_container_of(rfd, struct runner, sig_rfd)->sigwsi =
			    NULL;
			return 0;
		}
		/* lws closes the descriptor itself after this. */
		s = (struct stream *)rfd;
		s->wsi = NULL;
		s->fd = -1;
		check_done(s->task);
		return 0;
	default:
		return 0;
	}
}
