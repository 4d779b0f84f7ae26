/*
 * The browser listener: identity from the Remote-* headers nginx sets,
 * Origin checked against the host, then the event feed: every event to
 * every browser, live output only to those following its execution. A
 * browser that comes back with the last event id it saw gets what it
 * missed from the database, in order, before the live feed resumes.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "browsers.h"
#include "config.h"
#include "ident.h"
#include "log.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "replay.h"
#include "xmalloc.h"

#define BROWSERS_PROTOCOL	"pulse-browser"
#define BROWSERS_PATH		"/ws"
#define BROWSERS_LOW_WATER	64	/* ask for more replay below this */

/* A browser's socket: lws's per-session data, zeroed by lws. */
struct bconn {
	struct conn		 c;		/* first: conn.c's part */
	TAILQ_ENTRY(bconn)	 entry;
	/* Identity from the handshake, then the feed. */
	char			 user[USER_NAME_MAX + 1];
	char			 (*subs)[ID_LEN + 1];
	size_t			 nsubs;
	long long		 floor;		/* has events up to here */
	double			 tokens;	/* browsers_rate() */
	long long		 rate_ms;
	int			 replaying;
	uint64_t		 replay_gen;
	long long		 replay_to;
	int			 replay_next;	/* ask more once drained */
	long long		 replay_from;
};
TAILQ_HEAD(bconnq, bconn);

static const struct config	*browsers_cfg;
static struct bconnq		 browsers_all =
    TAILQ_HEAD_INITIALIZER(browsers_all);
static int			 browsers_feed_ready;	/* cursor known */
static long long		 browsers_cursor;	/* last event id sent */

static char	 browsers_why[PUSHD_WHY_MAX];
#define browsers_fail(...) \
	pushd_why(browsers_why, sizeof(browsers_why), __VA_ARGS__)

static struct bconn *
browsers_of(struct conn *c)
{
	return (struct bconn *)c;
}

/* ------------------------------------------------------------ admission */

static int
browsers_token(struct lws *wsi, enum lws_token_indexes t, char *buf,
    size_t len)
{
	buf[0] = '\0';
	if (lws_hdr_total_length(wsi, t) >= (int)len ||
	    lws_hdr_copy(wsi, buf, (int)len, t) < 0)
		return -1;
	return 0;
}

/*
 * The page must come from this site: Origin is scheme://host exactly as
 * nginx forwards them (X-Forwarded-Proto, Host). Without a forwarded
 * scheme, http and https are both taken, the host still has to match.
 * A missing Origin, "null", or any other site is refused: browsers always
 * send one on a websocket handshake.
 */
static int
browsers_origin_ok(const char *origin, const char *host, const char *proto)
{
	if (*proto != '\0')
		return ident_origin_ok(origin, proto, host);
	return ident_origin_ok(origin, "http", host) ||
	    ident_origin_ok(origin, "https", host);
}

/* Open browser sockets of user on this pushd. */
static size_t
browsers_of_user(const char *user)
{
	const struct bconn	*c;
	size_t			 n = 0;

	TAILQ_FOREACH(c, &browsers_all, entry)
		if (!c->c.closing && strcmp(c->user, user) == 0)
			n++;
	return n;
}

/*
 * 0 and the user name (when c is not NULL) to accept; else an HTTP
 * status and why. Only this listener reads Remote-*: nginx sets all four
 * on /ws and so drops whatever a client sent.
 */
