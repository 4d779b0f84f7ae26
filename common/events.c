/*
 * The event log: the only writer of `events` (DESIGN.md section 9). An
 * event is written in the transaction of the change it announces, so a
 * reader never sees one without the other.
 */
#include <json-c/json.h>

#include "db.h"
#include "events.h"
#include "pjson.h"

static const char sql_event[] =
    "INSERT INTO events (type, execution_id, worker_id, payload) "
    "VALUES (?, ?, ?, ?)";
static const char sql_delete_event[] = "DELETE FROM events WHERE id = ?";

int
events_append(struct db *db, const char *type, const char *execution_id,
    const char *worker_id, struct json_object *payload)
{
	size_t	 len;
	const char *s;
	int	 rc;

	json_object_object_add(payload, "type", json_object_new_string(type));
	s = pjson_str(payload, &len);
	rc = db_exec(db, sql_event, NULL, "sssb", type, execution_id,
	    worker_id, s, len);
	json_object_put(payload);
	return rc;
}

int
events_status(struct db *db, const char *id, const char *status)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "execution_id", json_object_new_string(id));
	json_object_object_add(p, "status", json_object_new_string(status));
	return events_append(db, "execution_status", id, NULL, p);
}

int
events_step(struct db *db, const char *id, int step, const char *status,
    const char *reason)
{
	struct json_object *p = json_object_new_object();

	json_object_object_add(p, "execution_id", json_object_new_string(id));
	json_object_object_add(p, "step", json_object_new_int(step));
	json_object_object_add(p, "status", json_object_new_string(status));
	json_object_object_add(p, "reason", pjson_string_or_null(reason));
	return events_append(db, "step_status", id, NULL, p);
}

int
events_prune(struct db *db, const char *id)
{
	if (db_exec(db, sql_delete_event, NULL, "s", id) == -1)
		return -1;
	return db_affected(db) == 1;
}
