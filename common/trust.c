/*
 * worker_keys and worker_trust_events: the one file that writes them.
 * Keys are looked up by their worker and compared hash to hash in
 * constant time, so neither the index nor the comparison says how close
 * a guess came.
 */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "trust.h"

/* Galera: the lock is local; every caller also writes this worker row
 * (registry_online's sql_update, a state change), so two nodes conflict
 * at certification and the later is rerun. */
static const char sql_worker[] =
    "SELECT state, EXISTS (SELECT 1 FROM worker_keys k "
    "WHERE k.worker_id = w.id) FROM workers w WHERE w.id = ? FOR UPDATE";
static const char sql_live_keys[] =
    "SELECT id, key_hash, activated_at IS NULL, used_at IS NULL "
    "FROM worker_keys WHERE worker_id = ? AND revoked_at IS NULL";
static const char sql_key_used[] =
    "UPDATE worker_keys SET used_at = NOW(3) WHERE id = ? AND used_at IS NULL";
static const char sql_key_add[] =
    "INSERT INTO worker_keys (worker_id, key_hash, activated_at, token_id) "
    "VALUES (?, ?, NOW(3), ?)";
/*
 * An enrollment asked again: the worker's one live key, made by this token
 * (not revoked since), never used. Any other key, or a used one, and the
 * worker is enrolled for good.
 */
static const char sql_retry[] =
    "SELECT k.id, k.token_id, (SELECT COUNT(*) FROM worker_keys o WHERE "
    "o.worker_id = k.worker_id AND o.revoked_at IS NULL) FROM worker_keys k "
    "JOIN enrollment_tokens t ON t.id = k.token_id WHERE k.worker_id = ? "
    "AND t.token_hash = ? AND t.revoked_at IS NULL AND k.revoked_at IS NULL "
    "AND k.activated_at IS NOT NULL AND k.used_at IS NULL";
static const char sql_key_die[] =
    "UPDATE worker_keys SET revoked_at = NOW(3) WHERE id = ?";
static const char sql_offer_add[] =
    "INSERT INTO worker_keys (worker_id, key_hash) VALUES (?, ?)";
static const char sql_activate[] =
    "UPDATE worker_keys SET activated_at = NOW(3) WHERE id = ? "
    "AND worker_id = ? AND activated_at IS NULL AND revoked_at IS NULL";
/*
 * At an ack only the keys made before the acked one die: a later offer
 * may be on its way to the worker still, which then switches to it.
 */
/* Galera: ids are not ordered across nodes, but one worker's offers are
 * made one after another (an ack or a connect in between), each on a
 * node that has applied the previous one, whose AUTO_INCREMENT counter is
 * then past it: within one worker id < ? still means older. */
static const char sql_older_die[] =
    "UPDATE worker_keys SET revoked_at = NOW(3) WHERE worker_id = ? "
    "AND id < ? AND revoked_at IS NULL";
/* At a connect every key but the one presented dies (trust_connected). */
static const char sql_others_die[] =
    "UPDATE worker_keys SET revoked_at = NOW(3) WHERE worker_id = ? "
    "AND key_hash <> ? AND revoked_at IS NULL";
static const char sql_all_die[] =
    "UPDATE worker_keys SET revoked_at = NOW(3) WHERE worker_id = ? "
    "AND revoked_at IS NULL";
static const char sql_rotation_wanted[] =
    "SELECT rotation_requested_at IS NOT NULL AND EXISTS (SELECT 1 FROM "
    "worker_keys k WHERE k.worker_id = w.id AND k.revoked_at IS NULL) "
    "FROM workers w WHERE w.id = ? AND w.state = 'accepted'";
static const char sql_event[] =
    "INSERT INTO worker_trust_events (worker_id, kind) VALUES (?, ?)";

int
trust_key_ack(struct db *db, const char *worker_id, long long key_id, int *ok)
{
	*ok = 0;
	if (db_exec(db, sql_activate, NULL, "is", key_id, worker_id) == -1)
		return -1;
	if (db_affected(db) != 1)
		return 0;
	if (db_exec(db, sql_older_die, NULL, "si", worker_id, key_id) == -1)
		return -1;
	*ok = 1;
	return 0;
}

