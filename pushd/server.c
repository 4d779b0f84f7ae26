/*
 * The loop: one lws context with three vhosts on unix sockets that only
 * nginx reaches (workers, browsers, metrics), the table of live sockets, their
 * bounded send queues, the one place the db thread's messages come in
 * (LWS_CALLBACK_EVENT_WAIT_CANCELLED), the once-a-second tick, and the
 * orderly stop on SIGTERM.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pushd.h"
#include "usock.h"
#include "xmalloc.h"

struct server	 server;

/* The socket files we made, to remove only ours when we stop. */
struct server_sock {
	const char	*key;
	const char	*path;
	struct stat	 sb;
	int		 have;
};

static struct server_sock	 server_socks[3];
static lws_sorted_usec_list_t	 server_tick_sul;
static int			 server_stop_flag;	/* by main's thread */

static void	server_check_stop(void);
static int			 server_closing;
static long long		 server_close_at;

/* Browsers: lws pings them and hangs up on the silent (nginx proxies the
 * frames). Workers get our own application-level ping (workers.c). */
static const lws_retry_bo_t server_browser_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 75,
};

/*
 * Why a socket's handshake or message is refused, into buf (a close
 * reason: at most 123 bytes): -1, so a check can fail with one call.
 */
int
why_set(char *buf, size_t len, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return -1;
}

long long
server_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- sockets */

/*
 * A listener: created 0600 (umask) so nobody connects before its group is
 * set, then 0660 for nginx's group. Whoever can connect to the browser
 * socket can claim any identity.
 */
static void
server_vhost(struct server_sock *s, const char *name,
    const struct lws_protocols *protocols, const lws_retry_bo_t *policy)
{
	struct lws_context_creation_info info;
	struct lws_vhost	*vh;
	mode_t			 mask;
	gid_t			 gid = 0;
	char			 err[256];
	int			 removed, setgroup;

	if (usock_clear(s->path, &removed, err, sizeof(err)) == -1)
		fatalx("%s: %s", s->key, err);
	if (removed)
		log_info("removed stale socket %s", s->path);
	memset(&info, 0, sizeof(info));
	info.vhost_name = name;
	info.iface = s->path;
	info.port = 0;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_UNIX_SOCK |
	    LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.retry_and_idle_policy = policy;
	mask = umask(0177);
	vh = lws_create_vhost(server.ctx, &info);
	umask(mask);
	if (vh == NULL)
		fatalx("%s: cannot listen on %s", s->key, s->path);
	if ((setgroup = usock_group(server.cfg->socket_group, &gid, err,
	    sizeof(err))) == -1 ||
	    usock_protect(s->path, setgroup, gid, err, sizeof(err)) == -1)
		fatalx("%s: PULSE_SOCKET_GROUP: %s", s->key, err);
	if (stat(s->path, &s->sb) == -1)
		fatal("stat %s", s->path);
	s->have = 1;
}

/* New connections fail at once from now on; the ones we have stay. */
static void
server_unlink_sockets(void)
{
	struct stat	 sb;
	size_t		 i;

	for (i = 0; i < 3; i++) {
		struct server_sock *s = &server_socks[i];

		if (!s->have)
			continue;
		s->have = 0;
		/* Unless a newer pushd has put its own there already. */
		if (stat(s->path, &sb) == 0 && sb.st_dev == s->sb.st_dev &&
		    sb.st_ino == s->sb.st_ino && unlink(s->path) == -1)
			log_warn("unlink %s", s->path);
	}
}

/* -------------------------------------------------------------- connections */

void
conn_register(struct conn *c, struct lws *wsi, enum conn_kind kind)
{
	struct idmap_node	*e;

	c->wsi = wsi;
	c->kind = kind;
	c->serial = ++server.next_serial;
	c->since_ms = c->last_rx_ms = server_now_ms();
	e = idmap_put(&server.conns, &c->serial, sizeof(c->serial));
	e->ptr = c;
	if (kind == CONN_WORKER)
		TAILQ_INSERT_TAIL(&server.workers, c, entry);
	else
		TAILQ_INSERT_TAIL(&server.browsers, c, entry);
}

