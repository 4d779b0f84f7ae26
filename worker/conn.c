/*
 * The websocket to pulse-pushd: connect with the worker's key, reassemble and
 * bound incoming messages, send a queue of outgoing ones a fragment per
 * WRITEABLE, notice a silent server, and reconnect with jittered
 * exponential backoff for as long as the worker runs. With more than one
 * URL (control hosts), it stays on one until that fails, then tries the
 * next, round-robin: quickly within a round, with the backoff once every
 * URL has failed in a row (README "Several control hosts").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#define CONN_BACKOFF_MIN_MS	500
#define CONN_BACKOFF_MAX_MS	30000
#define CONN_JITTER_PCT		30	/* each delay is +-30 % */
#define CONN_STABLE_MS		10000	/* up this long: backoff restarts */
#define CONN_REFUSED_MIN_MS	60000	/* a refused key: retry this late */
#define CONN_REFUSED_MAX_MS	600000
#define CONN_FRAG		(32 * 1024) /* bytes per lws_write() */
#define CONN_RX_KEEP		(64 * 1024) /* rx buffer kept between msgs */
#define CONN_SWITCH_MIN_MS	100	/* to the next URL within a round: */
#define CONN_SWITCH_MAX_MS	500	/* a random pause in between */

struct qmsg {
	TAILQ_ENTRY(qmsg)	 entry;
	size_t			 len, off;
	int			 flags;
	unsigned char		 buf[];	/* LWS_PRE bytes, then the message */
};

struct conn {
	struct lws_context	*ctx;
	const struct urls	*urls;
	size_t			 cur;		/* the URL used or tried */
	size_t			 failed;	/* URLs failed in this round */
	int			 hello;		/* the server answered */
	int			 quiet;		/* a round failed: switches
						 * logged at debug */
	long long		 lost_ms;	/* when the last connection
						 * that answered was lost */
	const struct identity	*who;
	unsigned		 gen;		/* who->gen this socket sent */
	int			 refused;	/* this attempt: key refused */
	unsigned		 refusals;	/* in a row */
	struct conn_hooks	 hooks;
	struct lws		*wsi;
	int			 up, stopping;
	long long		 up_since;
	unsigned		 tries;
	lws_sorted_usec_list_t	 sul_retry, sul_silence, sul_hello;
	TAILQ_HEAD(, qmsg)	 q;
	size_t			 qbytes;
	char			*rx;
	size_t			 rxlen, rxcap;
	char			 last_err[REDIRECT_SHOW + 128];
	char			 redirect[REDIRECT_SHOW + 128]; /* or "" */
	char			 closewhy[REDIRECT_SHOW + 128]; /* or "" */
};

static void	conn_connect(struct conn *);

/*
 * The agent's one websocket, for LWS_CALLBACK_WSI_DESTROY: lws 4.1 hands
 * that of any wsi (a pipe's, an HTTP client's) to the first protocol,
 * this one, with opaque data that is not a conn (and may be freed).
 */
static struct conn	*conn_one;

/* The URL in use, and "ws[s]://host[:port]/path" for the log. */
#define CONN_URL(c)	(&(c)->urls->u[(c)->cur])
#define URL_FMT		"%s://%s%s"
#define URL_ARGS(u)	(u)->tls ? "wss" : "ws", (u)->hosthdr, (u)->path

static long long
conn_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct conn *
conn_new(struct lws_context *ctx, const struct urls *urls,
    const struct identity *who, const struct conn_hooks *hooks)
{
	struct conn	*c = xcalloc(1, sizeof(*c));

	c->ctx = ctx;
	c->urls = urls;
	c->who = who;
	c->hooks = *hooks;
	TAILQ_INIT(&c->q);
	conn_one = c;
	return c;
}

static void
queue_drop(struct conn *c, int keep_flagged)
{
	struct qmsg	*m, *next;

	for (m = TAILQ_FIRST(&c->q); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		/*
		 * lws masks a client frame in place, so a message that
		 * was partly sent cannot be sent again.
		 */
		if (keep_flagged && (m->flags & CONN_KEEP) && m->off == 0)
			continue;
		TAILQ_REMOVE(&c->q, m, entry);
		c->qbytes -= m->len;
		free(m);
	}
}

void
conn_free(struct conn *c)
{
	if (c == NULL)
		return;
	if (conn_one == c)
		conn_one = NULL;
	lws_sul_cancel(&c->sul_retry);
	lws_sul_cancel(&c->sul_silence);
	lws_sul_cancel(&c->sul_hello);
	if (c->wsi != NULL)
		lws_set_opaque_user_data(c->wsi, NULL);
	queue_drop(c, 0);
	free(c->rx);
	free(c);
}

