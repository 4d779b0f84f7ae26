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

static const struct dbjson_col list_cols[] = {
	{ "version", DBJSON_INT }, { "name", DBJSON_STRING },
	{ "created_by", DBJSON_STRING }, { "created_at", DBJSON_TIME },
	{ NULL, DBJSON_STRING }
};
static const struct dbjson_col get_cols[] = {
	{ "workflow_id", DBJSON_STRING }, { "version", DBJSON_INT },
	{ "name", DBJSON_STRING }, { "description", DBJSON_STRING },
	{ "definition", DBJSON_RAW }, { "created_by", DBJSON_STRING },
	{ "created_at", DBJSON_TIME }, { NULL, DBJSON_STRING }
};

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
	struct json_object	*arr;
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
	for (i = 0; i < n; i++)
		json_object_array_add(arr, dbjson_row(res, i, list_cols));
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
	o = dbjson_row(res, 0, get_cols);
	db_res_free(res);
	reply_json(req, 200, o);
	return 0;
}
