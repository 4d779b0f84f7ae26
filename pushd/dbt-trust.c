/*
 * The db thread's side of worker trust: worker_trust_events followed from
 * where this pushd started (a revoked, deleted or enrolled worker's socket
 * closed, an accept or a group change acted on), the periodic backstop for
 * a revocation committed too late to be seen, and the key rotation offered
 * over the worker's own socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dbt.h"
#include "log.h"
#include "pjson.h"
#include "trust.h"
#include "xmalloc.h"

static const char sql_trust_max[] =
    "SELECT COALESCE(MAX(id), 0) FROM worker_trust_events";
/* The increment rides along: one server or Galera (idtail.h). */
static const char sql_trust_after[] =
    "SELECT id, worker_id, kind, @@auto_increment_increment "
    "FROM worker_trust_events WHERE id > ? ORDER BY id LIMIT 500";
/* Holes that committed after all (a few rows: trust events are rare). */
static const char sql_trust_range[] =
    "SELECT id, worker_id, kind FROM worker_trust_events "
    "WHERE id >= ? AND id <= ? ORDER BY id LIMIT 500";
/* What a trust event told, asked again now and then (dbt_untrusted). */
static const char sql_revoked_here[] =
    "SELECT id FROM workers WHERE pushd_node = ? AND state = 'revoked'";

void
dbt_worker_state(uint64_t conn, const char *worker_id, const char *state)
{
	struct json_object	*m = json_object_new_object();

	json_object_object_add(m, "type", json_object_new_string(
	    "worker_state"));
	json_object_object_add(m, "state", json_object_new_string(state));
	json_object_object_add(m, "worker_id",
	    json_object_new_string(worker_id));
	dbt_send(conn, m);
}

struct dbt_offer {
	const char	*worker_id;
	int		 wanted;
	char		 key[WKEY_LEN + 1];
	long long	 key_id;
};

/* Galera: read then insert, with no row written by both: only the pushd
 * holding the worker's socket offers it a key, and an extra offer is
 * harmless (an ack kills the offers older than the acked one). */
static int
dbt_offer_txn(struct db *db, void *arg)
{
	struct dbt_offer	*o = arg;

	if (trust_rotation_wanted(db, o->worker_id, &o->wanted) == -1)
		return -1;
	if (!o->wanted)
		return 0;
	return trust_key_offer(db, o->worker_id, o->key, &o->key_id);
}

/*
 * An admin asked for a new key: made here, stored hashed and not active
 * until the worker acknowledges it (or reconnects with it), and sent over
 * the one channel that is the worker's own.
 */
void
dbt_offer(const char *worker_id, uint64_t conn)
{
	struct dbt_offer	 o;
	struct json_object	*m;
	char			 kid[32];

	memset(&o, 0, sizeof(o));
	o.worker_id = worker_id;
	if (db_txn(dbt.db, dbt_offer_txn, &o) == -1) {
		dbt_failed("offering a new key");
		return;
	}
	if (!o.wanted)
		return;
	snprintf(kid, sizeof(kid), "%lld", o.key_id);
	m = json_object_new_object();
	json_object_object_add(m, "type", json_object_new_string("rotate_key"));
	json_object_object_add(m, "key", json_object_new_string(o.key));
	json_object_object_add(m, "key_id", json_object_new_string(kid));
	explicit_bzero(o.key, sizeof(o.key));
	dbt_send(conn, m);
	log_info("worker %s: new key %s offered", worker_id, kid);
}

/* One worker_trust_events row, for a worker whose socket is here. */
static void
dbt_trust_one(const char *worker_id, const char *kind)
{
	struct idmap_node	*e;
	uint64_t		 conn;

	if ((e = idmap_get(&dbt.held, worker_id, strlen(worker_id))) == NULL)
		return;
	conn = e->num;
	if (strcmp(kind, "revoke") == 0 || strcmp(kind, "delete") == 0) {
		log_info("worker %s %s: closing its socket", worker_id,
		    kind[0] == 'r' ? "revoked" : "deleted");
		dbt_refuse(conn);
		dbt_close(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    kind[0] == 'r' ? "worker revoked" : "worker deleted");
	} else if (strcmp(kind, "enroll") == 0) {
		/* It was keyless, so this socket came with the shared key,
		 * which may no longer act as it. */
		log_info("worker %s enrolled: closing its shared-key socket",
		    worker_id);
		dbt_refuse(conn);
		dbt_close(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "worker enrolled: reconnect with its own key");
	} else if (strcmp(kind, "rotate") == 0)
		dbt_offer(worker_id, conn);
	else if (strcmp(kind, "accept") == 0) {
		dbt_worker_state(conn, worker_id, "accepted");
		/* A rotation asked for while it was pending waits no more. */
		dbt_offer(worker_id, conn);
		dbt.claim_now = 1;
	} else if (strcmp(kind, "groups") == 0)
		dbt.claim_now = 1;
}

/* Skipped trust events that committed after all: acted on late. */
static int
dbt_trust_holes(long long now)
{
	struct db_res	*r;
	size_t		 i;
	long long	 lo, hi;

	if (!idtail_due(&dbt.trust, now, &lo, &hi))
		return 0;
	if (db_exec(dbt.db, sql_trust_range, &r, "ii", lo, hi) == -1)
		return -1;
	for (i = 0; i < db_res_rows(r); i++)
		if (idtail_found(&dbt.trust, db_res_int(r, i, 0, 0)))
			dbt_trust_one(db_res_get(r, i, 1),
			    db_res_get(r, i, 2));
	db_res_free(r);
	return 0;
}

/*
 * Follow worker_trust_events from where this pushd started: a revocation
 * closes the socket within a poll or two (SPEC section 12: within 1 s).
 * An id not committed yet is waited for (one server) or looked for again
 * (Galera: ids are not commit-ordered across nodes), idtail.h.
 */
void
dbt_trust(void)
{
	struct db_res	*r;
	long long	 now = pushd_now_ms(), cursor;
	size_t		 i;

	if (!dbt.trust_ready) {
		if (dbt_start_at(sql_trust_max, &cursor,
		    "reading worker trust events") == -1)
			return;
		idtail_start(&dbt.trust, cursor);
		dbt.trust_ready = 1;
	}
	if (db_exec(dbt.db, sql_trust_after, &r, "i", dbt.trust.cursor) ==
	    -1) {
		dbt_failed("reading worker trust events");
		return;
	}
	if (db_res_rows(r) > 0)
		idtail_step(&dbt.trust, db_res_int(r, 0, 3, 1));
	for (i = 0; i < db_res_rows(r); i++) {
		if (!idtail_take(&dbt.trust, db_res_int(r, i, 0, 0), now))
			break;
		dbt_trust_one(db_res_get(r, i, 1), db_res_get(r, i, 2));
	}
	db_res_free(r);
	if (dbt_trust_holes(now) == -1)
		dbt_failed("reading late worker trust events");
}

/*
 * The backstop of dbt_trust(): a revocation whose event committed later
 * than IDTAIL_KEEP_MS after its id was taken was passed over; its
 * worker, still held here, is closed at the next DBT_TOUCH_MS.
 */
void
dbt_untrusted(void)
{
	struct db_res	*r;
	size_t		 i;

	if (db_exec(dbt.db, sql_revoked_here, &r, "s", dbt.node) == -1) {
		dbt_failed("looking for revoked workers");
		return;
	}
	for (i = 0; i < db_res_rows(r); i++)
		dbt_trust_one(db_res_get(r, i, 0), "revoke");
	db_res_free(r);
}
