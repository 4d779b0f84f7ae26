/*
 * Who is asking: the SSO identity that nginx passes from Authelia's answer
 * (HTTP_REMOTE_*), the shared worker key, and the same-origin rule for
 * browsers' writes (CSRF). The users table follows the identity, written
 * at most once a minute per user and process unless the identity changes.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "ident.h"
#include "config.h"
#include "db.h"
#include "id.h"
#include "log.h"
#include "pjson.h"
#include "wkey.h"
#include "xmalloc.h"

#define AUTH_CACHE_SLOTS	64
#define AUTH_CACHE_TTL		60	/* seconds between upserts of a user */

/*
 * Users recently written to the users table. The one piece of state (with
 * the db handle) that outlives a request: it holds no identity, only a note
 * that saves a write, so a stale entry costs at most one minute's delay.
 */
struct auth_seen {
	char		 name[USER_NAME_MAX + 1];	/* "" = free slot */
	uint64_t	 hash;		/* display name, email and groups */
	time_t		 when;		/* CLOCK_MONOTONIC seconds */
};

static struct auth_seen	 auth_cache[AUTH_CACHE_SLOTS];

static const char auth_upsert_sql[] =
    "INSERT INTO users (id, username, display_name, email, `groups`, "
    "last_login) VALUES (?, ?, ?, ?, ?, NOW()) "
    "ON DUPLICATE KEY UPDATE display_name = VALUES(display_name), "
    "email = VALUES(email), `groups` = VALUES(`groups`), last_login = NOW()";

static const char *
auth_param(struct request *req, const char *name)
{
	const char	*v = request_header(req, name);

	return v != NULL ? v : "";
}

/* FNV-1a: only to notice that a user's details changed. */
static uint64_t
auth_hash(uint64_t h, const char *s)
{
	do {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	} while (*s++ != '\0');
	return h;
}

static uint64_t
auth_user_hash(const struct user *u)
{
	uint64_t	 h = 0xcbf29ce484222325ULL;
	size_t		 i;

	h = auth_hash(h, u->display);
	h = auth_hash(h, u->email);
	for (i = 0; i < u->ngroups; i++)
		h = auth_hash(h, u->groups[i]);
	return h;
}

static time_t
auth_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Split "a, b,c" into trimmed, non-empty names pointing into groups_buf;
 * -1 if there are more than USER_GROUPS_COUNT.
 */
static int
auth_groups(struct user *u, const char *list)
{
	char	*p, *start, *end;

	strlcpy_p(u->groups_buf, list, sizeof(u->groups_buf));
	u->ngroups = 0;
	for (p = u->groups_buf; p != NULL; p = end) {
		start = p;
		end = strchr(p, ',');
		if (end != NULL)
			*end++ = '\0';
		while (*start == ' ' || *start == '\t')
			start++;
		p = start + strlen(start);
		while (p > start && (p[-1] == ' ' || p[-1] == '\t'))
			*--p = '\0';
		if (*start == '\0')
			continue;
		if (u->ngroups == USER_GROUPS_COUNT)
			return -1;
		u->groups[u->ngroups++] = start;
	}
	return 0;
}

static int
auth_in_group(const struct user *u, const char *group)
{
	size_t	 i;

	for (i = 0; i < u->ngroups; i++)
		if (strcmp(u->groups[i], group) == 0)
			return 1;
	return 0;
}

