/*
 * admit.c: refusing starts while PULSE is behind (issue 20). The pure
 * arithmetic is here, inline, so the unit test needs no request.
 */
#ifndef ADMIT_H
#define ADMIT_H

/* A pushd row older than this says nothing (sql/017_control_load.sql). */
#define ADMIT_FRESH_S		3
#define ADMIT_RETRY_MIN_S	1
#define ADMIT_RETRY_MAX_S	30

struct request;

/*
 * Before a start: 0 to go on; -1 once it answered 503 with Retry-After
 * because a pushd is more than PULSE_ADMIT_LAG_MS behind.
 */
int	admit_check(struct request *);

/*
 * Should a start be refused at this lag (ms; -1: not known) under this
 * threshold (0: never)? A backlog of lag_ms drains in about that long,
 * so the client is told to come back then: whole seconds, rounded up,
 * within ADMIT_RETRY_MIN_S..ADMIT_RETRY_MAX_S. 1 and *retry_s, else 0.
 */
static inline int
admit_refuse(long long lag_ms, long long threshold_ms, int *retry_s)
{
	long long	 s;

	if (threshold_ms <= 0 || lag_ms < 0 || lag_ms <= threshold_ms)
		return 0;
	s = lag_ms / 1000 + (lag_ms % 1000 != 0);
	if (s < ADMIT_RETRY_MIN_S)
		s = ADMIT_RETRY_MIN_S;
	if (s > ADMIT_RETRY_MAX_S)
		s = ADMIT_RETRY_MAX_S;
	*retry_s = (int)s;
	return 1;
}

#endif