static void
conn_retry_cb(lws_sorted_usec_list_t *sul)
{
	conn_connect(lws_container_of(sul, struct conn, sul_retry));
}

/*
 * The next URL within a round (more than one URL, not all failed yet):
 * after 100 to 500 ms, at random, so that a fleet that lost its host
 * does not reach the next one in the same instant.
 */
static long long
conn_switch_ms(struct conn *c)
{
	unsigned	 rnd = 0;

	lws_get_random(c->ctx, &rnd, sizeof(rnd));
	return CONN_SWITCH_MIN_MS + (long long)(rnd % (CONN_SWITCH_MAX_MS -
	    CONN_SWITCH_MIN_MS + 1));
}

/*
 * min(30 s, 0.5 s * 2^tries), then +-30 %, so a fleet does not stampede.
 * A refused key waits for an admin, not for a server: 60 s doubling to
 * 10 min, with the same key (never another one).
 */
static long long
conn_backoff_ms(struct conn *c, long long *maxp)
{
	unsigned	 rnd = 0;
	long long	 ms = CONN_BACKOFF_MIN_MS, max = CONN_BACKOFF_MAX_MS;
	unsigned	 i;

	if (c->refused) {
		ms = CONN_REFUSED_MIN_MS;
		max = CONN_REFUSED_MAX_MS;
	}
	for (i = 0; i < (c->refused ? c->refusals - 1 : c->tries) && ms < max;
	    i++)
		ms *= 2;
	if (ms > max)
		ms = max;
	if (!c->refused)
		c->tries++;
	lws_get_random(c->ctx, &rnd, sizeof(rnd));
	*maxp = max;
	return ms * (100 - CONN_JITTER_PCT + (long long)(rnd %
	    (2 * CONN_JITTER_PCT + 1))) / 100;
}

/*
 * Connect again after a failure (why): one URL, after the backoff; more,
 * to the next one, quickly until every URL has failed in a row (a round;
 * a connection that stayed up starts a new one), then after the backoff.
 * A refused key is the cluster's answer, not a host's: the backoff.
 */
static void
conn_retry(struct conn *c, const char *why)
{
	const struct url *u = CONN_URL(c), *next;
	long long	 ms, max = 0;
	int		 fast, news;

	if (c->stopping)
		return;
	fast = c->urls->n > 1 && !c->refused && ++c->failed < c->urls->n;
	ms = fast ? conn_switch_ms(c) : conn_backoff_ms(c, &max);
	if (!fast)
		c->failed = 0;
	c->cur = (c->cur + 1) % c->urls->n;
	next = CONN_URL(c);

	/* The same failure again and again is news only once. */
	news = strcmp(why, c->last_err) != 0;
	if (c->urls->n == 1 && news)
		log_warnx("websocket " URL_FMT ": %s; retrying in %.1f s (and "
		    "again with backoff, up to %lld s)", URL_ARGS(u), why,
		    ms / 1000.0, max / 1000);
	else if (c->urls->n == 1)
		log_debug("websocket: %s; retrying in %.1f s", why,
		    ms / 1000.0);
	else if (fast && !c->quiet)
		log_info("websocket " URL_FMT ": %s; switching to " URL_FMT
		    " in %.1f s", URL_ARGS(u), why, URL_ARGS(next),
		    ms / 1000.0);
	else if (!fast && (news || !c->quiet))
		log_warnx("websocket " URL_FMT ": %s; all %zu URLs failed; "
		    "switching to " URL_FMT " in %.1f s (and again with "
		    "backoff, up to %lld s)", URL_ARGS(u), why, c->urls->n,
		    URL_ARGS(next), ms / 1000.0, max / 1000);
	else
		log_debug("websocket " URL_FMT ": %s; switching to " URL_FMT
		    " in %.1f s", URL_ARGS(u), why, URL_ARGS(next),
		    ms / 1000.0);
	if (!fast)
		c->quiet = 1;
	strlcpy_p(c->last_err, why, sizeof(c->last_err));
	lws_sul_schedule(c->ctx, 0, &c->sul_retry, conn_retry_cb,
	    ms * LWS_US_PER_MS);
}

/*
 * With more than one URL, a host that takes the connection but does not
 * answer the hello (its pushd stuck, its database away) is left for the
 * next: WORKER_HELLO_MS from the connect to the first message.
 */
