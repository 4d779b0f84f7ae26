/*
 * The command runner: /bin/sh -c in a process group of its own, at most
 * N at once and the rest in FIFO order, output pipes and SIGCHLD (a
 * signalfd) adopted into the lws loop, timeouts and cancels that kill the
 * whole group. A command with a command_id runs under a keeper that
 * records its end on disk, so its result survives the agent. The runner
 * knows nothing of the network: hooks say what happened and its owner
 * decides what to send.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#define RUNNER_READ_BUDGET	(64 * 1024)	/* per wakeup, for fairness */
#define RUNNER_BUF_MIN		4096
#define KEEP_SLACK_MS		2000	/* after the agent's own stop */

/* What an adopted descriptor's opaque pointer leads to. */
enum rfd_kind { RFD_PIPE, RFD_SIGCHLD };
struct rfd {
	enum rfd_kind	 kind;
};

struct stream {
	struct rfd		 rfd;		/* first: the opaque pointer */
	struct task		*task;
	int			 idx;
	struct lws		*wsi;		/* NULL once closed */
	int			 fd;
	char			*buf;
	size_t			 len, alloc;
	unsigned long long	 total;
	size_t			 sent;
};

enum task_state { TASK_QUEUED, TASK_RUNNING };

struct task {
	TAILQ_ENTRY(task)	 entry;
	struct runner		*r;
	enum task_state		 state;
	char			 command_id[ID_LEN + 1];
	char			 execution_id[ID_LEN + 1];
	char			*command;
	char			**envp;		/* the runner's plus its own */
	long long		 timeout_ms;
	void			*owner;
	pid_t			 pid;
	int			 reaped, status;
	long long		 start_ms, end_ms;
	int			 timed_out, cancelled, kill_sig;
	long long		 kill_at_ms;	/* when SIGKILL follows SIGTERM */
	const char		*message;
	struct stream		 out[2];
	lws_sorted_usec_list_t	 sul_kill;	/* deadline, then SIGKILL */
	lws_sorted_usec_list_t	 sul_linger;
};
TAILQ_HEAD(tasks, task);

/* A group whose task is over but whose SIGKILL is still due. */
struct reaper {
	TAILQ_ENTRY(reaper)	 entry;
	struct runner		*r;
	pid_t			 pgid;
	lws_sorted_usec_list_t	 sul;
};