void
conn_unregister(struct conn *c)
{
	if (c->serial == 0)
		return;
	idmap_del(&server.conns, &c->serial, sizeof(c->serial));
	if (c->kind == CONN_WORKER)
		TAILQ_REMOVE(&server.workers, c, entry);
	else
		TAILQ_REMOVE(&server.browsers, c, entry);
	outq_clear(&c->q);
	conn_rx_reset(c);
	free(c->subs);
	c->subs = NULL;
	c->serial = 0;
	/* The last socket gone may be what a stop waits for. */
	if (server.stopping)
		server_check_stop();
}

struct conn *
conn_find(uint64_t serial)
{
	struct idmap_node	*e;

	e = idmap_get(&server.conns, &serial, sizeof(serial));
	return e == NULL ? NULL : e->ptr;
}

/*
 * Queue a message for c. A socket that does not keep up is dropped (its
 * peer reconnects and catches up from the database) rather than let its
 * queue grow or slow anyone else: -1 then.
 */
int
conn_send(struct conn *c, struct msg *m)
{
	size_t	 max_msgs, max_bytes;

	if (c->closing)
		return -1;
	if (c->kind == CONN_WORKER) {
		max_msgs = PUSHD_WORKER_Q_MSGS;
		max_bytes = PUSHD_WORKER_Q_BYTES;
	} else {
		max_msgs = PUSHD_BROWSER_Q_MSGS;
		max_bytes = PUSHD_BROWSER_Q_BYTES;
	}
	if (outq_push(&c->q, m, max_msgs, max_bytes) == -1) {
		log_warnx("%s %s: %zu messages (%zu bytes) not taken: "
		    "dropping the connection", c->kind == CONN_WORKER ?
		    "worker" : "browser", c->kind == CONN_WORKER ?
		    c->worker_name : c->user, c->q.n, c->q.bytes);
		outq_clear(&c->q);
		c->closing = 1;
		c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		strlcpy_p(c->close_reason, "too slow: reconnect",
		    sizeof(c->close_reason));
		/* It is not reading: a close frame would only wait too. */
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		return -1;
	}
	lws_callback_on_writable(c->wsi);
	return 0;
}

/*
 * Close c with a code and reason, after what is queued when flush is set
 * (acks on shutdown), else now. The first reason given wins.
 */
void
conn_close(struct conn *c, int code, const char *reason, int flush)
{
	if (c->closing)
		return;
	c->closing = 1;
	c->close_flush = flush;
	c->close_code = code;
	strlcpy_p(c->close_reason, reason, sizeof(c->close_reason));
	if (!flush)
		outq_clear(&c->q);
	/* A peer that never reads cannot hold the socket open. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
	lws_callback_on_writable(c->wsi);
}

/* LWS_CALLBACK_SERVER_WRITEABLE: one message per call, as lws wants. */
int
conn_writeable(struct conn *c)
{
	struct msg	*m;

	if (c->closing && (!c->close_flush || c->q.n == 0)) {
		lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
		    (unsigned char *)c->close_reason, strlen(c->close_reason));
		return -1;
	}
	m = outq_peek(&c->q);
	if (m == NULL)
		return 0;
	if (lws_write(c->wsi, m->data, m->len, LWS_WRITE_TEXT) < (int)m->len)
		return -1;
	outq_pop(&c->q);
	if (c->q.n > 0 || c->closing)
		lws_callback_on_writable(c->wsi);
	return 0;
}

void
conn_rx_reset(struct conn *c)
{
	free(c->rx);
	c->rx = NULL;
	c->rxlen = c->rxcap = 0;
}

/*
 * Gather one message from its fragments. 0 with *complete set when the
 * whole message is in c->rx (NUL-terminated, rxlen bytes); -1 when it is
 * longer than max.
 */
