/*
 * Part of the runner (runner.c says what it is): the keeper of a command
 * with a command_id, and what it leaves in WORKER_STATE_DIR/keep for an
 * agent that was not there to see the command end.
 */
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
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
#include "runner-int.h"
#include "xmalloc.h"

#define KEEP_SLACK_MS		2000	/* after the agent's own stop */

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
int
rn_keep_write(int fd, const char *buf, size_t len)
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
 *
 * Durable (fsync of the copies and the record) only when durable says
 * so: when no agent is there to take the result. A live agent reaps us
 * and at once spools the result with fsync (spool_put) before it
 * deletes these files, so our own fsyncs would only add two synchronous
 * writes to the end of every command (measured: 4 of the 5 fsyncs a
 * command cost, on its critical path). Across a kill -9 of the agent
 * or its restart nothing depends on them: the record is in the page
 * cache, where the next agent reads it (kept_scan) and spools it; what
 * an unsynced record risks is a crash of the whole host in the
 * millisecond before the agent's spool_put, after which the dispatch
 * ends lost at its deadline, never as a success and never run twice.
 */
static void
keep_record(struct task *t, const int file[2], int status, int timed_out,
    const unsigned long long total[2], long long dur, int durable)
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
	for (i = 0; durable && i < 2; i++)
		if (file[i] != -1)
			fsync(file[i]);
	if (n > 0 && rn_keep_write(fd, buf, (size_t)n) == 0 &&
	    (!durable || fsync(fd) == 0))
		rename(tmp, path);
	close(fd);
}

/*
 * The keeper's life: relay, copy, wait, record, exit as the command did.
 * agent is the pid of the agent that forked us: once our parent is
 * another (we were reparented), no agent will spool what we record.
 */
static void __attribute__((noreturn))
keep_relay(struct task *t, pid_t agent, pid_t cmd, int in[2], int out[2])
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
	long long		 start = rn_mono_ms(), reaped_at = 0,
				 kill_at = 0, next, wait;
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
			reaped_at = rn_mono_ms();
		}
		if (!reaped && !timed_out && rn_mono_ms() >= deadline) {
			timed_out = 1;
			kill(0, SIGTERM);	/* the group; not us */
			kill_at = rn_mono_ms() + WORKER_KILL_GRACE_MS;
		}
		if (!reaped && timed_out && rn_mono_ms() >= kill_at) {
			/* SIGKILL takes us too: say so first. */
			keep_record(t, file, SIGKILL, 1, total,
			    rn_mono_ms() - start, getppid() != agent);
			kill(0, SIGKILL);
			_exit(128 + SIGKILL);
		}
		if (pfd[0].fd == -1 && pfd[1].fd == -1 && reaped)
			break;
		/* Pipes a background child holds: as long as the runner. */
		if (reaped && rn_mono_ms() - reaped_at >= WORKER_LINGER_MS)
			break;
		/* Sleep until output, the command's end, or the next deadline. */
		next = !reaped ? (timed_out ? kill_at : deadline) :
		    reaped_at + WORKER_LINGER_MS;
		wait = next - rn_mono_ms();
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
			    rn_keep_write(out[i], buf, (size_t)n) == -1) {
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
			    rn_keep_write(file[i], buf, k) == 0)
				kept[i] += k;
		}
	}
	if (!reaped)
		waitpid(cmd, &status, 0);
	keep_record(t, file, status, timed_out, total, rn_mono_ms() - start,
	    getppid() != agent);
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
void __attribute__((noreturn))
rn_keep_run(struct task *t, int outfd, int errfd, int script)
{
	int	 p[2][2] = { { -1, -1 }, { -1, -1 } }, in[2], out[2];
	pid_t	 cmd;

	if (pipe(p[0]) == -1 || pipe(p[1]) == -1) {
		dprintf(errfd, "pulse-worker: pipe: %s\n", strerror(errno));
		_exit(126);
	}
	cmd = rn_sh_start(t, p[0][1], p[1][1], script, 0);
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
	keep_relay(t, t->r->pid, cmd, in, out);
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
