/*
 * Part of the runner (runner.c says what it is): a task's command
 * started, /bin/sh -c in a process group of its own, directly or under
 * its keeper (runner-keep.c), and that whole group stopped at a timeout
 * or a cancel: SIGTERM, then SIGKILL WORKER_KILL_GRACE_MS later.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"
#include "runner-int.h"

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
		t->kill_at_ms = rn_mono_ms() + WORKER_KILL_GRACE_MS;
		lws_sul_cancel(&t->sul_kill);
		lws_sul_schedule(t->r->ctx, 0, &t->sul_kill, kill_fire,
		    WORKER_KILL_GRACE_MS * LWS_US_PER_MS);
	} else if (t->kill_sig == SIGTERM)
		kill_group(t, SIGKILL);
}

void
rn_stop_task(struct task *t)
{
	if (t->kill_sig != 0 || t->reaped)
		return;
	kill_group(t, SIGTERM);
	t->kill_at_ms = rn_mono_ms() + WORKER_KILL_GRACE_MS;
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
	if (rn_keep_write(fd, SH_SCRIPT_HEAD, sizeof(SH_SCRIPT_HEAD) - 1) ==
	    -1 || rn_keep_write(fd, command, len) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The child of rn_sh_start(): /dev/null in, outfd and errfd out, the script
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
pid_t
rn_sh_start(const struct task *t, int outfd, int errfd, int script,
    int new_session)
{
	pid_t	 pid;

	pid = vfork();
	if (pid == 0)
		sh_exec(t, outfd, errfd, script, new_session);
	return pid;
}

int
rn_spawn(struct runner *r, struct task *t)
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
	t->start_ms = rn_mono_ms();
	if (r->keepdir != NULL && t->command_id[0] != '\0') {
		/* The keeper runs our code: a fork it must be. */
		t->pid = fork();
		if (t->pid == -1) {
			snprintf(msg, sizeof(msg), "fork: %s", strerror(errno));
			goto fail;
		}
		if (t->pid == 0) {
			setsid();
			rn_keep_run(t, p[0][1], p[1][1], script);
		}
	} else if ((t->pid = rn_sh_start(t, p[0][1], p[1][1], script, 1)) ==
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
