/*
 * The JSON view of executions, assembled from executions, execution_steps
 * and dispatches: what GET /api/executions/:id returns and what is stored
 * in executions.logs when an execution ends.
 */
#ifndef PULSE_REPORT_H
#define PULSE_REPORT_H

struct db;
struct json_object;

/*
 * The whole execution with steps, prompt and every dispatch's output.
 * Returns 0 and *out, 1 if there is no such execution, -1 on a db error.
 */
int	report_execution(struct db *, const char *id, struct json_object **out);

/* Only the steps array (for executions.logs). */
int	report_steps(struct db *, const char *id, struct json_object **out);

#endif
