/*
 * The audit trail (SPEC section 13): one append-only row for every change
 * and decision, written in the transaction of the change, each row
 * chained to the one before by hash = SHA-256(prev_hash || canonical row),
 * so that editing or deleting a row shows. audit.c is the only writer of
 * audit_log and audit_head.
 */
#ifndef PULSE_AUDIT_H
#define PULSE_AUDIT_H

#include <stddef.h>

#include <json-c/json.h>

struct db;

struct audit_actor {
	const char	*name;		/* "alice", "worker:web-01", "system" */
	const char	*groups;	/* JSON array text, or NULL */
	const char	*client_addr;	/* nginx's REMOTE_ADDR, or NULL */
};

/*
 * Append one row inside the caller's open transaction; 0 or -1 (db error
 * set). It locks the one-row chain head until the caller commits, so
 * every writer of the database extends one chain: call it as late in the
 * transaction as possible to hold that lock briefly.
 */
int	audit_append(struct db *, const struct audit_actor *, const char *action,
	    const char *target_type, const char *target_id,
	    struct json_object *details /* borrowed, may be NULL */);

#define AUDIT_HASH_LEN		64	/* lowercase hex SHA-256 */
#define AUDIT_REASON_MAX	256

struct audit_verify {
	long long	 rows;		/* rows checked */
	long long	 first_bad_id;	/* 0: the chain holds */
	char		 reason[AUDIT_REASON_MAX];
};

/*
 * Recompute the chain in id order, a page at a time (bounded memory).
 * Returns -1 on a db error; else 0 with v->first_bad_id naming the first
 * row that does not fit (its own hash, its link to the row before, a
 * gap in ids, or the chain head) and v->reason saying which.
 */
int	audit_verify(struct db *, struct audit_verify *v);

/*
 * The canonical text of a row, as hashed: a JSON array of the fields in
 * a fixed order, object keys sorted bytewise at every depth, no
 * whitespace (common/canon.c, numbers as parsed). at_ms is milliseconds
 * since the epoch. Returns a string the caller frees, or NULL if details
 * has no JSON text (NaN, nested past CANON_DEPTH_MAX). Exposed for the
 * unit test.
 */
char	*audit_canonical(long long id, long long at_ms,
	    const struct audit_actor *, const char *action,
	    const char *target_type, const char *target_id,
	    struct json_object *details);
/* hex = SHA-256(prev_hex || canon), lowercase, NUL-terminated. */
void	 audit_hash(const char *prev_hex, const char *canon, size_t len,
	    char hex[AUDIT_HASH_LEN + 1]);

#endif
