/*
 * The `state` a step's condition sees (DESIGN.md section 5), built from
 * what the database holds for the execution. Part of the engine; reads
 * only.
 */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "pjson.h"

static const char sql_ctx_steps[] =
    "SELECT step_index, name, type, status, response FROM execution_steps "
    "WHERE execution_id = ? ORDER BY step_index";
static const char sql_ctx_dispatches[] =
    "SELECT step_index, worker_name, status, exit_code, stdout, stderr "
    "FROM dispatches WHERE execution_id = ? ORDER BY step_index, "
    "worker_name, attempt DESC";

/* The `state` of DESIGN.md section 5, from what the database holds. */
struct json_object *
engine_state(struct db *db, struct exec *ex)
{
	struct json_object	*state, *steps, *responses, *execution;
	struct db_res		*sr = NULL, *dr = NULL;
	size_t			 i;

	if (db_exec(db, sql_ctx_steps, &sr, "s", ex->id) == -1 ||
	    db_exec(db, sql_ctx_dispatches, &dr, "s", ex->id) == -1) {
		db_res_free(sr);
		return NULL;
	}
	state = json_object_new_object();
	steps = json_object_new_array();
	responses = json_object_new_object();
	for (i = 0; i < db_res_rows(sr); i++) {
		struct json_object *st = json_object_new_object();
		struct json_object *results = json_object_new_object();
		const char	*resp = db_res_get(sr, i, 4);
		long long	 idx = db_res_int(sr, i, 0, -1);
		long long	 exit_code = 0;
		int		 first = 1, any = 0;
		size_t		 j;

		json_object_object_add(st, "name",
		    json_object_new_string(db_res_get(sr, i, 1)));
		json_object_object_add(st, "type",
		    json_object_new_string(db_res_get(sr, i, 2)));
		json_object_object_add(st, "status",
		    json_object_new_string(db_res_get(sr, i, 3)));
		if (resp != NULL) {
			json_object_object_add(st, "response",
			    json_object_new_string(resp));
			json_object_object_add(responses, db_res_get(sr, i, 1),
			    json_object_new_string(resp));
		}
		for (j = 0; j < db_res_rows(dr); j++) {
			struct json_object *r;
			const char	*ec = db_res_get(dr, j, 3);

			if (db_res_int(dr, j, 0, -2) != idx)
				continue;
			/* A retried target is its latest attempt (issue 14). */
			if (j > 0 && db_res_int(dr, j - 1, 0, -2) == idx &&
			    strcmp(db_res_get(dr, j - 1, 1),
			    db_res_get(dr, j, 1)) == 0)
				continue;
			any = 1;
			r = json_object_new_object();
			json_object_object_add(r, "status",
			    json_object_new_string(db_res_get(dr, j, 2)));
			json_object_object_add(r, "exitCode", ec == NULL ?
			    NULL : json_object_new_int64(atoll(ec)));
			json_object_object_add(r, "stdout", pjson_text(
			    db_res_get(dr, j, 4), db_res_len(dr, j, 4)));
			json_object_object_add(r, "stderr", pjson_text(
			    db_res_get(dr, j, 5), db_res_len(dr, j, 5)));
			/*
			 * A step's own exitCode/stdout/stderr are those of
			 * its first target by name, except that a failure
			 * anywhere shows as the step's exitCode.
			 */
			if (first) {
				json_object_object_add(st, "stdout",
				    pjson_text(db_res_get(dr, j, 4),
				    db_res_len(dr, j, 4)));
				json_object_object_add(st, "stderr",
				    pjson_text(db_res_get(dr, j, 5),
				    db_res_len(dr, j, 5)));
				first = 0;
			}
			if (ec != NULL && exit_code == 0)
				exit_code = atoll(ec);
			json_object_object_add(results, db_res_get(dr, j, 1),
			    r);
		}
		if (any)
			json_object_object_add(st, "exitCode",
			    json_object_new_int64(exit_code));
		json_object_object_add(st, "results", results);
		json_object_array_add(steps, st);
	}
	execution = json_object_new_object();
	json_object_object_add(execution, "id", json_object_new_string(ex->id));
	json_object_object_add(execution, "started_by",
	    pjson_string_or_null(ex->started_by));
	json_object_object_add(state, "promptResponse",
	    pjson_string_or_null(ex->prompt_response));
	json_object_object_add(state, "responses", responses);
	json_object_object_add(state, "steps", steps);
	json_object_object_add(state, "execution", execution);
	db_res_free(sr);
	db_res_free(dr);
	return state;
}
