/*
 * pulse-api: the REST API as a pool of single-threaded FastCGI
 * responders. One private header with a section per file (tmux.h).
 */
#ifndef PULSE_API_H
#define PULSE_API_H

#include <stddef.h>
#include <time.h>

#include <json-c/json.h>

#include "dispatch.h"
#include "id.h"
#include "pulse-limits.h"
#include "wkey.h"

struct config;
struct db;
struct FCGX_Request;

/* Route flags: what a route needs, checked once by the router. */
#define ROUTE_PUBLIC	0x01	/* no identity needed */
#define ROUTE_WORKER	0x02	/* X-API-Key instead of SSO identity */
#define ROUTE_ANY	0x04	/* any user with a role */
#define ROUTE_ADMIN	0x08	/* admins only */
#define ROUTE_BODY	0x10	/* a JSON object body, parsed into req->json */
#define ROUTE_BODY_OPT	0x20	/* ... or none: req->json is then {} */
/* An inbound hook (/hooks/...): no identity, ever; the handler checks
 * the body's signature itself. Valid only on a pattern under /hooks/. */
#define ROUTE_HOOK	0x40
#define ROUTE_HOOK_PREFIX "/hooks/"

enum role {
	ROLE_NONE = 0,
	ROLE_EMPLOYEE,
	ROLE_ADMIN,
};

struct user {
	char		 name[USER_NAME_MAX + 1];
	char		 display[USER_DISPLAY_MAX + 1];
	char		 email[USER_EMAIL_MAX + 1];
	char		*groups[USER_GROUPS_COUNT];	/* into groups_buf */
	size_t		 ngroups;
	char		 groups_buf[USER_GROUPS_MAX + 1];
	enum role	 role;
};

#define ROUTE_PARAMS_MAX 2

struct request {
	struct FCGX_Request	*fcgx;
	const struct config	*cfg;
	struct db		*db;

	const char		*method;
	char			 path[API_PATH_MAX + 1];	/* decoded, no query */
	const char		*query;		/* raw, may be "" */
	const char		*params[ROUTE_PARAMS_MAX]; /* :id segments */
	char			 paramsbuf[API_PATH_MAX + 1]; /* their bytes */
	char			*body;		/* NUL-terminated */
	size_t			 bodylen;
	struct json_object	*json;		/* ROUTE_BODY: the object */

	const struct route	*route;		/* the one taken, or NULL */
	struct user		 user;
	/* ROUTE_WORKER: who the key says it is (trust_check() decides). */
	int			 worker_shared;	/* the shared key */
	char			 worker_id[ID_LEN + 1]; /* X-Worker-Id, or "" */
	char			 worker_key_hash[WKEY_HASH_LEN + 1];
	char			*actor_groups;	/* api_actor()'s JSON, freed
						 * when the request ends */
	int			 replied;	/* a response was written */
	int			 status;	/* for the access log */
};

typedef int (*route_fn)(struct request *);

struct route {
	const char	*method;
	const char	*pattern;	/* "/api/workflows/:id" */
	route_fn	 fn;
	int		 flags;
};

/* dbjson.c: a result row as a JSON object, one entry per column. */
struct db_res;
enum dbjson_kind { DBJSON_STRING, DBJSON_INT, DBJSON_TIME, DBJSON_RAW };
struct dbjson_col {
	const char		*name;		/* NULL ends the table */
	enum dbjson_kind	 kind;
};
struct json_object *dbjson_row(const struct db_res *, size_t row,
	    const struct dbjson_col *);
struct jtext;
void	 dbjson_row_text(struct jtext *, const struct db_res *, size_t row,
	    const struct dbjson_col *);

/* api-audit.c: the audit row of a mutating route, written last in the
 * transaction of its change (common/audit.h). */
struct audit_actor;
void	 api_actor(struct request *, struct audit_actor *);
/* The caller as the engine checks a workflow's allowed_groups. */
struct engine_caller;
void	 api_caller(struct request *, struct engine_caller *);
int	 api_audit(struct request *, const char *action,
	    const char *target_type, const char *target_id,
	    struct json_object *details);
