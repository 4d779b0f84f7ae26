/*
 * The pre-fork master: keeps cfg->api_children responders on the shared
 * socket, replaces any that die (slowly if they keep dying), restarts them
 * all on SIGHUP and stops them on SIGTERM/SIGINT. It owns the signals, as
 * libfcgi's SIGTERM handling alone never ends an idle child, and takes them
 * from a signalfd in its loop, so no handler does any work.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fastcgi.h>

#include "api.h"
#include "config.h"
#include "log.h"
#include "xmalloc.h"

#define MASTER_STOP_MS		5000	/* SIGTERM to SIGKILL at shutdown */
#define MASTER_RETIRE_MS	30000	/* the same after SIGHUP */
#define MASTER_BURST		10	/* this many unexpected deaths ... */
#define MASTER_BURST_MS		10000	/* ... within this ... */
#define MASTER_BACKOFF_MS	1000	/* ... space restarts this far apart */

struct master_child {
	pid_t		 pid;		/* 0: free slot */
	int		 retiring;	/* told to stop, already replaced */
	long long	 kill_at;	/* retiring: SIGKILL after this */
};

static struct master_child	*master_children;
static size_t			 master_nslots;
static int			 master_sfd = -1;
static long long		 master_deaths[MASTER_BURST];	/* a ring */
static size_t			 master_ndeaths;
static long long		 master_next_spawn;
static int			 master_throttling;

static long long
master_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
master_count(int with_retiring)
{
	size_t	 i, n = 0;

	for (i = 0; i < master_nslots; i++)
		if (master_children[i].pid != 0 &&
		    (with_retiring || !master_children[i].retiring))
			n++;
	return n;
}

static void
master_kill(int sig)
{
	size_t	 i;

	for (i = 0; i < master_nslots; i++)
		if (master_children[i].pid != 0)
			kill(master_children[i].pid, sig);
}

/* Have MASTER_BURST children died unasked within MASTER_BURST_MS? */
static int
master_dying_fast(long long now)
{
	long long	 oldest;

	if (master_ndeaths < MASTER_BURST)
		return 0;
	oldest = master_deaths[master_ndeaths % MASTER_BURST];
	return now - oldest < MASTER_BURST_MS;
}

static int
master_spawn(const struct config *cfg)
{
	size_t	 i;
	pid_t	 pid;

	for (i = 0; i < master_nslots; i++)
		if (master_children[i].pid == 0)
			break;
	if (i == master_nslots) {
		/* Retiring children still hold every slot (SIGHUP twice). */
		master_children = xreallocarray(master_children,
		    master_nslots * 2, sizeof(*master_children));
		memset(master_children + master_nslots, 0,
		    master_nslots * sizeof(*master_children));
		master_nslots *= 2;
	}
	pid = fork();
	if (pid == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		/*
		 * The master's signals stay blocked in the child until
		 * child_main() has its own handlers: one sent now waits.
		 */
		close(master_sfd);
		child_main(cfg, FCGI_LISTENSOCK_FILENO);
	}
	master_children[i].pid = pid;
	master_children[i].retiring = 0;
	master_children[i].kill_at = 0;
	return 0;
}

/* Start children until there are n, one a second while they keep dying. */
static void
master_fill(const struct config *cfg, size_t n, long long now)
{
	while (master_count(0) < n && now >= master_next_spawn) {
		if (master_spawn(cfg) == -1) {
			master_next_spawn = now + MASTER_BACKOFF_MS;
			return;
		}
		if (master_dying_fast(now)) {
			if (!master_throttling)
				log_warnx("%d children died within %d s: "
				    "restarting one a second", MASTER_BURST,
				    MASTER_BURST_MS / 1000);
			master_throttling = 1;
			master_next_spawn = now + MASTER_BACKOFF_MS;
		} else
			master_throttling = 0;
	}
}

static void
master_reap(int quitting, long long now)
{
	size_t	 i;
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < master_nslots; i++)
			if (master_children[i].pid == pid)
				break;
		if (i == master_nslots)
			continue;
		if (!quitting && !master_children[i].retiring) {
			if (WIFSIGNALED(st))
				log_warnx("child %d killed by signal %d (%s)%s",
				    (int)pid, WTERMSIG(st),
				    strsignal(WTERMSIG(st)),
				    WCOREDUMP(st) ? ", core dumped" : "");
			else
				log_warnx("child %d exited with status %d",
				    (int)pid, WEXITSTATUS(st));
			master_deaths[master_ndeaths++ % MASTER_BURST] = now;
		} else
			log_debug("child %d stopped", (int)pid);
		master_children[i].pid = 0;
	}
}

/* SIGHUP: new children take over at once, the old finish their request. */
static void
master_retire_all(long long now)
{
	size_t	 i;

	log_info("SIGHUP: restarting %zu children", master_count(0));
	for (i = 0; i < master_nslots; i++) {
		if (master_children[i].pid == 0 ||
		    master_children[i].retiring)
			continue;
		master_children[i].retiring = 1;
		master_children[i].kill_at = now + MASTER_RETIRE_MS;
		kill(master_children[i].pid, SIGTERM);
	}
	master_next_spawn = 0;
}

