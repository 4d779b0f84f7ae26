/*
 * Enrollment (SPEC section 12): the tokens an admin hands out, and
 * POST /api/workers/enroll, where an agent trades a token (or the shared
 * key) for an id and a key of its own. A token is shown once, when it is
 * made; only its hash is kept, and each use is counted down in the
 * enrollment's own transaction.
 */
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "id.h"
#include "ident.h"
#include "log.h"
#include "pjson.h"
#include "registry.h"
#include "trust.h"
#include "wkey.h"
#include "xmalloc.h"

#define TOKEN_USES_MAX		10000
#define TOKEN_EXPIRES_MIN	60000LL			/* ms: a minute */
#define TOKEN_EXPIRES_MAX	2592000000LL		/* ms: 30 days */
#define TOKEN_EXPIRES_DEFAULT	86400000LL		/* ms: a day */
#define TOKENS_LIST_MAX		500
#define ENROLL_STR_(x)		#x
#define ENROLL_STR(x)		ENROLL_STR_(x)
#define ENROLL_VERSION_MAX	64

static const char sql_token_insert[] =
    "INSERT INTO enrollment_tokens (id, token_hash, `groups`, uses_left, "
    "expires_at, created_by) VALUES (?, ?, JSON_EXTRACT(?, '$'), ?, "
    "NOW(3) + INTERVAL ? * 1000 MICROSECOND, ?)";
#define TOKEN_COLS \
    "SELECT id, `groups`, uses_left, expires_at, created_by, created_at, " \
    "revoked_at, CASE WHEN revoked_at IS NOT NULL THEN 'revoked' " \
    "WHEN expires_at <= NOW(3) THEN 'expired' WHEN uses_left <= 0 " \
    "THEN 'used' ELSE 'active' END FROM enrollment_tokens "
static const char sql_token_one[] = TOKEN_COLS "WHERE id = ?";
static const char sql_token_list[] = TOKEN_COLS
    "ORDER BY created_at DESC, id LIMIT " ENROLL_STR(TOKENS_LIST_MAX);
static const char sql_token_revoke[] =
    "UPDATE enrollment_tokens SET revoked_at = COALESCE(revoked_at, NOW(3)) "
    "WHERE id = ?";
/* The one statement that decides whether a token still has a use.
 * Galera: conditional and always a change (uses_left - 1), so two uses
 * on two nodes of a token's last use conflict at COMMIT: one is rerun
 * and finds none left. */
static const char sql_token_use[] =
    "UPDATE enrollment_tokens SET uses_left = uses_left - 1 "
    "WHERE token_hash = ? AND uses_left > 0 AND expires_at > NOW(3) "
    "AND revoked_at IS NULL";
static const char sql_enrolled[] =
    "SELECT state, name FROM workers WHERE id = ?";
static const char sql_token_why[] =
    "SELECT revoked_at IS NOT NULL, expires_at <= NOW(3), `groups`, id "
    "FROM enrollment_tokens WHERE token_hash = ?";

/* ------------------------------------------------------------ tokens */

/* A token as GET shows it, in TOKEN_COLS' order; never the token. */
static const struct dbjson_col token_cols[] = {
	{ "id", DBJSON_STRING },
	{ "groups", DBJSON_RAW },
	{ "uses_left", DBJSON_INT },
	{ "expires_at", DBJSON_TIME },
	{ "created_by", DBJSON_STRING },
	{ "created_at", DBJSON_TIME },
	{ "revoked_at", DBJSON_TIME },
	{ "state", DBJSON_STRING },
	{ NULL, DBJSON_STRING }
};

static struct json_object *
tokens_row(const struct db_res *res, size_t i)
{
	return dbjson_row(res, i, token_cols);
}

struct token_new {
	char			 id[ID_LEN + 1];
	char			 hash[WKEY_HASH_LEN + 1];
	struct json_object	*groups;
	long long		 uses;
	long long		 expires_in;
	struct request		*req;
};