int
conn_rx(struct conn *c, const void *in, size_t len, size_t max, int *complete)
{
	*complete = 0;
	c->last_rx_ms = server_now_ms();
	if (lws_is_first_fragment(c->wsi))
		c->rxlen = 0;
	if (len > max - c->rxlen)
		return -1;
	if (c->rxlen + len + 1 > c->rxcap) {
		size_t	 cap = c->rxcap ? c->rxcap : 4096;

		while (cap < c->rxlen + len + 1)
			cap *= 2;
		c->rx = xrealloc(c->rx, cap);
		c->rxcap = cap;
	}
	memcpy(c->rx + c->rxlen, in, len);
	c->rxlen += len;
	c->rx[c->rxlen] = '\0';
	if (lws_is_final_fragment(c->wsi) &&
	    lws_remaining_packet_payload(c->wsi) == 0)
		*complete = 1;
	return 0;
}

/*
 * A request header by lws token or, when name is set, by its lower-case
 * name with the colon ("x-api-key:"). Its length (0: absent), or -1 when
 * it does not fit len - 1 bytes.
 */
int
header_copy(struct lws *wsi, const char *name, char *buf, size_t len)
{
	int	 n;

	buf[0] = '\0';
	n = lws_hdr_custom_length(wsi, name, (int)strlen(name));
	if (n <= 0)
		return 0;
	if ((size_t)n >= len)
		return -1;
	if (lws_hdr_custom_copy(wsi, buf, (int)len, name,
	    (int)strlen(name)) < 0)
		return -1;
	return n;
}

/* Answer an upgrade request with an HTTP error instead (CONFIRM_UPGRADE). */
int
upgrade_refuse(struct lws *wsi, int status, const char *why)
{
	log_debug("upgrade refused: %d %s", status, why);
	if (lws_return_http_status(wsi, (unsigned int)status, why) != 0)
		return -1;
	return 1;
}

/* ------------------------------------------------------------- the loop */

static void
server_begin_stop(void)
{
	long long	 now = server_now_ms();

	server.stopping = 1;
	server.stop_at_ms = now + PUSHD_STOP_MS;
	server_unlink_sockets();
	/* The db thread records what it has (results: then acked) and quits. */
	jobs_stop();
	log_info("stopping: finishing the database work queued so far");
}

static void
server_check_stop(void)
{
	long long	 now = server_now_ms();

	if (!server_closing && (server.db_done || now >= server.stop_at_ms)) {
		if (!server.db_done)
			log_warnx("the database work did not finish within "
			    "%d s: stopping anyway (unacknowledged results "
			    "will be sent again)", PUSHD_STOP_MS / 1000);
		server_closing = 1;
		server_close_at = now + PUSHD_CLOSE_MS;
		workers_close_all();
		browsers_close_all();
	}
	if (server_closing && ((TAILQ_EMPTY(&server.workers) &&
	    TAILQ_EMPTY(&server.browsers)) || now >= server_close_at))
		server.quit = 1;
}

/* Everything the db thread sent since last time. */
static void
server_drain(void)
{
	struct outq_list	 l = TAILQ_HEAD_INITIALIZER(l);
	struct out		*o;
	struct conn		*c;

	outs_take(&l);
	while ((o = TAILQ_FIRST(&l)) != NULL) {
		TAILQ_REMOVE(&l, o, entry);
		switch (o->type) {
		case OUT_CURSOR:
			server.cursor = o->event_id;
			server.feed_ready = 1;
			break;
		case OUT_DB_DONE:
			server.db_done = 1;
			break;
		case OUT_EVENT:
		case OUT_REPLAY:
		case OUT_REPLAY_END:
			browsers_out(o);
			break;
		case OUT_SEND:
		case OUT_CLOSE:
		case OUT_REGISTERED:
			c = conn_find(o->conn);
			/* Gone: the peer will reconnect. */
			if (c != NULL && c->kind == CONN_WORKER)
				workers_out(o);
			break;
		}
		out_free(o);
	}
	if (__atomic_load_n(&server_stop_flag, __ATOMIC_SEQ_CST) &&
	    !server.stopping)
		server_begin_stop();
	if (server.stopping)
		server_check_stop();
}

