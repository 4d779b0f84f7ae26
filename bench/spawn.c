/*
 * spawn: the no-tool floor of the fan-out benchmark (bench/fanout.py).
 *
 *   spawn N RUNS [WARM]
 *
 * Each run forks N `/bin/sh -c uptime` at once, each with its stdout on a
 * pipe, reads every pipe to its end with poll(), waits for all N, and
 * prints the run's elapsed milliseconds on a line of its own. WARM
 * untimed runs first (default 1: page cache, the dynamic loader's first
 * look-ups; fanout.py runs it with 0 between PULSE's runs, warm by then).
 * Exits 1 if a child failed or an output lacks " up ".
 *
 * The Python floor it replaces (subprocess.Popen N times) spent most of
 * its time in Python itself: its cost grew with N faster than the
 * children's, so the floor measured the spawner. Here a run is N fork +
 * exec, N pipes and one poll loop: what N processes cost this machine.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_MAX	4096
#define OUT_MAX	512		/* uptime prints one line of ~70 bytes */

struct child {
	pid_t	pid;
	int	fd;		/* read end; -1 once at its end */
	size_t	len;
	char	out[OUT_MAX];
};

static double
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Fork one `sh -c uptime` with stdout on a new pipe: 0, or -1. */
static int
start(struct child *c)
{
	int	p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	c->pid = fork();
	if (c->pid == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (c->pid == 0) {
		int	null = open("/dev/null", O_RDONLY);

		if (null == -1 || dup2(null, 0) == -1 || dup2(p[1], 1) == -1)
			_exit(127);
		execl("/bin/sh", "sh", "-c", "uptime", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	c->fd = p[0];
	c->len = 0;
	return 0;
}

/* One run: N at once, every output read, every child waited for. */
static int
run(struct child *cs, int n, double *ms)
{
	struct pollfd	*pfd = NULL;
	double		 t0;
	int		 r, i, started = 0, open_n = 0, bad = 0, st;

	pfd = calloc(n, sizeof(*pfd));
	if (pfd == NULL)
		return -1;
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		if (start(&cs[i]) == -1) {
			perror("spawn: fork");
			goto fail;
		}
		started++;
		open_n++;
	}
	while (open_n > 0) {
		int	k = 0;

		for (i = 0; i < n; i++) {
			if (cs[i].fd == -1)
				continue;
			pfd[k].fd = cs[i].fd;
			pfd[k].events = POLLIN;
			pfd[k].revents = 0;
			k++;
		}
		if ((r = poll(pfd, k, 10000)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			fprintf(stderr, "spawn: poll timed out or failed\n");
			goto fail;
		}
		for (i = 0; i < n; i++) {
			struct child	*c = &cs[i];
			ssize_t		 got;
			int		 j;

			if (c->fd == -1)
				continue;
			for (j = 0; j < k && pfd[j].fd != c->fd; j++)
				;
			if (j == k || pfd[j].revents == 0)
				continue;
			got = read(c->fd, c->out + c->len,
			    sizeof(c->out) - 1 - c->len);
			if (got > 0) {
				c->len += got;
				if (c->len < sizeof(c->out) - 1)
					continue;
			} else if (got == -1 && errno == EINTR)
				continue;
			close(c->fd);
			c->fd = -1;
			open_n--;
		}
	}
	for (i = 0; i < n; i++) {
		if (waitpid(cs[i].pid, &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
		cs[i].out[cs[i].len] = '\0';
		if (strstr(cs[i].out, " up ") == NULL)
			bad++;
	}
	*ms = now_ms() - t0;
	free(pfd);
	return bad ? -1 : 0;
fail:
	for (i = 0; i < started; i++) {
		if (cs[i].fd != -1)
			close(cs[i].fd);
		waitpid(cs[i].pid, &st, 0);
	}
	free(pfd);
	return -1;
}

int
main(int argc, char **argv)
{
	struct child	*cs;
	double		 ms;
	int		 n, runs, warm = 1, r;

	if ((argc != 3 && argc != 4) || (n = atoi(argv[1])) < 1 ||
	    n > N_MAX || (runs = atoi(argv[2])) < 1 || runs > 10000 ||
	    (argc == 4 && ((warm = atoi(argv[3])) < 0 || warm > 100))) {
		fprintf(stderr, "usage: spawn N RUNS [WARM] (1 <= N <= %d)\n",
		    N_MAX);
		return 2;
	}
	cs = calloc(n, sizeof(*cs));
	if (cs == NULL)
		return 1;
	for (r = 0; r < warm + runs; r++) {
		if (run(cs, n, &ms) == -1) {
			fprintf(stderr, "spawn: a child failed\n");
			return 1;
		}
		if (r >= warm)
			printf("%.3f\n", ms);
	}
	fflush(stdout);
	free(cs);
	return 0;
}
