/*
 * /api/channels and /api/notifications (SPEC section 16, admins only): the
 * places notifications go, and what became of them. A channel's URL holds
 * the credentials of a Slack or Discord hook and a webhook's secret signs
 * its messages: after the POST that saves them, neither is shown again
 * (the URL as scheme://host/..., the secret not at all).
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "db.h"
#include "id.h"
#include "log.h"
#include "notify.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "workflow.h"
#include "xmalloc.h"

#define CHANNEL_SECRET_BYTES	32	/* a generated webhook secret */
#define CHANNEL_SECRET_MIN	16

/* The columns of channel_cols, then url, enabled, has_secret. */
#define CHANNEL_COLS \
    "SELECT id, name, type, email_to, created_by, created_at, url, " \
    "enabled, secret IS NOT NULL FROM channels "
static const char sql_list[] = CHANNEL_COLS "ORDER BY name";
static const char sql_one[] = CHANNEL_COLS "WHERE id = ?";
static const char sql_insert[] =
    "INSERT INTO channels (id, name, type, url, secret, email_to, enabled, "
    "created_by) VALUES (?, ?, ?, ?, ?, ?, 1, ?)";
static const char sql_name_taken[] =
    "SELECT 1 FROM channels WHERE name = ?";
static const char sql_delete[] = "DELETE FROM channels WHERE id = ?";
static const char sql_exists[] = "SELECT name FROM channels WHERE id = ?";
static const char sql_notifications[] =
    "SELECT n.id, n.channel_id, c.name, n.event, n.execution_id, n.status, "
    "n.attempts, n.next_try_at, n.last_error, n.delivery_id, n.created_at, "
    "n.delivered_at FROM notifications n "
    "LEFT JOIN channels c ON c.id = n.channel_id "
    "WHERE ? IS NULL OR n.status = ? ORDER BY n.id DESC LIMIT ?";
/* A rule's channel: the one with that id, else the one with that name. */
static const char sql_channel_by[] =
    "SELECT COALESCE((SELECT id FROM channels WHERE id = ?), "
    "(SELECT id FROM channels WHERE name = ?))";

static const char *const statuses[] = {
	"pending", "delivering", "delivered", "failed", "dead", NULL,
};

/*
 * The host[:port] of url (RFC 3986: scheme://[userinfo@]host[:port], the
 * authority ending at the first '/', '?' or '#'), in *host and *hostlen;
 * the scheme's end (after "://") in *rest. -1 when that is in doubt: no
 * "://", an empty host, or an '@' after the authority, which is what a
 * password holding an unencoded '/', '?' or '#' looks like (its tail would
 * be taken for the host): -2 then.
 */
static int
url_host(const char *url, const char **rest, const char **host,
    size_t *hostlen)
{
	const char	*sep, *end, *at;

	if ((sep = strstr(url, "://")) == NULL)
		return -1;
	*rest = sep + 3;
	end = *rest + strcspn(*rest, "/?#");
	if (strchr(end, '@') != NULL)
		return -2;
	/* After the last '@' of the authority. */
	*host = *rest;
	for (at = *rest; at < end; at++)
		if (*at == '@')
			*host = at + 1;
	*hostlen = (size_t)(end - *host);
	return *hostlen == 0 ? -1 : 0;
}

/*
 * scheme://host/... : the user name, password, path and query (where
 * Slack and Discord keep their credentials) never leave the server; when
 * the host is in doubt, only scheme://...
 */
static struct json_object *
url_masked(const char *url)
{
	const char	*rest, *host;
	size_t		 hostlen;
	char		 out[NOTIFY_URL_MAX + 16];

	if (url == NULL)
		return NULL;
	if (strstr(url, "://") == NULL)
		return json_object_new_string("…");
	if (url_host(url, &rest, &host, &hostlen) != 0) {
		snprintf(out, sizeof(out), "%.*s…", (int)(rest - url), url);
		return json_object_new_string(out);
	}
	snprintf(out, sizeof(out), "%.*s%.*s/…", (int)(rest - url), url,
	    (int)hostlen, host);
	return json_object_new_string(out);
}

static const struct dbjson_col channel_cols[] = {
	{ "id", DBJSON_STRING }, { "name", DBJSON_STRING },
	{ "type", DBJSON_STRING }, { "email_to", DBJSON_STRING },
	{ "created_by", DBJSON_STRING }, { "created_at", DBJSON_TIME },
	{ NULL, 0 }
};

