/*
 * The database side of dispatches (DESIGN.md sections 3, 4 and 8): what
 * pushd claims and hands to workers, what it records when they answer, and
 * the timers that end what never answers. Plain C over db.h: every status
 * change is a conditional UPDATE whose row count is checked, each call is
 * one transaction, and every change writes its event for the browsers.
 * Callers run engine_advance() on the executions a call reports.
 */
#ifndef PULSE_DISPATCH_H
#define PULSE_DISPATCH_H

#include <stddef.h>

#include "id.h"

struct db;

#define DISPATCH_OUTPUT_MAX	(4 * 1024 * 1024)	/* kept per stream */
#define DISPATCH_CHUNK_MAX	(256 * 1024)	/* one output chunk */
#define DISPATCH_BATCH_MAX	200		/* rows one poll handles */
#define DISPATCH_GROUPS_MAX	64		/* groups of one worker */
#define DISPATCH_RUNNING_MAX	1024		/* ids in worker_connect */
#define DISPATCH_REFUSAL_MAX	512		/* bytes of a refusal kept as
						 * its error */

enum dispatch_stream {
	DISPATCH_STDOUT = 0,
	DISPATCH_STDERR = 1,
};

/* What became of a worker's report. */
enum dispatch_code {
	DISPATCH_OK = 0,	/* recorded */
	DISPATCH_STALE,		/* duplicate or late: nothing changed */
	DISPATCH_FOREIGN,	/* another worker's, or never sent to it */
	DISPATCH_MALFORMED,	/* its bytes do not decode */
	DISPATCH_UNKNOWN,	/* no such command (deleted, or never was) */
	DISPATCH_AMBIGUOUS,	/* no command_id, and more than one fits */
};

/* Something to tell a worker: run a command, or cancel it. */
struct dispatch_cmd {
	char		 id[ID_LEN + 1];	/* the command_id */
	char		 execution_id[ID_LEN + 1];
	char		 worker_id[ID_LEN + 1];
	int		 step_index;
	long long	 timeout_ms;
	char		*command;		/* NULL for a cancel */
	int		 attempt;		/* 0 for a cancel */
	char		*env;			/* JSON object or NULL */
	int		 cancel;
	long long	 waited_ms;		/* claimed: since it could go */
};

void	dispatch_cmds_free(struct dispatch_cmd *, size_t);

/* Execution ids that a call changed and the caller should advance. */
struct dispatch_ids {
	char		(*id)[ID_LEN + 1];
	size_t		 n;
};

void	dispatch_ids_clear(struct dispatch_ids *);

/* Is this worker connected to the caller (so commands can go to it)? */
typedef int	(*dispatch_held_fn)(const char *worker_id, void *arg);

/*
 * Queued dispatches of workers whose pushd_node is node and that held()
 * says are here: marked sent (deadline: now + timeout + grace_ms) and
 * returned for sending, at most DISPATCH_BATCH_MAX.
 */
int	dispatch_claim(struct db *, const char *node, long long grace_ms,
	    dispatch_held_fn held, void *arg, struct dispatch_cmd **,
	    size_t *);

/*
 * dispatch_claim failed with its COMMIT's outcome unknown (the database
 * node died with the answer): -2, and cmds holds what it had claimed,
 * which may be marked sent with nobody to send it. Before claiming
 * again, dispatch_claimed keeps those of cmds that the commit did mark
 * sent and whose worker is still attached to node (to be sent now), and
 * frees the rest; the others are still queued and claimed as usual.
 */
int	dispatch_claimed(struct db *, const char *node, struct dispatch_cmd *,
	    size_t *n);

/*
 * Is anything queued for, or a cancel unsent to, a worker of node? A
 * plain read, so that an idle poll costs one round trip; the claim and
 * the cancels below decide under their locks.
 */
int	dispatch_pending(struct db *, const char *node, int *queued,
	    int *cancels);
/*
 * Cancels requested for commands of workers here that were not yet sent
 * on their current connection: stamped and returned.
 */
int	dispatch_cancels(struct db *, const char *node,
	    dispatch_held_fn held, void *arg, struct dispatch_cmd **, size_t *);

/*
 * A worker (re)connected saying which commands still run there: those
 * are marked running, and pending cancels are sent again. A worker that
 * keeps a journal (journaled: it sent a running list, as pulse-worker
 * does) also gets again the commands sent to it that it does not list:
 * it never starts one twice. One that keeps none (a worker written from
 * SPEC section 6) is never sent a command twice: what it did not answer
 * ends at its deadline.
 */
