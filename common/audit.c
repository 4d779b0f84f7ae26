/*
 * The audit trail: append a chained row in the caller's transaction, and
 * walk the chain to check it. The canonical row is a JSON array
 *   [id, "at", actor, actor_groups, client_addr, action, target_type,
 *    target_id, details]
 * with at as "YYYY-MM-DDTHH:MM:SS.mmmZ", every JSON value (groups,
 * details) with object keys sorted bytewise at every depth, strings
 * escaped only where JSON must (", \ and control characters, as \u00XX),
 * and no whitespace; hash = SHA-256 of the previous row's hex hash (64
 * zeros before the first row) followed by that text, in lowercase hex.
 * The JSON columns store exactly the canonical text, and verify parses
 * and canonicalises them again, so a dump and restore that reformats
 * JSON does not break the chain while any change of a value does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "canon.h"
#include "db.h"
#include "pjson.h"
#include "sbuf.h"
#include "xmalloc.h"

#define AUDIT_PAGE		500	/* rows a verify page holds */
#define AUDIT_JSON_DEPTH	64	/* details nest no deeper */
#define AUDIT_GENESIS \
    "0000000000000000000000000000000000000000000000000000000000000000"

/*
 * An append is two statements, as every audited request pays for them
 * (bench/audit.py): the first locks the head and moves it on, hashing
 * in the server (SHA2() is the same SHA-256 as audit_hash(), which
 * verify uses) the previous hash, "[", the new id and the rest of the
 * row, which this file serialises; it keeps the previous hash in a
 * session variable for the second, which copies the head into the row.
 * The parts are hashed as bytes (CAST AS BINARY): the head's hash is an
 * ascii column and the row is utf8mb4 text, and CONCAT of the two
 * refuses to mix their collations (1271) as soon as a name is not ASCII.
 * The hash is assigned before the id so that the SQL_MODE
 * SIMULTANEOUS_ASSIGNMENT, which changes what a later assignment in
 * the list sees, makes no difference.
 */
/* Galera: every append writes audit_head (and audit_log ids come from it,
 * not from AUTO_INCREMENT), so two appends on two nodes conflict at
 * certification and the later, rerun by the caller's db_txn, chains on
 * the winner. Appends run only inside db_txn (audit_verify, the one
 * db_begin here, writes nothing). */
static const char sql_head_advance[] =
    "UPDATE audit_head SET last_hash = SHA2(CONCAT(CAST((@pulse_audit_prev "
    ":= last_hash) AS BINARY), '[', last_id + 1, CAST(? AS BINARY)), 256), "
    "last_id = last_id + 1 WHERE id = 1";
static const char sql_insert[] =
    "INSERT INTO audit_log (id, at, actor, actor_groups, client_addr, "
    "action, target_type, target_id, details, prev_hash, hash) "
    "SELECT last_id, ?, ?, ?, ?, ?, ?, ?, ?, @pulse_audit_prev, last_hash "
    "FROM audit_head WHERE id = 1";
static const char sql_head_get[] =
    "SELECT last_id, last_hash FROM audit_head WHERE id = 1";
/* UNIX_TIMESTAMP() of a TIMESTAMP is the stored instant whatever the
 * session's time zone: "1765098000.123". */
static const char sql_page[] =
    "SELECT id, UNIX_TIMESTAMP(at), actor, actor_groups, client_addr, "
    "action, target_type, target_id, details, prev_hash, hash "
    "FROM audit_log WHERE id > ? ORDER BY id LIMIT ?";
/* One snapshot for the head and every page: rows a writer commits while
 * we read are not half-seen, and a row past the head is a forgery. */
static const char sql_snapshot[] =
    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ";

/*
 * v's canonical text, numbers as json-c wrote them when parsed
 * (CANON_NUMBERS_AS_PARSED), which keeps every stored chain verifying;
 * NULL, with why, only for what no JSON column holds (NaN, deeper than
 * CANON_DEPTH_MAX).
 */
static char *
canon_details(struct json_object *v, char *why, size_t whylen)
{
	struct sbuf	 b;

	sbuf_init(&b, 256, 0);
	if (canon_json_flags(&b, v, CANON_NUMBERS_AS_PARSED, why,
	    whylen) == -1) {
		free(b.s);
		return NULL;
	}
	return b.s;
}

static void
canon_nullable(struct sbuf *b, const char *s)
{
	if (s == NULL)
		sbuf_printf(b, "null");
	else
		canon_string(b, s, strlen(s));
}

/* JSON text as canonical text; NULL (SQL NULL) for NULL or bad JSON. */
static char *
canon_text(const char *text, size_t len)
{
	struct json_object	*v;
	char			 err[64], *s;

	if (text == NULL)
		return NULL;
	v = pjson_parse(text, len, AUDIT_JSON_DEPTH, err, sizeof(err));
	if (v == NULL)
		return NULL;
	s = canon_details(v, err, sizeof(err));
	json_object_put(v);
	return s;
}