/* Create or refresh the user's row, unless done lately with these details. */
static int
auth_upsert(struct request *req)
{
	const struct user	*u = &req->user;
	struct auth_seen	*slot = NULL, *s;
	struct json_object	*groups;
	char			 id[ID_LEN + 1];
	uint64_t		 hash = auth_user_hash(u);
	time_t			 now = auth_now();
	size_t			 i;
	int			 rc;

	for (i = 0; i < AUTH_CACHE_SLOTS; i++) {
		s = &auth_cache[i];
		if (strcmp(s->name, u->name) == 0) {
			slot = s;
			break;
		}
	}
	if (slot != NULL && slot->hash == hash &&
	    now - slot->when < AUTH_CACHE_TTL)
		return 0;

	/* A JSON array: unambiguous, and readable with JSON_CONTAINS(). */
	groups = json_object_new_array();
	for (i = 0; i < u->ngroups; i++)
		json_object_array_add(groups,
		    json_object_new_string(u->groups[i]));
	id_new(id);
	rc = db_exec(req->db, auth_upsert_sql, NULL, "sssss", id, u->name,
	    *u->display != '\0' ? u->display : NULL,
	    *u->email != '\0' ? u->email : NULL,
	    json_object_to_json_string_ext(groups, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(groups);
	if (rc == -1)
		return -1;

	if (slot == NULL) {
		/* A free slot, else the one written longest ago. */
		slot = &auth_cache[0];
		for (i = 0; i < AUTH_CACHE_SLOTS; i++) {
			s = &auth_cache[i];
			if (s->name[0] == '\0') {
				slot = s;
				break;
			}
			if (s->when < slot->when)
				slot = s;
		}
		strlcpy_p(slot->name, u->name, sizeof(slot->name));
	}
	slot->hash = hash;
	slot->when = now;
	return 0;
}

/* One identity header from the SSO: 400 naming it if it will not fit. */
static int
auth_check_name(struct request *req, const char *header, const char *v,
    size_t maxchars)
{
	char	 why[64];

	if (pjson_check_name(v, strlen(v), maxchars, why, sizeof(why)) == 0)
		return 0;
	reply_error_field(req, 400, header, "identity: %s %s", header, why);
	return -1;
}

/*
 * Fill req->user from the SSO values nginx set (all four, always: a
 * missing one means the client's own header could have got through, see
 * STACK-NOTES). 0, or -1 once a 400/401/403/5xx has been written.
 */
int
auth_identify(struct request *req)
{
	const struct config	*cfg = req->cfg;
	struct user		*u = &req->user;
	const char		*name, *display, *email, *groups;

	name = auth_param(req, "HTTP_REMOTE_USER");
	display = auth_param(req, "HTTP_REMOTE_NAME");
	email = auth_param(req, "HTTP_REMOTE_EMAIL");
	groups = auth_param(req, "HTTP_REMOTE_GROUPS");
	if (*name == '\0') {
		reply_error(req, 401, "authentication required");
		return -1;
	}
	/* users.username, display_name and email are VARCHAR(255). */
	if (auth_check_name(req, "Remote-User", name, USER_NAME_CHARS) == -1 ||
	    auth_check_name(req, "Remote-Name", display,
	    USER_DISPLAY_CHARS) == -1 ||
	    auth_check_name(req, "Remote-Email", email,
	    USER_EMAIL_CHARS) == -1)
		return -1;
	if (strlen(groups) > USER_GROUPS_MAX) {
		reply_error(req, 400, "identity: Remote-Groups is longer than "
		    "%d bytes", USER_GROUPS_MAX);
		return -1;
	}
	strlcpy_p(u->name, name, sizeof(u->name));
	strlcpy_p(u->display, display, sizeof(u->display));
	strlcpy_p(u->email, email, sizeof(u->email));
	if (auth_groups(u, groups) == -1) {
		reply_error(req, 400, "more than %d groups", USER_GROUPS_COUNT);
		return -1;
	}

	if (auth_in_group(u, cfg->admin_group))
		u->role = ROLE_ADMIN;
	else if (auth_in_group(u, cfg->employee_group))
		u->role = ROLE_EMPLOYEE;
	else {
		u->role = ROLE_NONE;
		reply_error(req, 403, "user %s is not in an allowed group",
		    u->name);
		return -1;
	}

	if (auth_upsert(req) == -1) {
		reply_db_error(req);
		return -1;
	}
	return 0;
}

/*
 * A worker's request (heartbeat): an enrolled worker sends its own key and
 * X-Worker-Id, a version-1 one the shared key (X-Worker-Id optional, as on
 * the socket). Here only the shape and the shared key are checked; whether
 * this key may act as that worker is trust_check()'s answer, in the
 * handler's transaction.
 */
int
auth_worker_key(struct request *req)
{
	const char	*want = req->cfg->worker_api_key;
	const char	*got = request_header(req, "HTTP_X_API_KEY");
	const char	*id = request_header(req, "HTTP_X_WORKER_ID");

	req->worker_shared = 0;
	req->worker_id[0] = '\0';
	req->worker_key_hash[0] = '\0';
	if (id != NULL) {
		if (!id_valid(id)) {
			reply_error(req, 401, "X-Worker-Id must be a UUID");
			return -1;
		}
		strlcpy_p(req->worker_id, id, sizeof(req->worker_id));
	}
	/* An empty configured key would match an empty header: refuse. */
	if (got != NULL && want != NULL && *want != '\0' &&
	    ident_key_equal(got, want)) {
		req->worker_shared = 1;
		return 0;
	}
	if (got == NULL || id == NULL || !wkey_valid(got)) {
		reply_error(req, 401, "invalid or missing API key");
		return -1;
	}
	wkey_hash(got, req->worker_key_hash);
	return 0;
}

/*
 * A browser sends Origin with every cross-site write; it must name this
 * site exactly: REQUEST_SCHEME://HTTP_HOST (nginx passes the Host header as
 * sent). No Origin at all is a script or an old browser's same-origin form,
 * which SSO and the JSON Content-Type already constrain.
 */
int
auth_check_origin(struct request *req)
{
	const char	*origin = request_header(req, "HTTP_ORIGIN");
	const char	*scheme = auth_param(req, "REQUEST_SCHEME");
	const char	*host = auth_param(req, "HTTP_HOST");

	/* Two Origin headers: libfcgi would show us only the first. */
	if (origin == NULL || (ident_origin_ok(origin, scheme, host) &&
	    request_header_count(req, "HTTP_ORIGIN") == 1))
		return 0;
	log_debug("%s %s: Origin '%s' refused (scheme %s, host %s)",
	    req->method, req->path, origin, scheme, host);
	reply_error(req, 403, "cross-origin request refused");
	return -1;
}