/* Its own key: one of its live keys, else refused. */
static int
trust_own(struct db *db, const char *worker_id, const char *key_hash,
    char why[TRUST_WHY_MAX], int *acked)
{
	struct db_res	*res;
	long long	 id = 0;
	size_t		 i;
	int		 offered = 0, unused = 0, ok;

	if (db_exec(db, sql_live_keys, &res, "s", worker_id) == -1)
		return -1;
	/* Every row is compared: the time says nothing of which matched. */
	for (i = 0; i < db_res_rows(res); i++)
		if (wkey_hash_equal(db_res_get(res, i, 1), key_hash)) {
			id = db_res_int(res, i, 0, 0);
			offered = db_res_int(res, i, 2, 0) != 0;
			unused = db_res_int(res, i, 3, 0) != 0;
		}
	db_res_free(res);
	if (id == 0) {
		snprintf(why, TRUST_WHY_MAX, "unknown or revoked key");
		return 0;
	}
	/* Used once: an enrollment asked again may no longer replace it. */
	if (unused && db_exec(db, sql_key_used, NULL, "i", id) == -1)
		return -1;
	if (!offered)
		return 0;
	if (trust_key_ack(db, worker_id, id, &ok) == -1)
		return -1;
	if (acked != NULL)
		*acked = ok;
	return 0;
}

int
trust_check(struct db *db, const char *worker_id, const char *key_hash,
    char why[TRUST_WHY_MAX], int *acked, int *keyed)
{
	struct db_res	*res;
	int		 known, has_keys = 0, revoked = 0;

	why[0] = '\0';
	if (acked != NULL)
		*acked = 0;
	if (db_exec(db, sql_worker, &res, "s", worker_id) == -1)
		return -1;
	known = db_res_rows(res) > 0;
	if (known) {
		revoked = strcmp(db_res_get(res, 0, 0), "revoked") == 0;
		has_keys = db_res_int(res, 0, 1, 0) != 0;
	}
	db_res_free(res);
	if (keyed != NULL)
		*keyed = has_keys;
	if (revoked) {
		snprintf(why, TRUST_WHY_MAX, "worker revoked");
		return 0;
	}
	if (key_hash == NULL) {
		if (has_keys)
			snprintf(why, TRUST_WHY_MAX, "worker already enrolled: "
			    "use its own key");
		return 0;
	}
	if (!known) {
		snprintf(why, TRUST_WHY_MAX, "unknown worker");
		return 0;
	}
	return trust_own(db, worker_id, key_hash, why, acked);
}

int
trust_key_add(struct db *db, const char *worker_id, const char *key_hash,
    const char *token_id)
{
	return db_exec(db, sql_key_add, NULL, "sss", worker_id, key_hash,
	    token_id);
}

int
trust_enroll_retry(struct db *db, const char *worker_id,
    const char *token_hash, const char *key_hash, int *retry)
{
	struct db_res	*res;
	long long	 id = 0;
	char		 token_id[64];

	*retry = 0;
	if (db_exec(db, sql_retry, &res, "ss", worker_id, token_hash) == -1)
		return -1;
	if (db_res_rows(res) == 1 && db_res_int(res, 0, 2, 0) == 1) {
		id = db_res_int(res, 0, 0, 0);
		snprintf(token_id, sizeof(token_id), "%s",
		    db_res_get(res, 0, 1));
	}
	db_res_free(res);
	if (id == 0)
		return 0;
	/*
	 * The lost key dies: whoever may have seen that answer gets nothing.
	 * The new one names the token too, should this answer be lost again.
	 */
	if (db_exec(db, sql_key_die, NULL, "i", id) == -1 ||
	    db_exec(db, sql_key_add, NULL, "sss", worker_id, key_hash,
	    token_id) == -1)
		return -1;
	*retry = 1;
	return 0;
}

int
trust_key_offer(struct db *db, const char *worker_id, char key[WKEY_LEN + 1],
    long long *key_id)
{
	char	 hash[WKEY_HASH_LEN + 1];

	if (wkey_new(key) == -1) {
		db_seterr(db, 0, "no random bytes for a key");
		return -1;
	}
	wkey_hash(key, hash);
	/*
	 * Earlier offers live on: the worker may have stored one already
	 * and lose its socket before this one arrives (an admin's double
	 * click). The ack, or the next connect, ends them.
	 */
	if (db_exec(db, sql_offer_add, NULL, "ss", worker_id, hash) == -1)
		return -1;
	*key_id = (long long)db_insert_id(db);
	return 0;
}

int
trust_connected(struct db *db, const char *worker_id, const char *key_hash)
{
	return db_exec(db, sql_others_die, NULL, "ss", worker_id, key_hash);
}

int
trust_rotation_wanted(struct db *db, const char *worker_id, int *wanted)
{
	struct db_res	*res;

	if (db_exec(db, sql_rotation_wanted, &res, "s", worker_id) == -1)
		return -1;
	*wanted = db_res_int(res, 0, 0, 0) != 0;
	db_res_free(res);
	return 0;
}

int
trust_keys_revoke(struct db *db, const char *worker_id)
{
	return db_exec(db, sql_all_die, NULL, "s", worker_id);
}

int
trust_event(struct db *db, const char *worker_id, const char *kind)
{
	return db_exec(db, sql_event, NULL, "ss", worker_id, kind);
}
