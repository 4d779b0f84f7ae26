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

/*
 * The same with a view: REPORT_VIEW_FULL is report_execution's;
 * REPORT_VIEW_GROUPS (?view=groups, SPEC section 17) leaves out every
 * execute step's dispatches (dispatch_count instead) and logs, so a step
 * on 1,000 workers is its groups and one sample each.
 */
#define REPORT_VIEW_FULL	0
#define REPORT_VIEW_GROUPS	1
int	report_execution_view(struct db *, const char *id, int view,
	    struct json_object **out);

/* Only the steps array (for executions.logs). */
int	report_steps(struct db *, const char *id, struct json_object **out);

/*
 * A stream's text for a view: at most cap of its n bytes at p, cut before
 * a UTF-8 character rather than inside one; *more says it holds less. p
 * needs min(n, cap + 1) bytes.
 */
struct json_object *report_text(const char *p, size_t n, size_t cap,
	    int *more);

/* report-groups.c */
/*
 * Each execute step of steps (as report_execution builds it) gains
 * `groups` and `groups_omitted`; with REPORT_VIEW_GROUPS `dispatch_count`
 * too. 0, or -1 on a db error.
 */
int	report_groups_add(struct db *, const char *execution_id,
	    struct json_object *steps, int view);

#endif
