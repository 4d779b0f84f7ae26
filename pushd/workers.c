/*
 * The worker listener (README "The worker protocol"): the API key is
 * checked before the upgrade, every message is checked field by field and
 * turned into a job for the db thread, and anything off-protocol closes
 * the socket with 1008. Results are acknowledged only once the db thread
 * has committed them.
 */
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "config.h"
#include "ident.h"
#include "log.h"
#include "pjson.h"
#include "pushd.h"
#include "wkey.h"
#include "xmalloc.h"

#define WORKERS_PROTOCOL	"pulse-worker"
#define WORKERS_PATH		"/worker"
#define CLOSE_TRY_AGAIN		1013	/* RFC 6455: try again later */

static struct idmap	 workers_by_id;	/* worker_id -> conn */

/* Why the current message is refused, for the close frame and the log. */
static char		 workers_why[124];
#define workers_fail(...) \
	why_set(workers_why, sizeof(workers_why), __VA_ARGS__)

/* ------------------------------------------------------------ admission */

/* What the handshake's key says; the db thread checks it at worker_connect. */
struct admit {
	int	 shared;			/* WORKER_API_KEY */
	char	 worker[ID_LEN + 1];		/* X-Worker-Id, or "" */
	char	 hash[WKEY_HASH_LEN + 1];	/* its own key's */
};

/*
 * The key: the shared one (a version-1 agent, or one enrolling), or a
 * worker's own key with X-Worker-Id. Only its shape can be judged here,
 * in the loop; whether it is that worker's live key is the database's
 * answer at worker_connect (dbthread.c), before anything from the socket
 * is taken. 0, or the HTTP status with why.
 */
static int
workers_key(struct lws *wsi, const char **why, struct admit *a)
{
	const char	*want = server.cfg->worker_api_key;
	char		 key[WORKER_KEY_MAX + 2], id[ID_LEN + 2];
	int		 klen, idlen, rc = 0;

	memset(a, 0, sizeof(*a));
	klen = header_copy(wsi, "x-api-key:", key, sizeof(key));
	idlen = header_copy(wsi, "x-worker-id:", id, sizeof(id));
	if (klen <= 0) {
		*why = "invalid or missing API key";
		return 401;
	}
	/* An empty configured key would match an empty header: refuse. */
	if (*want != '\0' && ident_key_equal(key, want))
		a->shared = 1;
	else if (idlen <= 0) {
		*why = "invalid or missing API key";
		rc = 401;
	} else if (!wkey_valid(key)) {
		*why = "key refused: not a worker key";
		rc = 401;
	} else
		wkey_hash(key, a->hash);
	explicit_bzero(key, sizeof(key));
	if (rc == 0 && idlen > 0) {
		if (!id_valid(id)) {
			*why = "X-Worker-Id must be a UUID";
			return 401;
		}
		strlcpy_p(a->worker, id, sizeof(a->worker));
	}
	return rc;
}

/*
 * The handshake: path, subprotocol, key. 0 to accept; else the HTTP status
 * and why. Remote-* headers mean nothing here and are never read.
 */
static int
workers_admit(struct lws *wsi, const char **why, struct admit *a)
{
	char		 path[64], proto[64];

	if (server.stopping) {
		*why = "server stopping";
		return 503;
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) >=
	    (int)sizeof(path) || lws_hdr_copy(wsi, path, sizeof(path),
	    WSI_TOKEN_GET_URI) < 0 || strcmp(path, WORKERS_PATH) != 0) {
		*why = "not found";
		return 404;
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) >=
	    (int)sizeof(proto) || lws_hdr_copy(wsi, proto, sizeof(proto),
	    WSI_TOKEN_PROTOCOL) < 0 || strcmp(proto, WORKERS_PROTOCOL) != 0) {
		*why = "the websocket subprotocol must be " WORKERS_PROTOCOL;
		return 400;
	}
	return workers_key(wsi, why, a);
}

/* ------------------------------------------------------------- messages */