static struct json_object *
channel_row(const struct db_res *r, size_t i)
{
	struct json_object	*o = dbjson_row(r, i, channel_cols);

	json_object_object_add(o, "url", url_masked(db_res_get(r, i, 6)));
	json_object_object_add(o, "enabled", json_object_new_boolean(
	    db_res_int(r, i, 7, 0) != 0));
	json_object_object_add(o, "has_secret", json_object_new_boolean(
	    db_res_int(r, i, 8, 0) != 0));
	return o;
}

/* 200 with every row of res (freed): channels, or by cols. */
static void
reply_rows(struct request *req, struct db_res *res,
    const struct dbjson_col *cols)
{
	struct json_object	*arr;
	size_t			 i;

	arr = json_object_new_array_ext((int)db_res_rows(res));
	for (i = 0; i < db_res_rows(res); i++)
		json_object_array_add(arr, cols != NULL ?
		    dbjson_row(res, i, cols) : channel_row(res, i));
	db_res_free(res);
	reply_json(req, 200, arr);
}

int
channels_list(struct request *req)
{
	struct db_res		*res;

	if (db_exec(req->db, sql_list, &res, "") == -1) {
		reply_db_error(req);
		return 0;
	}
	reply_rows(req, res, NULL);
	return 0;
}

/* Printable ASCII without spaces: what a URL or an address may hold. */
static int
plain(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

/* http(s) for the web hooks, smtp(s) for a mail relay; a host required. */
static int
url_check(struct request *req, const char *type, const char *url)
{
	int		 mail = strcmp(type, "email") == 0;
	const char	*host, *rest;
	size_t		 hostlen;

	if (!plain(url) || (host = strstr(url, "://")) == NULL)
		goto bad;
	if (url_host(url, &rest, &host, &hostlen) == -2) {
		reply_error_field(req, 400, "url", "url: an '@' after the "
		    "host: a user name or password holding '/', '?', '#' or "
		    "'@' must be percent-encoded (%%2F, %%3F, %%23, %%40)");
		return -1;
	}
	host = strstr(url, "://");
	if (mail ? strncasecmp(url, "smtp://", 7) != 0 &&
	    strncasecmp(url, "smtps://", 8) != 0 :
	    strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0)
		goto bad;
	host += 3;
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
		goto bad;
	return 0;
bad:
	reply_error_field(req, 400, "url", "url: must be an %s URL with a host",
	    mail ? "smtp:// or smtps://" : "http:// or https://");
	return -1;
}

static int
email_check(struct request *req, const char *to)
{
	const char	*p = to;
	size_t		 n;

	if (!plain(to) || strchr(to, '<') != NULL || strchr(to, '>') != NULL)
		goto bad;
	while (*p != '\0') {
		n = strcspn(p, ",");
		if (n == 0 || memchr(p, '@', n) == NULL)
			goto bad;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
bad:
	reply_error_field(req, 400, "email_to", "email_to: must be one or "
	    "more addresses, comma-separated, without spaces");
	return -1;
}

struct channel_new {
	struct request	*req;
	char		 id[ID_LEN + 1];
	const char	*name, *type, *url, *secret, *email_to;
	int		 taken;
};

static int
create_txn(struct db *db, void *arg)
{
	struct channel_new	*c = arg;
	struct db_res		*res;
	struct json_object	*d;
	int			 rc;

	if (db_exec(db, sql_name_taken, &res, "s", c->name) == -1)
		return -1;
	c->taken = db_res_rows(res) > 0;
	db_res_free(res);
	if (c->taken)
		return 1;
	if (db_exec(db, sql_insert, NULL, "sssssss", c->id, c->name, c->type,
	    c->url, c->secret, c->email_to, c->req->user.name) == -1)
		return -1;
	/* Never the URL's credentials or the secret. */
	d = json_object_new_object();
	json_object_object_add(d, "name", json_object_new_string(c->name));
	json_object_object_add(d, "type", json_object_new_string(c->type));
	json_object_object_add(d, "url", url_masked(c->url));
	rc = api_audit(c->req, "channel.create", "channel", c->id, d);
	json_object_put(d);
	return rc;
}

int
channels_create(struct request *req)
{
	static const char *const allowed[] = { "name", "type", "url",
	    "secret", "email_to", NULL };
	struct channel_new	 c;
	struct json_object	*o;
	struct db_res		*res;
	unsigned char		 raw[CHANNEL_SECRET_BYTES];
	char			 gen[2 * CHANNEL_SECRET_BYTES + 1];
	size_t			 i;
	int			 known = 0;

	memset(&c, 0, sizeof(c));
	c.req = req;
	if (body_only(req, allowed) == -1 ||
	    body_name(req, "name", NAME_CHARS, 1, &c.name) == -1 ||
	    body_string(req, "type", 16, 1, &c.type) == -1)
		return 0;
	for (i = 0; notify_channel_types[i] != NULL; i++)
		known |= strcmp(c.type, notify_channel_types[i]) == 0;
	if (!known) {
		reply_error_field(req, 400, "type", "type: must be slack, "
		    "discord, webhook or email");
		return 0;
	}
	if (body_string(req, "url", NOTIFY_URL_MAX, strcmp(c.type, "email") != 0,
	    &c.url) == -1 ||
	    body_string(req, "secret", NOTIFY_SECRET_MAX, 0, &c.secret) == -1 ||
	    body_string(req, "email_to", NOTIFY_EMAIL_TO_MAX,
	    strcmp(c.type, "email") == 0, &c.email_to) == -1)
		return 0;
	if (c.url != NULL && url_check(req, c.type, c.url) == -1)
		return 0;
	if (strcmp(c.type, "email") == 0) {
		if (email_check(req, c.email_to) == -1)
			return 0;
	} else if (c.email_to != NULL) {
		reply_error_field(req, 400, "email_to", "email_to: only for an "
		    "email channel");
		return 0;
	}
	if (c.secret != NULL && (strcmp(c.type, "webhook") != 0 ||
	    strlen(c.secret) < CHANNEL_SECRET_MIN || !plain(c.secret))) {
		reply_error_field(req, 400, "secret", "secret: only for a "
		    "webhook channel, %d to %d printable characters",
		    CHANNEL_SECRET_MIN, NOTIFY_SECRET_MAX);
		return 0;
	}
	if (c.secret == NULL && strcmp(c.type, "webhook") == 0) {
		if (RAND_bytes(raw, sizeof(raw)) != 1) {
			reply_error(req, 500, "no random bytes for a secret");
			return 0;
		}
		for (i = 0; i < sizeof(raw); i++)
			snprintf(gen + 2 * i, 3, "%02x", raw[i]);
		c.secret = gen;
	}
	id_new(c.id);
	if (db_txn(req->db, create_txn, &c) == -1 ||
	    (!c.taken && db_exec(req->db, sql_one, &res, "s", c.id) == -1)) {
		explicit_bzero(gen, sizeof(gen));
		reply_db_error(req);
		return 0;
	}
	if (c.taken) {
		reply_error_field(req, 409, "name", "a channel named so exists");
		return 0;
	}
	o = channel_row(res, 0);
	db_res_free(res);
	/* The only time the secret is seen. */
	if (c.secret != NULL)
		json_object_object_add(o, "secret",
		    json_object_new_string(c.secret));
	explicit_bzero(gen, sizeof(gen));
	log_info("channel %s (%s) created by %s", c.id, c.type,
	    req->user.name);
	reply_json(req, 201, o);
	return 0;
}

struct channel_op {
	struct request	*req;
	const char	*id;
	int		 found;
	long long	 nid;
};

static int
delete_txn(struct db *db, void *arg)
{
	struct channel_op	*c = arg;

	if (db_exec(db, sql_delete, NULL, "s", c->id) == -1)
		return -1;
	if ((c->found = db_affected(db) > 0) == 0)
		return 1;
	return api_audit(c->req, "channel.delete", "channel", c->id, NULL);
}

/*
 * Run txn on the channel named by the path: 0 and c filled when it was
 * there, -1 after a 404 or a database error was answered.
 */
static int
channel_call(struct request *req, int (*txn)(struct db *, void *),
    struct channel_op *c)
{
	c->req = req;
	c->id = req->params[0];
	if (!id_valid(c->id)) {
		reply_error(req, 404, "channel not found");
		return -1;
	}
	if (db_txn(req->db, txn, c) == -1) {
		reply_db_error(req);
		return -1;
	}
	if (!c->found) {
		reply_error(req, 404, "channel not found");
		return -1;
	}
	return 0;
}

int
channels_delete(struct request *req)
{
	struct channel_op	 c;

	memset(&c, 0, sizeof(c));
	if (channel_call(req, delete_txn, &c) == 0)
		reply_json(req, 200, json_object_new_object());
	return 0;
}

static int
test_txn(struct db *db, void *arg)
{
	struct channel_op	*c = arg;
	struct db_res		*res;
	struct json_object	*d;
	int			 rc;

	if (db_exec(db, sql_exists, &res, "s", c->id) == -1)
		return -1;
	c->found = db_res_rows(res) > 0;
	db_res_free(res);
	if (!c->found)
		return 1;
	if (notify_test(db, c->id, c->req->user.name, &c->nid) == -1)
		return -1;
	d = json_object_new_object();
	json_object_object_add(d, "notification_id",
	    json_object_new_int64(c->nid));
	rc = api_audit(c->req, "channel.test", "channel", c->id, d);
	json_object_put(d);
	return rc;
}

int
channels_test(struct request *req)
{
	struct channel_op	 c;
	struct json_object	*o;

	memset(&c, 0, sizeof(c));
	if (channel_call(req, test_txn, &c) == -1)
		return 0;
	o = json_object_new_object();
	json_object_object_add(o, "notification_id",
	    json_object_new_int64(c.nid));
	reply_json(req, 202, o);
	return 0;
}

int
notifications_list(struct request *req)
{
	static const struct dbjson_col cols[] = {
		{ "id", DBJSON_INT }, { "channel_id", DBJSON_STRING },
		{ "channel", DBJSON_STRING }, { "event", DBJSON_STRING },
		{ "execution_id", DBJSON_STRING }, { "status", DBJSON_STRING },
		{ "attempts", DBJSON_INT }, { "next_try_at", DBJSON_TIME },
		{ "last_error", DBJSON_STRING },
		{ "delivery_id", DBJSON_STRING },
		{ "created_at", DBJSON_TIME }, { "delivered_at", DBJSON_TIME },
		{ NULL, 0 }
	};
	struct db_res		*res;
	char			 status[16];
	const char		*st = NULL;
	long long		 limit;
	size_t			 i;
	int			 rc;

	rc = request_query(req, "status", status, sizeof(status));
	if (rc == 1) {
		for (i = 0; statuses[i] != NULL; i++)
			if (strcmp(statuses[i], status) == 0)
				st = statuses[i];
	}
	if (rc == -1 || (rc == 1 && st == NULL)) {
		reply_error_field(req, 400, "status", "status: must be pending, "
		    "delivering, delivered, failed or dead");
		return 0;
	}
	if (request_query_int(req, "limit", 1, NOTIFY_LIST_MAX, 50,
	    &limit) == -1)
		return 0;
	if (db_exec(req->db, sql_notifications, &res, "ssi", st, st,
	    limit) == -1) {
		reply_db_error(req);
		return 0;
	}
	reply_rows(req, res, cols);
	return 0;
}

static int
retry_txn(struct db *db, void *arg)
{
	struct channel_op	*c = arg;
	char			 id[32];
	int			 rc;

	if ((rc = notify_retry(db, c->nid)) != 0)
		return rc;
	c->found = 1;
	snprintf(id, sizeof(id), "%lld", c->nid);
	return api_audit(c->req, "notification.retry", "notification", id,
	    NULL);
}

int
notifications_retry(struct request *req)
{
	struct channel_op	 c;
	char			*end;

	memset(&c, 0, sizeof(c));
	c.req = req;
	c.nid = strtoll(req->params[0], &end, 10);
	if (*end != '\0' || c.nid <= 0) {
		reply_error(req, 404, "notification not found");
		return 0;
	}
	if (db_txn(req->db, retry_txn, &c) == -1) {
		reply_db_error(req);
		return 0;
	}
	if (!c.found) {
		reply_error(req, 409, "only a failed or dead notification is "
		    "retried (or there is no such notification)");
		return 0;
	}
	reply_json(req, 202, json_object_new_object());
	return 0;
}

/* A workflow's `notify` rules name channels that exist (at save). */
int
channels_check_rules(struct request *req, const struct wf_notify *rules,
    size_t n)
{
	struct db_res	*res;
	char		 field[48], ids[NOTIFY_RULES_MAX][40];
	const char	*id;
	size_t		 i, j;

	for (i = 0; i < n && i < NOTIFY_RULES_MAX; i++) {
		if (db_exec(req->db, sql_channel_by, &res, "ss",
		    rules[i].channel, rules[i].channel) == -1) {
			reply_db_error(req);
			return -1;
		}
		id = db_res_rows(res) > 0 ? db_res_get(res, 0, 0) : NULL;
		snprintf(ids[i], sizeof(ids[i]), "%s", id != NULL ? id : "");
		db_res_free(res);
		snprintf(field, sizeof(field), "notify[%zu].channel", i);
		if (ids[i][0] == '\0') {
			reply_error_field(req, 400, field, "%s: no channel "
			    "named or with id '%.64s'", field, rules[i].channel);
			return -1;
		}
		/* By name in one rule and by id in another, an event would
		 * be sent twice: one rule a channel, with all its events. */
		for (j = 0; j < i; j++)
			if (strcmp(ids[i], ids[j]) == 0) {
				reply_error_field(req, 400, field, "%s: the "
				    "same channel as notify[%zu].channel (list "
				    "all its events in one rule)", field, j);
				return -1;
			}
	}
	return 0;
}
