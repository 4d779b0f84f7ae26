/*
 * The worker registry: how a worker becomes known and online, whether it
 * announces itself by HTTP heartbeat (pulse-api) or by websocket (pushd).
 * One code path, so the two can race without either failing.
 */
#ifndef PULSE_REGISTRY_H
#define PULSE_REGISTRY_H

#include <stddef.h>

#include "id.h"

struct db;

struct registry_worker {
	const char		 *id;
	const char		 *name;
	const char		 *node;		/* pushd node; NULL: keep */
	const char		 *metadata;	/* JSON object; NULL: keep */
	size_t			  metalen;
	const char		 *version;	/* into metadata; NULL: keep */
	const char *const	 *groups;	/* when has_groups */
	size_t			  ngroups;
	int			  has_groups;
	int			  created;	/* out: this call made the row */
	char			  replaced[ID_LEN + 1]; /* out: the offline
						 * worker whose name it took,
						 * or "" */
};

/*
 * Mark the worker online (creating it if new), in the caller's
 * transaction. Returns -1 on a db error; else 0, with *conflict set (and
 * nothing changed) when the name belongs to another worker_id that is
 * online. A name held by an offline worker is taken over (SPEC section 1:
 * a server swaps its agent and keeps its .env, which names it): the old
 * row is renamed "NAME (replaced ID)", loses its groups, records
 * replaced_by in its metadata, and w->replaced names it, so that the
 * caller ends its open commands (dispatch_lose_worker) in the same
 * transaction. A change of status writes a worker_update event.
 */
int	registry_online(struct db *, struct registry_worker *, int *conflict);

/* The worker_update event, for every status change of a worker. */
int	registry_event(struct db *, const char *worker_id, const char *status);

#endif
