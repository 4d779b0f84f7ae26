/*
 * The route table and the checks every route shares. A route's flags say
 * what it needs (an identity, a role, a JSON object body); the router
 * enforces them once, in one order, so a handler starts with valid,
 * authorised input and only has to do its own job.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "log.h"
#include "pjson.h"

#define ROUTER_ALLOW_MAX	128	/* the Allow header's value */

/*
 * Audit (SPEC section 13): every mutating route below writes exactly one
 * audit_log row in the transaction of its change, and none when it fails
 * (tests/integration/test_audit.py holds one entry per such route and
 * fails for a route it does not know). The one exception is the
 * heartbeat: a worker's routine beat every few seconds is not a change
 * anyone decided, so only the beat that creates a worker writes a row
 * (worker.enroll); the rest would drown the trail. POST
 * /api/schedules/preview is a POST for its body only and changes nothing.
 */
const struct route routes[] = {
	{ "GET",	"/health",		health_get,	ROUTE_PUBLIC },
	{ "GET",	"/metrics/api",		metrics_get,	ROUTE_PUBLIC },
	{ "GET",	"/api/user",		user_get,	ROUTE_ANY },
	{ "GET",	"/api/openapi.json",	openapi_get,	ROUTE_ANY },
	{ "GET",	"/api/workers",		workers_list,	ROUTE_ANY },
	{ "POST",	"/api/workers/heartbeat", workers_heartbeat,
	    ROUTE_WORKER | ROUTE_BODY },
	{ "POST",	"/api/workers/enroll",	workers_enroll,
	    ROUTE_PUBLIC | ROUTE_BODY },
	{ "DELETE",	"/api/workers/:id",	workers_delete,	ROUTE_ADMIN },
	{ "POST",	"/api/workers/:id/command", workers_command,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "POST",	"/api/workers/:id/accept", workers_accept,
	    ROUTE_ADMIN | ROUTE_BODY_OPT },
	{ "POST",	"/api/workers/:id/revoke", workers_revoke,
	    ROUTE_ADMIN },
	{ "POST",	"/api/workers/:id/rotate", workers_rotate,
	    ROUTE_ADMIN },
	{ "PUT",	"/api/workers/:id/groups", workers_groups,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "GET",	"/api/enrollment-tokens", tokens_list,	ROUTE_ADMIN },
	{ "POST",	"/api/enrollment-tokens", tokens_create,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "DELETE",	"/api/enrollment-tokens/:id", tokens_revoke,
	    ROUTE_ADMIN },
	{ "GET",	"/api/workflows",	workflows_list,	ROUTE_ANY },
	{ "POST",	"/api/workflows",	workflows_create,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "GET",	"/api/workflows/:id",	workflows_get,	ROUTE_ANY },
	{ "GET",	"/api/workflows/:id/versions", versions_list,
	    ROUTE_ANY },
	{ "GET",	"/api/workflows/:id/versions/:n", versions_get,
	    ROUTE_ANY },
	{ "PUT",	"/api/workflows/:id",	workflows_update,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "DELETE",	"/api/workflows/:id",	workflows_delete, ROUTE_ADMIN },
	{ "GET",	"/api/executions",	executions_list, ROUTE_ANY },
	{ "POST",	"/api/executions",	executions_start,
	    ROUTE_ANY | ROUTE_BODY },
	{ "GET",	"/api/executions/:id",	executions_get,	ROUTE_ANY },
	{ "GET",	"/api/executions/:id/output", executions_output,
	    ROUTE_ANY },
	{ "GET",	"/api/executions/:a/diff/:b", executions_diff, ROUTE_ANY },
	{ "POST",	"/api/executions/:id/respond", executions_respond,
	    ROUTE_ANY | ROUTE_BODY },
	{ "POST",	"/api/executions/:id/cancel", executions_cancel,
	    ROUTE_ANY },
	{ "POST",	"/api/executions/:id/approve", executions_approve,
	    ROUTE_ANY | ROUTE_BODY },
	{ "GET",	"/api/channels",	channels_list,	ROUTE_ADMIN },
	{ "POST",	"/api/channels",	channels_create,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "DELETE",	"/api/channels/:id",	channels_delete, ROUTE_ADMIN },
	{ "POST",	"/api/channels/:id/test", channels_test, ROUTE_ADMIN },
	{ "GET",	"/api/notifications",	notifications_list, ROUTE_ADMIN },
	{ "POST",	"/api/notifications/:id/retry", notifications_retry,
	    ROUTE_ADMIN },
	{ "GET",	"/api/triggers",	triggers_list,	ROUTE_ADMIN },
	{ "POST",	"/api/triggers",	triggers_create,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "GET",	"/api/triggers/:id",	triggers_get,	ROUTE_ADMIN },
	{ "PUT",	"/api/triggers/:id",	triggers_update,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "DELETE",	"/api/triggers/:id",	triggers_delete, ROUTE_ADMIN },
	{ "POST",	"/api/triggers/:id/rotate", triggers_rotate,
	    ROUTE_ADMIN },
	{ "GET",	"/api/triggers/:id/deliveries", triggers_deliveries,
	    ROUTE_ADMIN },
	{ "POST",	"/hooks/:id",		hooks_post,	ROUTE_HOOK },
	{ "GET",	"/api/schedules",	schedules_list,	ROUTE_ANY },
	{ "POST",	"/api/schedules",	schedules_create,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "POST",	"/api/schedules/preview", schedules_preview_new,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "GET",	"/api/schedules/:id",	schedules_get,	ROUTE_ANY },
	{ "PUT",	"/api/schedules/:id",	schedules_update,
	    ROUTE_ADMIN | ROUTE_BODY },
	{ "DELETE",	"/api/schedules/:id",	schedules_delete, ROUTE_ADMIN },
	{ "GET",	"/api/schedules/:id/preview", schedules_preview,
	    ROUTE_ANY },
	{ "GET",	"/api/audit",		audit_list,	ROUTE_ADMIN },
	{ "GET",	"/api/audit/verify",	audit_verify_get, ROUTE_ADMIN },
	{ NULL,		NULL,			NULL,		0 }
};