static void
master_kill_overdue(long long now)
{
	size_t	 i;

	for (i = 0; i < master_nslots; i++)
		if (master_children[i].pid != 0 &&
		    master_children[i].retiring &&
		    now >= master_children[i].kill_at) {
			log_warnx("child %d still busy %d s after SIGTERM: "
			    "killing it", (int)master_children[i].pid,
			    MASTER_RETIRE_MS / 1000);
			kill(master_children[i].pid, SIGKILL);
			master_children[i].kill_at = now + MASTER_RETIRE_MS;
		}
}

/* Milliseconds until the loop has something to do by itself; -1: never. */
static int
master_timeout(size_t n, int quitting, long long stop_at, long long now)
{
	long long	 t = -1, d;
	size_t		 i;

	if (quitting)
		t = stop_at;
	else if (master_count(0) < n)
		t = master_next_spawn;
	for (i = 0; i < master_nslots; i++)
		if (master_children[i].pid != 0 &&
		    master_children[i].retiring &&
		    (t == -1 || master_children[i].kill_at < t))
			t = master_children[i].kill_at;
	if (t == -1)
		return -1;
	d = t - now;
	return d < 0 ? 0 : d > 60000 ? 60000 : (int)d;
}

/*
 * Remove the socket file, unless another pulse-api has put its own there
 * since we bound ours (a restart that overlapped this shutdown).
 */
static void
master_unlink(const char *path, const struct stat *ours)
{
	struct stat	 sb;

	if (stat(path, &sb) == 0 && sb.st_dev == ours->st_dev &&
	    sb.st_ino == ours->st_ino && unlink(path) == -1)
		log_warn("unlink %s", path);
}

/*
 * Run until SIGTERM/SIGINT. The listening socket is FastCGI's usual
 * FCGI_LISTENSOCK_FILENO (0), where main.c put it (spawn-fcgi does the
 * same). On shutdown: SIGTERM to every child, up to MASTER_STOP_MS for
 * busy ones to finish, SIGKILL for the rest; 0 then.
 */
int
master_run(const struct config *cfg, int nchildren)
{
	struct signalfd_siginfo	 si;
	struct pollfd		 pfd;
	struct stat		 sock;
	sigset_t		 mask, oldmask;
	long long		 now, stop_at = 0;
	size_t			 n = (size_t)nchildren;
	int			 quitting = 0, have_sock;

	have_sock = stat(cfg->api_socket, &sock) == 0;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &mask, &oldmask) == -1)
		fatal("sigprocmask");
	master_sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (master_sfd == -1)
		fatal("signalfd");

	/* Retiring children briefly hold a slot beside their successor. */
	master_nslots = 2 * n;
	master_children = xcalloc(master_nslots, sizeof(*master_children));
	log_info("listening on %s with %zu children", cfg->api_socket, n);
	api_metrics_init();

	for (;;) {
		now = master_now();
		if (!quitting)
			master_fill(cfg, n, now);
		pfd.fd = master_sfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, master_timeout(n, quitting, stop_at, now)) ==
		    -1 && errno != EINTR)
			fatal("poll");
		now = master_now();
		while (read(master_sfd, &si, sizeof(si)) == sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGTERM:
			case SIGINT:
				if (quitting)
					break;
				log_info("%s: stopping %zu children",
				    si.ssi_signo == SIGTERM ? "SIGTERM" :
				    "SIGINT", master_count(1));
				quitting = 1;
				stop_at = now + MASTER_STOP_MS;
				/* New connections fail fast from now on. */
				if (have_sock)
					master_unlink(cfg->api_socket, &sock);
				have_sock = 0;
				master_kill(SIGTERM);
				break;
			case SIGHUP:
				if (!quitting)
					master_retire_all(now);
				break;
			case SIGCHLD:
				break;	/* reaped below, however many */
			}
		}
		master_reap(quitting, now);
		master_kill_overdue(now);
		if (quitting && master_count(1) == 0)
			break;
		if (quitting && now >= stop_at) {
			log_warnx("%zu children still busy after %d s: killing "
			    "them", master_count(1), MASTER_STOP_MS / 1000);
			master_kill(SIGKILL);
			while (master_count(1) > 0) {
				pid_t	 pid = waitpid(-1, NULL, 0);
				size_t	 i;

				if (pid == -1 && errno != EINTR)
					break;
				for (i = 0; i < master_nslots; i++)
					if (master_children[i].pid == pid)
						master_children[i].pid = 0;
			}
			break;
		}
	}

	close(master_sfd);
	master_sfd = -1;
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	free(master_children);
	master_children = NULL;
	log_info("stopped");
	return 0;
}
