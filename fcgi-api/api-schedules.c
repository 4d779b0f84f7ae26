/*
 * /api/schedules (SPEC section 16): the definitions an admin writes and
 * everyone reads, their recent fires, and previews of the next fire
 * times. pushd fires them (pushd/dbt-schedules.c); this file writes the
 * definitions, each change with its audit row in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "id.h"
#include "log.h"
#include "params.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "schedule.h"
#include "workflow.h"
#include "xmalloc.h"

#define SCHED_STR_(x)		#x
#define SCHED_STR(x)		SCHED_STR_(x)
#define SCHED_NAME_MAX		255	/* characters, VARCHAR(255) */
#define SCHED_AT_MAX		40
#define SCHED_PREVIEW_DEFAULT	5

#define SCHED_COLS \
    "SELECT s.id, s.workflow_id, w.name, s.name, s.cron, s.at, s.timezone, " \
    "s.params, s.enabled, s.overlap, s.misfire, s.next_run_at, " \
    "s.last_run_at, s.last_execution_id, s.last_status, e.status, " \
    "s.disabled_reason, s.created_by, s.created_at, s.updated_at " \
    "FROM schedules s LEFT JOIN workflows w ON w.id = s.workflow_id " \
    "LEFT JOIN executions e ON e.id = s.last_execution_id "
static const char sql_list[] = SCHED_COLS
    "ORDER BY s.name LIMIT " SCHED_STR(PULSE_SCHEDULE_LIST_MAX);
static const char sql_list_wf[] = SCHED_COLS
    "WHERE s.workflow_id = ? ORDER BY s.name LIMIT "
    SCHED_STR(PULSE_SCHEDULE_LIST_MAX);
static const char sql_one[] = SCHED_COLS "WHERE s.id = ?";
static const char sql_fires[] =
    "SELECT fire_time, execution_id, outcome, reason, fired_by, at FROM "
    "schedule_fires WHERE schedule_id = ? ORDER BY fire_time DESC LIMIT "
    SCHED_STR(PULSE_SCHEDULE_FIRES_SHOWN);
/* The stored definition, as read_input() merges a PUT into it. */
static const char sql_current[] =
    "SELECT workflow_id, name, cron, FLOOR(UNIX_TIMESTAMP(at)), timezone, "
    "params, enabled, overlap, misfire, "
    "FLOOR(UNIX_TIMESTAMP(next_run_at)), (SELECT FLOOR(UNIX_TIMESTAMP("
    "MAX(fire_time))) FROM schedule_fires f WHERE f.schedule_id = s.id) "
    "FROM schedules s WHERE id = ?";
static const char sql_when[] =
    "SELECT cron, FLOOR(UNIX_TIMESTAMP(at)), timezone FROM schedules "
    "WHERE id = ?";
static const char sql_wf_def[] =
    "SELECT definition, name FROM workflows WHERE id = ?";
static const char sql_insert[] =
    "INSERT INTO schedules (id, workflow_id, name, cron, at, timezone, "
    "params, enabled, overlap, misfire, next_run_at, created_by) VALUES "
    "(?, ?, ?, ?, FROM_UNIXTIME(CAST(? AS SIGNED)), ?, ?, ?, ?, ?, "
    "FROM_UNIXTIME(CAST(? AS SIGNED)), ?)";
static const char sql_update[] =
    "UPDATE schedules SET workflow_id = ?, name = ?, cron = ?, "
    "at = FROM_UNIXTIME(CAST(? AS SIGNED)), timezone = ?, params = ?, "
    "enabled = ?, overlap = ?, misfire = ?, "
    "next_run_at = FROM_UNIXTIME(CAST(? AS SIGNED)), "
    "disabled_reason = NULL, updated_at = NOW(3) WHERE id = ?";
static const char sql_delete_fires[] =
    "DELETE FROM schedule_fires WHERE schedule_id = ?";
static const char sql_delete[] = "DELETE FROM schedules WHERE id = ?";
static const char sql_wf_deleted[] =
    "UPDATE schedules s JOIN workflows w ON w.id = s.workflow_id "
    "SET s.enabled = 0, s.next_run_at = NULL, s.disabled_reason = "
    "CONCAT('workflow ', w.name, ' was deleted'), s.updated_at = NOW(3) "
    "WHERE s.workflow_id = ?";