static int
browsers_admit(struct lws *wsi, struct conn *c, const char **why)
{
	const struct config *cfg = browsers_cfg;
	char		 path[64], proto[64], user[USER_NAME_MAX + 1],
			 groups[USER_GROUPS_MAX + 1], origin[512], host[512],
			 fwd[16];
	int		 n;

	/* conn.c refused it already if the server is stopping. */
	if (!browsers_feed_ready) {
		*why = "starting: the event feed is not ready yet";
		return 503;
	}
	if (browsers_token(wsi, WSI_TOKEN_GET_URI, path, sizeof(path)) == -1 ||
	    strcmp(path, BROWSERS_PATH) != 0) {
		*why = "not found";
		return 404;
	}
	if (browsers_token(wsi, WSI_TOKEN_PROTOCOL, proto, sizeof(proto)) ==
	    -1 || strcmp(proto, BROWSERS_PROTOCOL) != 0) {
		*why = "the websocket subprotocol must be " BROWSERS_PROTOCOL;
		return 400;
	}
	n = conn_header(wsi, "remote-user:", user, sizeof(user));
	if (n == -1 ||
	    conn_header(wsi, "remote-groups:", groups, sizeof(groups)) == -1) {
		*why = "identity too long";
		return 400;
	}
	if (n == 0) {
		*why = "authentication required";
		return 401;
	}
	if (!ident_in_group(groups, cfg->admin_group) &&
	    !ident_in_group(groups, cfg->employee_group)) {
		*why = "not in an allowed group";
		return 403;
	}
	if (browsers_token(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) ==
	    -1 || browsers_token(wsi, WSI_TOKEN_HOST, host, sizeof(host)) ==
	    -1 || conn_header(wsi, "x-forwarded-proto:", fwd, sizeof(fwd)) ==
	    -1 || !browsers_origin_ok(origin, host, fwd)) {
		log_info("browser %s: origin '%s' refused (host '%s')", user,
		    origin, host);
		*why = "cross-origin websocket refused";
		return 403;
	}
	/*
	 * One user holding thousands of sockets once left too few file
	 * descriptors for everyone else (issue 12): a dashboard needs one a
	 * tab. Checked at the upgrade (c is NULL), before the socket counts.
	 */
	if (c == NULL && cfg->user_sockets_max > 0 &&
	    browsers_of_user(user) >= (size_t)cfg->user_sockets_max) {
		log_info("browser %s: refused, %d sockets open already "
		    "(PULSE_USER_SOCKETS_MAX)", user, cfg->user_sockets_max);
		*why = "too many open sockets for this user";
		return 429;
	}
	if (c != NULL)
		strlcpy_p(browsers_of(c)->user, user,
		    sizeof(browsers_of(c)->user));
	return 0;
}

/* ------------------------------------------------------------- the feed */

static int
browsers_subscribed(const struct bconn *c, const char *execution_id)
{
	size_t	 i;

	for (i = 0; i < c->nsubs; i++)
		if (strcmp(c->subs[i], execution_id) == 0)
			return 1;
	return 0;
}

static void
browsers_send_json(struct bconn *c, struct json_object *o)
{
	struct msg	*m = msg_json(o);

	json_object_put(o);
	conn_send(&c->c, m);
	msg_unref(m);
}

static void
browsers_replay_ask(struct bconn *c)
{
	c->replay_next = 0;
	if (replay_ask(c->c.serial, c->replay_gen, c->replay_from,
	    c->replay_to) == -1)
		conn_close(&c->c, 1013, "server busy: reconnect and resume",
		    0);
}

/* The next round of a replay, now or once the socket has drained. */
static void
browsers_replay_next(struct bconn *c, long long from, long long to)
{
	c->replay_from = from;
	c->replay_to = to;
	c->replay_next = 1;
	if (c->c.q.n < BROWSERS_LOW_WATER)
		browsers_replay_ask(c);
}

static void
browsers_replay_done(struct bconn *c)
{
	struct json_object *o = json_object_new_object();

	c->replaying = 0;
	c->floor = c->replay_to;
	json_object_object_add(o, "type", json_object_new_string("resumed"));
	json_object_object_add(o, "last_event_id",
	    json_object_new_int64(c->replay_to));
	browsers_send_json(c, o);
}

/* A browser's socket by serial, or NULL (gone, or not a browser's). */
static struct bconn *
browsers_find(uint64_t serial)
{
	struct conn	*c = conn_find(serial);

	return c == NULL || c->kind != &browsers_kind ? NULL : browsers_of(c);
}

