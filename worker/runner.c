/*
 * The command runner: /bin/sh -c in a process group of its own, at most
 * N at once and the rest in FIFO order; here the queue, the tasks and how
 * each one ends. runner-spawn.c starts a command and stops its whole
 * group at a timeout or a cancel; runner-keep.c is the keeper that
 * records the end of a command with a command_id on disk, so its result
 * survives the agent; runner-output.c reads the output pipes and SIGCHLD
 * (a signalfd) adopted into the lws loop; runner-int.h is what they
 * share. The runner knows nothing of the network: hooks say what
 * happened and its owner decides what to send.
 */
#include <sys/signalfd.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"
#include "runner-int.h"
#include "xmalloc.h"

/* A group whose task is over but whose SIGKILL is still due. */
struct reaper {
	TAILQ_ENTRY(reaper)	 entry;
	struct runner		*r;
	pid_t			 pgid;
	lws_sorted_usec_list_t	 sul;
};

/* Names a command must not see besides secrets: systemd's hooks. */
static const char *const env_drop[] = {
	"NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES",
	"WATCHDOG_PID", "WATCHDOG_USEC",
	/* Each command gets its own (runner_submit's env), never ours. */
	"PULSE_EXECUTION_ID", "PULSE_STEP_INDEX", "PULSE_ATTEMPT",
	"PULSE_COMMAND_ID", "PULSE_WORKER_NAME",
};

/*
 * And no parameter (PULSE_PARAM_*) of ours: a command's parameters are
 * the server's alone (the message's env), so one it sends replaces ours
 * and one it leaves out is unset, as SPEC section 14 says, rather than
 * whatever the worker happened to be started with.
 */
static int
env_param(const char *entry)
{
	return strncmp(entry, PULSE_ENV_PREFIX,
	    sizeof(PULSE_ENV_PREFIX) - 1) == 0;
}

static void	start_next(struct runner *);
static void	env_task_free(struct runner *, char **);

long long
rn_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long
wall_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char **
env_filter(void)
{
	char	**v;
	size_t	 n = 0, i, k, o = 0;

	while (environ[n] != NULL)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		int	 drop = secret_entry(environ[i]) ||
		    env_param(environ[i]);

		for (k = 0; k < sizeof(env_drop) / sizeof(env_drop[0]); k++) {
			size_t	 len = strlen(env_drop[k]);

			if (strncmp(environ[i], env_drop[k], len) == 0 &&
			    environ[i][len] == '=')
				drop = 1;
		}
		if (!drop)
			v[o++] = environ[i];
	}
	return v;
}