/*
 * Hand a job over, with the message that owns its strings. Small jobs
 * always fit; when a large one does not (the database is slow or we are
 * stopping) the worker is told to come back, which makes it send again
 * what we never acknowledged.
 */
static int
workers_push(struct job *j, struct wmsg *m)
{
	j->msg = wmsg_take_json(m);
	if (jobs_push(j) == 0)
		return 0;
	job_free(j);
	return workers_fail("server busy: reconnect and send it again");
}

static int
workers_connect(struct conn *c, struct wmsg *m)
{
	struct job		*j;
	size_t			 i;

	/* The id comes from the key: a worker key names its worker. */
	if (c->key_worker[0] != '\0' && strcmp(m->worker_id,
	    c->key_worker) != 0)
		return workers_fail("worker_id does not match the key");
	j = job_new(JOB_CONNECT, c->serial, NULL);
	j->w.id = m->worker_id;
	j->w.name = m->worker_name;
	j->w.version = m->version;
	j->w.has_groups = m->has_groups;
	for (i = 0; i < m->ngroups; i++)
		j->w.groups[i] = m->groups[i];
	j->w.ngroups = m->ngroups;
	if (!c->key_shared) {
		strlcpy_p(j->key_hash, c->key_hash, sizeof(j->key_hash));
		j->w.key_hash = j->key_hash;
	}
	j->w.auto_accept = server.cfg->worker_auto_accept;
	j->nrunning = m->nrunning;
	j->running = wmsg_take_running(m);
	j->journaled = m->has_running;
	strlcpy_p(j->worker_id, m->worker_id, sizeof(j->worker_id));

	/*
	 * An older socket of this worker is replaced only once the database
	 * has said that this key may act as it (workers_registered): until
	 * then this one may be an impostor.
	 */
	strlcpy_p(c->worker_id, m->worker_id, sizeof(c->worker_id));
	strlcpy_p(c->worker_name, m->worker_name, sizeof(c->worker_name));
	c->wstate = WORKER_CONNECTING;
	c->last_ping_ms = server_now_ms();
	return workers_push(j, m);
}

/* The database took the key: this socket is the worker's now. */
static void
workers_registered(struct conn *c)
{
	struct idmap_node	*e;
	struct conn		*old;

	/* One socket per worker: a reconnect replaces a half-dead one. */
	e = idmap_get(&workers_by_id, c->worker_id, ID_LEN);
	old = e != NULL ? e->ptr : NULL;
	if (old != NULL && old != c) {
		old->replaced = 1;
		conn_close(old, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "replaced by a newer connection", 0);
		log_info("worker %s: a new connection replaces the old one",
		    c->worker_name);
	}
	e = idmap_put(&workers_by_id, c->worker_id, ID_LEN);
	e->ptr = c;
	c->wstate = WORKER_ONLINE;
	log_info("worker %s (%s) connected", c->worker_name, c->worker_id);
}

static int
workers_started(struct conn *c, struct wmsg *m)
{
	struct job	*j = job_new(JOB_STARTED, c->serial, c->worker_id);

	j->command_id = m->command_id;
	j->execution_id = m->execution_id;
	return workers_push(j, m);
}

static int
workers_output(struct conn *c, struct wmsg *m)
{
	struct job	*j = job_new(JOB_OUTPUT, c->serial, c->worker_id);

	j->command_id = m->command_id;
	j->stream = m->stream;
	j->offset = m->offset;
	j->b64 = m->b64;
	j->b64len = m->b64len;
	j->size += j->b64len;
	j->msg = wmsg_take_json(m);
	/* Live output is a convenience: the result carries all of it. */
	if (jobs_push(j) == -1)
		job_free(j);
	return 0;
}

static int
workers_result(struct conn *c, struct wmsg *m)
{
	struct dispatch_result	*r = &m->res;
	struct job		*j;

	j = job_new(JOB_RESULT, c->serial, c->worker_id);
	j->res = *r;
	j->size += r->textlen[0] + r->textlen[1] + r->b64len[0] + r->b64len[1];
	return workers_push(j, m);
}

