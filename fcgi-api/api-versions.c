/*
 * Workflow versions: every save of a workflow (create, update) stores its
 * name, description and definition as the next numbered version, in the
 * save's transaction, and an execution records the number it ran. The
 * versions of a deleted workflow stay (sql/007_audit.sql): the audit
 * trail names them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "id.h"
#include "pjson.h"

static const char sql_add[] =
    "INSERT INTO workflow_versions (workflow_id, version, name, "
    "description, definition, created_by, created_at) "
    "VALUES (?, ?, ?, ?, ?, ?, NOW(3))";
static const char sql_list[] =
    "SELECT version, name, created_by, created_at FROM workflow_versions "
    "WHERE workflow_id = ? ORDER BY version DESC";
static const char sql_get[] =
    "SELECT workflow_id, version, name, description, definition, "
    "created_by, created_at FROM workflow_versions "
    "WHERE workflow_id = ? AND version = ?";

int
versions_add(struct db *db, const char *workflow_id, long long version,
    const char *name, const char *description, const char *def,
    size_t deflen, const char *user)
{
	return db_exec(db, sql_add, NULL, "sissbs", workflow_id, version, name,
	    description, def, deflen, user);
}

int
versions_list(struct request *req)
{
	struct db_res		*res;
	struct json_object	*arr, *o;
	size_t			 i, n;

	if (!id_valid(req->params[0])) {
		reply_error(req, 404, "workflow not found");
		return 0;
	}
	if (db_exec(req->db, sql_list, &res, "s", req->params[0]) == -1) {
		reply_db_error(req);
		return 0;
	}
	n = db_res_rows(res);
	if (n == 0) {
		db_res_free(res);
		reply_error(req, 404, "workflow not found");
		return 0;
	}
	arr = json_object_new_array_ext((int)n);
	for (i = 0; i < n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "version",
		    json_object_new_int64(db_res_int(res, i, 0, 0)));
		json_object_object_add(o, "name",
		    pjson_string_or_null(db_res_get(res, i, 1)));
		json_object_object_add(o, "created_by",
		    pjson_string_or_null(db_res_get(res, i, 2)));
		json_object_object_add(o, "created_at",
		    pjson_time(db_res_get(res, i, 3)));
		json_object_array_add(arr, o);
	}
	db_res_free(res);
	reply_json(req, 200, arr);
	return 0;
}

int
versions_get(struct request *req)
{
	struct db_res		*res;
	struct json_object	*o;
	const char		*n = req->params[1];
	char			*end;
	long long		 version;

	errno = 0;
	version = strtoll(n, &end, 10);
	if (!id_valid(req->params[0]) || *n < '1' || *n > '9' ||
	    *end != '\0' || errno != 0 || version > INT32_MAX) {
		reply_error(req, 404, "version not found");
		return 0;
	}
	if (db_exec(req->db, sql_get, &res, "si", req->params[0],
	    version) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		reply_error(req, 404, "version not found");
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "workflow_id",
	    pjson_string_or_null(db_res_get(res, 0, 0)));
	json_object_object_add(o, "version",
	    json_object_new_int64(db_res_int(res, 0, 1, 0)));
	json_object_object_add(o, "name",
	    pjson_string_or_null(db_res_get(res, 0, 2)));
	json_object_object_add(o, "description",
	    pjson_string_or_null(db_res_get(res, 0, 3)));
	json_object_object_add(o, "definition",
	    pjson_raw(db_res_get(res, 0, 4), db_res_len(res, 0, 4)));
	json_object_object_add(o, "created_by",
	    pjson_string_or_null(db_res_get(res, 0, 5)));
	json_object_object_add(o, "created_at",
	    pjson_time(db_res_get(res, 0, 6)));
	db_res_free(res);
	reply_json(req, 200, o);
	return 0;
}
