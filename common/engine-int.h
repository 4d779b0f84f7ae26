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
struct step_poll;
struct wf_check;
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
	struct json_object *params;	/* executions.params: resolved, or NULL */
	struct workflow	*wf;
	int		 phase;		/* enum plan_phase (workflow.h) */
	char		*failure;	/* executions.failure, or NULL */
	/*
	 * Sub-workflows started in this transaction, counted across the
	 * whole tree it starts: budget points at the top execution's
	 * spawned (NULL: this one is the top), so one move cannot create
	 * more than PULSE_SUBWORKFLOW_START_MAX executions (a group of 16
	 * workflow steps, 5 deep, would be a million).
	 */
	int		 spawned;
	int		*budget;
	/*
	 * An approved tree's pin map {workflow_id: version} (executions.pins,
	 * engine-plan.c), or NULL: the version each workflow step of this
	 * execution and its descendants runs when the step names none.
	 */
	struct json_object *pins;
	int		 depth;		/* set at start only: the plan's walk */
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
	struct json_object	*params;	/* start: the values given */
	struct json_object	*resolved;	/* start: params_resolve()'s */
	const struct engine_caller *caller;	/* NULL: not checked */
	const char		*parent_id;	/* a sub-workflow's parent */
	int			 parent_step;	/* its step_index there */
	int			 depth;		/* parent's depth + 1 */
	int			*budget;	/* a child: the tree's count */
	struct json_object	*pins;		/* a child: the tree's pin map */
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
/*
 * A step just begun whose first look (p) may say it has ended already
 * (every part skipped, a child done at once): end it then. Its status now,
 * or -1.
 */
struct step_poll;
int	engine_step_settle(struct db *, struct exec *, const struct step_poll *);
/* The current step: pending to status, wake_at after wake_ms (-1: none). */
int	engine_step_begin(struct db *, struct exec *, enum step_status,
	    long long wake_ms);
/*
 * Move the step in hand as far as it goes now: begin it if pending (its
 * condition first), poll it if running, end it if it has. p->status: its
 * status after (STEP_RUNNING: look again later), p->reason: why the poll
 * says it failed, or "". *now: it ended (or waits) by this call.
 */
struct step_poll;
int	engine_step_move(struct db *, struct exec *, const struct step *,
	    struct step_poll *p, int *now);
/* A step failed with on_failure "continue": executions.failed_steps + 1. */
int	engine_count_failed(struct db *, struct exec *);
/* Move an execution, locked, as far as it goes now. */
int	engine_advance_locked(struct db *, struct exec *);
/* Run fn in one transaction; a db failure is mapped into c->err. */
int	engine_run(struct db *, int (*fn)(struct db *, void *), struct call *);
/* The call's audit row, last in its transaction; takes details. */
int	engine_call_audit(struct db *, struct call *, const char *action,
	    const char *target_type, const char *target_id,
	    struct json_object *details);

/*
 * engine-params.c: a workflow's parameters and allowed_groups at a start
 * and an answer, and the templates and env of a step as it begins.
 */
/* -1 (ENGINE_FORBIDDEN, field allowed_groups) when c->caller may not
 * `what` ("start", "answer the prompts of"). */
int	engine_caller_check(const struct workflow *, const struct call *,
	    const char *what);
/* c->params resolved into c->resolved; -1 ENGINE_INVALID params.NAME. */
int	engine_params_resolve(const struct workflow *, struct call *);
/* The idempotency key's request: the workflow id, and a hash of the
 * values resolved when there are any. */
void	engine_params_request(const struct call *, char *buf, size_t len);
/* The names of the values resolved, for the audit row (never values). */
struct json_object *engine_params_names(const struct call *);
/*
 * src (a command or a message) with its templates expanded for ex, at
 * most max bytes: 0 and *out (free it), or -1 with why (the step fails).
 */
int	engine_expand(const struct exec *, const char *src, size_t max,
	    char **out, char *why, size_t whylen);
/* dispatches.env for ex: NULL *out when it has no parameters. 0, or -1
 * with why. */
int	engine_env(const struct exec *, char **out, char *why, size_t whylen);

/*
 * Sub-workflows (SPEC.md section 14). engine-start.c: a child execution
 * of workflow_id for parent's step in hand (parent->at), started by the
 * parent's starter with the values given (resolved against the child's
 * params), at depth, created and advanced in the parent's transaction; no
 * audit row of its own (the parent's start has one). -1 with err:
 * ENGINE_DBERR, or a reason the step fails for (no such workflow,
 * params.NAME). step-workflow.c: engine_sub_wake() sets the wake_at of
 * the parent's step when the execution id ends, if it is a child.
 */
/* -1 (ENGINE_LIMIT, naming user and PULSE_USER_EXECUTIONS_MAX) when user
 * has as many running executions as one may; 0 when one more fits. */
int	engine_user_capped(struct db *, const char *user, struct engine_err *);
int	engine_start_child(struct db *, const struct exec *parent,
	    const char *workflow_id, long long version,
	    struct json_object *given, int depth, int *budget,
	    char id_out[ID_LEN + 1], struct engine_err *err);
int	engine_sub_wake(struct db *, const char *id);
/* A workflow step's values for its child: {{ params.X }} replaced by the
 * parent's X (absent there: not given); NULL when it has no params. */
struct json_object *engine_sub_given(const struct exec *, const struct step *);

/*
 * engine-plan.c: an approval's frozen plan (SPEC section 15). For ex (its
 * id, started_by, params and wf set) started from def, workflow
 * workflow_id at version: *pinned, def with every workflow step's
 * workflow_version set (the child's current version, unless pinned
 * already): what the execution stores and runs; *plan, the canonical JSON
 * of {workflow_id, version, params, steps, on_failure?} with every
 * template expanded as the steps will expand it, and its SHA-256 in hash.
 * -1 with err: ENGINE_INVALID naming the field whose template does not
 * expand (steps[2].command), or ENGINE_DBERR.
 */
int	engine_plan_build(struct db *, const struct exec *ex,
	    struct json_object *def, const char *workflow_id, long long version,
	    struct json_object **pinned, char **plan, char hash[65],
	    struct json_object **pins, struct engine_err *err);
/* The version a workflow step without its own runs: the tree's pin
 * (pins, may be NULL), else the child's current one; 0 when the child
 * is gone, -1 db error. */
long long engine_pin_version(struct db *, struct json_object *pins,
	    const char *workflow_id);

/*
 * engine-approve.c: the execution_approval event of ex_id (event
 * "requested", "approved" or "rejected"; by: who decided, or NULL).
 */
int	engine_approval_event(struct db *, const char *ex_id, const char *event,
	    const char *by);

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
 * step-batch.c: an execute step's rolling batches (SPEC section 14). At
 * save, its `batch` into st; begin stores the resolved targets and queues
 * batch 1 of them with command and env (the expanded command, the
 * PULSE_PARAM_* JSON or NULL; later batches copy batch 1's); poll ends
 * a batch, pauses, starts the next, or stops and skips the rest (each
 * move a checked conditional UPDATE of the step's row).
 */
int	step_batch_validate(struct wf_check *, struct json_object *,
	    struct step *);
int	step_batch_begin(struct db *, struct exec *, const struct step *,
	    const char *command, const char *env, const struct target *,
	    size_t n);
int	step_batch_poll(struct db *, struct exec *, const struct step *,
	    struct step_poll *);

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