static void
hello_fire(lws_sorted_usec_list_t *sul)
{
	struct conn	*c = lws_container_of(sul, struct conn, sul_hello);

	/*
	 * Before the upgrade lws's own timeouts end it (the ah's idle
	 * timeout, 10 s; the server's answer, 20 s): see WSI_DESTROY.
	 */
	if (c->wsi == NULL || c->hello || !c->up)
		return;
	snprintf(c->closewhy, sizeof(c->closewhy), "no answer to the hello "
	    "within %d s", WORKER_HELLO_MS / 1000);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void
conn_connect(struct conn *c)
{
	struct lws_client_connect_info	 i;

	if (c->stopping || c->wsi != NULL)
		return;
	c->redirect[0] = '\0';
	c->closewhy[0] = '\0';
	c->refused = 0;
	c->hello = 0;
	/* A redirect would take X-API-Key elsewhere: never follow one. */
	redirect_client_info(&i, c->ctx, CONN_URL(c), "pulse-worker", &c->wsi,
	    c);
	log_debug("websocket: connecting to " URL_FMT, URL_ARGS(CONN_URL(c)));
	if (lws_client_connect_via_info(&i) == NULL) {
		c->wsi = NULL;
		conn_retry(c, "cannot start a connection");
		return;
	}
	/* (lws may have failed it already, from inside the call.) */
	if (c->urls->n > 1 && c->wsi != NULL)
		lws_sul_schedule(c->ctx, 0, &c->sul_hello, hello_fire,
		    (lws_usec_t)WORKER_HELLO_MS * LWS_US_PER_MS);
}

void
conn_start(struct conn *c)
{
	c->stopping = 0;
	conn_connect(c);
}

/* Close after what is queued has gone out (the caller bounds the wait). */
void
conn_stop(struct conn *c)
{
	c->stopping = 1;
	lws_sul_cancel(&c->sul_retry);
	if (c->wsi != NULL)
		lws_callback_on_writable(c->wsi);
}

/* Stopped and closed: nothing more will go out. */
int
conn_closed(const struct conn *c)
{
	return c->stopping && c->wsi == NULL;
}

int
conn_up(const struct conn *c)
{
	return c->up;
}

/* The index of the URL in use or being tried (heartbeat.c follows it). */
size_t
conn_index(const struct conn *c)
{
	return c->cur;
}

size_t
conn_queued(const struct conn *c)
{
	return c->qbytes;
}

/*
 * Queue one text message (copied). While the socket is down only
 * CONN_KEEP messages are kept; the others are dropped: output chunks
 * and pongs are worthless later, and results are in the spool.
 */
int
conn_send(struct conn *c, const char *buf, size_t len, int flags)
{
	struct qmsg	*m;

	if (!c->up && !(flags & CONN_KEEP))
		return -1;
	m = xmalloc(sizeof(*m) + LWS_PRE + len);
	m->len = len;
	m->off = 0;
	m->flags = flags;
	memcpy(m->buf + LWS_PRE, buf, len);
	if ((flags & CONN_FRONT) && (TAILQ_EMPTY(&c->q) ||
	    TAILQ_FIRST(&c->q)->off == 0))
		TAILQ_INSERT_HEAD(&c->q, m, entry);
	else
		TAILQ_INSERT_TAIL(&c->q, m, entry);
	c->qbytes += len;
	if (c->up && c->wsi != NULL)
		lws_callback_on_writable(c->wsi);
	return 0;
}

static void
silence_fire(lws_sorted_usec_list_t *sul)
{
	struct conn	*c = lws_container_of(sul, struct conn, sul_silence);

	if (c->wsi == NULL)
		return;
	log_warnx("websocket: nothing from the server for %d s; reconnecting",
	    WORKER_SILENCE_MS / 1000);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void
silence_reset(struct conn *c)
{
	lws_sul_schedule(c->ctx, 0, &c->sul_silence, silence_fire,
	    (lws_usec_t)WORKER_SILENCE_MS * LWS_US_PER_MS);
}

/*
 * CA certificates: OpenSSL's defaults parse the whole system bundle
 * (~140 certificates, over 1 MB of heap) at start-up. A hashed
 * directory is read lazily, one issuer per handshake. SSL_CERT_FILE and
 * SSL_CERT_DIR are honoured as OpenSSL would.
 */
static void
conn_load_ca(SSL_CTX *ssl)
{
	const char	*file, *dir;

	if (ssl == NULL)
		return;
	file = getenv(X509_get_default_cert_file_env());
	dir = getenv(X509_get_default_cert_dir_env());
	if (dir == NULL)
		dir = X509_get_default_cert_dir();
	if (file != NULL && *file != '\0' &&
	    SSL_CTX_load_verify_locations(ssl, file, NULL) != 1)
		log_warnx("SSL_CERT_FILE: cannot load %s", file);
	if (SSL_CTX_load_verify_locations(ssl, NULL, dir) != 1)
		log_warnx("cannot use the CA directory %s", dir);
}

static int
conn_append_headers(struct conn *c, struct lws *wsi, void *in, size_t len)
{
	unsigned char	**p = in, *end = *p + len;
	const char	*key = c->who->key != NULL ? c->who->key : "";

	c->gen = c->who->gen;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)
	    "x-api-key:", (const unsigned char *)key, (int)strlen(key),
	    p, end))
		return -1;
	if (c->who->own && lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"x-worker-id:",
	    (const unsigned char *)c->who->worker_id,
	    (int)strlen(c->who->worker_id), p, end))
		return -1;
	return 0;
}

