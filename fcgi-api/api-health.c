/*
 * GET /health: whether this pulse-api child can reach the database, for
 * load balancers, the deploy script's post-deploy check and monitoring.
 * Public, cheap, and never an error page: 503 says "degraded".
 */
#include <stdio.h>
#include <time.h>

#include "pulse-autoconf.h"

#include "api.h"
#include "db.h"

/* ISO-8601 UTC with milliseconds, as the seed's Date.toISOString(). */
static void
health_timestamp(char *buf, size_t len)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", base,
	    (unsigned)(ts.tv_nsec / 1000000) % 1000);
}

int
health_get(struct request *req)
{
	struct json_object	*obj;
	char			 ts[40];
	int			 up;

	up = db_ping(req->db) == 0;
	health_timestamp(ts, sizeof(ts));
	obj = json_object_new_object();
	json_object_object_add(obj, "status",
	    json_object_new_string(up ? "ok" : "degraded"));
	json_object_object_add(obj, "timestamp", json_object_new_string(ts));
	json_object_object_add(obj, "database",
	    json_object_new_string(up ? "connected" : "disconnected"));
	json_object_object_add(obj, "auth",
	    json_object_new_string("authelia-sso"));
	/* Which build answers: the deploy hook checks it after a switch. */
	json_object_object_add(obj, "version",
	    json_object_new_string(PACKAGE_VERSION));
	json_object_object_add(obj, "revision",
	    json_object_new_string(PULSE_REVISION));
	reply_json(req, up ? 200 : 503, obj);
	return 0;
}