struct runner {
	struct lws_vhost	*vh;
	struct lws_context	*ctx;
	int			 max;
	size_t			 cap;
	struct runner_hooks	 hooks;
	struct tasks		 queue, running;
	size_t			 nqueued, nrunning;
	TAILQ_HEAD(, reaper)	 reapers;
	struct rfd		 sig_rfd;
	int			 sigfd;
	struct lws		*sigwsi;
	sigset_t		 oldmask;
	char			**envp;
	char			*keepdir;	/* runner_keep(), or NULL */
	int			 stopping;
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

static int	keep_write(int, const char *, size_t);
static void	start_next(struct runner *);
static void	finish(struct task *);
static void	env_task_free(struct runner *, char **);

static long long
mono_ms(void)
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
kill_group(struct task *t, int sig)
{
	t->kill_sig = sig;
	if (t->pid <= 0)
		return;
	/* Before the child's setsid() there is no group yet. */
	if (kill(-t->pid, sig) == -1 && errno == ESRCH && !t->reaped)
		kill(t->pid, sig);
}

/* Deadline: SIGTERM the group; WORKER_KILL_GRACE_MS later, SIGKILL. */
static void
kill_fire(lws_sorted_usec_list_t *sul)
{
	struct task	*t = lws_container_of(sul, struct task, sul_kill);

	if (t->kill_sig == 0) {
		t->timed_out = 1;
		log_info("command %s timed out after %lld ms; stopping it",
		    t->command_id[0] != '\0' ? t->command_id : "(workflow step)",
		    t->timeout_ms);
		kill_group(t, SIGTERM);
		t->kill_at_ms = mono_ms() + WORKER_KILL_GRACE_MS;
		lws_sul_cancel(&t->sul_kill);
		lws_sul_schedule(t->r->ctx, 0, &t->sul_kill, kill_fire,
		    WORKER_KILL_GRACE_MS * LWS_US_PER_MS);
	} else if (t->kill_sig == SIGTERM)
		kill_group(t, SIGKILL);
}

static void
stop_task(struct task *t)
{
	if (t->kill_sig != 0 || t->reaped)
		return;
	kill_group(t, SIGTERM);
	t->kill_at_ms = mono_ms() + WORKER_KILL_GRACE_MS;
	lws_sul_cancel(&t->sul_kill);
	lws_sul_schedule(t->r->ctx, 0, &t->sul_kill, kill_fire,
	    WORKER_KILL_GRACE_MS * LWS_US_PER_MS);
}

/*
 * The command goes to the shell on a descriptor, not on its command line:
 * /proc/PID/cmdline of "sh -c <command>" is readable by every local user,
 * and commands carry hostnames, paths and at times credentials. Standard
 * input stays /dev/null (a command may read it), so the text is in a
 * memfd that the child gets as fd 3 and the shell sources: "sh -c '.
 * /dev/fd/3'" keeps $0 "sh", the exit status, the process group and the
 * environment of sh -c. The text starts with "exec 3<&-; " on the
 * command's own first line (line numbers stay): the shell reads the
 * script through its own descriptor (dash: fd 10 and up, close-on-exec),
 * so fd 3 is closed before the command runs and nothing it starts
 * inherits it. A memfd, not a file in the state directory: nothing to
 * clean up after a crash, never on disk.
 */
#define SH_SCRIPT_FD	3
#define SH_SCRIPT_HEAD	"exec 3<&-; "

/* The memfd holding command (close-on-exec, above 2), or -1 with errno. */
static int
sh_script(const char *command)
{
	size_t	 len = strlen(command);
	int	 fd, hi;

	if ((fd = memfd_create("pulse-command", MFD_CLOEXEC)) == -1)
		return -1;
	/* sh_exec() moves it to 3 after 0-2 are set: it must not be one. */
	if (fd <= 2) {
		hi = fcntl(fd, F_DUPFD_CLOEXEC, SH_SCRIPT_FD);
		close(fd);
		if ((fd = hi) == -1)
			return -1;
	}
	if (keep_write(fd, SH_SCRIPT_HEAD, sizeof(SH_SCRIPT_HEAD) - 1) == -1 ||
	    keep_write(fd, command, len) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The child of sh_start(): /dev/null in, outfd and errfd out, the script
 * on fd 3, nothing else open, every signal at its default and none
 * blocked, then sh. It runs in its parent's memory (vfork) until execve,
 * so it only makes system calls and never returns.
 */
static void __attribute__((noreturn))
sh_exec(const struct task *t, int outfd, int errfd, int script,
    int new_session)
{
	struct sigaction	 sa;
	sigset_t		 none;
	unsigned long		 ksa[8];
	char			*argv[4];
	int			 fd, s;

	if (new_session)
		setsid();
	fd = open("/dev/null", O_RDONLY);
	if (fd == -1 || dup2(fd, 0) == -1 || dup2(outfd, 1) == -1 ||
	    dup2(errfd, 2) == -1)
		_exit(126);
	/* dup2() onto itself would keep close-on-exec: clear it instead. */
	if (script == SH_SCRIPT_FD ? fcntl(script, F_SETFD, 0) == -1 :
	    dup2(script, SH_SCRIPT_FD) == -1)
		_exit(126);
	/* The worker's sockets, journal and other pipes stay behind. */
	if (close_range(SH_SCRIPT_FD + 1, ~0U, 0) == -1)
		for (fd = SH_SCRIPT_FD + 1; fd < 65536; fd++)
			close(fd);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	memset(ksa, 0, sizeof(ksa));
	for (s = 1; s < NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		/*
		 * glibc refuses its own signals (32, 33), but an ignored
		 * one would stay ignored across exec: ask the kernel. An
		 * all-zero sigaction is SIG_DFL in every layout. (This is
		 * why not posix_spawn(): it leaves those two ignored.)
		 */
		if (sigaction(s, &sa, NULL) == -1)
			syscall(SYS_rt_sigaction, s, ksa, NULL, 8);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	argv[0] = (char *)"sh";
	argv[1] = (char *)"-c";
	argv[2] = (char *)". /dev/fd/3";
	argv[3] = NULL;
	execve("/bin/sh", argv, t->envp);
	/* Still in the parent's memory: write(2) only, no stdio. */
	{
		static const char	 pre[] = "pulse-worker: cannot run "
					    "/bin/sh: ";
		const char		*e = strerror(errno);

		if (write(2, pre, sizeof(pre) - 1) == -1 ||
		    write(2, e, strlen(e)) == -1 || write(2, "\n", 1) == -1)
			_exit(127);
	}
	_exit(127);
}

/*
 * Start sh -c the command, in a new session when new_session. vfork, not
 * fork: a fork copies the page tables and then every page either side
 * writes faults, measured on this kind of VM at 1.2 ms plus ~20 us a
 * page, for every command. The child has its own signal dispositions
 * (no CLONE_SIGHAND) and nothing here has a handler to run in it.
 */
static pid_t
sh_start(const struct task *t, int outfd, int errfd, int script,
    int new_session)
{
	pid_t	 pid;

	pid = vfork();
	if (pid == 0)
		sh_exec(t, outfd, errfd, script, new_session);
	return pid;
}

/* ------------------------------------------------------------ the keeper */

/*
 * A command whose result must outlive the agent (kill -9, a crash) runs
 * under a keeper: a small process of the command's own session that
 * relays its output to the agent's pipes, copies it (up to the cap) into
 * WORKER_STATE_DIR/keep, and writes how the command ended there before
 * it exits the same way. A restarted agent finds those files
 * (runner_kept) and reports the real result instead of losing it.
 */

static void
keep_path(const struct runner *r, const char *id, const char *ext,
    char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.%s", r->keepdir, id, ext);
}

/* write(2) all of it; -1 when the other side is gone. */
static int
keep_write(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Close every descriptor from 3 up but the n in keep: the agent's socket,
 * journal and state-directory lock must not outlive it in the keeper.
 */
static void
keep_close_others(const int *keep, size_t n)
{
	int	 sorted[4], lo = 3, t;
	size_t	 i, j;

	for (i = 0; i < n; i++)
		sorted[i] = keep[i];
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (sorted[i] < lo)
			continue;
		if (sorted[i] > lo)
			close_range((unsigned)lo, (unsigned)sorted[i] - 1, 0);
		lo = sorted[i] + 1;
	}
	close_range((unsigned)lo, ~0U, 0);
}

/*
 * How the command ended, atomically: "execution exited code signal
 * stdout-bytes stderr-bytes duration-ms timed-out", read by runner_kept.
 */
static void
keep_record(struct task *t, const int file[2], int status, int timed_out,
    const unsigned long long total[2], long long dur)
{
	char	 buf[256], path[PATH_MAX], tmp[PATH_MAX];
	int	 fd, i, n;

	keep_path(t->r, t->command_id, "exit", path, sizeof(path));
	keep_path(t->r, t->command_id, "exit.tmp", tmp, sizeof(tmp));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%s %d %d %d %llu %llu %lld %d\n",
	    t->execution_id[0] != '\0' ? t->execution_id : "-",
	    WIFEXITED(status) ? 1 : 0,
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0, total[0], total[1],
	    dur, timed_out);
	for (i = 0; i < 2; i++)
		if (file[i] != -1)
			fsync(file[i]);
	if (n > 0 && keep_write(fd, buf, (size_t)n) == 0 && fsync(fd) == 0)
		rename(tmp, path);
	close(fd);
}

/* The keeper's life: relay, copy, wait, record, exit as the command did. */
static void __attribute__((noreturn))
keep_relay(struct task *t, pid_t cmd, int in[2], int out[2])
{
	struct runner		*r = t->r;
	struct pollfd		 pfd[3];
	struct signalfd_siginfo	 si;
	struct rlimit		 nocore = { 0, 0 };
	sigset_t		 chld;
	unsigned long long	 total[2] = { 0, 0 };
	char			 buf[16384], path[PATH_MAX];
	int			 file[2], made[2] = { 0, 0 }, i, status = 0,
				 reaped = 0, sig;
	int			 timed_out = 0;
	long long		 start = mono_ms(), reaped_at = 0, kill_at = 0,
				 next, wait;
	/*
	 * With its agent gone nobody else stops the command at its timeout.
	 * Later than the agent's own stop (SIGTERM, then SIGKILL after the
	 * grace), so a live agent always acts first and reports a timeout.
	 */
	long long		 deadline = start + t->timeout_ms +
	    WORKER_KILL_GRACE_MS + KEEP_SLACK_MS;
	ssize_t			 n;
	size_t			 kept[2] = { 0, 0 }, k;

	/* The agent's stop signals are for the command; SIGKILL ends us. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	{
		int	 mine[4] = { in[0], in[1], out[0], out[1] };

		keep_close_others(mine, 4);
	}
	for (i = 0; i < 2; i++) {
		/* Made at the first byte: most commands leave a stream
		 * empty, and every file made and deleted here costs. */
		file[i] = -1;
		pfd[i].fd = in[i];
		pfd[i].events = POLLIN;
	}
	/*
	 * SIGCHLD is blocked here (inherited from the agent), so a signalfd
	 * wakes the poll the moment the command ends: polling for it on a
	 * timer added up to that timer to every command (100 ms per uptime).
	 */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	pfd[2].fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	pfd[2].events = POLLIN;
	for (;;) {
		if (!reaped && waitpid(cmd, &status, WNOHANG) == cmd) {
			reaped = 1;
			reaped_at = mono_ms();
		}
		if (!reaped && !timed_out && mono_ms() >= deadline) {
			timed_out = 1;
			kill(0, SIGTERM);	/* the group; not us */
			kill_at = mono_ms() + WORKER_KILL_GRACE_MS;
		}
		if (!reaped && timed_out && mono_ms() >= kill_at) {
			/* SIGKILL takes us too: say so first. */
			keep_record(t, file, SIGKILL, 1, total,
			    mono_ms() - start);
			kill(0, SIGKILL);
			_exit(128 + SIGKILL);
		}
		if (pfd[0].fd == -1 && pfd[1].fd == -1 && reaped)
			break;
		/* Pipes a background child holds: as long as the runner. */
		if (reaped && mono_ms() - reaped_at >= WORKER_LINGER_MS)
			break;
		/* Sleep until output, the command's end, or the next deadline. */
		next = !reaped ? (timed_out ? kill_at : deadline) :
		    reaped_at + WORKER_LINGER_MS;
		wait = next - mono_ms();
		if (pfd[2].fd == -1 && !reaped && wait > 100)
			wait = 100;	/* no signalfd: look again soon */
		if (poll(pfd, 3, wait < 0 ? 0 : wait > INT_MAX ? INT_MAX :
		    (int)wait) == -1 && errno != EINTR)
			break;
		if (pfd[2].fd != -1 && pfd[2].revents != 0)
			while (read(pfd[2].fd, &si, sizeof(si)) > 0)
				;	/* drained; waitpid() says which */
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			n = read(pfd[i].fd, buf, sizeof(buf));
			if (n == -1 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				continue;
			}
			total[i] += (unsigned long long)n;
			if (out[i] != -1 &&
			    keep_write(out[i], buf, (size_t)n) == -1) {
				close(out[i]);	/* the agent is gone */
				out[i] = -1;
			}
			k = r->cap - kept[i] < (size_t)n ? r->cap - kept[i] :
			    (size_t)n;
			if (file[i] == -1 && !made[i] && k > 0) {
				made[i] = 1;
				keep_path(r, t->command_id, i == 0 ? "out" :
				    "err", path, sizeof(path));
				file[i] = open(path, O_WRONLY | O_CREAT |
				    O_TRUNC | O_CLOEXEC, 0600);
			}
			if (file[i] != -1 && k > 0 &&
			    keep_write(file[i], buf, k) == 0)
				kept[i] += k;
		}
	}
	if (!reaped)
		waitpid(cmd, &status, 0);
	keep_record(t, file, status, timed_out, total, mono_ms() - start);
	for (i = 0; i < 2; i++)
		if (out[i] != -1)
			close(out[i]);
	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	sig = WIFSIGNALED(status) ? WTERMSIG(status) : SIGKILL;
	setrlimit(RLIMIT_CORE, &nocore);
	signal(sig, SIG_DFL);
	{
		sigset_t	 none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
	}
	kill(getpid(), sig);
	_exit(128 + sig);
}

/*
 * The agent's child, after setsid(): become the command's keeper, with
 * the command spawned into this session on pipes to us, and never
 * return. outfd and errfd are the pipes to the agent, script the
 * command's text (sh_script).
 */
static void __attribute__((noreturn))
keep_run(struct task *t, int outfd, int errfd, int script)
{
	int	 p[2][2] = { { -1, -1 }, { -1, -1 } }, in[2], out[2];
	pid_t	 cmd;

	if (pipe(p[0]) == -1 || pipe(p[1]) == -1) {
		dprintf(errfd, "pulse-worker: pipe: %s\n", strerror(errno));
		_exit(126);
	}
	cmd = sh_start(t, p[0][1], p[1][1], script, 0);
	close(script);
	close(p[0][1]);
	close(p[1][1]);
	if (cmd == -1) {
		dprintf(errfd, "pulse-worker: fork: %s\n", strerror(errno));
		_exit(126);
	}
	in[0] = p[0][0];
	in[1] = p[1][0];
	out[0] = outfd;
	out[1] = errfd;
	keep_relay(t, cmd, in, out);
}

/* Keep what commands with a command_id leave behind in dir (created). */
int
runner_keep(struct runner *r, const char *dir)
{
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		log_warn("%s", dir);
		return -1;
	}
	free(r->keepdir);
	r->keepdir = xstrdup(dir);
	return 0;
}

