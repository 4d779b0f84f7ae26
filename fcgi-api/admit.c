/*
 * Admission of starts (issue 20): while a pushd is more than
 * PULSE_ADMIT_LAG_MS behind on work it could do (pushd/dbt-load.c
 * publishes it), POST /api/executions is answered 503 with Retry-After
 * before anything is read or written, so a backlog cannot grow without
 * bound and the starts that are taken still finish in time. A lag that
 * is not known (no fresh row: no pushd, or one that died) admits: a
 * dead pushd is the durability guarantees' business, not this one's.
 */
#include <json-c/json.h>

#include <stdio.h>

#include "admit.h"
#include "api.h"
#include "config.h"
#include "db.h"
#include "log.h"

#define ADMIT_STR_(x)	#x
#define ADMIT_STR(x)	ADMIT_STR_(x)

/* One row per pushd, a handful at most; by the updated_at index. */
static const char sql_lag[] =
    "SELECT COALESCE(MAX(lag_ms), -1) FROM control_load "
    "WHERE updated_at >= NOW(3) - INTERVAL " ADMIT_STR(ADMIT_FRESH_S)
    " SECOND";

/* The highest fresh lag in ms, -1 when none is known. */
static long long
admit_lag(struct request *req)
{
	static struct log_every	 warned;	/* this child's, not a request's */
	struct db_res		*r;
	long long		 lag;
	unsigned		 quiet;

	if (db_exec(req->db, sql_lag, &r, "") == -1) {
		/* Not a reason to refuse: the start says what is wrong. */
		if (log_every(&warned, 60, &quiet))
			log_warnx("admission: reading the lag: %s (%u more "
			    "not logged)", db_errmsg(req->db), quiet);
		return -1;
	}
	lag = db_res_int(r, 0, 0, -1);
	db_res_free(r);
	return lag;
}

int
admit_check(struct request *req)
{
	struct json_object	*o;
	long long		 lag;
	int			 retry_s;
	char			 hdr[32], msg[128];

	if (req->cfg->admit_lag_ms <= 0)
		return 0;
	lag = admit_lag(req);
	if (!admit_refuse(lag, req->cfg->admit_lag_ms, &retry_s))
		return 0;
	snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", retry_s);
	snprintf(msg, sizeof(msg), "PULSE is %lld ms behind; retry after "
	    "%d s", lag, retry_s);
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(msg));
	reply_json_headers(req, 503, hdr, o);
	return -1;
}