/* We never send execute_workflow (the engine sends steps one by one);
 * an older agent's answer is checked and noted. */
static int
workers_workflow_result(struct conn *c, struct wmsg *m)
{
	log_info("worker %s: workflow_result for %s ignored (none was sent)",
	    c->worker_name, m->execution_id);
	return 0;
}

/* The worker stored the key a rotate_key offered. */
static int
workers_key_ack(struct conn *c, struct wmsg *m)
{
	struct job	*j = job_new(JOB_KEY_ACK, c->serial, c->worker_id);

	j->key_id = m->key_id;
	return workers_push(j, m);
}

/* One whole message: 0, or -1 with workers_why set (close with 1008). */
static int
workers_message(struct conn *c)
{
	struct wmsg	 m;
	int		 rc;

	rc = wmsg_parse(&m, (const char *)c->rx, c->rxlen, workers_why,
	    sizeof(workers_why));
	conn_rx_reset(c);
	if (rc == -1)
		return -1;
	if (!m.any_time && c->wstate == WORKER_HELLO)
		rc = workers_fail("%s before worker_connect", m.type_name);
	else if (m.type == WMSG_CONNECT && c->wstate != WORKER_HELLO)
		rc = workers_fail("worker_connect sent twice");
	else if (wmsg_fields(&m, workers_why, sizeof(workers_why)) == -1)
		rc = -1;
	else if (m.type != WMSG_CONNECT && m.worker_id != NULL &&
	    c->worker_id[0] != '\0' && strcmp(m.worker_id, c->worker_id) != 0)
		rc = workers_fail("worker_id does not match the key");
	else {
		switch (m.type) {
		case WMSG_CONNECT:
			rc = workers_connect(c, &m);
			break;
		case WMSG_STARTED:
			rc = workers_started(c, &m);
			break;
		case WMSG_OUTPUT:
			rc = workers_output(c, &m);
			break;
		case WMSG_RESULT:
			rc = workers_result(c, &m);
			break;
		case WMSG_WORKFLOW_RESULT:
			rc = workers_workflow_result(c, &m);
			break;
		case WMSG_PONG:
			rc = 0;
			break;
		case WMSG_KEY_ACK:
			rc = workers_key_ack(c, &m);
			break;
		}
	}
	wmsg_clear(&m);
	return rc;
}

/* ------------------------------------------------------------ callbacks */

static int
workers_closed(struct conn *c)
{
	struct idmap_node	*e;
	struct job		*j;

	if (c->serial == 0)
		return 0;
	if (c->worker_id[0] != '\0' && !c->replaced) {
		e = idmap_get(&workers_by_id, c->worker_id, ID_LEN);
		if (e != NULL && e->ptr == c)
			idmap_del(&workers_by_id, c->worker_id, ID_LEN);
		log_info("worker %s disconnected", c->worker_name);
		j = job_new(JOB_GONE, c->serial, c->worker_id);
		if (jobs_push(j) == -1)
			job_free(j);	/* stopping: it will reconnect */
	}
	conn_unregister(c);
	return 0;
}