struct runner *
runner_new(struct lws_context *ctx, struct lws_vhost *vh, int max,
    size_t cap, const struct runner_hooks *hooks)
{
	struct runner		*r = xcalloc(1, sizeof(*r));
	lws_sock_file_fd_type	 u;
	sigset_t		 set;

	r->vh = vh;
	r->ctx = ctx;
	r->max = max;
	r->cap = cap;
	r->hooks = *hooks;
	TAILQ_INIT(&r->queue);
	TAILQ_INIT(&r->running);
	TAILQ_INIT(&r->reapers);
	r->envp = env_filter();
	r->pid = getpid();

	/* SIGCHLD arrives as a readable descriptor, in the loop. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &r->oldmask) == -1)
		fatal("sigprocmask");
	r->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (r->sigfd == -1)
		fatal("signalfd");
	r->sig_rfd.kind = RFD_SIGCHLD;
	u.filefd = r->sigfd;
	r->sigwsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u,
	    "pulse-pipe", NULL);
	if (r->sigwsi == NULL)
		fatalx("cannot add the SIGCHLD descriptor to the loop");
	lws_set_opaque_user_data(r->sigwsi, &r->sig_rfd);
	return r;
}

static void
task_free(struct task *t)
{
	lws_sul_cancel(&t->sul_kill);
	lws_sul_cancel(&t->sul_linger);
	free(t->out[0].buf);
	free(t->out[1].buf);
	free(t->command);
	env_task_free(t->r, t->envp);
	free(t);
}

static void
reaper_fire(lws_sorted_usec_list_t *sul)
{
	struct reaper	*rp = lws_container_of(sul, struct reaper, sul);

	kill(-rp->pgid, SIGKILL);
	TAILQ_REMOVE(&rp->r->reapers, rp, entry);
	free(rp);
}

/*
 * At exit: whatever is left is killed now, since nobody would be there
 * to do it later. Tasks are not reported: the owner stopped them first.
 */
void
runner_free(struct runner *r)
{
	struct task	*t;
	struct reaper	*rp;
	int		 i;

	if (r == NULL)
		return;
	while ((t = TAILQ_FIRST(&r->queue)) != NULL) {
		TAILQ_REMOVE(&r->queue, t, entry);
		task_free(t);
	}
	while ((t = TAILQ_FIRST(&r->running)) != NULL) {
		TAILQ_REMOVE(&r->running, t, entry);
		/* kill(-0) would be our own group: only a started task. */
		if (t->pid > 0 && !t->reaped)
			kill(-t->pid, SIGKILL);
		for (i = 0; i < 2; i++)
			if (t->out[i].wsi != NULL) {
				lws_set_opaque_user_data(t->out[i].wsi, NULL);
				lws_set_timeout(t->out[i].wsi,
				    PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			}
		task_free(t);
	}
	while ((rp = TAILQ_FIRST(&r->reapers)) != NULL) {
		lws_sul_cancel(&rp->sul);
		kill(-rp->pgid, SIGKILL);
		TAILQ_REMOVE(&r->reapers, rp, entry);
		free(rp);
	}
	if (r->sigwsi != NULL) {
		lws_set_opaque_user_data(r->sigwsi, NULL);
		lws_set_timeout(r->sigwsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
	} else
		close(r->sigfd);
	sigprocmask(SIG_SETMASK, &r->oldmask, NULL);
	free(r->envp);
	free(r->keepdir);
	free(r);
}

/*
 * The runner's environment with env ("NAME=value" strings, NULL-ended;
 * may be NULL) after it. Built before fork: the child only reads it.
 */
static char **
env_task(struct runner *r, char *const *env)
{
	char	**v;
	size_t	 n = 0, m = 0, i;

	while (r->envp[n] != NULL)
		n++;
	while (env != NULL && env[m] != NULL)
		m++;
	v = xcalloc(n + m + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = r->envp[i];
	for (i = 0; i < m; i++)
		v[n + i] = xstrdup(env[i]);
	return v;
}

static void
env_task_free(struct runner *r, char **v)
{
	size_t	 n = 0;

	if (v == NULL)
		return;
	while (r->envp[n] != NULL)
		n++;
	/* PULSE_PARAM_* values may be secrets: wiped before free. */
	for (; v[n] != NULL; n++) {
		explicit_bzero(v[n], strlen(v[n]));
		free(v[n]);
	}
	free(v);
}

/*
 * Queue a command; it starts now if a slot is free. command_id may be
 * NULL for work that has none (workflow steps). env adds "NAME=value"
 * strings (NULL-ended, or NULL) to the command's environment: who it is
 * (PULSE_EXECUTION_ID...) and its parameters (PULSE_PARAM_*). NULL when
 * stopping.
 */
struct task *
runner_submit(struct runner *r, const char *command_id,
    const char *execution_id, const char *command, long long timeout_ms,
    char *const *env, void *owner)
{
	struct task	*t;
	int		 i;

	if (r->stopping)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->r = r;
	t->state = TASK_QUEUED;
	if (command_id != NULL)
		strlcpy_p(t->command_id, command_id, sizeof(t->command_id));
	if (execution_id != NULL)
		strlcpy_p(t->execution_id, execution_id,
		    sizeof(t->execution_id));
	t->command = xstrdup(command);
	t->envp = env_task(r, env);
	t->timeout_ms = timeout_ms;
	t->owner = owner;
	for (i = 0; i < 2; i++) {
		t->out[i].rfd.kind = RFD_PIPE;
		t->out[i].task = t;
		t->out[i].idx = i;
		t->out[i].fd = -1;
	}
	TAILQ_INSERT_TAIL(&r->queue, t, entry);
	r->nqueued++;
	start_next(r);
	return t;
}

static void
start_next(struct runner *r)
{
	struct task	*t;

	while (!r->stopping && r->nrunning < (size_t)r->max &&
	    (t = TAILQ_FIRST(&r->queue)) != NULL) {
		TAILQ_REMOVE(&r->queue, t, entry);
		r->nqueued--;
		TAILQ_INSERT_TAIL(&r->running, t, entry);
		r->nrunning++;
		t->state = TASK_RUNNING;
		if (r->hooks.prestart != NULL &&
		    r->hooks.prestart(t, r->hooks.arg) == -1) {
			t->message = "pulse-worker could not record the start "
			    "of the command";
			rn_finish(t);
			continue;
		}
		if (rn_spawn(r, t) == -1) {
			rn_finish(t);
			continue;
		}
		if (r->hooks.started != NULL)
			r->hooks.started(t, r->hooks.arg);
	}
}

void
rn_finish(struct task *t)
{
	struct runner	*r = t->r;
	struct result	 res;
	struct reaper	*rp;
	long long	 now = rn_mono_ms();
	int		 i, got;

	lws_sul_cancel(&t->sul_kill);
	lws_sul_cancel(&t->sul_linger);
	for (i = 0; i < 2; i++) {
		struct stream	*s = &t->out[i];

		if (s->wsi == NULL)
			continue;
		rn_stream_read(s, r->cap, &got);
		lws_set_opaque_user_data(s->wsi, NULL);
		lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		s->wsi = NULL;
	}
	/* A group told to stop still gets its SIGKILL when it is due. */
	if (t->kill_sig == SIGTERM && t->pid > 0 && kill(-t->pid, 0) == 0) {
		rp = xcalloc(1, sizeof(*rp));
		rp->r = r;
		rp->pgid = t->pid;
		TAILQ_INSERT_TAIL(&r->reapers, rp, entry);
		lws_sul_schedule(r->ctx, 0, &rp->sul, reaper_fire,
		    (t->kill_at_ms > now ? t->kill_at_ms - now : 0) *
		    LWS_US_PER_MS);
	}

	memset(&res, 0, sizeof(res));
	res.command_id = t->command_id;
	res.execution_id = t->execution_id;
	if (t->reaped && WIFEXITED(t->status)) {
		res.exited = 1;
		res.exit_code = WEXITSTATUS(t->status);
	} else if (t->reaped && WIFSIGNALED(t->status))
		res.signal = WTERMSIG(t->status);
	/* Stopped by us: no exit code counts, the signal says how. */
	if (t->kill_sig != 0) {
		res.exited = 0;
		if (res.signal == 0)
			res.signal = t->kill_sig;
	}
	res.timed_out = t->timed_out;
	res.cancelled = t->cancelled;
	res.message = t->message;
	for (i = 0; i < 2; i++) {
		res.out[i].buf = t->out[i].buf;
		res.out[i].len = t->out[i].len;
		res.out[i].total = t->out[i].total;
		res.out[i].truncated = t->out[i].total > t->out[i].len;
	}
	if (t->start_ms != 0)
		res.duration_ms = (t->reaped ? t->end_ms : now) - t->start_ms;
	res.finished_ms = wall_ms();

	if (t->state == TASK_RUNNING) {
		TAILQ_REMOVE(&r->running, t, entry);
		r->nrunning--;
	} else {
		TAILQ_REMOVE(&r->queue, t, entry);
		r->nqueued--;
	}
	if (r->hooks.finished != NULL)
		r->hooks.finished(t, &res, r->hooks.arg);
	/* The hook spooled the result: the keeper's copy is not needed. */
	if (t->command_id[0] != '\0')
		runner_keep_forget(r, t->command_id);
	task_free(t);
	start_next(r);
}

struct task *
runner_find(struct runner *r, const char *command_id)
{
	struct task	*t;

	TAILQ_FOREACH(t, &r->running, entry)
		if (strcmp(t->command_id, command_id) == 0)
			return t;
	TAILQ_FOREACH(t, &r->queue, entry)
		if (strcmp(t->command_id, command_id) == 0)
			return t;
	return NULL;
}

/* Running: the group is stopped like at a timeout. Queued: it never runs. */
int
runner_cancel(struct runner *r, const char *command_id)
{
	struct task	*t;

	t = *command_id != '\0' ? runner_find(r, command_id) : NULL;
	if (t == NULL)
		return -1;
	t->cancelled = 1;
	if (t->state == TASK_QUEUED)
		rn_finish(t);
	else
		rn_stop_task(t);
	return 0;
}

/* Stop everything: queued tasks end unstarted, running groups are killed. */
void
runner_stop_all(struct runner *r, const char *message)
{
	struct task	*t;

	r->stopping = 1;
	while ((t = TAILQ_FIRST(&r->queue)) != NULL) {
		t->message = message;
		rn_finish(t);
	}
	TAILQ_FOREACH(t, &r->running, entry) {
		t->message = message;
		rn_stop_task(t);
	}
}

size_t
runner_count(struct runner *r)
{
	return r->nqueued + r->nrunning;
}

size_t
runner_running(struct runner *r)
{
	return r->nrunning;
}

/* Nothing left to wait for: no task and no SIGKILL still due. */
int
runner_idle(struct runner *r)
{
	return r->nqueued + r->nrunning == 0 && TAILQ_EMPTY(&r->reapers);
}

/* The command ids in flight here, running first, then queued. */
size_t
runner_ids(struct runner *r, char ***out)
{
	struct task	*t;
	char		**v;
	size_t		 n = 0;

	v = xcalloc(r->nqueued + r->nrunning + 1, sizeof(*v));
	TAILQ_FOREACH(t, &r->running, entry)
		if (t->command_id[0] != '\0')
			v[n++] = t->command_id;
	TAILQ_FOREACH(t, &r->queue, entry)
		if (t->command_id[0] != '\0')
			v[n++] = t->command_id;
	*out = v;
	return n;
}

/* Running tasks in start order: NULL gives the first. */
struct task *
runner_next(struct runner *r, struct task *t)
{
	return t == NULL ? TAILQ_FIRST(&r->running) : TAILQ_NEXT(t, entry);
}

const char *
task_command_id(const struct task *t)
{
	return t->command_id;
}

const char *
task_execution_id(const struct task *t)
{
	return t->execution_id;
}

void *
task_owner(const struct task *t)
{
	return t->owner;
}

const char *
task_output(const struct task *t, int idx, size_t *len)
{
	*len = t->out[idx].len;
	return t->out[idx].buf;
}

size_t
task_sent(const struct task *t, int idx)
{
	return t->out[idx].sent;
}

void
task_set_sent(struct task *t, int idx, size_t sent)
{
	t->out[idx].sent = sent;
}

pid_t
task_pid(const struct task *t)
{
	return t->pid;
}
