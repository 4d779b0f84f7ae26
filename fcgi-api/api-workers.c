/*
 * /api/workers: the fleet as the control center sees it. Heartbeats come
 * from the agents (their own key, or the shared key for a version-1 one;
 * no SSO) and keep each row current; people list workers, accept, revoke
 * and rotate them, grant their groups, delete dead ones, and send one
 * command.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "audit.h"
#include "db.h"
#include "engine.h"
#include "id.h"
#include "log.h"
#include "pjson.h"
#include "registry.h"
#include "trust.h"
#include "xmalloc.h"

/* Everything a worker's JSON shows; the granted groups in name order. */
#define WORKER_COLS \
    "SELECT w.id, w.name, w.status, w.last_heartbeat, w.metadata, " \
    "w.pushd_node IS NOT NULL, w.state, w.requested_groups, w.replaces, " \
    "EXISTS (SELECT 1 FROM worker_keys k WHERE k.worker_id = w.id), " \
    "w.rotation_requested_at IS NOT NULL, " \
    "(SELECT JSON_ARRAYAGG(g.group_name ORDER BY g.group_name) " \
    "FROM worker_groups g WHERE g.worker_id = w.id) FROM workers w "
static const char sql_list[] = WORKER_COLS "ORDER BY w.name";
static const char sql_one[] = WORKER_COLS "WHERE w.id = ?";

static struct json_object *
workers_json_cell(const struct db_res *res, size_t i, size_t col,
    const char *dflt)
{
	const char	*v = db_res_get(res, i, col);
	char		 err[128];

	if (v == NULL)
		v = dflt;
	if (v == NULL)
		return NULL;
	return pjson_parse(v, strlen(v), API_JSON_DEPTH, err, sizeof(err));
}

static struct json_object *
workers_row(const struct db_res *res, size_t i)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "id",
	    pjson_string_or_null(db_res_get(res, i, 0)));
	json_object_object_add(o, "name",
	    pjson_string_or_null(db_res_get(res, i, 1)));
	json_object_object_add(o, "status",
	    pjson_string_or_null(db_res_get(res, i, 2)));
	json_object_object_add(o, "last_heartbeat",
	    pjson_time(db_res_get(res, i, 3)));
	json_object_object_add(o, "metadata", workers_json_cell(res, i, 4,
	    NULL));
	/* Online by heartbeat alone is no target (issue 11). */
	json_object_object_add(o, "command_channel",
	    json_object_new_boolean(db_res_int(res, i, 5, 0) != 0));
	json_object_object_add(o, "state",
	    pjson_string_or_null(db_res_get(res, i, 6)));
	json_object_object_add(o, "groups", workers_json_cell(res, i, 11,
	    "[]"));
	json_object_object_add(o, "requested_groups",
	    workers_json_cell(res, i, 7, "[]"));
	json_object_object_add(o, "replaces",
	    pjson_string_or_null(db_res_get(res, i, 8)));
	json_object_object_add(o, "has_key",
	    json_object_new_boolean(db_res_int(res, i, 9, 0) != 0));
	json_object_object_add(o, "rotation", db_res_int(res, i, 10, 0) ?
	    json_object_new_string("pending") : NULL);
	return o;
}

int
workers_list(struct request *req)
{
	struct db_res		*res;
	struct json_object	*arr;
	size_t			 i;

	if (db_exec(req->db, sql_list, &res, "") == -1) {
		reply_db_error(req);
		return 0;
	}
	arr = json_object_new_array_ext((int)db_res_rows(res));
	for (i = 0; i < db_res_rows(res); i++)
		json_object_array_add(arr, workers_row(res, i));
	db_res_free(res);
	reply_json(req, 200, arr);
	return 0;
}

