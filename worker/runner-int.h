/*
 * Inside the runner (runner.c, runner-spawn.c, runner-keep.c,
 * runner-output.c): the task and the runner they all work on, and the
 * rn_* functions one of them calls in another. Not for any other file:
 * the agent sees a task only through worker.h, which the runner's files
 * include first.
 */
#ifndef PULSE_RUNNER_INT_H
#define PULSE_RUNNER_INT_H

#include <signal.h>

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
	pid_t			 pid;		/* the agent's: a keeper's parent */
	int			 stopping;
};

/* runner.c */
long long	 rn_mono_ms(void);
/* The task is over: its finished hook, then it is freed, the next starts. */
void		 rn_finish(struct task *);

/* runner-spawn.c */
/* The task's command started: 0, or -1 with t->message set (logged). */
int		 rn_spawn(struct runner *, struct task *);
/* SIGTERM to the group now, SIGKILL after the grace; once. */
void		 rn_stop_task(struct task *);
pid_t		 rn_sh_start(const struct task *, int, int, int, int);

/* runner-keep.c */
int		 rn_keep_write(int, const char *, size_t);
void		 rn_keep_run(struct task *, int, int, int)
		     __attribute__((noreturn));

/* runner-output.c */
int		 rn_stream_read(struct stream *, size_t, int *);

#endif
