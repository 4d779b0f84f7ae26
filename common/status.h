/*
 * The statuses of executions, steps and dispatches (DESIGN.md section 9):
 * code compares enums; SQL and JSON keep the strings, and this file's one
 * name table per kind is the only place a status is spelled out for C.
 */
#ifndef PULSE_STATUS_H
#define PULSE_STATUS_H

enum exec_status {
	EXEC_RUNNING,
	EXEC_WAITING,		/* on a prompt */
	EXEC_COMPLETED,
	EXEC_FAILED,
	EXEC_CANCELLED,
	EXEC_AWAITING_APPROVAL,	/* its plan frozen, nothing runs (SPEC 15) */
	EXEC_REJECTED,		/* an approver said no: ended */
	EXEC_EXPIRED,		/* its approval's deadline passed: ended */
	EXEC_STATUS_COUNT
};

enum step_status {
	STEP_PENDING,
	STEP_RUNNING,
	STEP_WAITING,		/* a prompt */
	STEP_SUCCEEDED,
	STEP_FAILED,
	STEP_SKIPPED,
	STEP_CANCELLED,
	STEP_STATUS_COUNT
};

enum dispatch_status {
	DISP_QUEUED,
	DISP_SENT,
	DISP_RUNNING,
	DISP_SUCCEEDED,
	DISP_FAILED,
	DISP_TIMED_OUT,
	DISP_LOST,
	DISP_CANCELLED,
	DISP_REFUSED,		/* by the worker's allow-list */
	DISP_SKIPPED,		/* a batch stopped (issue 14) */
	DISP_STATUS_COUNT
};

/*
 * name: the string stored and shown ("unknown" for a value out of range).
 * from: the enum of a stored string; -1 (and *out untouched) for NULL or a
 * string that is none of them.
 */
const char	*exec_status_name(enum exec_status);
int		 exec_status_from(const char *, enum exec_status *out);
const char	*step_status_name(enum step_status);
int		 step_status_from(const char *, enum step_status *out);
const char	*dispatch_status_name(enum dispatch_status);
int		 dispatch_status_from(const char *, enum dispatch_status *out);

/* An execution in one of these has ended (completed_at set). */
int		 exec_status_ended(enum exec_status);

/* A dispatch in one of these ends no more: not queued, sent or running. */
int		 dispatch_status_final(enum dispatch_status);

#endif