/* One worker's JSON as the answer (404 if it is gone). */
int
workers_reply(struct request *req, const char *id, int status)
{
	struct db_res	*res;

	if (db_exec(req->db, sql_one, &res, "s", id) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (db_res_rows(res) == 0)
		reply_error(req, 404, "worker not found");
	else
		reply_json(req, status, workers_row(res, 0));
	db_res_free(res);
	return 0;
}

struct beat {
	const char	*id;
	const char	*name;
	const char	*meta;
	size_t		 metalen;
	const char	*groups[WORKER_GROUPS_COUNT];
	size_t		 ngroups;
	const char	*key_hash;	/* NULL: the shared key */
	int		 auto_accept;
	int		 conflict;
	char		 refused[TRUST_WHY_MAX];
	int		 audited;	/* the refusal wrote its row */
	int		 name_kept;	/* it asked for another name */
	char		 state[16];
	char		 replaced[ID_LEN + 1];
	struct dispatch_ids advance;
	struct request	*req;
};

/*
 * The beat that created its worker (router.c: a routine beat writes no
 * audit row), or one whose key was refused (registry_refused: only for a
 * worker on record, at most once in ten minutes). The actor is the
 * worker itself, as the shared key proves no person.
 */
static int
beat_audit(struct db *db, struct beat *b)
{
	struct json_object	*d = json_object_new_object();
	int			 rc;

	json_object_object_add(d, "name", json_object_new_string(b->name));
	json_object_object_add(d, "groups", registry_names(b->groups,
	    b->ngroups));
	json_object_object_add(d, "via", json_object_new_string("heartbeat"));
	if (b->replaced[0] != '\0')
		json_object_object_add(d, "replaced",
		    json_object_new_string(b->replaced));
	if (b->refused[0] == '\0')
		json_object_object_add(d, "state",
		    json_object_new_string(b->state));
	if (b->refused[0] != '\0')
		rc = registry_refused(db, b->id, request_header(b->req,
		    "REMOTE_ADDR"), b->refused, d, &b->audited);
	else
		rc = registry_audit(db, b->name, request_header(b->req,
		    "REMOTE_ADDR"), b->id, NULL, d);
	json_object_put(d);
	return rc;
}

static int
beat_txn(struct db *db, void *arg)
{
	struct beat		*b = arg;
	struct registry_worker	 w;
	int			 keyed;

	memset(&w, 0, sizeof(w));
	dispatch_ids_clear(&b->advance);	/* db_txn may run this twice */
	if (registry_check(db, b->id, b->key_hash, b->refused, NULL,
	    &keyed) == -1)
		return -1;
	if (b->refused[0] != '\0')
		return beat_audit(db, b) == -1 ? -1 : 1;
	w.id = b->id;
	w.name = b->name;
	w.metadata = b->meta;
	w.metalen = b->metalen;
	w.groups = b->groups;
	w.ngroups = b->ngroups;
	w.has_groups = 1;
	w.keyed = keyed;
	w.auto_accept = b->auto_accept;
	if (registry_online(db, &w, &b->conflict) == -1)
		return -1;
	strlcpy_p(b->state, w.state, sizeof(b->state));
	strlcpy_p(b->replaced, w.replaced, sizeof(b->replaced));
	b->name_kept = w.name_kept;
	if (w.replaced[0] != '\0' && dispatch_lose_worker(db, w.replaced,
	    "worker replaced by a new agent of the same name",
	    &b->advance) == -1)
		return -1;
	return w.created && !b->conflict ? beat_audit(db, b) : 0;
}

/* metadata.groups: an array of names, or the "a,b" string of WORKER_GROUPS. */
static int
read_groups(struct request *req, struct json_object *meta, struct beat *b)
{
	struct json_object	*g;
	size_t			 i, n;

	if (meta == NULL || !json_object_object_get_ex(meta, "groups", &g) ||
	    g == NULL)
		return 0;
	if (!json_object_is_type(g, json_type_array)) {
		reply_error_field(req, 400, "metadata", "metadata.groups must "
		    "be an array of group names");
		return -1;
	}
	n = json_object_array_length(g);
	if (n > WORKER_GROUPS_COUNT) {
		reply_error_field(req, 400, "metadata", "metadata.groups has "
		    "more than %d groups", WORKER_GROUPS_COUNT);
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(g, i);
		const char	*s;
		size_t		 len;
		char		 why[64];

		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0) {
			reply_error_field(req, 400, "metadata", "metadata."
			    "groups[%zu] must be a non-empty name", i);
			return -1;
		}
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		if (memchr(s, '\0', len) != NULL) {
			reply_error_field(req, 400, "metadata", "metadata."
			    "groups[%zu] contains a NUL byte", i);
			return -1;
		}
		if (pjson_check_name(s, len, WF_TARGET_CHARS, why,
		    sizeof(why)) == -1) {
			reply_error_field(req, 400, "metadata", "metadata."
			    "groups[%zu] %s", i, why);
			return -1;
		}
		b->groups[b->ngroups++] = s;
	}
	return 0;
}

/* At most one line per 10 s per process about what anyone can send. */
#define LOG_EVERY_S	10
static struct log_every	 refused_log, renamed_log;