/* The result is spooled elsewhere: the keeper's files can go. */
void
runner_keep_forget(struct runner *r, const char *id)
{
	static const char *const ext[] = { "exit", "out", "err", "exit.tmp" };
	char		 path[PATH_MAX];
	size_t		 i;

	if (r->keepdir == NULL || !id_valid(id))
		return;
	for (i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		keep_path(r, id, ext[i], path, sizeof(path));
		unlink(path);
	}
}

/* Command ids with a recorded end in the keep directory. */
int
runner_kept_ids(struct runner *r, char ***out, size_t *np)
{
	DIR	*d;

	*out = NULL;
	*np = 0;
	if (r->keepdir == NULL)
		return 0;
	if ((d = opendir(r->keepdir)) == NULL)
		return -1;
	dir_ids(d, ".exit", out, np);
	return 0;
}

static char *
keep_slurp(const char *path, size_t cap, size_t *lenp)
{
	char	*buf;
	ssize_t	 n;
	size_t	 len = 0;
	int	 fd;

	*lenp = 0;
	buf = xmalloc(cap + 1);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return buf;
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*lenp = len;
	return buf;
}

/*
 * The result a keeper recorded for id, as command_result wants it: res
 * points into *exec (ID_LEN + 1 bytes) and bufs[0..1], which the caller
 * frees. 0, or -1 when there is no complete record.
 */
