/*
 * Inside the engine (engine.c, engine-*.c, step-*.c): the loaded execution
 * and the helpers they share. Nothing outside the engine layer includes
 * this (tests/unit/layering.py checks it). It does not include engine.h
 * (that would be an include cycle engine -> engine-int -> engine): its
 * users include engine.h first.
 */
#ifndef PULSE_ENGINE_INT_H
#define PULSE_ENGINE_INT_H

#include <stddef.h>

#include "id.h"
#include "status.h"

struct audit_actor;
struct db;
struct engine_err;
struct json_object;
struct retry;
struct step;
struct workflow;

/* An execution as loaded, locked, for one engine call. */
struct exec {
	char		 id[ID_LEN + 1];
	enum exec_status status;	/* EXEC_STATUS_COUNT: not known */
	char		 kind[16];
	int		 current;	/* executions.current_step: the top-level step */
	/*
	 * The step in hand, its step_index: what begin, poll and the
	 * engine_step_* helpers work on. engine_advance_locked() sets it to
	 * current; a step that holds others (a parallel group) sets it to each
	 * of theirs in turn.
	 */
	int		 at;
	char		*workflow_id;
	char		*prompt_response;
	char		*started_by;
	struct workflow	*wf;
};

/* One entry point's arguments and results, through db_txn(). */
struct call {
	const char		*id;		/* execution */
	const char		*workflow_id;
	const char		*worker_id;
	const char		*command;
	long long		 timeout_ms;
	const char		*response;
	long long		 step;		/* respond: -1 or the prompt */
	const char		*user;
	int			 flags;		/* ENGINE_AS_ADMIN */
	const char		*key;		/* Idempotency-Key or NULL */
	int			 replayed;	/* key seen: id_out is old */
	char			*id_out;
	struct engine_err	*err;
	const struct audit_actor *audit;	/* NULL: no audit row */
	long long		 version;	/* of the workflow run, or 0 */
};

/* engine.c: errors (code: an enum engine_code), the execution row, moving
 * it. */
int	engine_fail(struct engine_err *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));	/* returns -1 */
int	engine_dberr(struct engine_err *, struct db *);	/* returns -1 */
int	engine_exec_lock(struct db *, const char *id, struct exec *,
	    struct engine_err *);
void	engine_exec_clear(struct exec *);
/* Execution ended with status (error NULL: none); its log assembled. */
int	engine_finish(struct db *, struct exec *, enum exec_status,
	    const char *error);
/* The current step: from its status `from` to `to` (ended), evented. */
int	engine_step_end(struct db *, struct exec *, enum step_status from,
	    enum step_status to, const char *reason);
/* The current step: pending to status, wake_at after wake_ms (-1: none). */
int	engine_step_begin(struct db *, struct exec *, enum step_status,
	    long long wake_ms);
/* Move an execution, locked, as far as it goes now. */
int	engine_advance_locked(struct db *, struct exec *);
/* Run fn in one transaction; a db failure is mapped into c->err. */
int	engine_run(struct db *, int (*fn)(struct db *, void *), struct call *);
/* The call's audit row, last in its transaction; takes details. */
int	engine_call_audit(struct db *, struct call *, const char *action,
	    const char *target_type, const char *target_id,
	    struct json_object *details);

/* engine-state.c: the `state` conditions see (DESIGN.md section 5). */
struct json_object *engine_state(struct db *, struct exec *);

/* engine-targets.c: a step's targets, from the workers table (read only). */
struct target {
	char	*id;
	char	*name;
};
void	engine_targets_free(struct target *, size_t n);
int	engine_targets(struct db *, const struct step *, struct target **out,
	    size_t *nout, const char **ambiguous, char *untrusted,
	    size_t ulen);

/*
 * step-retry.c: a target's latest attempt ended ds (a final status) as
 * attempt number attempt. step_retry_wanted says whether the step's retry
 * gives it another; step_retry queues that one (1, also when an earlier
 * advance did), or says 0 (no retry, or its worker is no longer on
 * record: the target has failed), -1 on a db error.
 */
int	step_retry_wanted(const struct retry *, int retry_lost,
	    enum dispatch_status ds, int attempt);
int	step_retry(struct db *, const struct step *, const char *dispatch_id,
	    enum dispatch_status ds, int attempt);

#endif
