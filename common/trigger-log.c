/*
 * trigger_deliveries, the one writer: every call of /hooks/<id> leaves a
 * row saying what it got and why, capped per trigger so that a caller
 * hammering a hook with bad signatures cannot grow the table without end.
 */
#include <string.h>

#include "db.h"
#include "pjson.h"
#include "trigger-log.h"
#include "xmalloc.h"

static const char sql_add[] =
    "INSERT INTO trigger_deliveries (trigger_id, delivery_id, status, "
    "outcome, reason, execution_id) VALUES (?, ?, ?, ?, ?, ?)";
/* The oldest row still kept: index (trigger_id, id), one short walk. */
static const char sql_keep_from[] =
    "SELECT id FROM trigger_deliveries WHERE trigger_id = ? "
    "ORDER BY id DESC LIMIT 1 OFFSET ?";
static const char sql_cut[] =
    "DELETE FROM trigger_deliveries WHERE trigger_id = ? AND id < ?";
static const char sql_forget[] =
    "DELETE FROM trigger_deliveries WHERE trigger_id = ?";
static const char sql_prune[] =
    "DELETE FROM trigger_deliveries WHERE at < NOW(3) - INTERVAL ? DAY "
    "LIMIT ?";

static int
add_txn(struct db *db, void *arg)
{
	const struct trigger_attempt	*a = arg;
	struct db_res			*res;
	char				 reason[TRIGGER_REASON_MAX + 1];
	long long			 from;

	if (a->reason != NULL) {
		strlcpy_p(reason, a->reason, sizeof(reason));
		pjson_utf8_trim(reason);	/* a cut character: 1366 */
	}
	if (db_exec(db, sql_add, NULL, "ssisss", a->trigger_id,
	    a->delivery_id, (long long)a->status, a->outcome,
	    a->reason != NULL ? reason : NULL, a->execution_id) == -1)
		return -1;
	if (db_exec(db, sql_keep_from, &res, "si", a->trigger_id,
	    (long long)TRIGGER_LOG_KEEP - 1) == -1)
		return -1;
	from = db_res_rows(res) == 1 ? db_res_int(res, 0, 0, 0) : 0;
	db_res_free(res);
	if (from > 0 && db_exec(db, sql_cut, NULL, "si", a->trigger_id,
	    from) == -1)
		return -1;
	return 0;
}

int
trigger_log_add(struct db *db, const struct trigger_attempt *a)
{
	struct trigger_attempt	 copy = *a;	/* db_txn's arg is not const */

	return db_txn(db, add_txn, &copy);
}

int
trigger_log_forget(struct db *db, const char *trigger_id)
{
	return db_exec(db, sql_forget, NULL, "s", trigger_id);
}

int
trigger_log_prune(struct db *db, int days, size_t limit, size_t *deleted)
{
	if (db_exec(db, sql_prune, NULL, "ii", (long long)days,
	    (long long)limit) == -1)
		return -1;
	*deleted += (size_t)db_affected(db);
	return 0;
}
