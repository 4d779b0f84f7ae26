/*
 * DELETE /api/<things>/:id, the same for every resource: 404 for an id that
 * is malformed or gone; a check that may refuse with 409 (a workflow with
 * unfinished executions) or end what depends on the row (a worker's open
 * commands), the row and its announcement in one transaction; then the
 * executions that changed are advanced and {"deleted": true, "id"}.
 * The audit row ("<what>.delete") is the transaction's last write.
 */
#include <stdarg.h>
#include <stdio.h>

#include "api.h"
#include "db.h"
#include "id.h"

struct del {
	const struct delete_ops	*ops;
	const char		*id;
	struct request		*req;
	struct delete_ctx	 ctx;
	int			 found;
};

void
delete_refuse(struct delete_ctx *ctx, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(ctx->refuse, sizeof(ctx->refuse), fmt, ap);
	va_end(ap);
}

static int
delete_txn(struct db *db, void *arg)
{
	struct del	*d = arg;
	char		 action[64];

	/* db_txn may run this twice: start from nothing. */
	d->ctx.refuse[0] = '\0';
	dispatch_ids_clear(&d->ctx.advance);
	d->ctx.user = d->req->user.name;
	if (d->ops->before != NULL) {
		if (d->ops->before(db, d->id, &d->ctx) == -1)
			return -1;
		if (d->ctx.refuse[0] != '\0')
			return 1;
	}
	if (d->ops->remove != NULL) {
		if (d->ops->remove(db, d->id, &d->found) == -1)
			return -1;
	} else {
		if (db_exec(db, d->ops->sql, NULL, "s", d->id) == -1)
			return -1;
		d->found = db_affected(db) > 0;
	}
	if (!d->found)
		return 1;
	if (d->ops->announce(db, d->id) == -1)
		return -1;
	snprintf(action, sizeof(action), "%s.delete", d->ops->what);
	return api_audit(d->req, action, d->ops->what, d->id, NULL);
}

int
delete_by_id(struct request *req, const struct delete_ops *ops)
{
	struct del		 d = { ops, req->params[0], req, { 0 }, 0 };
	struct json_object	*o;

	if (!id_valid(d.id)) {
		reply_error(req, 404, "%s not found", ops->what);
		return 0;
	}
	if (db_txn(req->db, delete_txn, &d) == -1) {
		dispatch_ids_clear(&d.ctx.advance);
		reply_db_error(req);
		return 0;
	}
	if (d.ctx.refuse[0] != '\0') {
		reply_error(req, 409, "%s", d.ctx.refuse);
		return 0;
	}
	executions_advance(req, &d.ctx.advance);
	if (!d.found) {
		reply_error(req, 404, "%s not found", ops->what);
		return 0;
	}
	o = json_object_new_object();
	json_object_object_add(o, "deleted", json_object_new_boolean(1));
	json_object_object_add(o, "id", json_object_new_string(d.id));
	reply_json(req, 200, o);
	return 0;
}