/*
 * Match path against pattern; ":name" takes one non-empty segment, so a
 * trailing slash or an empty id never matches. With req, the captured
 * segments are copied, NUL-terminated, into req->paramsbuf.
 */
static int
router_match(const char *pattern, const char *path, struct request *req)
{
	const char	*p = pattern, *s = path;
	const char	*cap[ROUTE_PARAMS_MAX];
	size_t		 caplen[ROUTE_PARAMS_MAX], ncap = 0, i, off = 0, n;

	while (*p != '\0' && *s != '\0') {
		if (*p == ':') {
			n = strcspn(s, "/");
			if (n == 0 || ncap == ROUTE_PARAMS_MAX)
				return 0;
			cap[ncap] = s;
			caplen[ncap++] = n;
			s += n;
			p += strcspn(p, "/");
			continue;
		}
		if (*p++ != *s++)
			return 0;
	}
	if (*p != '\0' || *s != '\0')
		return 0;
	if (req == NULL)
		return 1;
	/* The segments and their NULs fit: each had a '/' before it. */
	for (i = 0; i < ncap; i++) {
		memcpy(req->paramsbuf + off, cap[i], caplen[i]);
		req->paramsbuf[off + caplen[i]] = '\0';
		req->params[i] = req->paramsbuf + off;
		off += caplen[i] + 1;
	}
	return 1;
}

/* The path exists but not with this method: say which methods it has. */
static void
router_405(struct request *req)
{
	const struct route	*rt, *prev;
	struct json_object	*obj, *allowed;
	char			 methods[ROUTER_ALLOW_MAX];
	char			 hdr[ROUTER_ALLOW_MAX + 16];
	size_t			 len = 0;
	int			 n;

	allowed = json_object_new_array();
	methods[0] = '\0';
	for (rt = routes; rt->method != NULL; rt++) {
		if (!router_match(rt->pattern, req->path, NULL))
			continue;
		for (prev = routes; prev != rt; prev++)
			if (strcmp(prev->method, rt->method) == 0 &&
			    router_match(prev->pattern, req->path, NULL))
				break;
		if (prev != rt)
			continue;	/* listed already */
		json_object_array_add(allowed,
		    json_object_new_string(rt->method));
		n = snprintf(methods + len, sizeof(methods) - len, "%s%s",
		    len > 0 ? ", " : "", rt->method);
		if (n < 0 || (size_t)n >= sizeof(methods) - len)
			break;	/* cannot happen with this table */
		len += (size_t)n;
	}
	snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", methods);

	obj = json_object_new_object();
	json_object_object_add(obj, "error",
	    json_object_new_string("method not allowed"));
	json_object_object_add(obj, "allowed", allowed);
	reply_json_headers(req, 405, hdr, obj);
}

static int
router_mutating(const char *method)
{
	return strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
	    strcmp(method, "DELETE") == 0 || strcmp(method, "PATCH") == 0;
}

/* application/json, any case, optionally with parameters (charset). */
static int
router_is_json(const char *ct)
{
	static const char	 want[] = "application/json";

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, sizeof(want) - 1) != 0)
		return 0;
	ct += sizeof(want) - 1;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Content-Type, size, syntax and shape of a JSON object body; with
 * optional, no body at all reads as {}. */
