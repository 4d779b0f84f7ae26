/*
 * Workflow definitions (SPEC.md section 5): one function turns untrusted
 * JSON into a checked struct before any other code sees it.
 */
#ifndef PULSE_WORKFLOW_H
#define PULSE_WORKFLOW_H

#include <stddef.h>

#include "batch.h"
#include "retry.h"
#include "step.h"
#include "wfcheck.h"

struct json_object;
struct cond;
struct params;
struct wf_check;

/* enum step_kind and the step types: step.h. */

struct step {
	enum step_kind	  type;
	char		 *name;
	char		**targets;	/* execute */
	size_t		  ntargets;
	char		 *command;	/* execute */
	long long	  timeout_ms;	/* execute; WF_TIMEOUT_DEFAULT if absent */
	int		  has_batch;	/* execute: `batch` given (issue 14) */
	struct batch	  batch;	/* execute, when has_batch */
	struct retry	  retry;	/* execute; attempts 0: none */
	int		  retry_lost;	/* execute: a lost attempt is retried */
	char		 *message;	/* prompt */
	char		**options;	/* prompt */
	size_t		  noptions;
	long long	  duration_ms;	/* wait */
	char		 *workflow_id;	/* workflow: the child's */
	struct json_object *sub_params; /* workflow: `params`, or NULL */
	long long	  workflow_version; /* workflow: pinned, or 0: latest */
	char		 *condition;	/* source, or NULL */
	struct cond	 *cond;		/* parsed condition, or NULL */
	int		  on_failure_continue;	/* "on_failure": "continue" */
	struct step	 *steps;	/* parallel: its steps */
	size_t		  nsteps;
};

/* A step's phase: the workflow's steps, or its on_failure steps. */
enum plan_phase {
	PHASE_MAIN,
	PHASE_ON_FAILURE,
};

/*
 * The flat plan (issue 14): every step an execution runs has one
 * step_index, its place here: the main steps in order, a parallel
 * group's steps right after the group, then the on_failure steps. A
 * version-1 workflow's plan is its steps, index for index.
 */
struct plan_entry {
	const struct step *st;
	int		 parent;	/* the group's index, or -1 */
	enum plan_phase	 phase;
};

/* One `notify` rule: a channel (name or id) and the events it hears. */
struct wf_notify {
	char		*channel;
	unsigned	 on;		/* 1 << enum notify_event (notify.h) */
};

struct workflow {
	struct step	*steps;
	size_t		 nsteps;
	struct params	*params;	/* `params` (params.h), or NULL */
	/*
	 * Whether commands and messages hold templates: only in a definition
	 * with the `params` key (`"params": []` for {{ execution.id }} alone),
	 * so a version-1 workflow or a direct command whose command holds
	 * "{{" (docker --format '{{.Names}}') runs exactly as written.
	 */
	int		 templates;
	char		**allowed_groups;	/* who may start it; NULL: all */
	/*
	 * `approval` (SPEC section 15): a start waits for required distinct
	 * approvals from members of approvers, for expires_ms at most.
	 * has_approval 0: none, it starts at once.
	 */
	int		 has_approval;
	int		 approval_required;
	char		**approvers;
	size_t		 napprovers;
	long long	 approval_expires_ms;
	size_t		 nallowed_groups;
	struct step	*on_failure;	/* the workflow's on_failure steps */
	size_t		 non_failure;
	struct plan_entry *plan;
	size_t		 nplan;
	size_t		 nmain;		/* plan entries of PHASE_MAIN */
	struct wf_notify *notify;	/* `notify` rules (workflow-notify.c) */
	size_t		 nnotify;
};

/* struct workflow_error: wfcheck.h. */

int		 workflow_from_json(struct json_object *definition,
		    struct workflow **out, struct workflow_error *err);
void		 workflow_free(struct workflow *);

/*
 * workflow-params.c: the workflow keys `params` and `allowed_groups` read
 * into wf (before the steps), then every step's templates (an execute's
 * command with TEMPLATE_SH, a prompt's message) and conditions checked
 * against the parameters declared (after them; in both lists and in
 * parallel groups). 0, or -1 refused.
 */
int		 workflow_params_read(struct wf_check *, struct json_object *def,
		    struct workflow *wf);
int		 workflow_params_check(struct wf_check *, struct workflow *wf);
void		 workflow_params_free(struct workflow *wf);
/* workflow-notify.c: the `notify` key's shape (channels: the API's). */
int		 workflow_notify_read(struct wf_check *, struct json_object *def,
		    struct workflow *wf);
void		 workflow_notify_free(struct workflow *wf);
/* Step o (an element of "steps" or of a group's) into st (step-parallel.c). */
int		 workflow_step_from_json(struct wf_check *, struct json_object *o,
		    struct step *st);
/* The plan entry of a step_index, or NULL out of range. */
const struct plan_entry *workflow_plan_at(const struct workflow *, int index);
/* The next top-level step_index after index (past a group's steps). */
int		 workflow_plan_next(const struct workflow *, int index);
const char	*plan_phase_name(enum plan_phase);
/*
 * step-workflow.c: a workflow step's `params` that pass the parent's own
 * value: a string that is exactly "{{ params.NAME }}" (spaces optional).
 * workflow_sub_ref() says whether s is one (1, and the NAME in *name,
 * *len bytes) or not (0); workflow_sub_check() refuses one whose NAME
 * the workflow does not declare (field params.KEY). 0, or -1 refused.
 */
int		 workflow_sub_ref(const char *s, const char **name, size_t *len);
int		 workflow_sub_check(struct wf_check *, const struct workflow *wf,
		    const struct step *st);
const char	*step_type_name(enum step_kind);

#endif
