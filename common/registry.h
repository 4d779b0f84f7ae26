/*
 * The worker registry: how a worker becomes known and online, whether it
 * announces itself by HTTP heartbeat (pulse-api) or by websocket (pushd).
 * One code path, so the two can race without either failing.
 */
#ifndef PULSE_REGISTRY_H
#define PULSE_REGISTRY_H

#include <stddef.h>

#include "id.h"
#include "pulse-limits.h"

struct db;

struct registry_worker {
	const char		 *id;
	const char		 *name;
	const char		 *node;		/* pushd node; NULL: keep */
	const char		 *metadata;	/* JSON object; NULL: keep */
	size_t			  metalen;
	const char		 *version;	/* into metadata; NULL: keep */
	const char *const	 *groups;	/* requested, when has_groups */
	size_t			  ngroups;
	int			  has_groups;
	int			  keyed;	/* it has keys of its own */
	int			  auto_accept;	/* WORKER_AUTO_ACCEPT */
	int			  created;	/* out: this call made the row */
	char			  replaced[ID_LEN + 1]; /* out: the offline
						 * worker whose name it took,
						 * or "" */
	char			  state[16];	/* out: pending|accepted */
	int			  name_kept;	/* out: a keyed worker asked
						 * for another name; it keeps
						 * its own */
};

/*
 * Mark the worker online (creating it if new), in the caller's
 * transaction; trust_check() has said that the caller may act as it.
 * Returns -1 on a db error; else 0, with *conflict set (and nothing
 * changed) when the name belongs to another worker that is online, or
 * that this known worker may not take.
 *
 * A new worker is pending, or accepted when auto_accept (version 1); one
 * whose name belongs to another worker is a replacement candidate:
 * pending, stored as "NAME (candidate ID8)" with replaces naming that
 * worker, until an admin accepts it (registry_accept). Only with
 * auto_accept does a keyless worker take over the name of an offline
 * keyless one at once, as version 1 did (SPEC section 1): the old row is
 * renamed "NAME (replaced ID)", loses its groups, records replaced_by in
 * its metadata, and w->replaced names it, so that the caller ends its
 * open commands (dispatch_lose_worker) in the same transaction.
 *
 * The groups a worker asks for go to requested_groups only: what it is
 * granted is the admin's (or its token's) decision. Only a keyless worker
 * under auto_accept is granted what it asks, as in version 1. A change of
 * status writes a worker_update event.
 */
int	registry_online(struct db *, struct registry_worker *, int *conflict);

/*
 * The audit row of a worker acting as itself (no person signs in on its
 * routes): worker.enroll, or worker.key_refused when why is set (added to
 * details as "reason"). The actor is "worker:NAME"; details is borrowed
 * and may be NULL. Never give it a key or a token.
 */
struct json_object;
int	registry_audit(struct db *, const char *name, const char *client_addr,
	    const char *worker_id, const char *why,
	    struct json_object *details);
/*
 * The worker.key_refused row of a refused key, written only for a worker
 * on record and at most once per worker every ten minutes (sql/008):
 * anyone can present a well-formed key and any id, so an unknown id
 * writes nothing, and a stale agent retrying forever or a flood against a
 * known id cannot grow the trail, which is never pruned. The actor and
 * details' "name" are the name on record, not the request's. *written
 * says whether a row was written (else the caller only logs).
 */
int	registry_refused(struct db *, const char *worker_id,
	    const char *client_addr, const char *why,
	    struct json_object *details, int *written);
/* The groups a worker is granted: *out a new JSON array, in name order. */
int	registry_granted(struct db *, const char *worker_id,
	    struct json_object **out);
/* A JSON array of the n names (a new object). */
struct json_object *registry_names(const char *const *, size_t n);

/* The worker_update event, for every status change of a worker. */
int	registry_event(struct db *, const char *worker_id, const char *status);

/* What POST /api/workers/enroll creates or completes. */
struct registry_enroll {
	const char		 *id;		/* in: given or new */
	const char		 *name;
	const char		 *version;	/* NULL: none */
	const char		 *requested;	/* JSON array text */
	const char		 *granted;	/* JSON array text, or NULL:
						 * keep (none for a new row) */
	int			  accept;	/* a new row: accepted at once */
	int			  keep_state;	/* an existing row keeps its
						 * state (the shared key under
						 * WORKER_AUTO_ACCEPT); else it
						 * becomes pending */
	char			  name_out[WORKER_NAME_MAX + 1];
	char			  state[16];	/* out */
	int			  created;	/* out: a new row */
};

/*
 * Create the row of an enrolling worker, or complete a keyless (version
 * 1) one of that id, which then waits for an admin (keep_state aside)
 * with its granted groups kept. The caller has checked the id with
 * trust_check().
 * A new worker whose name another worker holds is a replacement
 * candidate, as in registry_online; its stored name goes to name_out.
 */
int	registry_enroll(struct db *, struct registry_enroll *);

/*
 * Admin decisions, each in the caller's transaction, each writing its
 * worker_trust_events row. granted: a JSON array text of group names,
 * or NULL for the groups the worker asked for. *found is 0 when there is
 * no such worker; *why (TRUST_WHY_MAX bytes) set: refused (409).
 * Accepting a replacement candidate revokes the worker it replaces,
 * renames that one "NAME (replaced ID8)" and gives the candidate its
 * name; *replaced names it so that the caller ends its open commands.
 */
int	registry_accept(struct db *, const char *id, const char *granted,
	    int *found, char *why, char replaced[ID_LEN + 1]);
int	registry_revoke(struct db *, const char *id, int *found, char *why);
int	registry_rotate(struct db *, const char *id, int *found, char *why);
int	registry_grant(struct db *, const char *id, const char *granted,
	    int *found, char *why);

/*
 * registry.c is the only writer of the workers table (DESIGN.md section
 * 9): the other modules change a worker row through these.
 */
/*
 * trust_check() and trust_key_ack() (trust.h), and when they acked an
 * offered key, the worker's rotation request is cleared: trust.c writes
 * the keys, this the worker row. Same arguments and results.
 */
int	registry_check(struct db *, const char *worker_id,
	    const char *key_hash, char why[128], int *acked, int *keyed);
int	registry_key_ack(struct db *, const char *worker_id,
	    long long key_id, int *ok);
/* DELETE /api/workers/:id: *found says whether there was a row. */
int	registry_delete(struct db *, const char *id, int *found);
/* Retention: an offline worker by id, with its "deleted" event. 1 deleted,
 * 0 gone or back online meanwhile, -1 error. */
int	registry_prune(struct db *, const char *id);
/* Workers attached to node that held() says are not here: detached; *n
 * says how many (dispatch_worker_detach_others). */
int	registry_detach_others(struct db *, const char *node,
	    int (*held)(const char *worker_id, void *), void *arg, size_t *n);
/* Its connection to node closed: offline and detached, if still attached
 * there (an "offline" event if it was online). */
int	registry_offline(struct db *, const char *node, const char *id);
/* A worker connected to node is alive: last_heartbeat now; online again
 * if a slow poll had marked it stale. */
int	registry_touch(struct db *, const char *node, const char *id);
/* Online workers silent for secs go offline; *n counts them up. */
int	registry_stale(struct db *, int secs, size_t *n);

#endif