/*
 * The server's first message (pushd answers worker_connect with
 * worker_state): this host works. Logged "connected to URL"; after a
 * loss, how long the agent was without one (the failover time).
 */
static void
conn_hello(struct conn *c)
{
	const struct url *u = CONN_URL(c);

	c->hello = 1;
	c->quiet = 0;
	lws_sul_cancel(&c->sul_hello);
	if (c->lost_ms != 0)
		log_info("websocket: connected to " URL_FMT " (%.3f s after "
		    "the last connection was lost)", URL_ARGS(u),
		    (conn_now_ms() - c->lost_ms) / 1000.0);
	else
		log_info("websocket: connected to " URL_FMT, URL_ARGS(u));
	c->lost_ms = 0;
}

static int
conn_receive(struct conn *c, struct lws *wsi, char *in, size_t len)
{
	silence_reset(c);
	if (!c->hello)
		conn_hello(c);
	if (lws_is_first_fragment(wsi))
		c->rxlen = 0;
	if (c->rxlen + len > WORKER_MSG_MAX) {
		log_warnx("websocket: the server sent a message over %d bytes;"
		    " reconnecting", WORKER_MSG_MAX);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		    (unsigned char *)"message too large", 17);
		return -1;
	}
	if (c->rxlen + len > c->rxcap) {
		while (c->rxlen + len > c->rxcap)
			c->rxcap = c->rxcap == 0 ? 4096 : c->rxcap * 2;
		c->rx = xrealloc(c->rx, c->rxcap);
	}
	memcpy(c->rx + c->rxlen, in, len);
	c->rxlen += len;
	/* A rotate_key's key must not stay in lws's buffers either. */
	explicit_bzero(in, len);
	if (!lws_is_final_fragment(wsi))
		return 0;
	if (lws_frame_is_binary(wsi))
		log_warnx("websocket: ignoring a binary message (%zu bytes)",
		    c->rxlen);
	else
		c->hooks.message(c->rx, c->rxlen, c->hooks.arg);
	/* A rotate_key carried a key: no copy of it stays behind. */
	explicit_bzero(c->rx, c->rxlen);
	c->rxlen = 0;
	/* One big message must not keep the worker big. */
	if (c->rxcap > CONN_RX_KEEP) {
		free(c->rx);
		c->rx = NULL;
		c->rxcap = 0;
	}
	return 0;
}

static int
conn_writeable(struct conn *c, struct lws *wsi)
{
	struct qmsg	*m = TAILQ_FIRST(&c->q);
	size_t		 chunk;
	int		 flags;

	if (m == NULL) {
		if (c->stopping) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_GOINGAWAY,
			    (unsigned char *)"worker stopping", 15);
			return -1;
		}
		return 0;
	}
	chunk = m->len - m->off;
	if (chunk > CONN_FRAG)
		chunk = CONN_FRAG;
	flags = lws_write_ws_flags(LWS_WRITE_TEXT, m->off == 0,
	    m->off + chunk == m->len);
	/*
	 * lws writes the frame header into the LWS_PRE bytes before the
	 * fragment: for a later fragment those are bytes already sent.
	 */
	if (lws_write(wsi, m->buf + LWS_PRE + m->off, chunk,
	    (enum lws_write_protocol)flags) < (int)chunk) {
		log_warnx("websocket: write failed; reconnecting");
		return -1;
	}
	m->off += chunk;
	if (m->off == m->len) {
		TAILQ_REMOVE(&c->q, m, entry);
		c->qbytes -= m->len;
		free(m);
	}
	if (!TAILQ_EMPTY(&c->q) || c->stopping)
		lws_callback_on_writable(wsi);
	else if (c->hooks.room != NULL)
		c->hooks.room(c->hooks.arg);
	return 0;
}

/*
 * The server refused our key (401 at the upgrade, or 1008 "key refused"
 * or "worker revoked" after it). A key rotated since this socket sent
 * the old one is not refused: the next connection presents the new one.
 */