static const struct dbjson_col sched_cols[] = {
	{ "id", DBJSON_STRING },
	{ "workflow_id", DBJSON_STRING },
	{ "workflow_name", DBJSON_STRING },
	{ "name", DBJSON_STRING },
	{ "cron", DBJSON_STRING },
	{ "at", DBJSON_TIME },
	{ "timezone", DBJSON_STRING },
	{ "params", DBJSON_RAW },
	{ "enabled", DBJSON_INT },
	{ "overlap", DBJSON_STRING },
	{ "misfire", DBJSON_STRING },
	{ "next_run_at", DBJSON_TIME },
	{ "last_run_at", DBJSON_TIME },
	{ "last_execution_id", DBJSON_STRING },
	{ "last_status", DBJSON_STRING },
	{ "last_execution_status", DBJSON_STRING },
	{ "disabled_reason", DBJSON_STRING },
	{ "created_by", DBJSON_STRING },
	{ "created_at", DBJSON_TIME },
	{ "updated_at", DBJSON_TIME },
	{ NULL, DBJSON_STRING }
};

static const struct dbjson_col fire_cols[] = {
	{ "fire_time", DBJSON_TIME },
	{ "execution_id", DBJSON_STRING },
	{ "outcome", DBJSON_STRING },
	{ "reason", DBJSON_STRING },
	{ "fired_by", DBJSON_STRING },
	{ "at", DBJSON_TIME },
	{ NULL, DBJSON_STRING }
};

static struct json_object *
sched_row(const struct db_res *r, size_t i)
{
	struct json_object	*o = dbjson_row(r, i, sched_cols);

	/* A flag is a boolean to a client, not the TINYINT it is stored as. */
	json_object_object_add(o, "enabled", json_object_new_boolean(
	    db_res_int(r, i, 8, 0) != 0));
	return o;
}

/* A schedule as given (POST) or as it will be after a PUT. */
struct sched_in {
	struct request		*req;
	const char		*id;
	char			 workflow_id[ID_LEN + 1];
	char			*name, *cron, *at_text, *timezone, *overlap,
				*misfire;
	struct json_object	*params;	/* owned, or NULL */
	int			 enabled;
	long long		 at;		/* -1: cron */
	long long		 next;		/* -1: none (disabled) */
	int			 found, dup;
	struct json_object	*before;	/* PUT: the row before */
	/* PUT: the stored "when", to keep next_run_at when it is unchanged,
	 * and the last fire time, never to be fired again. */
	char			*was_cron, *was_timezone;
	long long		 was_at, was_next, last_fire;
	int			 was_enabled;
};

static void
sched_in_clear(struct sched_in *in)
{
	free(in->name);
	free(in->cron);
	free(in->at_text);
	free(in->timezone);
	free(in->overlap);
	free(in->misfire);
	json_object_put(in->params);
	json_object_put(in->before);
	free(in->was_cron);
	free(in->was_timezone);
	memset(in, 0, sizeof(*in));
}

/* A string field of the body: 1 given (*out replaced), 0 absent, -1 replied. */
static int
take_string(struct request *req, const char *key, size_t max, char **out)
{
	struct json_object	*v;
	const char		*s;
	int			 rc;

	if (!json_object_object_get_ex(req->json, key, &v))
		return 0;
	if (v == NULL) {
		/* null: the field cleared (cron or at, to switch kind). */
		free(*out);
		*out = NULL;
		return 1;
	}
	if ((rc = body_string(req, key, max, 1, &s)) != 1)
		return rc == 0 ? 0 : -1;
	free(*out);
	*out = xstrdup(s);
	return 1;
}

static int
one_of(struct request *req, const char *key, const char *v,
    const char *a, const char *b, const char *c)
{
	if (strcmp(v, a) == 0 || strcmp(v, b) == 0 ||
	    (c != NULL && strcmp(v, c) == 0))
		return 0;
	reply_error_field(req, 400, key, "%s must be %s%s%s%s%s", key, a,
	    c != NULL ? ", " : " or ", b, c != NULL ? " or " : "",
	    c != NULL ? c : "");
	return -1;
}