static void
format_at(long long at_ms, char *buf, size_t len, int iso)
{
	time_t		 t = (time_t)(at_ms / 1000);
	struct tm	 tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, iso ? "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" :
	    "%04d-%02d-%02d %02d:%02d:%02d.%03d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	    (int)(at_ms % 1000));
}

/*
 * The row after "[id" (the server puts the two in front when it hashes
 * an append), with groups and details already canonical (or NULL).
 */
static char *
canonical_rest(long long at_ms, const char *actor, const char *groups,
    const char *client_addr, const char *action, const char *target_type,
    const char *target_id, const char *details)
{
	struct sbuf	 b;
	char		 at[40];

	format_at(at_ms, at, sizeof(at), 1);
	sbuf_init(&b, 512, 0);
	sbuf_printf(&b, ",\"%s\",", at);
	canon_nullable(&b, actor);
	sbuf_printf(&b, ",%s,", groups != NULL ? groups : "null");
	canon_nullable(&b, client_addr);
	sbuf_printf(&b, ",");
	canon_nullable(&b, action);
	sbuf_printf(&b, ",");
	canon_nullable(&b, target_type);
	sbuf_printf(&b, ",");
	canon_nullable(&b, target_id);
	sbuf_printf(&b, ",%s]", details != NULL ? details : "null");
	return b.s;
}

static char *
canonical_row(long long id, long long at_ms, const char *actor,
    const char *groups, const char *client_addr, const char *action,
    const char *target_type, const char *target_id, const char *details)
{
	char	*rest, *row;

	rest = canonical_rest(at_ms, actor, groups, client_addr, action,
	    target_type, target_id, details);
	xasprintf(&row, "[%lld%s", id, rest);
	free(rest);
	return row;
}

char *
audit_canonical(long long id, long long at_ms, const struct audit_actor *who,
    const char *action, const char *target_type, const char *target_id,
    struct json_object *details)
{
	char		*groups, *d = NULL, *row, why[96];

	if (details != NULL &&
	    (d = canon_details(details, why, sizeof(why))) == NULL)
		return NULL;
	groups = who->groups != NULL ? canon_text(who->groups,
	    strlen(who->groups)) : NULL;
	row = canonical_row(id, at_ms, who->name, groups, who->client_addr,
	    action, target_type, target_id, d);
	free(groups);
	free(d);
	return row;
}

void
audit_hash(const char *prev_hex, const char *canon, size_t len,
    char hex[AUDIT_HASH_LEN + 1])
{
	size_t	 plen = strlen(prev_hex);
	char	*buf = xmalloc(plen + len + 1);

	memcpy(buf, prev_hex, plen);
	memcpy(buf + plen, canon, len);
	canon_sha256_hex(buf, plen + len, hex);
	free(buf);
}

int
audit_append(struct db *db, const struct audit_actor *who, const char *action,
    const char *target_type, const char *target_id,
    struct json_object *details)
{
	struct timespec	 ts;
	char		*groups = NULL, *rest = NULL, *d = NULL;
	char		 at[40], why[96];
	long long	 at_ms;
	int		 rc = -1;

	/* Milliseconds, as TIMESTAMP(3) stores them, so what is hashed is
	 * what is kept. */
	clock_gettime(CLOCK_REALTIME, &ts);
	at_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	format_at(at_ms, at, sizeof(at), 0);
	if (who->groups != NULL)
		groups = canon_text(who->groups, strlen(who->groups));
	if (details != NULL &&
	    (d = canon_details(details, why, sizeof(why))) == NULL) {
		db_seterr(db, 0, "audit details: %s", why);
		goto fail;
	}
	rest = canonical_rest(at_ms, who->name, groups, who->client_addr,
	    action, target_type, target_id, d);
	if (db_exec(db, sql_head_advance, NULL, "s", rest) == -1)
		goto fail;
	if (db_affected(db) != 1) {
		db_seterr(db, 0, "audit_head has no chain head: run the "
		    "migrations");
		goto fail;
	}
	if (db_exec(db, sql_insert, NULL, "ssssssss", at, who->name, groups,
	    who->client_addr, action, target_type, target_id, d) == -1)
		goto fail;
	rc = 0;
fail:
	free(groups);
	free(d);
	free(rest);
	return rc;
}