static void
conn_refused(struct conn *c, const char *what, char *why, size_t len)
{
	if (c->gen != c->who->gen) {
		snprintf(why, len, "%.80s (with the key from before the "
		    "rotation; reconnecting with the new one)", what);
		return;
	}
	c->refused = 1;
	c->refusals++;
	snprintf(why, len, "%.80s: this worker's key is revoked, rotated away "
	    "or unknown to the server; an admin must act (no other key is "
	    "tried)", what);
}

/*
 * A connection that stayed up CONN_STABLE_MS restarts the backoff and
 * the round. With several URLs "up" means the server answered: a host
 * that takes connections but never answers is not one that works.
 */
static void
conn_down(struct conn *c, const char *why)
{
	int	 up = c->urls->n == 1 ? c->up : c->hello;

	if (up && conn_now_ms() - c->up_since >= CONN_STABLE_MS &&
	    !c->refused) {
		c->tries = 0;
		c->failed = 0;
	}
	if (!c->refused)
		c->refusals = 0;
	if (c->up)
		log_info("websocket: disconnected (%s)", why);
	if (c->hello)
		c->lost_ms = conn_now_ms();
	c->up = 0;
	c->hello = 0;
	c->wsi = NULL;
	c->rxlen = 0;
	lws_sul_cancel(&c->sul_silence);
	lws_sul_cancel(&c->sul_hello);
	queue_drop(c, 1);
	if (!c->stopping)
		conn_retry(c, why);
}

int
conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct conn	*c;
	char		 why[sizeof(c->last_err)];
	int		 status;

	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS) {
		conn_load_ca(user);
		return 0;
	}
	/*
	 * lws 4.1 frees a client timed out before the upgrade (a host that
	 * took the connection and never answered) without a
	 * CONNECTION_ERROR: c->wsi would dangle, never to connect again.
	 */
	if (reason == LWS_CALLBACK_WSI_DESTROY) {
		if (wsi != NULL && conn_one != NULL && conn_one->wsi == wsi)
			conn_down(conn_one, "no answer to the upgrade "
			    "(timed out)");
		return 0;
	}
	c = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	if (c == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return conn_append_headers(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->up = 1;
		c->up_since = conn_now_ms();
		c->last_err[0] = '\0';
		log_debug("websocket: upgraded at " URL_FMT ", saying hello",
		    URL_ARGS(CONN_URL(c)));
		silence_reset(c);
		c->hooks.connected(c->hooks.arg);
		if (!TAILQ_EMPTY(&c->q))
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return conn_receive(c, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return conn_writeable(c, wsi);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (len >= 2) {
			const unsigned char *p = in;
			int code = p[0] << 8 | p[1];

			log_info("websocket: the server closed the connection "
			    "(%d %.*s)", code, (int)(len - 2),
			    (const char *)p + 2);
			if (code == LWS_CLOSE_STATUS_POLICY_VIOLATION &&
			    ((len - 2 >= 11 && memcmp(p + 2, "key refused",
			    11) == 0) || (len - 2 >= 14 && memcmp(p + 2,
			    "worker revoked", 14) == 0))) {
				snprintf(why, sizeof(why), "closed 1008 %.*s",
				    (int)(len - 2 > 64 ? 64 : len - 2),
				    (const char *)p + 2);
				conn_refused(c, why, c->closewhy,
				    sizeof(c->closewhy));
			}
		}
		return 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		/* The upgrade's answer, before lws judges it: a 3xx? */
		status = (int)lws_http_client_http_response(wsi);
		if (status < 300 || status > 399)
			return 0;
		redirect_why(wsi, NULL, status, c->redirect,
		    sizeof(c->redirect));
		return -1;
	case LWS_CALLBACK_CLIENT_HTTP_REDIRECT:
		/* Only if lws ignored LCCSCF_HTTP_NO_FOLLOW_REDIRECT. */
		redirect_why(wsi, in, (int)len, c->redirect,
		    sizeof(c->redirect));
		return -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c->redirect[0] != '\0')
			snprintf(why, sizeof(why), "%s", c->redirect);
		else if (c->closewhy[0] != '\0')
			snprintf(why, sizeof(why), "%s", c->closewhy);
		else if (in != NULL && strstr(in, "unauthorized") != NULL)
			conn_refused(c, "HTTP 401 at the upgrade", why,
			    sizeof(why));
		else
			snprintf(why, sizeof(why), "%s", in != NULL ?
			    (const char *)in : "connection failed");
		conn_down(c, why);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		conn_down(c, c->closewhy[0] != '\0' ? c->closewhy :
		    "connection closed");
		return 0;

	default:
		return 0;
	}
}
