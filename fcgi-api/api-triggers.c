/*
 * Inbound triggers (SPEC section 16), the admin's side: create one (its
 * secret shown in that answer only), list, read, enable, disable or remap
 * it, rotate the secret (the new one shown once), delete, and read its
 * recent deliveries. The hook itself, /hooks/<id>, is api-hooks.c. This
 * file is the one writer of the triggers table; trigger_deliveries
 * belongs to common/trigger-log.c.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "api.h"
#include "db.h"
#include "id.h"
#include "log.h"
#include "pjson.h"
#include "tpath.h"
#include "trigger-log.h"
#include "xmalloc.h"

#define TRIG_STR_(x)		#x
#define TRIG_STR(x)		TRIG_STR_(x)
#define TRIGGERS_LIST_MAX	500
#define TRIG_DELIVERIES_MAX	200	/* ?limit= ceiling */

static const char sql_wf_name[] =
    "SELECT name FROM workflows WHERE id = ?";
static const char sql_insert[] =
    "INSERT INTO triggers (id, name, workflow_id, secret, params_map, "
    "enabled, created_by) VALUES (?, ?, ?, ?, JSON_EXTRACT(?, '$'), ?, ?)";
/* Never the secret: its last four characters at most. */
#define TRIGGER_COLS \
    "SELECT t.id, t.name, t.workflow_id, w.name, t.params_map, t.enabled, " \
    "t.created_by, t.created_at, t.rotated_at, RIGHT(t.secret, 4) " \
    "FROM triggers t JOIN workflows w ON w.id = t.workflow_id "
static const char sql_one[] = TRIGGER_COLS "WHERE t.id = ?";
static const char sql_list[] = TRIGGER_COLS
    "ORDER BY t.name LIMIT " TRIG_STR(TRIGGERS_LIST_MAX);
static const char sql_list_wf[] = TRIGGER_COLS "WHERE t.workflow_id = ? "
    "ORDER BY t.name LIMIT " TRIG_STR(TRIGGERS_LIST_MAX);
static const char sql_rotate[] =
    "UPDATE triggers SET secret = ?, rotated_at = NOW(3) WHERE id = ?";
/* Galera: the lock is local; sql_update that follows writes the row, so
 * two edits on two nodes conflict at COMMIT and the later is rerun. */
static const char sql_lock[] =
    "SELECT enabled, params_map FROM triggers WHERE id = ? FOR UPDATE";
static const char sql_update[] =
    "UPDATE triggers SET enabled = ?, params_map = JSON_EXTRACT(?, '$') "
    "WHERE id = ?";
static const char sql_delete[] = "DELETE FROM triggers WHERE id = ?";
static const char sql_exists[] = "SELECT 1 FROM triggers WHERE id = ?";
static const char sql_deliveries[] =
    "SELECT id, delivery_id, at, status, outcome, reason, execution_id "
    "FROM trigger_deliveries WHERE trigger_id = ? ORDER BY id DESC LIMIT ?";

static const struct dbjson_col trigger_cols[] = {
	{ "id", DBJSON_STRING },
	{ "name", DBJSON_STRING },
	{ "workflow_id", DBJSON_STRING },
	{ "workflow_name", DBJSON_STRING },
	{ "params", DBJSON_RAW },
	{ "enabled", DBJSON_INT },
	{ "created_by", DBJSON_STRING },
	{ "created_at", DBJSON_TIME },
	{ "rotated_at", DBJSON_TIME },
	{ "secret_hint", DBJSON_STRING },
	{ NULL, DBJSON_STRING }
};

static const struct dbjson_col delivery_cols[] = {
	{ "id", DBJSON_INT },
	{ "delivery_id", DBJSON_STRING },
	{ "at", DBJSON_TIME },
	{ "status", DBJSON_INT },
	{ "outcome", DBJSON_STRING },
	{ "reason", DBJSON_STRING },
	{ "execution_id", DBJSON_STRING },
	{ NULL, DBJSON_STRING }
};