int
runner_kept(struct runner *r, const char *id, struct result *res,
    char exec[ID_LEN + 1], char *bufs[2])
{
	char		 path[PATH_MAX], line[256], eid[64];
	size_t		 len, i;
	unsigned long long tot[2];
	long long	 dur;
	int		 exited, code, sig, timed_out = 0;
	FILE		*f;
	struct stat	 st;

	bufs[0] = bufs[1] = NULL;
	if (r->keepdir == NULL || !id_valid(id))
		return -1;
	keep_path(r, id, "exit", path, sizeof(path));
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "%63s %d %d %d %llu %llu %lld %d", eid, &exited,
	    &code, &sig, &tot[0], &tot[1], &dur, &timed_out) < 7) {
		fclose(f);
		return -1;
	}
	if (fstat(fileno(f), &st) == -1)
		st.st_mtime = time(NULL);
	fclose(f);
	memset(res, 0, sizeof(*res));
	exec[0] = '\0';
	if (id_valid(eid))
		strlcpy_p(exec, eid, ID_LEN + 1);
	res->command_id = id;
	res->execution_id = exec;
	res->exited = exited != 0 && !timed_out;
	res->exit_code = res->exited ? code : 0;
	res->signal = exited ? 0 : sig;
	res->timed_out = timed_out != 0;
	for (i = 0; i < 2; i++) {
		keep_path(r, id, i == 0 ? "out" : "err", path, sizeof(path));
		bufs[i] = keep_slurp(path, r->cap, &len);
		res->out[i].buf = bufs[i];
		res->out[i].len = len;
		res->out[i].total = tot[i] > len ? tot[i] : len;
		res->out[i].truncated = res->out[i].total > len;
	}
	res->duration_ms = dur;
	res->finished_ms = (long long)st.st_mtime * 1000;
	return 0;
}

