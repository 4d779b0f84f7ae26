/*
 * Step types are a table (DESIGN.md section 9, as tmux's cmd_entry): each
 * type is one file, step-<name>.c, defining its struct step_type, and one
 * line of step_types[] in step.c. Adding a type: write step-<name>.c, add
 * its enum step_kind constant and its extern below, its line in step.c,
 * and the file to Makefile.am.
 *
 * workflow.c calls validate at save (and when an execution loads its
 * snapshot); the engine (engine.c) calls begin on a pending step whose
 * condition holds and poll on a running one. struct exec is the engine's
 * (engine-int.h): only the engine layer calls begin and poll.
 */
#ifndef PULSE_STEP_H
#define PULSE_STEP_H

#include <stddef.h>

#include "status.h"

struct db;
struct exec;
struct json_object;
struct step;
struct wf_check;

/* The types, in the order of step_types[] (step.c). */
enum step_kind {
	STEP_EXECUTE,
	STEP_PROMPT,
	STEP_WAIT,
	STEP_PARALLEL,
	STEP_WORKFLOW,
};

/* What poll says of a running step. */
struct step_poll {
	int	 due;		/* in: its wake_at has passed (wait) */
	enum step_status status; /* out: STEP_RUNNING: not yet, else
				 * how it ended */
	char	 reason[512];	/* out: why it failed, or "" */
};

struct step_type {
	const char		 *name;		/* the JSON "type" */
	const char		 *what;		/* " for a wait step" */
	const char *const	 *keys;		/* its own keys, NULL-ended */

	/*
	 * Check the type's own keys of step o into st (the common keys
	 * are workflow.c's); -1 with the error recorded through ck.
	 */
	int	(*validate)(struct wf_check *ck, struct json_object *o,
		    struct step *st);
	/*
	 * Start the current step, pending and its condition true. Returns
	 * -1 on a db error, else its status now (enum step_status):
	 * STEP_RUNNING (started: look again when a fact arrives),
	 * STEP_WAITING (on a person), STEP_SUCCEEDED (done at once) or
	 * STEP_FAILED (could not start; its reason is on its row).
	 */
	int	(*begin)(struct db *, struct exec *, const struct step *);
	/* Look at the current step, running: 0 and p, or -1. */
	int	(*poll)(struct db *, struct exec *, const struct step *,
		    struct step_poll *p);
};

extern const struct step_type step_execute;
extern const struct step_type step_prompt;
extern const struct step_type step_wait;
extern const struct step_type step_parallel;
extern const struct step_type step_workflow;

/* The type of an enum step_kind (NULL out of range), or of a name. */
const struct step_type	*step_type_of(int kind);
int			 step_type_find(const char *name);	/* or -1 */
/* "execute, prompt or wait": the names for a message, into buf. */
void			 step_type_names(char *buf, size_t len);

#endif