/* params checked as a start would check them: -1 replied. */
static int
check_params(struct request *req, struct sched_in *in)
{
	struct workflow_error	 werr;
	struct fielderr		 ferr;
	struct workflow		*wf = NULL;
	struct json_object	*def, *resolved = NULL;
	struct db_res		*r;
	char			 perr[128];
	int			 rc = -1;

	if (!id_valid(in->workflow_id)) {
		reply_error_field(req, 400, "workflow_id", "workflow_id: no "
		    "workflow %.36s", in->workflow_id);
		return -1;
	}
	if (db_exec(req->db, sql_wf_def, &r, "s", in->workflow_id) == -1) {
		reply_db_error(req);
		return -1;
	}
	if (db_res_rows(r) == 0) {
		db_res_free(r);
		reply_error_field(req, 400, "workflow_id", "workflow_id: no "
		    "workflow %s", in->workflow_id);
		return -1;
	}
	if (in->params != NULL &&
	    !json_object_is_type(in->params, json_type_object)) {
		db_res_free(r);
		reply_error_field(req, 400, "params", "params must be an "
		    "object");
		return -1;
	}
	def = pjson_parse(db_res_get(r, 0, 0), db_res_len(r, 0, 0),
	    API_JSON_DEPTH, perr, sizeof(perr));
	db_res_free(r);
	if (def == NULL || workflow_from_json(def, &wf, &werr) == -1) {
		json_object_put(def);
		reply_error_field(req, 400, "workflow_id", "workflow_id: the "
		    "workflow's definition does not load");
		return -1;
	}
	json_object_put(def);
	if (params_resolve(wf->params, in->params, &resolved, &ferr) == -1)
		reply_error_field(req, 400, ferr.field, "%s", ferr.msg);
	else
		rc = 0;
	json_object_put(resolved);
	workflow_free(wf);
	return rc;
}

