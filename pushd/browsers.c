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

#include "config.h"
#include "ident.h"
#include "log.h"
#include "pjson.h"
#include "pushd.h"
#include "xmalloc.h"

#define BROWSERS_PROTOCOL	"pulse-browser"
#define BROWSERS_PATH		"/ws"
#define BROWSERS_LOW_WATER	64	/* ask for more replay below this */

static char	 browsers_why[124];
#define browsers_fail(...) \
	why_set(browsers_why, sizeof(browsers_why), __VA_ARGS__)

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
browsers_of(const char *user)
{
	const struct conn	*c;
	size_t			 n = 0;

	TAILQ_FOREACH(c, &server.browsers, entry)
		if (!c->closing && strcmp(c->user, user) == 0)
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
	const struct config *cfg = server.cfg;
	char		 path[64], proto[64], user[USER_NAME_MAX + 1],
			 groups[USER_GROUPS_MAX + 1], origin[512], host[512],
			 fwd[16];
	int		 n;

	if (server.stopping || !server.feed_ready) {
		*why = server.stopping ? "server stopping" :
		    "starting: the event feed is not ready yet";
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
	n = header_copy(wsi, "remote-user:", user, sizeof(user));
	if (n == -1 ||
	    header_copy(wsi, "remote-groups:", groups, sizeof(groups)) == -1) {
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
	    -1 || header_copy(wsi, "x-forwarded-proto:", fwd, sizeof(fwd)) ==
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
	    browsers_of(user) >= (size_t)cfg->user_sockets_max) {
		log_info("browser %s: refused, %d sockets open already "
		    "(PULSE_USER_SOCKETS_MAX)", user, cfg->user_sockets_max);
		*why = "too many open sockets for this user";
		return 429;
	}
	if (c != NULL)
		strlcpy_p(c->user, user, sizeof(c->user));
	return 0;
}

/* ------------------------------------------------------------- the feed */

static int
browsers_subscribed(const struct conn *c, const char *execution_id)
{
	size_t	 i;

	for (i = 0; i < c->nsubs; i++)
		if (strcmp(c->subs[i], execution_id) == 0)
			return 1;
	return 0;
}

static void
browsers_send_json(struct conn *c, struct json_object *o)
{
	struct msg	*m = msg_json(o);

	json_object_put(o);
	conn_send(c, m);
	msg_unref(m);
}

static void
browsers_replay_ask(struct conn *c)
{
	c->replay_next = 0;
	if (replay_ask(c->serial, c->replay_gen, c->replay_from,
	    c->replay_to) == -1)
		conn_close(c, 1013, "server busy: reconnect and resume", 0);
}

/* The next round of a replay, now or once the socket has drained. */
static void
browsers_replay_next(struct conn *c, long long from, long long to)
{
	c->replay_from = from;
	c->replay_to = to;
	c->replay_next = 1;
	if (c->q.n < BROWSERS_LOW_WATER)
		browsers_replay_ask(c);
}

static void
browsers_replay_done(struct conn *c)
{
	struct json_object *o = json_object_new_object();

	c->replaying = 0;
	c->floor = c->replay_to;
	json_object_object_add(o, "type", json_object_new_string("resumed"));
	json_object_object_add(o, "last_event_id",
	    json_object_new_int64(c->replay_to));
	browsers_send_json(c, o);
}

void
browsers_out(struct out *o)
{
	struct conn	*c;

	switch (o->type) {
	case OUT_EVENT:
		if (o->event_id > server.cursor)
			server.cursor = o->event_id;
		/* A replaying browser gets this from the database, in order. */
		TAILQ_FOREACH(c, &server.browsers, entry)
			if (!c->closing && !c->replaying &&
			    o->event_id > c->floor && (!o->is_output ||
			    browsers_subscribed(c, o->execution_id)))
				conn_send(c, o->msg);
		break;
	case OUT_REPLAY:
		c = conn_find(o->conn);
		if (c == NULL || c->kind != CONN_BROWSER || !c->replaying ||
		    c->replay_gen != o->gen)
			break;
		if (!o->is_output || browsers_subscribed(c, o->execution_id))
			conn_send(c, o->msg);
		break;
	case OUT_REPLAY_END:
		c = conn_find(o->conn);
		if (c == NULL || c->kind != CONN_BROWSER || !c->replaying ||
		    c->replay_gen != o->gen || c->closing)
			break;
		if (o->more)
			browsers_replay_next(c, o->event_id, c->replay_to);
		else if (server.cursor > c->replay_to)
			browsers_replay_next(c, c->replay_to, server.cursor);
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
browsers_subscribe(struct conn *c, struct json_object *o)
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
browsers_unsubscribe(struct conn *c, struct json_object *o)
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
browsers_resume(struct conn *c, struct json_object *o)
{
	struct json_object *r;
	long long	 last;

	if (pjson_get_int(o, "last_event_id", &last) != 1 || last < 0)
		return browsers_fail("resume: last_event_id must be an "
		    "integer >= 0");
	c->replay_gen++;
	if (last >= server.cursor) {
		/* Nothing to replay (or it saw more on another pushd). */
		c->floor = last;
		c->replaying = 1;
		c->replay_to = last;
		browsers_replay_done(c);
		return 0;
	}
	if (server.cursor - last > PUSHD_REPLAY_MAX) {
		c->replaying = 0;
		c->floor = server.cursor;
		r = json_object_new_object();
		json_object_object_add(r, "type",
		    json_object_new_string("resync"));
		json_object_object_add(r, "last_event_id",
		    json_object_new_int64(server.cursor));
		browsers_send_json(c, r);
		return 0;
	}
	c->replaying = 1;
	c->floor = last;
	browsers_replay_next(c, last, server.cursor);
	return 0;
}

static int
browsers_ping(struct conn *c, struct json_object *o)
{
	struct json_object *r = json_object_new_object();

	(void)o;
	json_object_object_add(r, "type", json_object_new_string("pong"));
	browsers_send_json(c, r);
	return 0;
}

static const struct browsers_handler {
	const char	*type;
	int		(*fn)(struct conn *, struct json_object *);
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
browsers_rate(struct conn *c)
{
	long long	 now = server_now_ms();

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
browsers_message(struct conn *c)
{
	struct json_object	*msg;
	const char		*type;
	char			 perr[96];
	size_t			 i;
	int			 rc = -1;

	if (browsers_rate(c) == -1) {
		conn_rx_reset(c);
		return -1;
	}
	msg = pjson_parse((const char *)c->rx, c->rxlen, PUSHD_BROWSER_DEPTH,
	    perr, sizeof(perr));
	conn_rx_reset(c);
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
browsers_hello(struct conn *c)
{
	struct json_object *o = json_object_new_object();

	/* From here on it gets every event after this id: none twice. */
	c->floor = server.cursor;
	json_object_object_add(o, "type", json_object_new_string("hello"));
	json_object_object_add(o, "user", json_object_new_string(c->user));
	json_object_object_add(o, "last_event_id",
	    json_object_new_int64(server.cursor));
	browsers_send_json(c, o);
}

static int
browsers_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct conn	*c = user;
	const char	*why;
	int		 complete, status;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return browsers_admit(wsi, c, &why) == 0 ? 0 : -1;
	case LWS_CALLBACK_ESTABLISHED:
		conn_register(c, wsi, CONN_BROWSER);
		log_debug("browser %s connected", c->user);
		browsers_hello(c);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c->closing)
			return 0;
		if (lws_frame_is_binary(wsi)) {
			status = LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE;
			browsers_fail("messages are JSON text frames");
			goto close;
		}
		if (conn_rx(c, in, len, PUSHD_BROWSER_MSG_MAX, &complete) ==
		    -1) {
			status = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
			browsers_fail("message longer than %d bytes",
			    PUSHD_BROWSER_MSG_MAX);
			goto close;
		}
		if (!complete || browsers_message(c) == 0)
			return 0;
		status = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		goto close;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (conn_writeable(c) == -1)
			return -1;
		if (c->replay_next && !c->closing &&
		    c->q.n < BROWSERS_LOW_WATER)
			browsers_replay_ask(c);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c->serial != 0) {
			log_debug("browser %s disconnected", c->user);
			replay_cancel(c->serial);	/* none for the gone */
		}
		conn_unregister(c);
		return 0;
	default:
		return 0;
	}
close:
	log_info("browser %s: closing: %s", c->user, browsers_why);
	lws_close_reason(wsi, (enum lws_close_status)status,
	    (unsigned char *)browsers_why, strlen(browsers_why));
	return -1;
}

static int
browsers_http_cb(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	const char	*why;
	int		 status;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		status = browsers_admit(wsi, NULL, &why);
		if (status == 0)
			return 0;
		return upgrade_refuse(wsi, status, why);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return -1;
	case LWS_CALLBACK_HTTP:
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi);
	default:
		return 0;
	}
}

const struct lws_protocols browsers_protocols[] = {
	{ "pulse-pushd-http", browsers_http_cb, 0, 0, 0, NULL, 0 },
	{ BROWSERS_PROTOCOL, browsers_cb, sizeof(struct conn),
	    PUSHD_BROWSER_MSG_MAX, 0, NULL, PUSHD_TX_CHUNK },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

void
browsers_close_all(void)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &server.browsers, entry)
		conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server stopping", 0);
}