int	dispatch_redeliver(struct db *, const char *worker_id,
	    const char *const *running, size_t nrunning, int journaled,
	    long long grace_ms, struct dispatch_cmd **, size_t *);

/* command_started: sent -> running; the deadline counts from now. */
int	dispatch_started(struct db *, const char *worker_id,
	    const char *command_id, const char *execution_id,
	    long long grace_ms, enum dispatch_code *);

/* One live output chunk (command_output), stored once per offset. */
struct dispatch_chunk {
	const char	*worker_id;
	const char	*command_id;
	int		 stream;		/* enum dispatch_stream */
	long long	 offset;
	const void	*data;
	size_t		 len;
	enum dispatch_code code;		/* out */
};

/* Store n chunks in one transaction; each gets its code. */
int	dispatch_output(struct db *, struct dispatch_chunk *, size_t n,
	    long long grace_ms);

/*
 * A command_result as received (strings not NUL-terminated: lengths).
 * SPEC section 6 lists no command_id: without one, the command is the
 * one open dispatch of execution_id on this worker (of step_index, when
 * given); more than one is DISPATCH_AMBIGUOUS.
 */
struct dispatch_result {
	const char	*command_id;		/* NULL: find it */
	const char	*execution_id;		/* NULL: not given */
	int		 has_step;
	long long	 step_index;
	int		 success;
	int		 has_exit_code;
	long long	 exit_code;
	int		 has_signal;
	long long	 signal;
	int		 timed_out;
	int		 refused;		/* by the worker's allow-list */
	const char	*text[2];		/* stdout, stderr as text */
	size_t		 textlen[2];
	const char	*b64[2];		/* exact bytes, or NULL */
	size_t		 b64len[2];
	int		 has_bytes[2];
	long long	 bytes[2];		/* true sizes */
	int		 truncated[2];
	int		 has_duration;
	long long	 duration_ms;
};

/*
 * Record a result of worker_id's command. DISPATCH_OK: stored, and
 * exec_out names the execution to advance; DISPATCH_STALE: it was already
 * final, DISPATCH_UNKNOWN: there is no such command (ack both all the
 * same: the worker may forget them).
 */
int	dispatch_record(struct db *, const char *worker_id,
	    const struct dispatch_result *, enum dispatch_code *,
	    char exec_out[ID_LEN + 1]);

/*
 * A result that cannot be stored for a reason of its own (the batch and
 * then it alone failed, the database up): its command ends failed with
 * reason, so that neither the worker nor the execution waits for a write
 * that will never succeed. *ended: whether it was still open here;
 * exec_out names its execution to advance.
 */
int	dispatch_result_unstorable(struct db *, const char *worker_id,
	    const char *command_id, const char *reason, int *ended,
	    char exec_out[ID_LEN + 1]);

/* Any report of a worker, for dispatch_reports(). */
enum dispatch_report_kind {
	DISPATCH_R_STARTED,
	DISPATCH_R_CHUNK,
	DISPATCH_R_RESULT,
};
struct dispatch_report {
	enum dispatch_report_kind	 kind;
	const char			*worker_id;
	const char			*command_id;	/* STARTED */
	const char			*execution_id;	/* STARTED, or NULL */
	struct dispatch_chunk		 chunk;		/* CHUNK; its worker_id
							 * is set from ours */
	const struct dispatch_result	*res;		/* RESULT */
	/* In: DISPATCH_MALFORMED skips it (it did not decode). Out: as
	 * the single calls give it. */
	enum dispatch_code		 code;
	char				 exec[ID_LEN + 1]; /* RESULT, OK */
	char				 command[ID_LEN + 1]; /* RESULT: the
							 * id it was for */
	int				 open;		/* AMBIGUOUS: how
							 * many fit */
};
/*
 * Record n reports, in order, in one transaction: the starts, output and
 * results of a step on many workers arrive interleaved, and a commit (a
 * disk flush) each made the DB thread the bottleneck of every fan-out.
 * dispatch_started/output/record are this for one kind.
 */
int	dispatch_reports(struct db *, struct dispatch_report *, size_t n,
	    long long grace_ms);
/*
 * Timers, claimed with FOR UPDATE SKIP LOCKED so several pushd share them:
 * commands past their deadline (timeout + grace_ms from when they were
 * sent, or from the start the worker reported) end whatever the socket
 * does: timed_out if the worker never said it started, lost if it did;
 * each is returned in *cancels (when not NULL) for a cancel_command.
 * Queued ones no worker took within timeout + grace_ms become lost.
 */
int	dispatch_expire(struct db *, long long grace_ms,
	    struct dispatch_ids *, struct dispatch_cmd **cancels, size_t *n);

