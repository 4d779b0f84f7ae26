/*
 * Who may act as a worker (SPEC section 12): its own keys (worker_keys,
 * stored hashed, rotated by offer and acknowledgement) or, for a worker
 * that has none, the shared WORKER_API_KEY; and the worker_trust_events
 * log through which every pushd learns of a revocation, a deletion, a
 * rotation or an acceptance. Used by pulse-api and pulse-pushd; every
 * call runs in the caller's transaction.
 */
#ifndef PULSE_TRUST_H
#define PULSE_TRUST_H

#include <stddef.h>

#include "wkey.h"

struct db;

#define TRUST_WHY_MAX	128

/*
 * May the presented key act as worker_id? key_hash is the hash of the
 * worker's own key, or NULL for the shared key (which the caller has
 * compared already): that may act only as an unknown or keyless worker.
 * The worker row is locked. Returns -1 on a db error; else 0 with why ""
 * (yes) or the reason (no). *acked (may be NULL) is set when the key was
 * the one a rotation offered: presenting it is its acknowledgement, and
 * it is active now. *keyed says whether the worker has keys of its own.
 * Callers use registry_check(), which then ends the rotation request.
 */
int	trust_check(struct db *, const char *worker_id, const char *key_hash,
	    char why[TRUST_WHY_MAX], int *acked, int *keyed);

/*
 * A new active key for worker_id (enrollment); token_id: the token that
 * enrolled it, or NULL (the shared key).
 */
int	trust_key_add(struct db *, const char *worker_id, const char *key_hash,
	    const char *token_id);

/*
 * An enrollment asked again after its 201 was lost: the same worker_id and
 * token. When the worker's one live key came from this token (not revoked)
 * and was never used (no connect or heartbeat), that key dies and
 * key_hash takes its place, *retry = 1; the token is not used again. Else
 * *retry = 0: the worker is enrolled and the retry is refused. The caller
 * has locked the worker row (trust_check).
 */
int	trust_enroll_retry(struct db *, const char *worker_id,
	    const char *token_hash, const char *key_hash, int *retry);

/*
 * A rotation's offer: a new key is made and stored (not active until
 * acknowledged). key_id names it. Earlier offers stay live: the worker
 * may hold one of them already.
 */
int	trust_key_offer(struct db *, const char *worker_id,
	    char key[WKEY_LEN + 1], long long *key_id);

/*
 * The worker acknowledged offer key_id: it becomes its active key, every
 * older key dies (a newer offer may still be on its way to the worker
 * and stays). *ok is 0 when key_id is no open offer of this worker
 * (superseded, or never made). The worker row's rotation request is
 * registry.c's: call registry_key_ack(), which ends the rotation too.
 */
int	trust_key_ack(struct db *, const char *worker_id, long long key_id,
	    int *ok);

/*
 * A worker connected its socket with key_hash, its own key (trust_check
 * said so): every other key of it dies. No offer made before can reach it
 * any more (its earlier socket is gone), and its agent uses only the key
 * it presented; a rotation still wanted is offered afresh.
 */
int	trust_connected(struct db *, const char *worker_id,
	    const char *key_hash);

/* Does an accepted worker with keys wait for a rotation's offer? */
int	trust_rotation_wanted(struct db *, const char *worker_id, int *wanted);

/* Every key of the worker dies (revocation). */
int	trust_keys_revoke(struct db *, const char *worker_id);

/* One row for the pushd: revoke, delete, rotate, accept, groups. */
int	trust_event(struct db *, const char *worker_id, const char *kind);

#endif