static int
str_same(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

/* Does a PUT leave when the schedule fires as it was? */
static int
sched_when_same(const struct sched_in *in)
{
	return str_same(in->cron, in->was_cron) &&
	    str_same(in->timezone, in->was_timezone) &&
	    (in->cron != NULL || in->at == in->was_at) &&
	    in->enabled == in->was_enabled;
}

/*
 * Read the body over in (empty for a POST, the stored row for a PUT),
 * check every field and compute the next fire time. -1: replied.
 */
static int
read_input(struct request *req, struct sched_in *in, int create)
{
	static const char *const allowed[] = { "workflow_id", "name", "cron",
	    "at", "timezone", "params", "enabled", "overlap", "misfire",
	    NULL };
	struct schedule_when	 w;
	struct json_object	*v;
	char			*wf = NULL, field[32], why[512];
	const char		*s;
	long long		 now;
	int			 rc;

	if (body_only(req, allowed) == -1)
		return -1;
	if (json_object_object_get_ex(req->json, "name", &v)) {
		if (body_name(req, "name", SCHED_NAME_MAX, 1, &s) != 1)
			return -1;
		free(in->name);
		in->name = xstrdup(s);
	} else if (create) {
		reply_error_field(req, 400, "name", "name is required");
		return -1;
	}
	if ((rc = take_string(req, "workflow_id", ID_LEN, &wf)) == -1)
		return -1;
	if (rc == 1 && wf != NULL)
		strlcpy_p(in->workflow_id, wf, sizeof(in->workflow_id));
	free(wf);
	if (create && (rc == 0 || in->workflow_id[0] == '\0')) {
		reply_error_field(req, 400, "workflow_id", "workflow_id is "
		    "required");
		return -1;
	}
	if ((rc = take_string(req, "cron", PULSE_CRON_EXPR_MAX, &in->cron)) == -1)
		return -1;
	/* A PUT that gives one kind drops the other. */
	if (rc == 1 && in->cron != NULL && !json_object_object_get_ex(
	    req->json, "at", NULL)) {
		free(in->at_text);
		in->at_text = NULL;
	}
	if ((rc = take_string(req, "at", SCHED_AT_MAX, &in->at_text)) == -1)
		return -1;
	if (rc == 1 && in->at_text != NULL && !json_object_object_get_ex(
	    req->json, "cron", NULL)) {
		free(in->cron);
		in->cron = NULL;
	}
	if (take_string(req, "timezone", PULSE_TZ_NAME_MAX, &in->timezone) == -1 ||
	    take_string(req, "overlap", 8, &in->overlap) == -1 ||
	    take_string(req, "misfire", 8, &in->misfire) == -1)
		return -1;
	if (in->timezone == NULL)
		in->timezone = xstrdup("UTC");
	if (in->overlap == NULL)
		in->overlap = xstrdup("skip");
	if (in->misfire == NULL)
		in->misfire = xstrdup("run_once");
	if (one_of(req, "overlap", in->overlap, "skip", "queue", "allow") ==
	    -1 || one_of(req, "misfire", in->misfire, "skip", "run_once",
	    NULL) == -1)
		return -1;
	if (json_object_object_get_ex(req->json, "enabled", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			reply_error_field(req, 400, "enabled", "enabled must be "
			    "true or false");
			return -1;
		}
		in->enabled = json_object_get_boolean(v);
	}
	if (json_object_object_get_ex(req->json, "params", &v)) {
		json_object_put(in->params);
		in->params = json_object_is_type(v, json_type_null) ? NULL :
		    json_object_get(v);
	}
	if (in->cron == NULL && in->at_text == NULL) {
		reply_error_field(req, 400, "cron", "cron: give a cron "
		    "expression or an at time");
		return -1;
	}
	if (in->cron != NULL && in->at_text != NULL) {
		reply_error_field(req, 400, "at", "at: give cron or at, not "
		    "both");
		return -1;
	}
	if (schedule_when_load(&w, in->cron, in->at_text, in->timezone, field,
	    sizeof(field), why, sizeof(why)) == -1) {
		reply_error_field(req, 400, field, "%s", why);
		return -1;
	}
	in->at = w.at;
	in->next = -1;
	if (!create && sched_when_same(in)) {
		/* A rename or new params: the due fire stays due. */
		schedule_when_clear(&w);
		in->next = in->was_next;
		return check_params(req, in);
	}
	/* After the last fire too: this host's clock may be behind the
	 * firer's, and a fire time already in schedule_fires never fires. */
	now = schedule_now();
	if (!create && in->last_fire > now)
		now = in->last_fire;
	rc = schedule_when_next(&w, now, &in->next);
	schedule_when_clear(&w);
	if (rc != 0 && in->at_text != NULL && in->enabled) {
		reply_error_field(req, 400, "at", "at: %s is in the past",
		    in->at_text);
		return -1;
	}
	if (rc != 0 && in->cron != NULL) {
		reply_error_field(req, 400, "cron", "cron: '%s' has no fire "
		    "time %s", in->cron, rc == 2 ? "before 2038-01-19T03:14:07Z, "
		    "the last time a schedule can hold" : "in the next 8 years");
		return -1;
	}
	if (!in->enabled)
		in->next = -1;
	return check_params(req, in);
}

/* What the audit row says of a schedule: never the params' values. */
static struct json_object *
sched_details(const struct sched_in *in)
{
	struct json_object	*d = json_object_new_object(), *names;

	json_object_object_add(d, "name", json_object_new_string(in->name));
	json_object_object_add(d, "workflow_id",
	    json_object_new_string(in->workflow_id));
	json_object_object_add(d, "cron", pjson_string_or_null(in->cron));
	json_object_object_add(d, "at", pjson_string_or_null(in->at_text));
	json_object_object_add(d, "timezone",
	    json_object_new_string(in->timezone));
	json_object_object_add(d, "enabled",
	    json_object_new_boolean(in->enabled));
	json_object_object_add(d, "overlap",
	    json_object_new_string(in->overlap));
	json_object_object_add(d, "misfire",
	    json_object_new_string(in->misfire));
	names = json_object_new_array();
	if (in->params != NULL) {
		json_object_object_foreach(in->params, k, v) {
			(void)v;
			json_object_array_add(names, json_object_new_string(k));
		}
	}
	json_object_object_add(d, "params", names);
	return d;
}

/* A time as FROM_UNIXTIME() takes it, or NULL (SQL NULL) for none. */
static const char *
secs(long long v, char buf[24])
{
	if (v < 0)
		return NULL;
	snprintf(buf, 24, "%lld", v);
	return buf;
}

/* A POST's insert or a PUT's update, with its audit row. */
static int
save_txn(struct db *db, void *arg)
{
	struct sched_in		*in = arg;
	struct json_object	*d;
	const char		*p = in->params != NULL ?
				    pjson_str(in->params, NULL) : NULL;
	char			 at[24], next[24];
	int			 rc;

	in->dup = 0;
	if (in->before == NULL)
		rc = db_exec(db, sql_insert, NULL, "sssssssissss", in->id,
		    in->workflow_id, in->name, in->cron, secs(in->at, at),
		    in->timezone, p, (long long)in->enabled, in->overlap,
		    in->misfire, secs(in->next, next), in->req->user.name);
	else
		rc = db_exec(db, sql_update, NULL, "ssssssissss",
		    in->workflow_id, in->name, in->cron, secs(in->at, at),
		    in->timezone, p, (long long)in->enabled, in->overlap,
		    in->misfire, secs(in->next, next), in->id);
	if (rc == -1) {
		in->dup = db_errcode(db) == 1062;
		return -1;
	}
	/* updated_at always changes: 0 rows is a schedule deleted since. */
	if ((in->found = db_affected(db) > 0) == 0)
		return 1;
	if (in->before == NULL)
		d = sched_details(in);
	else {
		d = json_object_new_object();
		json_object_object_add(d, "before",
		    json_object_get(in->before));
		json_object_object_add(d, "after", sched_details(in));
	}
	rc = api_audit(in->req, in->before == NULL ? "schedule.create" :
	    "schedule.update", "schedule", in->id, d);
	json_object_put(d);
	return rc;
}

static int
reply_schedule(struct request *req, const char *id, int status)
{
	struct db_res		*r, *f;
	struct json_object	*o, *arr;
	size_t			 i;

	if (db_exec(req->db, sql_one, &r, "s", id) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (db_res_rows(r) == 0) {
		db_res_free(r);
		reply_error(req, 404, "schedule not found");
		return 0;
	}
	if (db_exec(req->db, sql_fires, &f, "s", id) == -1) {
		db_res_free(r);
		reply_db_error(req);
		return 0;
	}
	o = sched_row(r, 0);
	arr = json_object_new_array();
	for (i = 0; i < db_res_rows(f); i++)
		json_object_array_add(arr, dbjson_row(f, i, fire_cols));
	json_object_object_add(o, "fires", arr);
	db_res_free(r);
	db_res_free(f);
	reply_json(req, status, o);
	return 0;
}

/* Save in (a POST when in->before is NULL) and answer with the row. */
static int
sched_save(struct request *req, struct sched_in *in, int status)
{
	char	 id[ID_LEN + 1];

	strlcpy_p(id, in->id, sizeof(id));
	if (db_txn(req->db, save_txn, in) == -1) {
		if (in->dup)
			reply_error_field(req, 409, "name", "a schedule named "
			    "'%s' exists", in->name);
		else
			reply_db_error(req);
		sched_in_clear(in);
		return 0;
	}
	if (!in->found) {
		sched_in_clear(in);
		reply_error(req, 404, "schedule not found");
		return 0;
	}
	log_info("schedule %s (%s) %s by %s", in->name, id, in->before ==
	    NULL ? "created" : "changed", req->user.name);
	sched_in_clear(in);
	return reply_schedule(req, id, status);
}

int
schedules_create(struct request *req)
{
	struct sched_in	 in;
	char		 id[ID_LEN + 1];

	memset(&in, 0, sizeof(in));
	in.req = req;
	in.enabled = 1;
	if (read_input(req, &in, 1) == -1) {
		sched_in_clear(&in);
		return 0;
	}
	id_new(id);
	in.id = id;
	return sched_save(req, &in, 201);
}

/* The stored row into in, for a PUT to merge into. -1: db error. */
static int
load_current(struct db *db, struct sched_in *in)
{
	struct db_res	*r;
	char		 iso[SCHEDULE_ISO_LEN + 1];
	char		 perr[128];
	const char	*p;

	if (db_exec(db, sql_current, &r, "s", in->id) == -1)
		return -1;
	if ((in->found = db_res_rows(r) > 0)) {
		strlcpy_p(in->workflow_id, db_res_get(r, 0, 0),
		    sizeof(in->workflow_id));
		in->name = xstrdup(db_res_get(r, 0, 1));
		if (db_res_get(r, 0, 2) != NULL)
			in->cron = xstrdup(db_res_get(r, 0, 2));
		else {
			schedule_iso(db_res_int(r, 0, 3, 0), iso, sizeof(iso));
			in->at_text = xstrdup(iso);
		}
		in->timezone = xstrdup(db_res_get(r, 0, 4));
		if ((p = db_res_get(r, 0, 5)) != NULL)
			in->params = pjson_parse(p, strlen(p), API_JSON_DEPTH,
			    perr, sizeof(perr));
		in->enabled = db_res_int(r, 0, 6, 0) != 0;
		in->overlap = xstrdup(db_res_get(r, 0, 7));
		in->misfire = xstrdup(db_res_get(r, 0, 8));
		if (in->cron != NULL)
			in->was_cron = xstrdup(in->cron);
		in->was_timezone = xstrdup(in->timezone);
		in->was_at = in->cron != NULL ? -1 : db_res_int(r, 0, 3, 0);
		in->was_enabled = in->enabled;
		in->was_next = db_res_int(r, 0, 9, -1);
		in->last_fire = db_res_int(r, 0, 10, -1);
	}
	db_res_free(r);
	return 0;
}

int
schedules_update(struct request *req)
{
	struct sched_in	 in;

	memset(&in, 0, sizeof(in));
	in.req = req;
	in.id = req->params[0];
	if (!id_valid(in.id)) {
		reply_error(req, 404, "schedule not found");
		return 0;
	}
	/* Read outside the write: the write rechecks nothing but the key;
	 * two admins' PUTs race as two saves of a form do (the last wins). */
	if (load_current(req->db, &in) == -1) {
		reply_db_error(req);
		sched_in_clear(&in);
		return 0;
	}
	if (!in.found) {
		reply_error(req, 404, "schedule not found");
		sched_in_clear(&in);
		return 0;
	}
	in.before = sched_details(&in);
	if (read_input(req, &in, 0) == -1) {
		sched_in_clear(&in);
		return 0;
	}
	return sched_save(req, &in, 200);
}

/* A schedule's fire rows go with it; its executions stay. */
static int
delete_remove(struct db *db, const char *id, int *found)
{
	if (db_exec(db, sql_delete, NULL, "s", id) == -1)
		return -1;
	if ((*found = db_affected(db) > 0) == 0)
		return 0;
	return db_exec(db, sql_delete_fires, NULL, "s", id);
}

/* No event announces a schedule: browsers read them when they look. */
static int
delete_announce(struct db *db, const char *id)
{
	(void)db;
	(void)id;
	return 0;
}

int
schedules_delete(struct request *req)
{
	static const struct delete_ops ops = { "schedule", NULL,
	    delete_remove, NULL, delete_announce };

	return delete_by_id(req, &ops);
}

int
schedules_list(struct request *req)
{
	struct db_res		*r;
	struct json_object	*arr;
	char			 wf[ID_LEN + 2];
	size_t			 i;
	int			 rc;

	if ((rc = request_query(req, "workflow_id", wf, sizeof(wf))) == 1 &&
	    !id_valid(wf)) {
		reply_error_field(req, 400, "workflow_id", "workflow_id must "
		    "be a workflow id");
		return 0;
	}
	if (rc == -1) {
		reply_error_field(req, 400, "workflow_id", "workflow_id must "
		    "be a workflow id");
		return 0;
	}
	if ((rc == 1 ? db_exec(req->db, sql_list_wf, &r, "s", wf) :
	    db_exec(req->db, sql_list, &r, "")) == -1) {
		reply_db_error(req);
		return 0;
	}
	arr = json_object_new_array_ext((int)db_res_rows(r));
	for (i = 0; i < db_res_rows(r); i++)
		json_object_array_add(arr, sched_row(r, i));
	db_res_free(r);
	reply_json(req, 200, arr);
	return 0;
}

int
schedules_get(struct request *req)
{
	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "schedule not found");
		return 0;
	}
	return reply_schedule(req, req->params[0], 200);
}

