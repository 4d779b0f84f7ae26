/*
 * The audit trail over HTTP: who a request's audit row names, the row
 * every mutating route writes in its own transaction (api_audit), and
 * the two admin routes that read it, GET /api/audit (filters, paging by
 * id) and GET /api/audit/verify (the chain recomputed).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "engine.h"
#include "audit.h"
#include "db.h"
#include "pjson.h"
#include "xmalloc.h"

#define AUDIT_LIMIT_DEFAULT	50
#define AUDIT_LIMIT_MAX		500
#define AUDIT_ACTOR_MAX		(USER_NAME_MAX + 16)	/* worker:NAME */
#define AUDIT_ACTION_MAX	64
#define AUDIT_TARGET_MAX	UTF8_BYTES(NAME_CHARS)

/*
 * One statement for every mix of filters: MariaDB plans a prepared
 * statement at each execution with its values, so "? IS NULL OR ..."
 * with a NULL folds away and the filter that is given picks its index.
 */
static const char sql_page[] =
    "SELECT id, at, actor, actor_groups, client_addr, action, target_type, "
    "target_id, details, prev_hash, hash FROM audit_log "
    "WHERE id < ? AND (? IS NULL OR actor = ?) AND (? IS NULL OR action = ?) "
    "AND (? IS NULL OR target_id = ?) ORDER BY id DESC LIMIT ?";

void
api_actor(struct request *req, struct audit_actor *who)
{
	struct json_object	*g;
	size_t			 i;

	if (req->actor_groups == NULL && req->user.name[0] != '\0') {
		g = json_object_new_array_ext((int)req->user.ngroups);
		for (i = 0; i < req->user.ngroups; i++)
			json_object_array_add(g,
			    json_object_new_string(req->user.groups[i]));
		req->actor_groups = xstrdup(pjson_str(g, NULL));
		json_object_put(g);
	}
	who->name = req->user.name[0] != '\0' ? req->user.name : "system";
	who->groups = req->actor_groups;
	/* nginx's $remote_addr, the TCP peer (nginx/fastcgi-params.conf):
	 * never a header the client can write. */
	who->client_addr = request_header(req, "REMOTE_ADDR");
}

void
api_caller(struct request *req, struct engine_caller *who)
{
	who->groups = (const char *const *)req->user.groups;
	who->ngroups = req->user.ngroups;
	who->admin = req->user.role == ROLE_ADMIN;
}

int
api_audit(struct request *req, const char *action, const char *target_type,
    const char *target_id, struct json_object *details)
{
	struct audit_actor	 who;

	api_actor(req, &who);
	return audit_append(req->db, &who, action, target_type, target_id,
	    details);
}

/* JSON the server wrote in canonical form is embedded as stored. */
static const struct dbjson_col entry_cols[] = {
	{ "id", DBJSON_INT }, { "at", DBJSON_TIME }, { "actor", DBJSON_STRING },
	{ "actor_groups", DBJSON_RAW }, { "client_addr", DBJSON_STRING },
	{ "action", DBJSON_STRING }, { "target_type", DBJSON_STRING },
	{ "target_id", DBJSON_STRING }, { "details", DBJSON_RAW },
	{ "prev_hash", DBJSON_STRING }, { "hash", DBJSON_STRING },
	{ NULL, DBJSON_STRING }
};

/* ?name= as text of at most len - 1 bytes: 0 (NULL when absent), or -1
 * after a 400 naming it. An empty value is no filter. */
static int
query_text(struct request *req, const char *name, char *buf, size_t len,
    const char **out)
{
	int	 rc = request_query(req, name, buf, len);

	*out = NULL;
	if (rc == -1) {
		reply_error_field(req, 400, name, "%s must be at most %zu "
		    "bytes of valid percent-encoding", name, len - 1);
		return -1;
	}
	if (rc == 1 && buf[0] != '\0')
		*out = buf;
	return 0;
}

int
audit_list(struct request *req)
{
	static const char *const known[] = { "actor", "action", "target",
	    "before", "limit", NULL };
	char			 actor[AUDIT_ACTOR_MAX + 1],
				 action[AUDIT_ACTION_MAX + 1],
				 target[AUDIT_TARGET_MAX + 1], key[16];
	const char		*a, *ac, *t, *p, *amp;
	long long		 before, limit;
	struct db_res		*res;
	struct json_object	*o, *arr;
	size_t			 i, n, k;

	/* An unknown parameter is a typo that would silently list all. */
	for (p = req->query; *p != '\0'; p = *amp ? amp + 1 : amp) {
		amp = p + strcspn(p, "&");
		n = strcspn(p, "=&");
		for (k = 0; known[k] != NULL; k++)
			if (strlen(known[k]) == n &&
			    strncmp(known[k], p, n) == 0)
				break;
		if (known[k] == NULL && n > 0) {
			snprintf(key, sizeof(key), "%.*s", (int)(n < 15 ? n :
			    15), p);
			reply_error_field(req, 400, key, "unknown parameter "
			    "'%s' (actor, action, target, before, limit)",
			    key);
			return 0;
		}
	}
	if (query_text(req, "actor", actor, sizeof(actor), &a) == -1 ||
	    query_text(req, "action", action, sizeof(action), &ac) == -1 ||
	    query_text(req, "target", target, sizeof(target), &t) == -1 ||
	    request_query_int(req, "before", 1, LLONG_MAX, LLONG_MAX,
	    &before) == -1 ||
	    request_query_int(req, "limit", 1, AUDIT_LIMIT_MAX,
	    AUDIT_LIMIT_DEFAULT, &limit) == -1)
		return 0;
	if (db_exec(req->db, sql_page, &res, "issssssi", before, a, a, ac,
	    ac, t, t, limit) == -1) {
		reply_db_error(req);
		return 0;
	}
	n = db_res_rows(res);
	arr = json_object_new_array_ext((int)n);
	for (i = 0; i < n; i++)
		json_object_array_add(arr, dbjson_row(res, i, entry_cols));
	o = json_object_new_object();
	json_object_object_add(o, "entries", arr);
	/* A full page may have more behind it: the cursor for the next. */
	json_object_object_add(o, "next_before", (long long)n == limit ?
	    json_object_new_int64(db_res_int(res, n - 1, 0, 0)) : NULL);
	db_res_free(res);
	reply_json(req, 200, o);
	return 0;
}

int
audit_verify_get(struct request *req)
{
	struct audit_verify	 v;
	struct json_object	*o;

	if (audit_verify(req->db, &v) == -1) {
		reply_db_error(req);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(
	    v.first_bad_id == 0));
	json_object_object_add(o, "rows", json_object_new_int64(v.rows));
	if (v.first_bad_id != 0) {
		json_object_object_add(o, "first_bad_id",
		    json_object_new_int64(v.first_bad_id));
		json_object_object_add(o, "reason",
		    json_object_new_string(v.reason));
	}
	reply_json(req, 200, o);
	return 0;
}
