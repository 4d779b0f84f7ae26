/*
 * The connection layer: lws's callbacks for every websocket, whatever its
 * protocol. It registers a socket when it is established, gathers each
 * message from its fragments up to the kind's ceiling, refuses binary
 * frames, queues what is sent with a cap (a socket that does not keep up
 * is dropped), writes one message per writable callback, and closes with
 * a code and reason. What a message means is the kind's (conn.h): this
 * file includes no protocol's header.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "idmap.h"
#include "log.h"
#include "xmalloc.h"

static struct {
	struct idmap		 by_serial;	/* serial -> conn */
	uint64_t		 next_serial;
	size_t			 n;
	int			 stopping;
	const struct conn_kind	*wake_kind;
	void			(*wake)(void);
	void			(*gone)(void);
} conns;

/* Why the connection layer itself refuses a message. */
static char	 conn_why[PUSHD_WHY_MAX];

void
conn_init(const struct conn_kind *wake_kind, void (*wake)(void),
    void (*gone)(void))
{
	memset(&conns, 0, sizeof(conns));
	idmap_init(&conns.by_serial);
	conns.wake_kind = wake_kind;
	conns.wake = wake;
	conns.gone = gone;
}

void
conn_free(void)
{
	idmap_free(&conns.by_serial);
}

void
conn_stop(void)
{
	conns.stopping = 1;
}

int
conn_stopping(void)
{
	return conns.stopping;
}

/* Registered sockets: a stop waits for none to be left. */
size_t
conn_count(void)
{
	return conns.n;
}

static void
conn_register(struct conn *c, struct lws *wsi, const struct conn_kind *k)
{
	struct idmap_node	*e;

	c->wsi = wsi;
	c->kind = k;
	c->serial = ++conns.next_serial;
	c->since_ms = c->last_rx_ms = pushd_now_ms();
	e = idmap_put(&conns.by_serial, &c->serial, sizeof(c->serial));
	e->ptr = c;
	conns.n++;
}

static void
conn_rx_reset(struct conn *c)
{
	free(c->rx);
	c->rx = NULL;
	c->rxlen = c->rxcap = 0;
}

static void
conn_unregister(struct conn *c)
{
	if (c->serial == 0)
		return;
	idmap_del(&conns.by_serial, &c->serial, sizeof(c->serial));
	conns.n--;
	outq_clear(&c->q);
	conn_rx_reset(c);
	c->serial = 0;
	/* The last socket gone may be what a stop waits for. */
	if (conns.gone != NULL)
		conns.gone();
}

struct conn *
conn_find(uint64_t serial)
{
	struct idmap_node	*e;

	e = idmap_get(&conns.by_serial, &serial, sizeof(serial));
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
	if (c->closing)
		return -1;
	if (outq_push(&c->q, m, c->kind->q_msgs, c->kind->q_bytes) == -1) {
		log_warnx("%s %s: %zu messages (%zu bytes) not taken: "
		    "dropping the connection", c->kind->noun, c->kind->name(c),
		    c->q.n, c->q.bytes);
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
static int
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

/*
 * Gather one message from its fragments. 0 with *complete set when the
 * whole message is in c->rx (NUL-terminated, rxlen bytes); -1 when it is
 * longer than max.
 */
static int
conn_rx(struct conn *c, const void *in, size_t len, size_t max, int *complete)
{
	*complete = 0;
	c->last_rx_ms = pushd_now_ms();
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
 * A request header by its lower-case name with the colon ("x-api-key:").
 * Its length (0: absent), or -1 when it does not fit len - 1 bytes.
 */
int
conn_header(struct lws *wsi, const char *name, char *buf, size_t len)
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

/* The kind a protocol was built for (its lws_protocols user pointer). */
static const struct conn_kind *
conn_kind_of(struct lws *wsi)
{
	const struct lws_protocols *p = lws_get_protocol(wsi);

	return p == NULL ? NULL : p->user;
}

/* The handshake: 0, or the HTTP status with why. */
static int
conn_admit(struct lws *wsi, const struct conn_kind *k, struct conn *c,
    const char **why)
{
	if (conns.stopping) {
		*why = "server stopping";
		return 503;
	}
	return k->admit(wsi, c, why);
}

/*
 * A vhost's HTTP side: refuses upgrades that fail admission with a status
 * before any websocket exists, answers plain requests 404, and (on one
 * kind's) is where other threads' wake-ups are handled.
 */
int
conn_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	const struct conn_kind	*k;
	const char		*why;
	int			 status;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (conns.wake != NULL && conn_kind_of(wsi) == conns.wake_kind)
			conns.wake();
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if ((k = conn_kind_of(wsi)) == NULL)
			return -1;
		status = conn_admit(wsi, k, NULL, &why);
		if (status == 0)
			return 0;
		log_debug("upgrade refused: %d %s", status, why);
		if (lws_return_http_status(wsi, (unsigned int)status, why) != 0)
			return -1;
		return 1;
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

/* A websocket of any kind; c is lws's per-session data, zeroed by lws. */
int
conn_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	const struct conn_kind	*k;
	struct conn		*c = user;
	const char		*why;
	int			 complete, status;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Checked at CONFIRM_UPGRADE already; this is the last door. */
		if ((k = conn_kind_of(wsi)) == NULL)
			return -1;
		return conn_admit(wsi, k, c, &why) == 0 ? 0 : -1;
	case LWS_CALLBACK_ESTABLISHED:
		if ((k = conn_kind_of(wsi)) == NULL)
			return -1;
		conn_register(c, wsi, k);
		return k->open(c);
	case LWS_CALLBACK_RECEIVE:
		if (c->closing)
			return 0;
		k = c->kind;
		if (lws_frame_is_binary(wsi)) {
			status = LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE;
			why = "messages are JSON text frames";
			break;
		}
		if (conn_rx(c, in, len, k->msg_max, &complete) == -1) {
			status = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
			snprintf(conn_why, sizeof(conn_why),
			    "message longer than %zu bytes", k->msg_max);
			why = conn_why;
			break;
		}
		if (!complete)
			return 0;
		status = k->message(c, (const char *)c->rx, c->rxlen, &why);
		conn_rx_reset(c);
		if (status == 0)
			return 0;
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (conn_writeable(c) == -1)
			return -1;
		if (c->kind != NULL && c->kind->written != NULL)
			c->kind->written(c);
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (c->serial == 0)
			return 0;
		c->kind->close(c);
		conn_unregister(c);
		return 0;
	default:
		return 0;
	}
	if (k->warn)
		log_warnx("%s %s: closing: %s", k->noun, k->name(c), why);
	else
		log_info("%s %s: closing: %s", k->noun, k->name(c), why);
	lws_close_reason(wsi, (enum lws_close_status)status,
	    (unsigned char *)why, strlen(why));
	return -1;
}
