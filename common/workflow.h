/*
 * Workflow definitions (SPEC.md section 5): one function turns untrusted
 * JSON into a checked struct before any other code sees it.
 */
#ifndef PULSE_WORKFLOW_H
#define PULSE_WORKFLOW_H

#include <stddef.h>

#include "retry.h"
#include "step.h"
#include "wfcheck.h"

struct json_object;
struct cond;

/* enum step_kind and the step types: step.h. */

struct step {
	enum step_kind	  type;
	char		 *name;
	char		**targets;	/* execute */
	size_t		  ntargets;
	char		 *command;	/* execute */
	long long	  timeout_ms;	/* execute; WF_TIMEOUT_DEFAULT if absent */
	struct retry	  retry;	/* execute; attempts 0: none */
	int		  retry_lost;	/* execute: a lost attempt is retried */
	char		 *message;	/* prompt */
	char		**options;	/* prompt */
	size_t		  noptions;
	long long	  duration_ms;	/* wait */
	char		 *condition;	/* source, or NULL */
	struct cond	 *cond;		/* parsed condition, or NULL */
};

struct workflow {
	struct step	*steps;
	size_t		 nsteps;
};

/* struct workflow_error: wfcheck.h. */

int		 workflow_from_json(struct json_object *definition,
		    struct workflow **out, struct workflow_error *err);
void		 workflow_free(struct workflow *);
const char	*step_type_name(enum step_kind);

#endif