static struct json_object *
trigger_row(const struct db_res *res, size_t i)
{
	struct json_object	*o = dbjson_row(res, i, trigger_cols);
	char			 url[sizeof("/hooks/") + ID_LEN];

	json_object_object_add(o, "enabled", json_object_new_boolean(
	    db_res_int(res, i, 5, 0) != 0));
	if (db_res_get(res, i, 4) == NULL)
		json_object_object_add(o, "params", json_object_new_object());
	/* Relative: the host is the one the dashboard was reached on. */
	snprintf(url, sizeof(url), "/hooks/%s", db_res_get(res, i, 0));
	json_object_object_add(o, "url", json_object_new_string(url));
	return o;
}

/* 32 random bytes as 64 lowercase hex characters; 0 or -1. */
static int
trigger_secret_new(char out[TRIGGER_SECRET_LEN + 1])
{
	unsigned char	 b[TRIGGER_SECRET_LEN / 2];
	size_t		 i;

	if (RAND_bytes(b, (int)sizeof(b)) != 1)
		return -1;
	for (i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	explicit_bzero(b, sizeof(b));
	return 0;
}

/* body "enabled" into *out, which stays as it is when absent; 0, or -1
 * replied. */
static int
triggers_enabled(struct request *req, int *out)
{
	struct json_object	*en;

	if (!json_object_object_get_ex(req->json, "enabled", &en))
		return 0;
	if (!json_object_is_type(en, json_type_boolean)) {
		reply_error_field(req, 400, "enabled", "enabled must be true "
		    "or false");
		return -1;
	}
	*out = json_object_get_boolean(en);
	return 0;
}

/* body "params": {"param": "dotted.path", ...}, checked; a new reference
 * in *out (an empty object when absent), or -1 replied. */
static int
triggers_params_map(struct request *req, struct json_object **out)
{
	struct json_object	*m;
	const char		*why;
	size_t			 n = 0, klen;

	*out = NULL;
	if (!json_object_object_get_ex(req->json, "params", &m) ||
	    json_object_is_type(m, json_type_null)) {
		*out = json_object_new_object();
		return 0;
	}
	if (!json_object_is_type(m, json_type_object)) {
		reply_error_field(req, 400, "params", "params must be an object "
		    "of parameter name to dotted path in the body");
		return -1;
	}
	json_object_object_foreach(m, k, v) {
		char	 field[96];

		klen = strlen(k);
		snprintf(field, sizeof(field), "params.%.80s", k);
		if (++n > TRIGGER_PARAMS_MAX) {
			reply_error_field(req, 400, "params", "at most %d "
			    "parameters", TRIGGER_PARAMS_MAX);
			return -1;
		}
		if (klen == 0 || klen > TRIGGER_PARAM_NAME_MAX) {
			reply_error_field(req, 400, "params", "a parameter "
			    "name must be 1 to %d bytes",
			    TRIGGER_PARAM_NAME_MAX);
			return -1;
		}
		if (!json_object_is_type(v, json_type_string)) {
			reply_error_field(req, 400, field, "%s must be a "
			    "dotted path (a string)", field);
			return -1;
		}
		if ((why = tpath_check(json_object_get_string(v))) !=
		    NULL) {
			reply_error_field(req, 400, field, "%s: %s", field,
			    why);
			return -1;
		}
	}
	*out = json_object_get(m);
	return 0;
}

struct trigger_new {
	char			 id[ID_LEN + 1];
	const char		*name;
	const char		*workflow_id;
	char			 secret[TRIGGER_SECRET_LEN + 1];
	struct json_object	*map;
	int			 enabled;
	int			 dup;		/* the name is taken */
	struct request		*req;
};

static int
trigger_create_txn(struct db *db, void *arg)
{
	struct trigger_new	*t = arg;
	struct json_object	*d;
	int			 rc;

	t->dup = 0;
	if (db_exec(db, sql_insert, NULL, "sssssis", t->id, t->name,
	    t->workflow_id, t->secret, pjson_str(t->map, NULL),
	    (long long)t->enabled, t->req->user.name) == -1) {
		if (db_errcode(db) != 1062)	/* ER_DUP_ENTRY */
			return -1;
		t->dup = 1;
		return 1;
	}
	/* What it starts and how; never the secret. */
	d = json_object_new_object();
	json_object_object_add(d, "name", json_object_new_string(t->name));
	json_object_object_add(d, "workflow_id",
	    json_object_new_string(t->workflow_id));
	json_object_object_add(d, "params", json_object_get(t->map));
	json_object_object_add(d, "enabled",
	    json_object_new_boolean(t->enabled));
	rc = api_audit(t->req, "trigger.create", "trigger", t->id, d);
	json_object_put(d);
	return rc;
}

/* The row of id with the secret added: the one answer that shows it. */
static void
trigger_reply_secret(struct request *req, const char *id, int status,
    char *secret)
{
	struct db_res		*res;
	struct json_object	*o;

	if (db_exec(req->db, sql_one, &res, "s", id) == -1) {
		explicit_bzero(secret, TRIGGER_SECRET_LEN);
		reply_db_error(req);
		return;
	}
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		explicit_bzero(secret, TRIGGER_SECRET_LEN);
		reply_error(req, 404, "trigger not found");
		return;
	}
	o = trigger_row(res, 0);
	db_res_free(res);
	json_object_object_add(o, "secret", json_object_new_string(secret));
	explicit_bzero(secret, TRIGGER_SECRET_LEN);
	reply_json(req, status, o);
}

