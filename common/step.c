/*
 * The table of step types (step.h): one line per type, in the order of
 * enum step_kind (step.h).
 */
#include <stdio.h>
#include <string.h>

#include "step.h"

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static const struct step_type *const step_types[] = {
	[STEP_EXECUTE] = &step_execute,
	[STEP_PROMPT] = &step_prompt,
	[STEP_WAIT] = &step_wait,
	[STEP_PARALLEL] = &step_parallel,
	[STEP_WORKFLOW] = &step_workflow,
};

const struct step_type *
step_type_of(int kind)
{
	if (kind < 0 || (size_t)kind >= NITEMS(step_types))
		return NULL;
	return step_types[kind];
}

int
step_type_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < NITEMS(step_types); i++)
		if (step_types[i] != NULL && strcmp(step_types[i]->name,
		    name) == 0)
			return (int)i;
	return -1;
}

void
step_type_names(char *buf, size_t len)
{
	size_t	 i, o = 0, n = NITEMS(step_types);

	buf[0] = '\0';
	for (i = 0; i < n && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ",
		    step_types[i]->name);
}
