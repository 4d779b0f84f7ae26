/*
 * DELETE /api/<things>/:id, the same for every resource: 404 for an id that
 * is malformed or gone, the row and its announcement in one transaction,
 * then {"deleted": true, "id"}.
 */
#include "api.h"
#include "db.h"
#include "id.h"

struct del {
	const char	*sql;
	const char	*id;
	int		(*announce)(struct db *, const char *);
	int		 found;
};

static int
delete_txn(struct db *db, void *arg)
{
	struct del	*d = arg;

	if (db_exec(db, d->sql, NULL, "s", d->id) == -1)
		return -1;
	if ((d->found = db_affected(db) > 0) == 0)
		return 1;
	return d->announce(db, d->id);
}

int
delete_by_id(struct request *req, const char *sql, const char *what,
    int (*announce)(struct db *, const char *))
{
	struct del		 d = { sql, req->params[0], announce, 0 };
	struct json_object	*o;

	if (!id_valid(d.id)) {
		reply_error(req, 404, "%s not found", what);
		return 0;
	}
	if (db_txn(req->db, delete_txn, &d) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (!d.found) {
		reply_error(req, 404, "%s not found", what);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "deleted", json_object_new_boolean(1));
	json_object_object_add(o, "id", json_object_new_string(d.id));
	reply_json(req, 200, o);
	return 0;
}