int
triggers_create(struct request *req)
{
	static const char *const allowed[] = { "name", "workflow_id",
	    "params", "enabled", NULL };
	struct trigger_new	 t;
	struct db_res		*res;

	memset(&t, 0, sizeof(t));
	t.enabled = 1;
	if (body_only(req, allowed) == -1 ||
	    body_name(req, "name", TRIGGER_NAME_CHARS, 1, &t.name) == -1 ||
	    body_string(req, "workflow_id", ID_LEN, 1, &t.workflow_id) == -1)
		return 0;
	if (triggers_enabled(req, &t.enabled) == -1)
		return 0;
	if (triggers_params_map(req, &t.map) == -1)
		return 0;
	if (!id_valid(t.workflow_id)) {
		json_object_put(t.map);
		reply_error_field(req, 400, "workflow_id", "no workflow %s",
		    t.workflow_id);
		return 0;
	}
	if (db_exec(req->db, sql_wf_name, &res, "s", t.workflow_id) == -1) {
		json_object_put(t.map);
		reply_db_error(req);
		return 0;
	}
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		json_object_put(t.map);
		reply_error_field(req, 400, "workflow_id", "no workflow %s",
		    t.workflow_id);
		return 0;
	}
	db_res_free(res);
	if (trigger_secret_new(t.secret) == -1) {
		json_object_put(t.map);
		reply_error(req, 500, "no random bytes for a secret");
		return 0;
	}
	id_new(t.id);
	t.req = req;
	if (db_txn(req->db, trigger_create_txn, &t) == -1) {
		explicit_bzero(t.secret, sizeof(t.secret));
		json_object_put(t.map);
		reply_db_error(req);
		return 0;
	}
	json_object_put(t.map);
	if (t.dup) {
		explicit_bzero(t.secret, sizeof(t.secret));
		reply_error_field(req, 409, "name", "a trigger named %s "
		    "exists", t.name);
		return 0;
	}
	log_info("trigger %s (%s) created by %s", t.id, t.name,
	    req->user.name);
	trigger_reply_secret(req, t.id, 201, t.secret);
	return 0;
}