/* {"times":[...]}: the next count fire times after the scheduler's now. */
static void
reply_times(struct request *req, const struct schedule_when *w,
    long long count)
{
	struct json_object	*o = json_object_new_object(),
				*arr = json_object_new_array();
	char			 iso[SCHEDULE_ISO_LEN + 1];
	long long		 t = schedule_now(), i;

	for (i = 0; i < count && schedule_when_next(w, t, &t) == 0; i++) {
		schedule_iso(t, iso, sizeof(iso));
		json_object_array_add(arr, json_object_new_string(iso));
	}
	json_object_object_add(o, "times", arr);
	reply_json(req, 200, o);
}

int
schedules_preview(struct request *req)
{
	struct schedule_when	 w;
	struct db_res		*r;
	char			 iso[SCHEDULE_ISO_LEN + 1], field[32],
				 why[512];
	long long		 count;

	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "schedule not found");
		return 0;
	}
	if (request_query_int(req, "count", 1, PULSE_SCHEDULE_PREVIEW_MAX,
	    SCHED_PREVIEW_DEFAULT, &count) == -1)
		return 0;
	if (db_exec(req->db, sql_when, &r, "s", req->params[0]) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (db_res_rows(r) == 0) {
		db_res_free(r);
		reply_error(req, 404, "schedule not found");
		return 0;
	}
	schedule_iso(db_res_int(r, 0, 1, 0), iso, sizeof(iso));
	if (schedule_when_load(&w, db_res_get(r, 0, 0), db_res_get(r, 0, 0) ==
	    NULL ? iso : NULL, db_res_get(r, 0, 2), field, sizeof(field), why,
	    sizeof(why)) == -1) {
		db_res_free(r);
		reply_error_field(req, 409, field, "%s", why);
		return 0;
	}
	db_res_free(r);
	reply_times(req, &w, count);
	schedule_when_clear(&w);
	return 0;
}