void
browsers_out(struct out *o)
{
	struct bconn	*c;

	switch (o->type) {
	case OUT_CURSOR:
		browsers_cursor = o->event_id;
		browsers_feed_ready = 1;
		break;
	case OUT_EVENT:
		if (o->event_id > browsers_cursor)
			browsers_cursor = o->event_id;
		/* A replaying browser gets this from the database, in order. */
		TAILQ_FOREACH(c, &browsers_all, entry)
			if (!c->c.closing && !c->replaying &&
			    o->event_id > c->floor && (!o->is_output ||
			    browsers_subscribed(c, o->execution_id)))
				conn_send(&c->c, o->msg);
		break;
	case OUT_REPLAY:
		c = browsers_find(o->conn);
		if (c == NULL || !c->replaying || c->replay_gen != o->gen)
			break;
		if (!o->is_output || browsers_subscribed(c, o->execution_id))
			conn_send(&c->c, o->msg);
		break;
	case OUT_REPLAY_END:
		c = browsers_find(o->conn);
		if (c == NULL || !c->replaying || c->replay_gen != o->gen ||
		    c->c.closing)
			break;
		if (o->more)
			browsers_replay_next(c, o->event_id, c->replay_to);
		else if (browsers_cursor > c->replay_to)
			browsers_replay_next(c, c->replay_to, browsers_cursor);
		else
			browsers_replay_done(c);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------- messages */

static int
browsers_want_id(struct json_object *o, const char *type, const char **id)
{
	if (pjson_get_string(o, "execution_id", id, NULL) != 1 ||
	    !id_valid(*id))
		return browsers_fail("%s: execution_id must be a UUID", type);
	return 0;
}

static int
browsers_subscribe(struct bconn *c, struct json_object *o)
{
	const char	*id;

	if (browsers_want_id(o, "subscribe", &id) == -1)
		return -1;
	if (browsers_subscribed(c, id))
		return 0;
	if (c->nsubs == PUSHD_SUBS_MAX) {
		/* Following many: the oldest one goes. */
		memmove(c->subs, c->subs + 1,
		    (c->nsubs - 1) * sizeof(*c->subs));
		c->nsubs--;
	}
	c->subs = xreallocarray(c->subs, c->nsubs + 1, sizeof(*c->subs));
	strlcpy_p(c->subs[c->nsubs++], id, ID_LEN + 1);
	return 0;
}

static int
browsers_unsubscribe(struct bconn *c, struct json_object *o)
{
	const char	*id;
	size_t		 i;

	if (browsers_want_id(o, "unsubscribe", &id) == -1)
		return -1;
	for (i = 0; i < c->nsubs; i++)
		if (strcmp(c->subs[i], id) == 0) {
			memmove(c->subs + i, c->subs + i + 1,
			    (c->nsubs - i - 1) * sizeof(*c->subs));
			c->nsubs--;
			break;
		}
	return 0;
}

/*
 * Everything after last_event_id. Live events stop for this browser until
 * the database has given it all up to the feed's position, round by round
 * (each at most PUSHD_REPLAY_BATCH, the next once the socket drained).
 */
static int
browsers_resume(struct bconn *c, struct json_object *o)
{
	struct json_object *r;
	long long	 last;

	if (pjson_get_int(o, "last_event_id", &last) != 1 || last < 0)
		return browsers_fail("resume: last_event_id must be an "
		    "integer >= 0");
	c->replay_gen++;
	if (last >= browsers_cursor) {
		/* Nothing to replay (or it saw more on another pushd). */
		c->floor = last;
		c->replaying = 1;
		c->replay_to = last;
		browsers_replay_done(c);
		return 0;
	}
	if (browsers_cursor - last > PUSHD_REPLAY_MAX) {
		c->replaying = 0;
		c->floor = browsers_cursor;
		r = json_object_new_object();
		json_object_object_add(r, "type",
		    json_object_new_string("resync"));
		json_object_object_add(r, "last_event_id",
		    json_object_new_int64(browsers_cursor));
		browsers_send_json(c, r);
		return 0;
	}
	c->replaying = 1;
	c->floor = last;
	browsers_replay_next(c, last, browsers_cursor);
	return 0;
}

static int
browsers_ping(struct bconn *c, struct json_object *o)
{
	struct json_object *r = json_object_new_object();

	(void)o;
	json_object_object_add(r, "type", json_object_new_string("pong"));
	browsers_send_json(c, r);
	return 0;
}

static const struct browsers_handler {
	const char	*type;
	int		(*fn)(struct bconn *, struct json_object *);
} browsers_handlers[] = {
	{ "subscribe",		browsers_subscribe },
	{ "unsubscribe",	browsers_unsubscribe },
	{ "resume",		browsers_resume },
	{ "ping",		browsers_ping },
};

/*
 * A token bucket per socket: the dashboard sends a few messages a minute,
 * a script that floods one is closed rather than allowed to keep pushd
 * busy for everyone (issue 12).
 */
static int
browsers_rate(struct bconn *c)
{
	long long	 now = pushd_now_ms();

	if (c->rate_ms == 0) {
		c->rate_ms = now;
		c->tokens = PUSHD_BROWSER_BURST;
	}
	c->tokens += (double)(now - c->rate_ms) * PUSHD_BROWSER_RATE / 1000;
	if (c->tokens > PUSHD_BROWSER_BURST)
		c->tokens = PUSHD_BROWSER_BURST;
	c->rate_ms = now;
	if (c->tokens < 1)
		return browsers_fail("too many messages (at most %d a second)",
		    PUSHD_BROWSER_RATE);
	c->tokens -= 1;
	return 0;
}

static int
browsers_handle(struct bconn *c, const char *text, size_t len)
{
	struct json_object	*msg;
	const char		*type;
	char			 perr[96];
	size_t			 i;
	int			 rc = -1;

	if (browsers_rate(c) == -1)
		return -1;
	msg = pjson_parse(text, len, PUSHD_BROWSER_DEPTH, perr, sizeof(perr));
	if (msg == NULL)
		return browsers_fail("not JSON: %s", perr);
	if (!json_object_is_type(msg, json_type_object) ||
	    pjson_get_string(msg, "type", &type, NULL) != 1) {
		browsers_fail("a message is an object with a type");
		goto out;
	}
	for (i = 0; i < sizeof(browsers_handlers) /
	    sizeof(browsers_handlers[0]); i++)
		if (strcmp(browsers_handlers[i].type, type) == 0) {
			rc = browsers_handlers[i].fn(c, msg);
			goto out;
		}
	browsers_fail("unknown message type '%.40s'", type);
out:
	json_object_put(msg);
	return rc;
}

/* ------------------------------------------------------------ callbacks */

static void
browsers_hello(struct bconn *c)
{
	struct json_object *o = json_object_new_object();

	/* From here on it gets every event after this id: none twice. */
	c->floor = browsers_cursor;
	json_object_object_add(o, "type", json_object_new_string("hello"));
	json_object_object_add(o, "user", json_object_new_string(c->user));
	json_object_object_add(o, "last_event_id",
	    json_object_new_int64(browsers_cursor));
	browsers_send_json(c, o);
}

/* One whole message: 0, or 1008 with why. */
static int
browsers_message(struct conn *c, const char *text, size_t len,
    const char **why)
{
	*why = browsers_why;
	if (browsers_handle(browsers_of(c), text, len) == 0)
		return 0;
	return LWS_CLOSE_STATUS_POLICY_VIOLATION;
}

static int
browsers_open(struct conn *cn)
{
	struct bconn	*c = browsers_of(cn);

	TAILQ_INSERT_TAIL(&browsers_all, c, entry);
	log_debug("browser %s connected", c->user);
	browsers_hello(c);
	return 0;
}

/* Its socket drained: the next round of a replay may be asked for. */
static void
browsers_written(struct conn *cn)
{
	struct bconn	*c = browsers_of(cn);

	if (c->replay_next && !cn->closing && cn->q.n < BROWSERS_LOW_WATER)
		browsers_replay_ask(c);
}

static void
browsers_closed(struct conn *cn)
{
	struct bconn	*c = browsers_of(cn);

	TAILQ_REMOVE(&browsers_all, c, entry);
	log_debug("browser %s disconnected", c->user);
	replay_cancel(cn->serial);	/* none for the gone */
	free(c->subs);
	c->subs = NULL;
}

static const char *
browsers_name(const struct conn *c)
{
	return ((const struct bconn *)c)->user;
}

const struct conn_kind browsers_kind = {
	.noun = "browser",
	.msg_max = PUSHD_BROWSER_MSG_MAX,
	.q_msgs = PUSHD_BROWSER_Q_MSGS,
	.q_bytes = PUSHD_BROWSER_Q_BYTES,
	.warn = 0,
	.admit = browsers_admit,
	.open = browsers_open,
	.message = browsers_message,
	.written = browsers_written,
	.close = browsers_closed,
	.name = browsers_name,
};

const struct lws_protocols browsers_protocols[] = {
	{ "pulse-pushd-http", conn_http_cb, 0, 0, 0, (void *)&browsers_kind,
	    0 },
	{ BROWSERS_PROTOCOL, conn_ws_cb, sizeof(struct bconn),
	    PUSHD_BROWSER_MSG_MAX, 0, (void *)&browsers_kind, PUSHD_TX_CHUNK },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

void
browsers_init(const struct config *cfg)
{
	browsers_cfg = cfg;
}

void
browsers_close_all(void)
{
	struct bconn	*c;

	TAILQ_FOREACH(c, &browsers_all, entry)
		conn_close(&c->c, LWS_CLOSE_STATUS_GOINGAWAY,
		    "server stopping", 0);
}

/* For the metrics page: open sockets, and what waits for all. */
void
browsers_counts(size_t *open, size_t *queued)
{
	const struct bconn	*c;

	*open = *queued = 0;
	TAILQ_FOREACH(c, &browsers_all, entry) {
		(*open)++;
		*queued += c->c.q.n;
	}
}