int
triggers_list(struct request *req)
{
	struct db_res		*res;
	struct json_object	*arr;
	char			 wid[ID_LEN + 2] = "";
	size_t			 i;
	int			 rc;

	if (request_query(req, "workflow_id", wid, sizeof(wid)) == -1) {
		reply_error_field(req, 400, "workflow_id", "workflow_id is "
		    "not a workflow id");
		return 0;
	}
	if (wid[0] != '\0')
		rc = db_exec(req->db, sql_list_wf, &res, "s", wid);
	else
		rc = db_exec(req->db, sql_list, &res, "");
	if (rc == -1) {
		reply_db_error(req);
		return 0;
	}
	arr = json_object_new_array_ext((int)db_res_rows(res));
	for (i = 0; i < db_res_rows(res); i++)
		json_object_array_add(arr, trigger_row(res, i));
	db_res_free(res);
	reply_json(req, 200, arr);
	return 0;
}

int
triggers_get(struct request *req)
{
	struct db_res	*res;

	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "trigger not found");
		return 0;
	}
	if (db_exec(req->db, sql_one, &res, "s", req->params[0]) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (db_res_rows(res) == 0)
		reply_error(req, 404, "trigger not found");
	else
		reply_json(req, 200, trigger_row(res, 0));
	db_res_free(res);
	return 0;
}

struct trigger_rot {
	const char	*id;
	char		 secret[TRIGGER_SECRET_LEN + 1];
	int		 found;
	struct request	*req;
};

static int
trigger_rotate_txn(struct db *db, void *arg)
{
	struct trigger_rot	*t = arg;

	if (db_exec(db, sql_rotate, NULL, "ss", t->secret, t->id) == -1)
		return -1;
	if ((t->found = db_affected(db) > 0) == 0)
		return 1;
	return api_audit(t->req, "trigger.rotate", "trigger", t->id, NULL);
}

/* The old secret stops working at once: a sender must be given the new
 * one before its next delivery (said in the README). */
int
triggers_rotate(struct request *req)
{
	struct trigger_rot	 t;

	memset(&t, 0, sizeof(t));
	t.id = req->params[0];
	t.req = req;
	if (!id_valid(t.id)) {
		reply_error(req, 404, "trigger not found");
		return 0;
	}
	if (trigger_secret_new(t.secret) == -1) {
		reply_error(req, 500, "no random bytes for a secret");
		return 0;
	}
	if (db_txn(req->db, trigger_rotate_txn, &t) == -1) {
		explicit_bzero(t.secret, sizeof(t.secret));
		reply_db_error(req);
		return 0;
	}
	if (!t.found) {
		explicit_bzero(t.secret, sizeof(t.secret));
		reply_error(req, 404, "trigger not found");
		return 0;
	}
	log_info("trigger %s: secret rotated by %s", t.id, req->user.name);
	trigger_reply_secret(req, t.id, 200, t.secret);
	return 0;
}

struct trigger_upd {
	const char		*id;
	int			 enabled;	/* -1: as it is */
	struct json_object	*map;		/* NULL: as it is */
	int			 found;
	struct request		*req;
};

/* {"enabled": bool, "params": {...}} of a stored row, for the audit. */
static struct json_object *
trigger_state(int enabled, struct json_object *map)
{
	struct json_object	*o = json_object_new_object();

	json_object_object_add(o, "enabled", json_object_new_boolean(enabled));
	json_object_object_add(o, "params", json_object_get(map));
	return o;
}