int
schedules_preview_new(struct request *req)
{
	static const char *const allowed[] = { "cron", "at", "timezone",
	    "count", NULL };
	struct schedule_when	 w;
	const char		*cron = NULL, *at = NULL, *tz = "UTC";
	char			 field[32], why[512];
	long long		 count;

	if (body_only(req, allowed) == -1 ||
	    body_string(req, "cron", PULSE_CRON_EXPR_MAX, 0, &cron) == -1 ||
	    body_string(req, "at", SCHED_AT_MAX, 0, &at) == -1 ||
	    body_string(req, "timezone", PULSE_TZ_NAME_MAX, 0, &tz) == -1 ||
	    body_int(req, "count", 1, PULSE_SCHEDULE_PREVIEW_MAX,
	    SCHED_PREVIEW_DEFAULT, &count) == -1)
		return 0;
	if (tz == NULL)
		tz = "UTC";
	if (cron == NULL && at == NULL) {
		reply_error_field(req, 400, "cron", "cron: give a cron "
		    "expression or an at time");
		return 0;
	}
	if (schedule_when_load(&w, cron, cron != NULL ? NULL : at, tz, field,
	    sizeof(field), why, sizeof(why)) == -1) {
		reply_error_field(req, 400, field, "%s", why);
		return 0;
	}
	reply_times(req, &w, count);
	schedule_when_clear(&w);
	return 0;
}

int
schedules_workflow_deleted(struct db *db, const char *workflow_id)
{
	return db_exec(db, sql_wf_deleted, NULL, "s", workflow_id);
}