/* "1765098000.123" (UNIX_TIMESTAMP of a TIMESTAMP(3)) in milliseconds. */
static long long
parse_epoch_ms(const char *s)
{
	long long	 ms = 0;
	int		 i;

	if (s == NULL)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		ms = ms * 10 + (*s - '0');
	if (*s == '.')
		s++;
	for (i = 0; i < 3; i++) {
		ms *= 10;
		if (*s >= '0' && *s <= '9')
			ms += *s++ - '0';
	}
	return ms;
}

static void __attribute__((format(printf, 3, 4)))
bad(struct audit_verify *v, long long id, const char *fmt, ...)
{
	va_list	 ap;

	if (v->first_bad_id != 0)
		return;
	v->first_bad_id = id;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof(v->reason), fmt, ap);
	va_end(ap);
}

/* One fetched row against the chain so far; 0 fits, -1 does not. */
static int
verify_row(const struct db_res *r, size_t i, long long *last_id,
    char last_hash[AUDIT_HASH_LEN + 1], long long head_id,
    struct audit_verify *v)
{
	long long	 id = db_res_int(r, i, 0, 0);
	const char	*prev = db_res_get(r, i, 9);
	const char	*hash = db_res_get(r, i, 10);
	char		*groups, *details, *row, want[AUDIT_HASH_LEN + 1];
	int		 rc = -1;

	groups = canon_text(db_res_get(r, i, 3), db_res_len(r, i, 3));
	details = canon_text(db_res_get(r, i, 8), db_res_len(r, i, 8));
	row = canonical_row(id, parse_epoch_ms(db_res_get(r, i, 1)),
	    db_res_get(r, i, 2), groups, db_res_get(r, i, 4),
	    db_res_get(r, i, 5), db_res_get(r, i, 6), db_res_get(r, i, 7),
	    details);
	if (prev == NULL || hash == NULL)
		bad(v, id, "row %lld has no hash", id);
	else if (id > head_id)
		bad(v, id, "row %lld is past the chain head: it was not "
		    "appended by the server", id);
	else {
		audit_hash(prev, row, strlen(row), want);
		if (strcmp(want, hash) != 0)
			bad(v, id, "row %lld does not match its hash: it was "
			    "changed", id);
		else if (strcmp(prev, last_hash) != 0)
			bad(v, id, "prev_hash does not match the hash of row "
			    "%lld: a row before it was deleted or rewritten",
			    *last_id);
		else if (id != *last_id + 1)
			bad(v, id, "rows from %lld up to this one are missing",
			    *last_id + 1);
		else
			rc = 0;
	}
	if (rc == 0) {
		*last_id = id;
		memcpy(last_hash, hash, AUDIT_HASH_LEN + 1);
	}
	free(groups);
	free(details);
	free(row);
	return rc;
}

int
audit_verify(struct db *db, struct audit_verify *v)
{
	struct db_res	*res = NULL;
	char		 last_hash[AUDIT_HASH_LEN + 1];
	char		 head_hash[AUDIT_HASH_LEN + 1];
	long long	 last_id = 0, head_id, after = 0;
	size_t		 i, n;

	memset(v, 0, sizeof(*v));
	memcpy(last_hash, AUDIT_GENESIS, sizeof(last_hash));
	if (db_exec(db, sql_snapshot, NULL, "") == -1 || db_begin(db) == -1)
		return -1;
	if (db_exec(db, sql_head_get, &res, "") == -1)
		goto fail;
	if (db_res_rows(res) != 1 || db_res_len(res, 0, 1) != AUDIT_HASH_LEN) {
		db_seterr(db, 0, "audit_head has no chain head: run the "
		    "migrations");
		goto fail;
	}
	head_id = db_res_int(res, 0, 0, 0);
	memcpy(head_hash, db_res_get(res, 0, 1), sizeof(head_hash));
	db_res_free(res);
	res = NULL;
	do {
		if (db_exec(db, sql_page, &res, "ii", after,
		    (long long)AUDIT_PAGE) == -1)
			goto fail;
		n = db_res_rows(res);
		for (i = 0; i < n && v->first_bad_id == 0; i++) {
			after = db_res_int(res, i, 0, 0);
			if (verify_row(res, i, &last_id, last_hash, head_id,
			    v) == 0)
				v->rows++;
		}
		db_res_free(res);
		res = NULL;
	} while (n == AUDIT_PAGE && v->first_bad_id == 0);
	/* The newest rows have no successor to betray them: the head does. */
	if (v->first_bad_id == 0 && last_id < head_id)
		bad(v, last_id + 1, "rows from %lld up to the chain head are "
		    "missing", last_id + 1);
	else if (v->first_bad_id == 0 && strcmp(last_hash, head_hash) != 0)
		bad(v, last_id, "row %lld does not match the chain head",
		    last_id);
	db_commit(db);
	return 0;
fail:
	db_res_free(res);
	db_rollback(db);
	return -1;
}