static void
server_tick(lws_sorted_usec_list_t *sul)
{
	long long	 now = server_now_ms();

	workers_tick(now);
	if (server.stopping)
		server_check_stop();
	lws_sul_schedule(server.ctx, 0, sul, server_tick, LWS_US_PER_SEC);
}

/* The one place the db thread's wake-ups are handled (they reach every
 * protocol of every vhost): the worker vhost's HTTP protocol. */
int
server_wake(void)
{
	server_drain();
	return 0;
}

/* Called from main's signal thread: the one cross-thread lws call. */
void
server_request_stop(void)
{
	__atomic_store_n(&server_stop_flag, 1, __ATOMIC_SEQ_CST);
	lws_cancel_service(server.ctx);
}

static void
server_lws_log(int level, const char *line)
{
	size_t	 n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_warnx("lws: %.*s", (int)n, line);
	else
		log_debug("lws: %.*s", (int)n, line);
}

/*
 * PULSE_PUSHD_METRICS_SOCKET, by default pushd-metrics.sock beside the
 * browser socket: an existing .env gets the listener without a new key.
 */
static const char *
server_metrics_path(const struct config *cfg)
{
	static char	 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char	*slash;
	int		 n;

	if (cfg->pushd_metrics_socket[0] != '\0')
		return cfg->pushd_metrics_socket;
	slash = strrchr(cfg->pushd_browser_socket, '/');
	n = snprintf(path, sizeof(path), "%.*spushd-metrics.sock",
	    slash == NULL ? 0 : (int)(slash - cfg->pushd_browser_socket + 1),
	    cfg->pushd_browser_socket);
	if (n < 0 || (size_t)n >= sizeof(path))
		fatalx("PULSE_PUSHD_METRICS_SOCKET: the default path beside "
		    "%s is too long: set it", cfg->pushd_browser_socket);
	return path;
}

int
server_init(const struct config *cfg)
{
	struct lws_context_creation_info info;

	memset(&server, 0, sizeof(server));
	server.cfg = cfg;
	idmap_init(&server.conns);
	workers_init();
	TAILQ_INIT(&server.workers);
	TAILQ_INIT(&server.browsers);
	lws_set_log_level(cfg->log_debug ? LLL_ERR | LLL_WARN | LLL_NOTICE :
	    LLL_ERR, server_lws_log);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	/* Remote-Groups may be long; the handshake must fit in here. */
	info.max_http_header_data = 16384;
	info.max_http_header_pool = 256;
	info.timeout_secs = 10;
	server.ctx = lws_create_context(&info);
	if (server.ctx == NULL) {
		log_warnx("cannot create the websocket context");
		return -1;
	}
	server_socks[0].key = "PULSE_PUSHD_WORKER_SOCKET";
	server_socks[0].path = cfg->pushd_worker_socket;
	server_socks[1].key = "PULSE_PUSHD_BROWSER_SOCKET";
	server_socks[1].path = cfg->pushd_browser_socket;
	server_vhost(&server_socks[0], "workers", workers_protocols, NULL);
	server_vhost(&server_socks[1], "browsers", browsers_protocols,
	    &server_browser_policy);
	server_socks[2].key = "PULSE_PUSHD_METRICS_SOCKET";
	server_socks[2].path = server_metrics_path(cfg);
	server_vhost(&server_socks[2], "metrics", metrics_protocols, NULL);
	metrics_init();
	lws_sul_schedule(server.ctx, 0, &server_tick_sul, server_tick,
	    LWS_US_PER_SEC);
	log_info("listening for workers on %s, browsers on %s, metrics on %s",
	    cfg->pushd_worker_socket, cfg->pushd_browser_socket,
	    server_socks[2].path);
	return 0;
}

void
server_run(void)
{
	while (!server.quit)
		if (lws_service(server.ctx, 0) < 0)
			break;
}

void
server_free(void)
{
	lws_sul_cancel(&server_tick_sul);
	server_unlink_sockets();
	if (server.ctx != NULL)
		lws_context_destroy(server.ctx);
	server.ctx = NULL;
	workers_free();
	idmap_free(&server.conns);
}