static int
trigger_update_txn(struct db *db, void *arg)
{
	struct trigger_upd	*t = arg;
	struct json_object	*old = NULL, *d;
	struct db_res		*res;
	char			 err[128];
	int			 was, rc;

	if (db_exec(db, sql_lock, &res, "s", t->id) == -1)
		return -1;
	if ((t->found = db_res_rows(res) == 1) == 0) {
		db_res_free(res);
		return 1;
	}
	was = db_res_int(res, 0, 0, 0) != 0;
	if (db_res_get(res, 0, 1) != NULL)
		old = pjson_parse(db_res_get(res, 0, 1), db_res_len(res, 0, 1),
		    API_JSON_DEPTH, err, sizeof(err));
	db_res_free(res);
	if (old == NULL)
		old = json_object_new_object();
	if (db_exec(db, sql_update, NULL, "iss",
	    (long long)(t->enabled == -1 ? was : t->enabled),
	    pjson_str(t->map != NULL ? t->map : old, NULL), t->id) == -1) {
		json_object_put(old);
		return -1;
	}
	d = json_object_new_object();
	json_object_object_add(d, "before", trigger_state(was, old));
	json_object_object_add(d, "after", trigger_state(t->enabled == -1 ?
	    was : t->enabled, t->map != NULL ? t->map : old));
	rc = api_audit(t->req, "trigger.update", "trigger", t->id, d);
	json_object_put(d);
	json_object_put(old);
	return rc;
}

/* Enable, disable, or change the parameter map. The name and workflow
 * stay: the name scopes the replay guard (trigger:<name>), and a sender
 * set up for one workflow should not start another. */
int
triggers_update(struct request *req)
{
	static const char *const allowed[] = { "enabled", "params", NULL };
	struct trigger_upd	 t;

	memset(&t, 0, sizeof(t));
	t.id = req->params[0];
	t.req = req;
	t.enabled = -1;
	if (!id_valid(t.id)) {
		reply_error(req, 404, "trigger not found");
		return 0;
	}
	if (body_only(req, allowed) == -1)
		return 0;
	if (triggers_enabled(req, &t.enabled) == -1)
		return 0;
	if (json_object_object_get_ex(req->json, "params", NULL) &&
	    triggers_params_map(req, &t.map) == -1)
		return 0;
	if (db_txn(req->db, trigger_update_txn, &t) == -1) {
		json_object_put(t.map);
		reply_db_error(req);
		return 0;
	}
	json_object_put(t.map);
	if (!t.found) {
		reply_error(req, 404, "trigger not found");
		return 0;
	}
	return triggers_get(req);
}

static int
trigger_remove(struct db *db, const char *id, int *found)
{
	if (db_exec(db, sql_delete, NULL, "s", id) == -1)
		return -1;
	*found = db_affected(db) > 0;
	return *found ? trigger_log_forget(db, id) : 0;
}

/* Nobody watches triggers live: nothing to announce. */
static int
trigger_announce(struct db *db, const char *id)
{
	(void)db;
	(void)id;
	return 0;
}

int
triggers_delete(struct request *req)
{
	static const struct delete_ops ops = { "trigger", NULL,
	    trigger_remove, NULL, trigger_announce };

	return delete_by_id(req, &ops);
}

int
triggers_deliveries(struct request *req)
{
	struct db_res		*res;
	struct json_object	*arr, *o;
	long long		 limit;
	size_t			 i;

	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "trigger not found");
		return 0;
	}
	if (request_query_int(req, "limit", 1, TRIG_DELIVERIES_MAX, 50,
	    &limit) == -1)
		return 0;
	if (db_exec(req->db, sql_exists, &res, "s", req->params[0]) == -1) {
		reply_db_error(req);
		return 0;
	}
	i = db_res_rows(res);
	db_res_free(res);
	if (i == 0) {
		reply_error(req, 404, "trigger not found");
		return 0;
	}
	if (db_exec(req->db, sql_deliveries, &res, "si", req->params[0],
	    limit) == -1) {
		reply_db_error(req);
		return 0;
	}
	arr = json_object_new_array_ext((int)db_res_rows(res));
	for (i = 0; i < db_res_rows(res); i++)
		json_object_array_add(arr, dbjson_row(res, i, delivery_cols));
	db_res_free(res);
	o = json_object_new_object();
	json_object_object_add(o, "deliveries", arr);
	reply_json(req, 200, o);
	return 0;
}
