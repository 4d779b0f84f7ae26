/*
 * The execution engine (DESIGN.md section 4). engine_advance() is the only
 * code that moves an execution; the other entry points record an outside
 * fact (a start, an answer, a cancel) and then advance, all in one
 * transaction with the execution row locked.
 *
 * The layers of common/ (DESIGN.md section 9), each using only those
 * below it; tests/unit/layering.py fails the build's tests when a file
 * below the engine includes engine.h or engine-int.h, or when the include
 * graph of common/ (or pushd/) has a cycle:
 *
 *   callers    fcgi-api/, pushd/: engine.h's entry points, and the
 *              modules below for what is not an execution's move.
 *   engine     engine.c (advance, transactions), engine-start.c,
 *              engine-answer.c, engine-targets.c (reads workers),
 *              engine-state.c, the step types step-*.c with step.c's
 *              table, engine-int.h (their shared insides). Writes
 *              executions, execution_steps and idempotency keys.
 *   owners     one writer per table: dispatch*.c dispatches (and
 *              dispatch_output), registry.c workers, events.c events,
 *              audit.c the audit log, trust.c worker keys and trust
 *              events. retention.c prunes events and workers through
 *              their owners (ended executions and old idempotency keys
 *              itself).
 *   checks     workflow.c and wfcheck.c (definitions), step.h (the step
 *              type table's shape), cond*.c (conditions), status.c
 *              (status names).
 *   base       db.c, pjson.c, id.c, xmalloc.c, log.c, config.c, sbuf.c,
 *              base64.c, wkey.c, pulse-limits.h.
 */
#ifndef PULSE_ENGINE_H
#define PULSE_ENGINE_H

#include <stddef.h>

#include "id.h"

struct audit_actor;
struct db;

/*
 * The entry points that record an outside fact take the audit actor
 * (common/audit.h) whose row they write last in their transaction:
 * execution.start, worker.command, execution.respond, execution.cancel.
 * NULL writes none (the engine's own tests, internal moves).
 */

enum engine_code {
	ENGINE_OK = 0,
	ENGINE_NOTFOUND,	/* no such workflow, execution or worker */
	ENGINE_INVALID,		/* the request itself is wrong: 400 */
	ENGINE_CONFLICT,	/* not in a state that allows it: 409 */
	ENGINE_DBERR,		/* see db_errmsg(); 503 when db_down() */
	ENGINE_KEY_REUSED,	/* idempotency key reused for another request */
	ENGINE_FORBIDDEN,	/* not for this user's role: 403 */
	ENGINE_LIMIT,		/* the user's cap on running work: 429 */
};

struct engine_err {
	enum engine_code code;
	char		 field[96];	/* the request's field at fault, or "" */
	char		 msg[320];
};

/*
 * Who asks (a start, an answer), for a workflow's allowed_groups: the
 * caller's groups (its SSO Remote-Groups) and whether it is an admin,
 * who always may. A NULL caller is the engine's own (tests, internal):
 * not checked.
 */
struct engine_caller {
	const char *const *groups;
	size_t		 ngroups;
	int		 admin;
};

/* A start of a stored workflow with everything it may carry. */
struct json_object;
struct engine_start_req {
	const char	*workflow_id;
	const char	*user;
	const char	*key;		/* Idempotency-Key or NULL */
	struct json_object *params;	/* the values given: object or NULL */
	const struct engine_caller *caller;
};

/*
 * At most max running executions per user (one waiting on a prompt holds
 * no worker and does not count), 0 for no cap (PULSE_USER_EXECUTIONS_MAX):
 * one user's scripts cannot fill every worker's queue ahead of everyone
 * else (issue 12). Set once at start; a start past it is ENGINE_LIMIT.
 */
void	engine_set_user_max(int max);

/* Start an execution of a stored workflow. */
int	engine_start(struct db *, const char *workflow_id, const char *user,
	    char id_out[ID_LEN + 1], struct engine_err *);

/*
 * The same with an idempotency key (NULL: none), scoped to user: the key
 * is recorded in the transaction that creates the execution. The same key
 * with the same workflow again sets *replayed and id_out to the execution
 * the first call created, creating nothing; with another workflow it is
 * ENGINE_KEY_REUSED. Keys are forgotten after ENGINE_KEY_TTL_HOURS.
 */
#define ENGINE_KEY_TTL_HOURS	24
int	engine_start_keyed(struct db *, const char *workflow_id,
	    const char *user, const char *key, char id_out[ID_LEN + 1],
	    int *replayed, struct engine_err *, const struct audit_actor *);

/*
 * engine_start_keyed() with parameters and a caller: the values are
 * resolved against the workflow's `params` (params_resolve) before
 * anything is created, ENGINE_INVALID with err->field "params.NAME"
 * when they do not; a caller outside the workflow's allowed_groups is
 * ENGINE_FORBIDDEN with field "allowed_groups". The same key with other
 * values is ENGINE_KEY_REUSED, as with another workflow.
 */
int	engine_start_with(struct db *, const struct engine_start_req *,
	    char id_out[ID_LEN + 1], int *replayed, struct engine_err *,
	    const struct audit_actor *);