int	 audit_list(struct request *);
int	 audit_verify_get(struct request *);

/* api-channels.c: notification channels and deliveries (admins). */
struct wf_notify;
int	 channels_list(struct request *);
int	 channels_create(struct request *);
int	 channels_delete(struct request *);
int	 channels_test(struct request *);
int	 notifications_list(struct request *);
int	 notifications_retry(struct request *);
/* 400 naming notify[i].channel for a channel that does not exist; -1. */
int	 channels_check_rules(struct request *, const struct wf_notify *,
	    size_t n);

/* migrate.c: apply sql/NNN_*.sql files not yet in schema_migrations. */
int	 migrate_run(struct db *, const char *dir, char *err, size_t errlen);

/* master.c */
int	 master_run(const struct config *, int nchildren);

/* child.c: one FastCGI responder's loop. */
void	 child_main(const struct config *, int listen_fd)
	    __attribute__((noreturn));
struct db *child_db_new(const struct config *);

/* router.c */
extern const struct route routes[];
void	 router_dispatch(struct request *);

/* request.c */
const char *request_header(struct request *, const char *cgi_name);
int	 request_header_count(struct request *, const char *cgi_name);
int	 request_query_int(struct request *, const char *name, long long min,
	    long long max, long long dflt, long long *out);
int	 request_read_body(struct request *);
int	 request_query(struct request *, const char *name, char *buf,
	    size_t len);
void	 reply_json(struct request *, int status, struct json_object *);
void	 reply_json_headers(struct request *, int status, const char *extra,
	    struct json_object *);