static int
spawn(struct runner *r, struct task *t)
{
	lws_sock_file_fd_type	 u;
	int			 p[2][2] = { { -1, -1 }, { -1, -1 } }, i;
	int			 script;
	char			 msg[128];

	if ((script = sh_script(t->command)) == -1) {
		snprintf(msg, sizeof(msg), "memfd: %s", strerror(errno));
		goto fail;
	}
	for (i = 0; i < 2; i++) {
		if (pipe2(p[i], O_CLOEXEC) == -1 ||
		    fcntl(p[i][0], F_SETFL, O_NONBLOCK) == -1) {
			snprintf(msg, sizeof(msg), "pipe: %s", strerror(errno));
			goto fail;
		}
	}
	t->start_ms = mono_ms();
	if (r->keepdir != NULL && t->command_id[0] != '\0') {
		/* The keeper runs our code: a fork it must be. */
		t->pid = fork();
		if (t->pid == -1) {
			snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
			goto fail;
		}
		if (t->pid == 0) {
			setsid();
			keep_run(t, p[0][1], p[1][1], script);
		}
	} else if ((t->pid = sh_start(t, p[0][1], p[1][1], script, 1)) ==
	    -1) {
		snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
		goto fail;
	}
	/* The child has its copy, as fd 3 or in its keeper. */
	close(script);
	for (i = 0; i < 2; i++) {
		struct stream	*s = &t->out[i];

		close(p[i][1]);
		s->fd = p[i][0];
		u.filefd = s->fd;
		s->wsi = lws_adopt_descriptor_vhost(r->vh,
		    LWS_ADOPT_RAW_FILE_DESC, u, "pulse-pipe", NULL);
		if (s->wsi == NULL) {
			/* Output is lost, but the command is not. */
			log_warnx("command %s: cannot watch its %s pipe",
			    t->command_id, i == 0 ? "stdout" : "stderr");
			close(s->fd);
			s->fd = -1;
			continue;
		}
		lws_set_opaque_user_data(s->wsi, &s->rfd);
	}
	lws_sul_schedule(r->ctx, 0, &t->sul_kill, kill_fire,
	    t->timeout_ms * LWS_US_PER_MS);
	return 0;
fail:
	if (script != -1)
		close(script);
	for (i = 0; i < 2; i++) {
		if (p[i][0] != -1)
			close(p[i][0]);
		if (p[i][1] != -1)
			close(p[i][1]);
	}
	log_warnx("command %s: cannot start: %s", t->command_id, msg);
	t->message = "pulse-worker could not start the command";
	return -1;
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
			finish(t);
			continue;
		}
		if (spawn(r, t) == -1) {
			finish(t);
			continue;
		}
		if (r->hooks.started != NULL)
			r->hooks.started(t, r->hooks.arg);
	}
}