static int
token_create_txn(struct db *db, void *arg)
{
	struct token_new	*t = arg;
	struct json_object	*d;
	int			 rc;

	if (db_exec(db, sql_token_insert, NULL, "sssiis", t->id, t->hash,
	    pjson_str(t->groups, NULL), t->uses, t->expires_in,
	    t->req->user.name) == -1)
		return -1;
	/* What the token grants; never the token. */
	d = json_object_new_object();
	json_object_object_add(d, "groups", json_object_get(t->groups));
	json_object_object_add(d, "uses", json_object_new_int64(t->uses));
	json_object_object_add(d, "expires_in",
	    json_object_new_int64(t->expires_in));
	rc = api_audit(t->req, "token.create", "enrollment_token", t->id, d);
	json_object_put(d);
	return rc;
}

int
tokens_create(struct request *req)
{
	static const char *const allowed[] = { "groups", "uses", "expires_in",
	    NULL };
	struct token_new	 t;
	struct json_object	*groups, *o;
	struct db_res		*res;
	char			 token[WKEY_LEN + 1];

	memset(&t, 0, sizeof(t));
	if (body_only(req, allowed) == -1 ||
	    body_groups(req, "groups", 0, &groups) == -1)
		return 0;
	if (body_int(req, "uses", 1, TOKEN_USES_MAX, 1, &t.uses) == -1 ||
	    body_int(req, "expires_in", TOKEN_EXPIRES_MIN, TOKEN_EXPIRES_MAX,
	    TOKEN_EXPIRES_DEFAULT, &t.expires_in) == -1) {
		json_object_put(groups);
		return 0;
	}
	if (groups == NULL)
		groups = json_object_new_array();
	if (wkey_new(token) == -1) {
		json_object_put(groups);
		reply_error(req, 500, "no random bytes for a token");
		return 0;
	}
	id_new(t.id);
	wkey_hash(token, t.hash);
	t.groups = groups;
	t.req = req;
	if (db_txn(req->db, token_create_txn, &t) == -1 ||
	    db_exec(req->db, sql_token_one, &res, "s", t.id) == -1) {
		explicit_bzero(token, sizeof(token));
		json_object_put(groups);
		reply_db_error(req);
		return 0;
	}
	json_object_put(groups);
	o = tokens_row(res, 0);
	db_res_free(res);
	/* The only time the token is seen: it is stored hashed. */
	json_object_object_add(o, "token", json_object_new_string(token));
	explicit_bzero(token, sizeof(token));
	log_info("enrollment token %s created by %s (%lld use%s)", t.id,
	    req->user.name, t.uses, t.uses == 1 ? "" : "s");
	reply_json(req, 201, o);
	return 0;
}

int
tokens_list(struct request *req)
{
	struct db_res		*res;
	struct json_object	*arr;
	size_t			 i;

	if (db_exec(req->db, sql_token_list, &res, "") == -1) {
		reply_db_error(req);
		return 0;
	}
	arr = json_object_new_array_ext((int)db_res_rows(res));
	for (i = 0; i < db_res_rows(res); i++)
		json_object_array_add(arr, tokens_row(res, i));
	db_res_free(res);
	reply_json(req, 200, arr);
	return 0;
}

struct token_revoke {
	const char	*id;
	int		 found;
	struct request	*req;
};

static int
token_revoke_txn(struct db *db, void *arg)
{
	struct token_revoke	*t = arg;

	if (db_exec(db, sql_token_revoke, NULL, "s", t->id) == -1)
		return -1;
	if ((t->found = db_affected(db) > 0) == 0)
		return 1;
	return api_audit(t->req, "token.revoke", "enrollment_token", t->id,
	    NULL);
}