int
workers_heartbeat(struct request *req)
{
	static const char *const allowed[] = { "worker_id", "name", "metadata",
	    NULL };
	struct beat		 b;
	struct json_object	*meta = NULL, *o;
	unsigned		 quiet;
	int			 rc;

	memset(&b, 0, sizeof(b));
	b.req = req;
	if (body_only(req, allowed) == -1 ||
	    body_string(req, "worker_id", ID_LEN, 1, &b.id) == -1 ||
	    body_name(req, "name", WORKER_NAME_CHARS, 1, &b.name) == -1)
		return 0;
	if (!id_valid(b.id)) {
		reply_error_field(req, 400, "worker_id", "worker_id must be a "
		    "UUID");
		return 0;
	}
	rc = pjson_get_object(req->json, "metadata", &meta);
	if (rc == -1) {
		reply_error_field(req, 400, "metadata", "metadata must be an "
		    "object");
		return 0;
	}
	if (meta != NULL) {
		b.meta = pjson_str(meta, &b.metalen);
		if (b.metalen > WORKER_METADATA_MAX) {
			reply_error_field(req, 400, "metadata", "metadata is "
			    "longer than %d bytes", WORKER_METADATA_MAX);
			return 0;
		}
	}
	if (read_groups(req, meta, &b) == -1)
		return 0;
	if (req->worker_id[0] != '\0' && strcmp(b.id, req->worker_id) != 0) {
		reply_error_field(req, 401, "worker_id", "worker_id does not "
		    "match the key");
		return 0;
	}
	b.key_hash = req->worker_shared ? NULL : req->worker_key_hash;
	b.auto_accept = req->cfg->worker_auto_accept;
	if (db_txn(req->db, beat_txn, &b) == -1) {
		dispatch_ids_clear(&b.advance);
		reply_db_error(req);
		return 0;
	}
	if (b.refused[0] != '\0') {
		if (log_every(&refused_log, LOG_EVERY_S, &quiet))
			log_info("heartbeat of worker %s refused: %s (%u more "
			    "not logged)", b.id, b.refused, quiet);
		reply_error(req, 401, "key refused: %s", b.refused);
		return 0;
	}
	if (b.conflict) {
		reply_error_field(req, 409, "name", "worker name '%s' is in "
		    "use by another worker that is online or that this one "
		    "may not replace; stop that agent or delete the worker "
		    "first", b.name);
		return 0;
	}
	if (b.replaced[0] != '\0')
		log_info("worker '%s' (%s) replaces the offline worker %s of "
		    "the same name", b.name, b.id, b.replaced);
	if (b.name_kept && log_every(&renamed_log, LOG_EVERY_S, &quiet))
		log_warnx("worker %s sent the name '%s': a worker with its "
		    "own key keeps the name it enrolled with (%u more not "
		    "logged)", b.id, b.name, quiet);
	executions_advance(req, &b.advance);
	o = json_object_new_object();
	json_object_object_add(o, "status", json_object_new_string("ok"));
	json_object_object_add(o, "worker_id", json_object_new_string(b.id));
	json_object_object_add(o, "state", json_object_new_string(b.state));
	reply_json(req, 200, o);
	return 0;
}

/* The browsers, and the pushd that holds its socket (closed). */
static int
announce_deleted(struct db *db, const char *id)
{
	if (trust_event(db, id, "delete") == -1)
		return -1;
	return registry_event(db, id, "deleted");
}

/*
 * Its queued and running commands end lost now: a worker that is gone
 * would never answer, and one that comes back is not sent them again;
 * a late result of one is acknowledged and changes nothing.
 */
static int
lose_open_commands(struct db *db, const char *id, struct delete_ctx *ctx)
{
	char	 why[USER_NAME_MAX + 32];

	snprintf(why, sizeof(why), "worker deleted by %s", ctx->user);
	return dispatch_lose_worker(db, id, why, &ctx->advance);
}

int
workers_delete(struct request *req)
{
	static const struct delete_ops ops = { "worker", NULL,
	    registry_delete, lose_open_commands, announce_deleted };

	return delete_by_id(req, &ops);
}

int
workers_command(struct request *req)
{
	static const char *const allowed[] = { "command", "timeout", NULL };
	struct audit_actor	 who;
	struct engine_err	 err;
	const char		*cmd;
	long long		 timeout;
	char			 id[ID_LEN + 1];

	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "worker not found");
		return 0;
	}
	if (body_only(req, allowed) == -1 ||
	    body_string(req, "command", WF_COMMAND_MAX, 1, &cmd) == -1 ||
	    body_int(req, "timeout", 1, WF_TIMEOUT_MAX, WF_TIMEOUT_DEFAULT,
	    &timeout) == -1)
		return 0;
	api_actor(req, &who);
	if (engine_start_command(req->db, req->params[0], cmd, timeout,
	    req->user.name, id, &err, &who) == -1) {
		reply_engine_error(req, &err);
		return 0;
	}
	return executions_reply(req, id, 201);
}

/* ------------------------------------------------------ admin decisions */