void	 reply_json_text(struct request *, const char *text, size_t len);
void	 reply_error(struct request *, int status, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	 reply_error_obj(struct request *, int status,
	    struct json_object *err);
void	 reply_db_error(struct request *);

/* body.c: typed body fields; on a bad field they reply 400 and return -1. */
int	 body_string(struct request *, const char *key, size_t max,
	    int required, const char **out);
int	 body_name(struct request *, const char *key, size_t maxchars,
	    int required, const char **out);
int	 body_int(struct request *, const char *key, long long min,
	    long long max, long long dflt, long long *out);
int	 body_only(struct request *, const char *const *allowed);
int	 body_groups(struct request *, const char *key, int required,
	    struct json_object **out);
void	 reply_error_field(struct request *, int status, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* delete.c: the row named by req->params[0], announced in the same txn. */
struct delete_ctx {
	const char		*user;		/* who deletes */
	char			 refuse[256];	/* set: 409 with this */
	struct dispatch_ids	 advance;	/* executions to move after */
};
struct delete_ops {
	const char	*what;			/* "worker" */
	const char	*sql;			/* DELETE ... WHERE id = ? */
	/* Or, for a table another module owns, its delete (NULL: sql). */
	int		(*remove)(struct db *, const char *id, int *found);
	/* In the transaction, before the delete: -1 db error, else 0
	 * (delete_refuse() to answer 409 and change nothing). */
	int		(*before)(struct db *, const char *id,
			    struct delete_ctx *);
	int		(*announce)(struct db *, const char *id);
};
int	 delete_by_id(struct request *, const struct delete_ops *);
void	 delete_refuse(struct delete_ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* wfcache.c: the workflow list as JSON text, kept while the workflows'
 * tag (read_versions) is unchanged. */
#define WFLIST_TAG_MAX	64
enum wflist_start {
	WFLIST_ANYONE,		/* no allowed_groups */
	WFLIST_ADMINS,		/* allowed_groups unreadable: admins only */
	WFLIST_GROUPS,		/* admins and members of groups[] */
};
struct wflist_row {
	char			*text;	/* {...} without can_start and '}' */
	size_t			 len;
	enum wflist_start	 start;
	char			**groups;
	size_t			 ngroups;
};
struct wflist {
	char			 tag[WFLIST_TAG_MAX + 1];
	struct wflist_row	*rows;
	size_t			 n, cap;
	size_t			 bytes;
};
void	 wflist_add(struct wflist *, struct json_object *obj,
	    const char *def, size_t deflen);
char	*wflist_text(const struct wflist *, const struct user *,
	    size_t *len);
void	 wflist_clear(struct wflist *);
int	 wfcache_get(struct db *, const struct wflist **);
int	 wfcache_bump(struct db *);
const struct wflist *wfcache_keep(struct wflist *, const char *tag);

/* api-executions.c */
struct engine_err;
void	 reply_engine_error(struct request *, const struct engine_err *);

/* auth.c */
int	 auth_identify(struct request *);
int	 auth_worker_key(struct request *);
int	 auth_check_origin(struct request *);

/* api-health.c */
int	 health_get(struct request *);

/* api-metrics.c */
void	 api_metrics_init(void);
void	 api_metrics_count(const struct request *, long long us);
int	 metrics_get(struct request *);

/* api-openapi.c */
int	 openapi_get(struct request *);

/* api-user.c */
int	 user_get(struct request *);

/* api-workers.c */
int	 workers_list(struct request *);
int	 workers_heartbeat(struct request *);
int	 workers_delete(struct request *);
int	 workers_command(struct request *);
int	 workers_accept(struct request *);
int	 workers_revoke(struct request *);
int	 workers_rotate(struct request *);
int	 workers_groups(struct request *);
int	 workers_reply(struct request *, const char *id, int status);

/* api-enroll.c */
int	 tokens_create(struct request *);
int	 tokens_list(struct request *);
int	 tokens_revoke(struct request *);
int	 workers_enroll(struct request *);

/* api-workflows.c */
int	 workflows_list(struct request *);
int	 workflows_get(struct request *);
int	 workflows_create(struct request *);
int	 workflows_update(struct request *);
int	 workflows_delete(struct request *);

/*
 * api-subflows.c: wf's workflow steps against the stored workflows (the
 * child exists, its literal params resolve, no cycle back to self_id, NULL
 * for a new one, no chain deeper than PULSE_SUBWORKFLOW_DEPTH_MAX). 0, or
 * -1 replied (400 naming the step and field).
 */
struct workflow;
int	 workflows_check_subs(struct request *, const struct workflow *wf,
	    const char *self_id, const char *self_name);

/* api-versions.c: the numbered versions every save of a workflow keeps. */
int	 versions_add(struct db *, const char *workflow_id, long long version,
	    const char *name, const char *description, const char *def,
	    size_t deflen, const char *user);
int	 versions_list(struct request *);
int	 versions_get(struct request *);

/* api-schedules.c: SPEC section 16; pushd fires them. */
int	 schedules_list(struct request *);
int	 schedules_get(struct request *);
int	 schedules_create(struct request *);
int	 schedules_update(struct request *);
int	 schedules_delete(struct request *);
int	 schedules_preview(struct request *);
int	 schedules_preview_new(struct request *);
/* In the transaction deleting a workflow, before its row goes: its
 * schedules disabled, saying why. 0 or -1 (db error). */
int	 schedules_workflow_deleted(struct db *, const char *workflow_id);

/* api-executions.c */
int	 executions_list(struct request *);
int	 executions_get(struct request *);
int	 executions_start(struct request *);
int	 executions_respond(struct request *);
int	 executions_cancel(struct request *);
int	 executions_reply(struct request *, const char *id, int status);
/* api-approve.c */
int	 executions_approve(struct request *);
void	 executions_advance(struct request *, struct dispatch_ids *);

/* api-output.c */
int	 executions_output(struct request *);

/* api-triggers.c: the admin's side of inbound triggers. */
int	 triggers_list(struct request *);
int	 triggers_get(struct request *);
int	 triggers_create(struct request *);
int	 triggers_update(struct request *);
int	 triggers_rotate(struct request *);
int	 triggers_delete(struct request *);
int	 triggers_deliveries(struct request *);

/* api-hooks.c: POST /hooks/:id, signed by the trigger's secret. */
int	 hooks_post(struct request *);

/* api-diff.c */
int	 executions_diff(struct request *);

#endif