int
tokens_revoke(struct request *req)
{
	struct token_revoke	 t = { req->params[0], 0, req };
	struct db_res		*res;

	if (!id_valid(t.id)) {
		reply_error(req, 404, "enrollment token not found");
		return 0;
	}
	if (db_txn(req->db, token_revoke_txn, &t) == -1 ||
	    db_exec(req->db, sql_token_one, &res, "s", t.id) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (!t.found || db_res_rows(res) == 0)
		reply_error(req, 404, "enrollment token not found");
	else
		reply_json(req, 200, tokens_row(res, 0));
	db_res_free(res);
	return 0;
}

/* ----------------------------------------------------------- enroll */

struct enroll {
	struct registry_enroll	 e;
	const char		*token_hash;	/* NULL: the shared key */
	int			 auto_accept;
	char			 hash[WKEY_HASH_LEN + 1];	/* the key's */
	char			 refused[TRUST_WHY_MAX];
	char			*token_groups;
	char			 token_id[ID_LEN + 1];
	int			 retry;		/* a lost answer asked again */
	struct json_object	*granted;	/* the answer's groups */
	struct request		*req;
};

/*
 * worker.enroll, or worker.key_refused with the reason: the actor is the
 * worker (no person signs in here), the address the one nginx saw. Never
 * the token or the key. A refusal is audited only for a worker on record,
 * once in ten minutes (registry_refused): anyone can send a token and an
 * id, so a wrong token for a new id is only logged.
 */
static int
enroll_audit(struct db *db, struct enroll *en)
{
	struct json_object	*d = json_object_new_object();
	char			 err[128];
	int			 rc, written;

	json_object_object_add(d, "name", json_object_new_string(en->e.name));
	json_object_object_add(d, "via", json_object_new_string(
	    en->token_hash != NULL ? "token" : "shared key"));
	if (en->token_id[0] != '\0')
		json_object_object_add(d, "token_id",
		    json_object_new_string(en->token_id));
	json_object_object_add(d, "requested_groups", pjson_parse(
	    en->e.requested, strlen(en->e.requested), API_JSON_DEPTH, err,
	    sizeof(err)));
	if (en->refused[0] == '\0') {
		json_object_object_add(d, "state",
		    json_object_new_string(en->e.state));
		json_object_object_add(d, "existing",
		    json_object_new_boolean(!en->e.created));
		if (en->retry)
			json_object_object_add(d, "retry",
			    json_object_new_boolean(1));
		if (en->e.accept && en->e.granted != NULL)
			json_object_object_add(d, "groups", pjson_parse(
			    en->e.granted, strlen(en->e.granted),
			    API_JSON_DEPTH, err, sizeof(err)));
	}
	if (en->refused[0] != '\0')
		rc = registry_refused(db, en->e.id, request_header(en->req,
		    "REMOTE_ADDR"), en->refused, d, &written);
	else
		rc = registry_audit(db, en->e.name, request_header(en->req,
		    "REMOTE_ADDR"), en->e.id, NULL, d);
	json_object_put(d);
	return rc;
}

/*
 * The token after its use was counted (used: the rows that changed): its
 * groups, or why it had no use left to give.
 */
static int
enroll_token(struct db *db, struct enroll *en, unsigned long long used)
{
	struct db_res	*res;
	const char	*why = NULL;

	if (db_exec(db, sql_token_why, &res, "s", en->token_hash) == -1)
		return -1;
	if (db_res_rows(res) == 0)
		why = "unknown enrollment token";
	else if (used != 1 && db_res_int(res, 0, 0, 0))
		why = "enrollment token revoked";
	else if (used != 1 && db_res_int(res, 0, 1, 0))
		why = "enrollment token expired";
	else if (used != 1)
		why = "enrollment token used up";
	if (db_res_rows(res) > 0)
		strlcpy_p(en->token_id, db_res_get(res, 0, 3),
		    sizeof(en->token_id));
	if (why != NULL)
		snprintf(en->refused, sizeof(en->refused), "%s", why);
	else {
		free(en->token_groups);
		en->token_groups = xstrdup(db_res_get(res, 0, 2));
	}
	db_res_free(res);
	return 0;
}

/*
 * The same worker_id and token again, its key never used: the 201 was
 * lost on its way (trust_enroll_retry). The worker is answered as it is
 * now; the token is not used again.
 */
static int
enroll_retry(struct db *db, struct enroll *en)
{
	struct db_res	*res;

	if (trust_enroll_retry(db, en->e.id, en->token_hash, en->hash,
	    &en->retry) == -1)
		return -1;
	if (!en->retry)
		return 0;
	en->refused[0] = '\0';
	if (db_exec(db, sql_enrolled, &res, "s", en->e.id) == -1)
		return -1;
	strlcpy_p(en->e.state, db_res_get(res, 0, 0), sizeof(en->e.state));
	strlcpy_p(en->e.name_out, db_res_get(res, 0, 1),
	    sizeof(en->e.name_out));
	db_res_free(res);
	if (db_exec(db, sql_token_why, &res, "s", en->token_hash) == -1)
		return -1;
	strlcpy_p(en->token_id, db_res_get(res, 0, 3), sizeof(en->token_id));
	db_res_free(res);
	en->e.created = 0;
	en->e.accept = 0;
	return 0;
}

static int
enroll_txn(struct db *db, void *arg)
{
	struct enroll	*en = arg;
	int		 keyed;

	en->refused[0] = '\0';
	en->token_id[0] = '\0';
	en->retry = 0;
	json_object_put(en->granted);	/* db_txn may run this twice */
	en->granted = NULL;
	/* An id that has a key is that worker's alone (trust_check). */
	if (registry_check(db, en->e.id, NULL, en->refused, NULL, &keyed) == -1)
		return -1;
	if (en->refused[0] != '\0' && keyed && en->token_hash != NULL &&
	    enroll_retry(db, en) == -1)
		return -1;
	if (en->retry)
		goto answer;
	/* Refused: nothing was written but the audit row. */
	if (en->refused[0] != '\0')
		return enroll_audit(db, en) == -1 ? -1 : 1;
	if (en->token_hash != NULL) {
		if (db_exec(db, sql_token_use, NULL, "s", en->token_hash) ==
		    -1 || enroll_token(db, en, db_affected(db)) == -1)
			return -1;
		if (en->refused[0] != '\0')
			return enroll_audit(db, en) == -1 ? -1 : 1;
		en->e.accept = 1;
		en->e.granted = en->token_groups;
	} else {
		en->e.accept = en->auto_accept;
		en->e.keep_state = en->auto_accept;
		en->e.granted = en->e.requested;
	}
	if (registry_enroll(db, &en->e) == -1 ||
	    trust_key_add(db, en->e.id, en->hash, en->token_hash != NULL ?
	    en->token_id : NULL) == -1)
		return -1;
answer:
	/*
	 * The answer's groups are read here, before the commit: after it,
	 * a failure would answer 5xx for an enrollment that took place.
	 */
	if (registry_granted(db, en->e.id, &en->granted) == -1)
		return -1;
	return enroll_audit(db, en);
}

static int
enroll_shared_ok(struct request *req)
{
	const char	*want = req->cfg->worker_api_key;
	const char	*got = request_header(req, "HTTP_X_API_KEY");

	/* An empty configured key would match an empty header: refuse. */
	return want != NULL && *want != '\0' && got != NULL &&
	    ident_key_equal(got, want);
}

/* Token or shared key: which; else en->refused says why. */
static void
enroll_auth(struct request *req, const char *token, struct enroll *en,
    char thash[WKEY_HASH_LEN + 1])
{
	if (token != NULL) {
		if (!wkey_valid(token))
			snprintf(en->refused, sizeof(en->refused), "unknown "
			    "enrollment token");
		wkey_hash(token, thash);
		en->token_hash = thash;
		return;
	}
	if (!enroll_shared_ok(req))
		snprintf(en->refused, sizeof(en->refused), "no enrollment "
		    "token, and no valid shared API key");
}

/* Refusals are logged at most once in 10 s per process: anyone can try. */
static struct log_every	 refused_log;

/* A refusal found before the enrollment's transaction: its audit row. */
static int
enroll_refused_txn(struct db *db, void *arg)
{
	return enroll_audit(db, arg);
}

int
workers_enroll(struct request *req)
{
	static const char *const allowed[] = { "name", "groups", "version",
	    "worker_id", "token", NULL };
	struct enroll		 en;
	struct json_object	*groups = NULL, *o;
	const char		*token, *wid;
	char			 id[ID_LEN + 1], key[WKEY_LEN + 1];
	char			 thash[WKEY_HASH_LEN + 1];
	unsigned		 quiet;

	memset(&en, 0, sizeof(en));
	key[0] = '\0';
	/*
	 * No token and no shared key: no credential at all, answered before
	 * anything else is read (as the heartbeat's router check is), with
	 * no audit row: that would let anyone write the trail.
	 */
	if (pjson_get_string(req->json, "token", &token, NULL) != 1 &&
	    !enroll_shared_ok(req)) {
		reply_error(req, 401, "key refused: no enrollment token, and "
		    "no valid shared API key");
		return 0;
	}
	if (body_only(req, allowed) == -1 ||
	    body_name(req, "name", WORKER_NAME_CHARS, 1, &en.e.name) == -1 ||
	    body_groups(req, "groups", 0, &groups) == -1)
		return 0;
	if (body_string(req, "version", ENROLL_VERSION_MAX, 0,
	    &en.e.version) == -1 ||
	    body_string(req, "worker_id", ID_LEN, 0, &wid) == -1 ||
	    body_string(req, "token", WKEY_LEN + 1, 0, &token) == -1)
		goto out;
	if (wid != NULL && !id_valid(wid)) {
		reply_error_field(req, 400, "worker_id", "worker_id must be a "
		    "UUID");
		goto out;
	}
	if (wid != NULL)
		strlcpy_p(id, wid, sizeof(id));
	else
		id_new(id);
	if (groups == NULL)
		groups = json_object_new_array();
	en.e.id = id;
	en.e.requested = pjson_str(groups, NULL);
	en.req = req;
	enroll_auth(req, token, &en, thash);
	if (en.refused[0] != '\0') {
		if (db_txn(req->db, enroll_refused_txn, &en) == -1)
			log_warnx("enrollment refused (%s), and its audit row "
			    "not written: %s", en.refused,
			    db_errmsg(req->db));
		else if (log_every(&refused_log, 10, &quiet))
			log_info("enrollment of '%s' (%s) refused: %s (%u more "
			    "not logged)", en.e.name, id, en.refused, quiet);
		reply_error(req, 401, "key refused: %s", en.refused);
		goto out;
	}
	en.auto_accept = req->cfg->worker_auto_accept;
	if (wkey_new(key) == -1) {
		reply_error(req, 500, "no random bytes for a key");
		goto out;
	}
	wkey_hash(key, en.hash);
	if (db_txn(req->db, enroll_txn, &en) == -1) {
		reply_db_error(req);
		goto out;
	}
	if (en.refused[0] != '\0') {
		if (log_every(&refused_log, 10, &quiet))
			log_info("enrollment of '%s' (%s) refused: %s (%u more "
			    "not logged)", en.e.name, id, en.refused, quiet);
		reply_error(req, 401, "key refused: %s", en.refused);
		goto out;
	}
	log_info("worker '%s' (%s) enrolled with %s: %s%s", en.e.name_out, id,
	    en.token_hash != NULL ? "a token" : "the shared key", en.e.state,
	    en.retry ? " (asked again, its first key never used: replaced)" :
	    "");
	o = json_object_new_object();
	json_object_object_add(o, "worker_id", json_object_new_string(id));
	json_object_object_add(o, "name",
	    json_object_new_string(en.e.name_out));
	/* Shown once: the server keeps only its hash. */
	json_object_object_add(o, "key", json_object_new_string(key));
	json_object_object_add(o, "state", json_object_new_string(en.e.state));
	json_object_object_add(o, "groups", en.granted);
	en.granted = NULL;
	reply_json(req, 201, o);
out:
	explicit_bzero(key, sizeof(key));
	json_object_put(en.granted);
	free(en.token_groups);
	json_object_put(groups);
	return 0;
}