enum decision {
	DECIDE_ACCEPT,
	DECIDE_REVOKE,
	DECIDE_ROTATE,
	DECIDE_GROUPS,
};

static const char *const decide_action[] = {
	[DECIDE_ACCEPT] = "worker.accept",
	[DECIDE_REVOKE] = "worker.revoke",
	[DECIDE_ROTATE] = "worker.rotate",
	[DECIDE_GROUPS] = "worker.groups",
};

struct decide {
	enum decision		 what;
	const char		*id;
	struct json_object	*granted;	/* array, or NULL */
	struct request		*req;
	const char		*user;
	int			 found;
	char			 why[TRUST_WHY_MAX];
	char			 replaced[ID_LEN + 1];
	struct dispatch_ids	 advance;
};

static int
decide_txn(struct db *db, void *arg)
{
	struct decide		*d = arg;
	struct json_object	*det;
	const char		*granted = d->granted != NULL ?
				    pjson_str(d->granted, NULL) : NULL;
	char			 why[USER_NAME_MAX + 64];
	int			 rc = -1;

	dispatch_ids_clear(&d->advance);
	d->replaced[0] = '\0';
	switch (d->what) {
	case DECIDE_ACCEPT:
		rc = registry_accept(db, d->id, granted, &d->found, d->why,
		    d->replaced);
		break;
	case DECIDE_REVOKE:
		rc = registry_revoke(db, d->id, &d->found, d->why);
		break;
	case DECIDE_ROTATE:
		rc = registry_rotate(db, d->id, &d->found, d->why);
		break;
	case DECIDE_GROUPS:
		rc = registry_grant(db, d->id, granted, &d->found, d->why);
		break;
	}
	if (rc == -1)
		return -1;
	if (!d->found || d->why[0] != '\0')
		return 1;
	/* A revoked worker is sent nothing more, and nothing it sends is
	 * taken: what it had open ends now. */
	if (d->what == DECIDE_REVOKE) {
		snprintf(why, sizeof(why), "worker revoked by %s", d->user);
		rc = dispatch_lose_worker(db, d->id, why, &d->advance);
	} else if (d->replaced[0] != '\0') {
		snprintf(why, sizeof(why), "worker replaced (accepted by %s)",
		    d->user);
		rc = dispatch_lose_worker(db, d->replaced, why, &d->advance);
	}
	if (rc == -1)
		return -1;
	det = json_object_new_object();
	if (d->what == DECIDE_ACCEPT || d->what == DECIDE_GROUPS) {
		struct json_object	*g;

		/* What it holds now: given, or (accept) what it asked. */
		if (registry_granted(db, d->id, &g) == -1) {
			json_object_put(det);
			return -1;
		}
		json_object_object_add(det, "groups", g);
	}
	if (d->replaced[0] != '\0')
		json_object_object_add(det, "replaced",
		    json_object_new_string(d->replaced));
	rc = api_audit(d->req, decide_action[d->what], "worker", d->id, det);
	json_object_put(det);
	return rc;
}

static int
workers_decide(struct request *req, enum decision what,
    struct json_object *granted)
{
	struct decide	 d;

	memset(&d, 0, sizeof(d));
	d.what = what;
	d.id = req->params[0];
	d.user = req->user.name;
	d.req = req;
	d.granted = granted;
	if (!id_valid(d.id)) {
		reply_error(req, 404, "worker not found");
		goto out;
	}
	if (db_txn(req->db, decide_txn, &d) == -1) {
		dispatch_ids_clear(&d.advance);
		reply_db_error(req);
		goto out;
	}
	executions_advance(req, &d.advance);
	if (!d.found)
		reply_error(req, 404, "worker not found");
	else if (d.why[0] != '\0')
		reply_error(req, 409, "%s", d.why);
	else
		workers_reply(req, d.id, 200);
out:
	json_object_put(granted);
	return 0;
}

int
workers_accept(struct request *req)
{
	static const char *const allowed[] = { "groups", NULL };
	struct json_object	*groups;

	if (body_only(req, allowed) == -1 ||
	    body_groups(req, "groups", 0, &groups) == -1)
		return 0;
	return workers_decide(req, DECIDE_ACCEPT, groups);
}

int
workers_revoke(struct request *req)
{
	return workers_decide(req, DECIDE_REVOKE, NULL);
}

int
workers_rotate(struct request *req)
{
	return workers_decide(req, DECIDE_ROTATE, NULL);
}

int
workers_groups(struct request *req)
{
	static const char *const allowed[] = { "groups", NULL };
	struct json_object	*groups;

	if (body_only(req, allowed) == -1 ||
	    body_groups(req, "groups", 1, &groups) == -1)
		return 0;
	return workers_decide(req, DECIDE_GROUPS, groups);
}
