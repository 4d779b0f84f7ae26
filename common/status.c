/*
 * The status name tables (status.h). The strings are the stored ones
 * (sql/002_engine.sql): changing one here changes what old rows mean.
 */
#include <stddef.h>
#include <string.h>

#include "status.h"

static const char *const exec_names[EXEC_STATUS_COUNT] = {
	[EXEC_RUNNING] = "running",
	[EXEC_WAITING] = "waiting",
	[EXEC_COMPLETED] = "completed",
	[EXEC_FAILED] = "failed",
	[EXEC_CANCELLED] = "cancelled",
	[EXEC_AWAITING_APPROVAL] = "awaiting_approval",
	[EXEC_REJECTED] = "rejected",
	[EXEC_EXPIRED] = "expired",
};

static const char *const step_names[STEP_STATUS_COUNT] = {
	[STEP_PENDING] = "pending",
	[STEP_RUNNING] = "running",
	[STEP_WAITING] = "waiting",
	[STEP_SUCCEEDED] = "succeeded",
	[STEP_FAILED] = "failed",
	[STEP_SKIPPED] = "skipped",
	[STEP_CANCELLED] = "cancelled",
};

static const char *const dispatch_names[DISP_STATUS_COUNT] = {
	[DISP_QUEUED] = "queued",
	[DISP_SENT] = "sent",
	[DISP_RUNNING] = "running",
	[DISP_SUCCEEDED] = "succeeded",
	[DISP_FAILED] = "failed",
	[DISP_TIMED_OUT] = "timed_out",
	[DISP_LOST] = "lost",
	[DISP_CANCELLED] = "cancelled",
	[DISP_REFUSED] = "refused",
	[DISP_SKIPPED] = "skipped",
};

static const char *
name_of(const char *const *names, int n, int v)
{
	return v >= 0 && v < n ? names[v] : "unknown";
}

static int
index_of(const char *const *names, int n, const char *s)
{
	int	 i;

	if (s == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *
exec_status_name(enum exec_status v)
{
	return name_of(exec_names, EXEC_STATUS_COUNT, (int)v);
}

int
exec_status_from(const char *s, enum exec_status *out)
{
	int	 i = index_of(exec_names, EXEC_STATUS_COUNT, s);

	if (i == -1)
		return -1;
	*out = (enum exec_status)i;
	return 0;
}

const char *
step_status_name(enum step_status v)
{
	return name_of(step_names, STEP_STATUS_COUNT, (int)v);
}

int
step_status_from(const char *s, enum step_status *out)
{
	int	 i = index_of(step_names, STEP_STATUS_COUNT, s);

	if (i == -1)
		return -1;
	*out = (enum step_status)i;
	return 0;
}

const char *
dispatch_status_name(enum dispatch_status v)
{
	return name_of(dispatch_names, DISP_STATUS_COUNT, (int)v);
}

int
dispatch_status_from(const char *s, enum dispatch_status *out)
{
	int	 i = index_of(dispatch_names, DISP_STATUS_COUNT, s);

	if (i == -1)
		return -1;
	*out = (enum dispatch_status)i;
	return 0;
}

int
dispatch_status_final(enum dispatch_status v)
{
	switch (v) {
	case DISP_QUEUED:
	case DISP_SENT:
	case DISP_RUNNING:
		return 0;
	default:
		return 1;
	}
}

int
exec_status_ended(enum exec_status v)
{
	switch (v) {
	case EXEC_COMPLETED:
	case EXEC_FAILED:
	case EXEC_CANCELLED:
	case EXEC_REJECTED:
	case EXEC_EXPIRED:
		return 1;
	default:
		return 0;
	}
}