/*
 * Read what is there (up to a budget): bytes up to the cap are kept, the
 * rest is counted and dropped so that the command never blocks on a full
 * pipe. 1 at end of file, 0 otherwise.
 */
static int
stream_read(struct stream *s, size_t cap, int *got)
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
	finish(lws_container_of(sul, struct task, sul_linger));
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
		finish(t);
		return;
	}
	if (!lws_dll2_is_detached(&t->sul_linger.list))
		return;
	lws_sul_schedule(t->r->ctx, 0, &t->sul_linger, linger_fire,
	    WORKER_LINGER_MS * LWS_US_PER_MS);
}

static void
finish(struct task *t)
{
	struct runner	*r = t->r;
	struct result	 res;
	struct reaper	*rp;
	long long	 now = mono_ms();
	int		 i, got;

	lws_sul_cancel(&t->sul_kill);
	lws_sul_cancel(&t->sul_linger);
	for (i = 0; i < 2; i++) {
		struct stream	*s = &t->out[i];

		if (s->wsi == NULL)
			continue;
		stream_read(s, r->cap, &got);
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
		t->end_ms = mono_ms();
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
		eof = stream_read(s, t->r->cap, &got);
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
		finish(t);
	else
		stop_task(t);
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
		finish(t);
	}
	TAILQ_FOREACH(t, &r->running, entry) {
		t->message = message;
		stop_task(t);
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