static int
workers_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct conn	*c = user;
	struct admit	 a;
	const char	*why;
	int		 complete, status;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Checked at CONFIRM_UPGRADE already; this is the last door. */
		return workers_admit(wsi, &why, &a) == 0 ? 0 : -1;
	case LWS_CALLBACK_ESTABLISHED:
		/* The headers are still there; what the key says is kept. */
		if (workers_admit(wsi, &why, &a) != 0)
			return -1;
		conn_register(c, wsi, CONN_WORKER);
		c->key_shared = a.shared;
		strlcpy_p(c->key_worker, a.worker, sizeof(c->key_worker));
		strlcpy_p(c->key_hash, a.hash, sizeof(c->key_hash));
		c->wstate = WORKER_HELLO;
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (c->closing)
			return 0;
		if (lws_frame_is_binary(wsi)) {
			status = LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE;
			workers_fail("messages are JSON text frames");
			goto close;
		}
		if (conn_rx(c, in, len, PUSHD_WORKER_MSG_MAX, &complete) ==
		    -1) {
			status = LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
			workers_fail("message longer than %d bytes",
			    PUSHD_WORKER_MSG_MAX);
			goto close;
		}
		if (!complete)
			return 0;
		if (workers_message(c) == 0)
			return 0;
		status = strncmp(workers_why, "server busy", 11) == 0 ?
		    CLOSE_TRY_AGAIN : LWS_CLOSE_STATUS_POLICY_VIOLATION;
		goto close;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return conn_writeable(c);
	case LWS_CALLBACK_CLOSED:
		return workers_closed(c);
	default:
		return 0;
	}
close:
	log_warnx("worker %s: closing: %s", c->worker_name[0] ? c->worker_name :
	    "(before worker_connect)", workers_why);
	lws_close_reason(wsi, (enum lws_close_status)status,
	    (unsigned char *)workers_why, strlen(workers_why));
	return -1;
}

/*
 * The vhost's HTTP side: refuses upgrades that fail admission with a
 * status before any websocket exists, answers plain requests 404, and is
 * where the db thread's wake-ups are handled.
 */
static int
workers_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct admit	 a;
	const char	*why;
	int		 status;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		return server_wake();
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		status = workers_admit(wsi, &why, &a);
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

const struct lws_protocols workers_protocols[] = {
	{ "pulse-pushd-http", workers_http_cb, 0, 0, 0, NULL, 0 },
	{ WORKERS_PROTOCOL, workers_cb, sizeof(struct conn), PUSHD_RX_CHUNK,
	    0, NULL, PUSHD_TX_CHUNK },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ------------------------------------------------ from the db thread */

void
workers_out(struct out *o)
{
	struct conn	*c = conn_find(o->conn);

	if (c == NULL)
		return;
	switch (o->type) {
	case OUT_SEND:
		conn_send(c, o->msg);
		break;
	case OUT_CLOSE:
		log_warnx("worker %s: closing: %s", c->worker_name, o->reason);
		conn_close(c, o->code, o->reason, 0);
		break;
	case OUT_REGISTERED:
		if (c->wstate == WORKER_CONNECTING && !c->closing)
			workers_registered(c);
		break;
	default:
		break;
	}
}

/*
 * Once a second: ping every registered worker each PULSE_WORKER_PING_S,
 * close the ones silent for three of those (their socket is dead even if
 * the kernel does not know yet), and the ones that never said who they
 * are.
 */
void
workers_tick(long long now)
{
	static const char	 ping[] = "{\"type\":\"ping\"}";
	struct msg		*m = NULL;
	struct conn		*c, *next;
	long long		 every = (long long)server.cfg->worker_ping_s *
	    1000;

	for (c = TAILQ_FIRST(&server.workers); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->closing)
			continue;
		if (c->wstate == WORKER_HELLO) {
			if (now - c->since_ms > PUSHD_HELLO_S * 1000LL)
				conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				    "no worker_connect", 0);
			continue;
		}
		if (now - c->last_rx_ms > 3 * every) {
			log_warnx("worker %s: silent for %lld s: closing",
			    c->worker_name, (now - c->last_rx_ms) / 1000);
			conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY,
			    "no answer to ping", 0);
			continue;
		}
		if (now - c->last_ping_ms >= every) {
			if (m == NULL)
				m = msg_new(ping, sizeof(ping) - 1);
			c->last_ping_ms = now;
			conn_send(c, m);
		}
	}
	msg_unref(m);
}

void
workers_init(void)
{
	idmap_init(&workers_by_id);
}

void
workers_free(void)
{
	idmap_free(&workers_by_id);
}

void
workers_close_all(void)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &server.workers, entry)
		conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server stopping", 1);
}