/*
 * A worker is deleted or replaced by a new agent: its queued and in-flight
 * commands end lost with reason, in the caller's transaction; their
 * executions are added to ids for the caller to advance after the commit.
 */
int	dispatch_lose_worker(struct db *, const char *worker_id,
	    const char *reason, struct dispatch_ids *);

/* Executions whose running step's wake_at passed: a wait step, or a
 * batched execute step whose pause between batches is over (issue 14). */
int	dispatch_due_waits(struct db *, struct dispatch_ids *);

/*
 * Running executions with nothing in flight on their current step and no
 * change for a while: a crash between recording and advancing left them.
 */
int	dispatch_sweep(struct db *, int idle_s, struct dispatch_ids *);

/* The output of a command still running, from its chunks. */
int	dispatch_live_output(struct db *, const char *dispatch_id,
	    char *out[2], size_t len[2]);

/* A worker as worker_connect describes it, and the key it came with. */
struct dispatch_worker {
	const char	*id;
	const char	*name;
	const char	*version;		/* NULL: not given */
	const char	*groups[DISPATCH_GROUPS_MAX];	/* requested */
	size_t		 ngroups;
	int		 has_groups;
	const char	*key_hash;		/* its own key's; NULL: the
						 * shared key */
	int		 auto_accept;		/* WORKER_AUTO_ACCEPT */
	char		 refused[128];		/* out: why the key may not
						 * act as it, or "" */
	char		 state[16];		/* out: pending|accepted */
	int		 rotate;		/* out: a key to offer */
	int		 name_kept;		/* out: it has a key and
						 * asked for another name,
						 * ignored (registry.h) */
};

/*
 * The engine's writes (dispatch.c is the only writer of dispatches):
 * queue one command for a step on a worker (status queued, attempt 1;
 * env the PULSE_PARAM_* object as JSON text, or NULL for none);
 * cancel an execution's commands: queued ones end cancelled now, sent and
 * running ones are asked to stop (cancel_requested).
 */
int	dispatch_queue(struct db *, const char *execution_id, int step,
	    const char *worker_id, const char *worker_name,
	    const char *command, long long timeout_ms, const char *env);
int	dispatch_cancel_execution(struct db *, const char *execution_id);
/*
 * A rolling batch's writes (issue 14): queue as dispatch_queue, in batch
 * (1-based; 0: none); a target a stopped batch never ran gets a final
 * row, status skipped, with why as its error.
 */
int	dispatch_queue_batch(struct db *, const char *execution_id, int step,
	    const char *worker_id, const char *worker_name,
	    const char *command, long long timeout_ms, const char *env,
	    int batch);
int	dispatch_skip(struct db *, const char *execution_id, int step,
	    const char *worker_id, const char *worker_name,
	    const char *command, long long timeout_ms, int batch,
	    const char *why);

/*
 * Queue the next attempt of the dispatch failed_id, whose attempt is
 * attempt: same worker, command, env and batch, attempt + 1, status
 * queued, not sent before now + delay_ms. *queued: 1 if that attempt
 * exists now (inserted, or by an advance that ran before), 0 if it
 * cannot (the worker was deleted or replaced).
 */
int	dispatch_retry(struct db *, const char *failed_id, int attempt,
	    long long delay_ms, int *queued);

/*
 * Upsert a connected worker: online, attached to node, once trust_check()
 * says its key may act as it (else w->refused says why and nothing
 * changed). *conflict is set (and nothing changed) when its name belongs
 * to another worker that registry_online() will not let it take; one
 * replaced at once (version 1, WORKER_AUTO_ACCEPT) has its open commands
 * end lost, their executions go into ids to advance, and replaced
 * (ID_LEN + 1 bytes) names it.
 */
int	dispatch_worker_online(struct db *, const char *node,
	    struct dispatch_worker *, int *conflict, char *replaced,
	    struct dispatch_ids *ids);

/*
 * Workers on record as attached to node that held() says are not here (a
 * pushd that crashed left them so): detached, so that no command is
 * queued for a socket that is gone. *n says how many.
 */
int	dispatch_worker_detach_others(struct db *, const char *node,
	    dispatch_held_fn held, void *arg, size_t *n);

/* Its connection closed: offline and detached, if still attached here. */
int	dispatch_worker_offline(struct db *, const char *node,
	    const char *worker_id);

/* Connected workers are alive: refresh last_heartbeat (one transaction). */
int	dispatch_worker_touch(struct db *, const char *node,
	    const char *const *ids, size_t n);

/* Online workers silent for stale_s seconds go offline; *n says how many. */
int	dispatch_workers_stale(struct db *, int stale_s, size_t *n);

#endif