static int
router_body(struct request *req, int optional)
{
	char	 err[256];

	if (!router_is_json(request_header(req, "CONTENT_TYPE"))) {
		reply_error(req, 415, "Content-Type must be application/json");
		return -1;
	}
	if (request_read_body(req) == -1)
		return -1;
	if (req->bodylen == 0 && optional) {
		req->json = json_object_new_object();
		return 0;
	}
	if (req->bodylen == 0) {
		reply_error(req, 400, "request body required");
		return -1;
	}
	req->json = pjson_parse(req->body, req->bodylen, API_JSON_DEPTH, err,
	    sizeof(err));
	if (req->json == NULL) {
		reply_error(req, 400, "invalid JSON: %s", err);
		return -1;
	}
	if (!json_object_is_type(req->json, json_type_object)) {
		reply_error(req, 400, "request body must be a JSON object");
		return -1;
	}
	return 0;
}

/* Everything a route's flags ask for, in the order that leaks least. */
/*
 * A hook takes no identity and no role: whoever holds the trigger's
 * secret may call it, and nothing else it sends counts. nginx blanks the
 * Remote-* headers on /hooks/ (pulse-locations.conf); one that arrives
 * anyway means a route to pulse-api that skipped that location, and is
 * refused rather than trusted or silently dropped. The flag means
 * nothing outside /hooks/, so it cannot open another path.
 */
static int
router_hook(struct request *req, const struct route *rt)
{
	static const char *const ids[] = { "HTTP_REMOTE_USER",
	    "HTTP_REMOTE_GROUPS", "HTTP_REMOTE_NAME", "HTTP_REMOTE_EMAIL",
	    NULL };
	const char *const	*p;
	const char		*v;

	if (strncmp(rt->pattern, ROUTE_HOOK_PREFIX,
	    sizeof(ROUTE_HOOK_PREFIX) - 1) != 0 ||
	    (rt->flags & ~ROUTE_HOOK) != 0) {
		log_warnx("route %s %s: ROUTE_HOOK outside %s", rt->method,
		    rt->pattern, ROUTE_HOOK_PREFIX);
		reply_error(req, 500, "internal error");
		return -1;
	}
	for (p = ids; *p != NULL; p++)
		if ((v = request_header(req, *p)) != NULL && *v != '\0') {
			reply_error(req, 400, "a hook takes no identity "
			    "headers");
			return -1;
		}
	return 0;
}

static int
router_check(struct request *req, const struct route *rt)
{
	if (rt->flags & ROUTE_HOOK)
		return router_hook(req, rt);
	if (rt->flags & ROUTE_WORKER) {
		if (auth_worker_key(req) == -1)
			return -1;
	} else if (!(rt->flags & ROUTE_PUBLIC)) {
		if (auth_identify(req) == -1)
			return -1;
	}
	if ((rt->flags & ROUTE_ADMIN) && req->user.role != ROLE_ADMIN) {
		reply_error(req, 403, "admin role required");
		return -1;
	}
	if (router_mutating(req->method) && !(rt->flags & ROUTE_WORKER) &&
	    auth_check_origin(req) == -1)
		return -1;
	if ((rt->flags & (ROUTE_BODY | ROUTE_BODY_OPT)) &&
	    router_body(req, !(rt->flags & ROUTE_BODY)) == -1)
		return -1;
	/*
	 * A bodiless POST (cancel) still needs the JSON type: an HTML form
	 * on another site cannot send it without a CORS preflight, which
	 * we never answer.
	 */
	if (!(rt->flags & (ROUTE_BODY | ROUTE_BODY_OPT)) &&
	    strcmp(req->method, "DELETE") != 0 &&
	    router_mutating(req->method) &&
	    !router_is_json(request_header(req, "CONTENT_TYPE"))) {
		reply_error(req, 415, "Content-Type must be application/json");
		return -1;
	}
	return 0;
}

void
router_dispatch(struct request *req)
{
	const struct route	*rt;
	int			 path_known = 0;

	for (rt = routes; rt->method != NULL; rt++) {
		if (!router_match(rt->pattern, req->path, NULL))
			continue;
		path_known = 1;
		if (strcmp(rt->method, req->method) == 0)
			break;
	}
	if (rt->method == NULL) {
		if (path_known)
			router_405(req);
		else
			reply_error(req, 404, "not found");
		return;
	}
	router_match(rt->pattern, req->path, req);
	req->route = rt;
	if (router_check(req, rt) == -1)
		return;
	/* The child answers 500 for a handler that did not reply. */
	(void)rt->fn(req);
}