/*
 * engine_start_with() inside the caller's open transaction, for a start
 * that must commit with the caller's own rows (a schedule's fire row and
 * next time): nothing is retried here, the caller's db_txn decides. No
 * idempotency key. On -1 with ENGINE_DBERR the caller rolls back; any
 * other code wrote nothing.
 */
int	engine_start_in_txn(struct db *, const struct engine_start_req *,
	    char id_out[ID_LEN + 1], struct engine_err *,
	    const struct audit_actor *);

/* Start a one-step execution running command on one worker. */
int	engine_start_command(struct db *, const char *worker_id,
	    const char *command, long long timeout_ms, const char *user,
	    char id_out[ID_LEN + 1], struct engine_err *,
	    const struct audit_actor *);

/* Answer the pending prompt; response must be one of its options. */
int	engine_respond(struct db *, const char *execution_id,
	    const char *response, const char *user, struct engine_err *);
/* The same, only if step is the prompt waiting (-1: whichever waits), so
 * a retried answer can never answer the next prompt. */
int	engine_respond_step(struct db *, const char *execution_id,
	    long long step, const char *response, const char *user,
	    struct engine_err *, const struct audit_actor *);
/* The same for a caller the workflow's allowed_groups must let answer. */
int	engine_respond_as(struct db *, const char *execution_id,
	    long long step, const char *response, const char *user,
	    const struct engine_caller *, struct engine_err *,
	    const struct audit_actor *);

/*
 * Cancel a running or waiting execution. A direct command (kind
 * "command") is an admin's: without ENGINE_AS_ADMIN it is
 * ENGINE_FORBIDDEN.
 */
#define ENGINE_AS_ADMIN		0x01

/*
 * A step target "id:<worker uuid>" is exactly that worker, never a group
 * (a plain target matches a worker name or a group name, as in version 1).
 */
#define ENGINE_TARGET_ID	"id:"
#define ENGINE_TARGET_NAME	"name:"		/* that worker name only */
#define ENGINE_TARGET_GROUP	"group:"	/* that group only */

/*
 * A plain target (no prefix, not "all") that names a worker and also a
 * group of other workers is ambiguous: refused at save, and a step that
 * meets one when it starts fails saying so.
 */
int	engine_target_ambiguous(struct db *, const char *target,
	    int *ambiguous);
int	engine_cancel(struct db *, const char *execution_id, const char *user,
	    int flags, struct engine_err *, const struct audit_actor *);

/*
 * End a running or waiting execution failed with reason, without reading
 * its definition or writing its log: for one that cannot be moved any
 * other way (a poison: the same non-connection error again and again).
 */
int	engine_abort(struct db *, const char *execution_id, const char *reason,
	    struct engine_err *);	/* 0 ended, 1 had ended, -1 error */

/*
 * Approvals (SPEC.md section 15), engine-approve.c. A decision on an
 * execution awaiting approval, checked in this order: no execution
 * (ENGINE_NOTFOUND); not awaiting approval (ENGINE_CONFLICT "execution is
 * <status>: its approval is closed"; one past its deadline is expired
 * first, and that is committed); the starter (ENGINE_FORBIDDEN); not a
 * member of an approver group (ENGINE_FORBIDDEN; an admin is not one by
 * role); decided already (ENGINE_CONFLICT); plan_hash not the plan's
 * (ENGINE_CONFLICT, the plan's hash in current_hash); an approval that
 * would start it past its starter's PULSE_USER_EXECUTIONS_MAX
 * (ENGINE_LIMIT). Nothing is written on a refusal. Else one approvals row, the execution_approval event, the
 * move (approve: running and advanced once required distinct approvals are
 * in, by a conditional UPDATE; reject: ended rejected) and the audit row
 * execution.approve or execution.reject, in one transaction.
 */
struct engine_approve_req {
	const char			*execution_id;
	const char			*user;
	const struct engine_caller	*caller;	/* the user's groups */
	const char			*plan_hash;	/* 64 hex */
	int				 reject;	/* 0: approve */
	const char			*comment;	/* or NULL */
};
int	engine_approve(struct db *, const struct engine_approve_req *,
	    char current_hash[65], struct engine_err *,
	    const struct audit_actor *);
/*
 * Whether user may decide on execution id now (checks 2 to 6 above,
 * without the hash): 0 yes; 1 no, why says what a decision would get; -1
 * db error.
 */
int	engine_approve_refusal(struct db *, const char *id, const char *user,
	    const struct engine_caller *, char *why, size_t len);
/*
 * End execution id expired if it awaits approval past its deadline (a
 * conditional UPDATE; idempotent): 0 expired, 1 nothing to do, -1 error.
 * engine_approval_expire_due() does it for up to
 * PULSE_APPROVAL_EXPIRE_BATCH due ones (pushd's timers), *n expired.
 */
int	engine_approval_expire(struct db *, const char *id, struct engine_err *);
int	engine_approval_expire_due(struct db *, size_t *n);

/* Move an execution as far as it can go now. Idempotent. */
int	engine_advance(struct db *, const char *execution_id,
	    struct engine_err *);

#endif
