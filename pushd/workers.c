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
#include "conn.h"
#include "idmap.h"
#include "ident.h"
#include "log.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "workers.h"
#include "wmsg.h"
#include "wkey.h"
#include "xmalloc.h"

#define WORKERS_PROTOCOL	"pulse-worker"
#define WORKERS_PATH		"/worker"
#define CLOSE_TRY_AGAIN		1013	/* RFC 6455: try again later */

enum worker_state {
	WORKER_HELLO,		/* upgraded, waiting for worker_connect */
	WORKER_CONNECTING,	/* the db thread records it */
	WORKER_ONLINE,		/* on record: commands may come */
};

/* A worker's socket: lws's per-session data, zeroed by lws. */
struct wconn {
	struct conn		 c;		/* first: conn.c's part */
	TAILQ_ENTRY(wconn)	 entry;
	/* The key from the handshake, then who it is. */
	int			 key_shared;	/* WORKER_API_KEY */
	char			 key_worker[ID_LEN + 1]; /* X-Worker-Id */
	char			 key_hash[WKEY_HASH_LEN + 1];
	enum worker_state	 wstate;
	int			 replaced;	/* a newer one took over */
	char			 worker_id[ID_LEN + 1];
	char			 worker_name[WORKER_NAME_MAX + 1];
	long long		 last_ping_ms;
};
TAILQ_HEAD(wconnq, wconn);

static const struct config	*workers_cfg;
static struct wconnq		 workers_all =
    TAILQ_HEAD_INITIALIZER(workers_all);
static struct idmap		 workers_by_id;	/* worker_id -> wconn */

/* Why the current message is refused, for the close frame and the log. */
static char		 workers_why[PUSHD_WHY_MAX];
#define workers_fail(...) \
	pushd_why(workers_why, sizeof(workers_why), __VA_ARGS__)

/* ------------------------------------------------------------ admission */

/* What the handshake's key says; the db thread checks it at worker_connect. */
struct admit {
	int	 shared;			/* WORKER_API_KEY */
	char	 worker[ID_LEN + 1];		/* X-Worker-Id, or "" */
	char	 hash[WKEY_HASH_LEN + 1];	/* its own key's */
};

static struct wconn *
workers_of(struct conn *c)
{
	return (struct wconn *)c;
}

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
	const char	*want = workers_cfg->worker_api_key;
	char		 key[WORKER_KEY_MAX + 2], id[ID_LEN + 2];
	int		 klen, idlen, rc = 0;

	memset(a, 0, sizeof(*a));
	klen = conn_header(wsi, "x-api-key:", key, sizeof(key));
	idlen = conn_header(wsi, "x-worker-id:", id, sizeof(id));
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
 * and why. Remote-* headers mean nothing here and are never read. The
 * connection (c not NULL) keeps what the key says.
 */
static int
workers_admit(struct lws *wsi, struct conn *c, const char **why)
{
	struct wconn	*w;
	struct admit	 a;
	char		 path[64], proto[64];
	int		 rc;

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
	if ((rc = workers_key(wsi, why, &a)) != 0 || c == NULL)
		return rc;
	w = workers_of(c);
	w->key_shared = a.shared;
	strlcpy_p(w->key_worker, a.worker, sizeof(w->key_worker));
	strlcpy_p(w->key_hash, a.hash, sizeof(w->key_hash));
	return 0;
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
workers_connect(struct wconn *c, struct wmsg *m)
{
	struct job		*j;
	size_t			 i;

	/* The id comes from the key: a worker key names its worker. */
	if (c->key_worker[0] != '\0' && strcmp(m->worker_id,
	    c->key_worker) != 0)
		return workers_fail("worker_id does not match the key");
	j = job_new(JOB_CONNECT, c->c.serial, NULL);
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
	j->w.auto_accept = workers_cfg->worker_auto_accept;
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
	c->last_ping_ms = pushd_now_ms();
	return workers_push(j, m);
}

/* The database took the key: this socket is the worker's now. */
static void
workers_registered(struct wconn *c)
{
	struct idmap_node	*e;
	struct wconn		*old;

	/* One socket per worker: a reconnect replaces a half-dead one. */
	e = idmap_get(&workers_by_id, c->worker_id, ID_LEN);
	old = e != NULL ? e->ptr : NULL;
	if (old != NULL && old != c) {
		old->replaced = 1;
		conn_close(&old->c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
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
workers_started(struct wconn *c, struct wmsg *m)
{
	struct job	*j = job_new(JOB_STARTED, c->c.serial, c->worker_id);

	j->command_id = m->command_id;
	j->execution_id = m->execution_id;
	return workers_push(j, m);
}

static int
workers_output(struct wconn *c, struct wmsg *m)
{
	struct job	*j = job_new(JOB_OUTPUT, c->c.serial, c->worker_id);

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
workers_result(struct wconn *c, struct wmsg *m)
{
	struct dispatch_result	*r = &m->res;
	struct job		*j;

	j = job_new(JOB_RESULT, c->c.serial, c->worker_id);
	j->res = *r;
	j->size += r->textlen[0] + r->textlen[1] + r->b64len[0] + r->b64len[1];
	return workers_push(j, m);
}

/* We never send execute_workflow (the engine sends steps one by one);
 * an older agent's answer is checked and noted. */
static int
workers_workflow_result(struct wconn *c, struct wmsg *m)
{
	log_info("worker %s: workflow_result for %s ignored (none was sent)",
	    c->worker_name, m->execution_id);
	return 0;
}

/* The worker stored the key a rotate_key offered. */
static int
workers_key_ack(struct wconn *c, struct wmsg *m)
{
	struct job	*j = job_new(JOB_KEY_ACK, c->c.serial, c->worker_id);

	j->key_id = m->key_id;
	return workers_push(j, m);
}

/*
 * One whole message: 0, or the close status with why: 1013 when the
 * server is busy (the worker comes back and sends it again), else 1008.
 */
static int
workers_message(struct conn *cn, const char *text, size_t len,
    const char **why)
{
	struct wconn	*c = workers_of(cn);
	struct wmsg	 m;
	int		 rc = -1;

	*why = workers_why;
	if (wmsg_parse(&m, text, len, workers_why, sizeof(workers_why)) == -1)
		return LWS_CLOSE_STATUS_POLICY_VIOLATION;
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
	if (rc == 0)
		return 0;
	return strncmp(workers_why, "server busy", 11) == 0 ?
	    CLOSE_TRY_AGAIN : LWS_CLOSE_STATUS_POLICY_VIOLATION;
}

/* ------------------------------------------------------------ callbacks */

static int
workers_open(struct conn *cn)
{
	struct wconn	*c = workers_of(cn);

	c->wstate = WORKER_HELLO;
	TAILQ_INSERT_TAIL(&workers_all, c, entry);
	return 0;
}

static void
workers_closed(struct conn *cn)
{
	struct wconn		*c = workers_of(cn);
	struct idmap_node	*e;
	struct job		*j;

	TAILQ_REMOVE(&workers_all, c, entry);
	if (c->worker_id[0] != '\0' && !c->replaced) {
		e = idmap_get(&workers_by_id, c->worker_id, ID_LEN);
		if (e != NULL && e->ptr == c)
			idmap_del(&workers_by_id, c->worker_id, ID_LEN);
		log_info("worker %s disconnected", c->worker_name);
		j = job_new(JOB_GONE, c->c.serial, c->worker_id);
		if (jobs_push(j) == -1)
			job_free(j);	/* stopping: it will reconnect */
	}
}

static const char *
workers_name(const struct conn *cn)
{
	const struct wconn	*c = (const struct wconn *)cn;

	return c->worker_name[0] != '\0' ? c->worker_name :
	    "(before worker_connect)";
}

const struct conn_kind workers_kind = {
	.noun = "worker",
	.msg_max = PUSHD_WORKER_MSG_MAX,
	.q_msgs = PUSHD_WORKER_Q_MSGS,
	.q_bytes = PUSHD_WORKER_Q_BYTES,
	.warn = 1,
	.admit = workers_admit,
	.open = workers_open,
	.message = workers_message,
	.written = NULL,
	.close = workers_closed,
	.name = workers_name,
};

/* The vhost's HTTP side is where the db thread's wake-ups are handled. */
const struct lws_protocols workers_protocols[] = {
	{ "pulse-pushd-http", conn_http_cb, 0, 0, 0, (void *)&workers_kind,
	    0 },
	{ WORKERS_PROTOCOL, conn_ws_cb, sizeof(struct wconn), PUSHD_RX_CHUNK,
	    0, (void *)&workers_kind, PUSHD_TX_CHUNK },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ------------------------------------------------ from the db thread */

/* A message for one worker's socket; gone: the peer will reconnect. */
void
workers_out(struct out *o)
{
	struct conn	*cn = conn_find(o->conn);
	struct wconn	*c;

	if (cn == NULL || cn->kind != &workers_kind)
		return;
	c = workers_of(cn);
	switch (o->type) {
	case OUT_SEND:
		conn_send(cn, o->msg);
		break;
	case OUT_CLOSE:
		log_warnx("worker %s: closing: %s", c->worker_name, o->reason);
		conn_close(cn, o->code, o->reason, 0);
		break;
	case OUT_REGISTERED:
		if (c->wstate == WORKER_CONNECTING && !cn->closing)
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
	struct wconn		*c, *next;
	long long		 every = (long long)workers_cfg->worker_ping_s *
	    1000;

	for (c = TAILQ_FIRST(&workers_all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->c.closing)
			continue;
		if (c->wstate == WORKER_HELLO) {
			if (now - c->c.since_ms > PUSHD_HELLO_S * 1000LL)
				conn_close(&c->c, LWS_CLOSE_STATUS_POLICY_VIOLATION,
				    "no worker_connect", 0);
			continue;
		}
		if (now - c->c.last_rx_ms > 3 * every) {
			log_warnx("worker %s: silent for %lld s: closing",
			    c->worker_name, (now - c->c.last_rx_ms) / 1000);
			conn_close(&c->c, LWS_CLOSE_STATUS_GOINGAWAY,
			    "no answer to ping", 0);
			continue;
		}
		if (now - c->last_ping_ms >= every) {
			if (m == NULL)
				m = msg_new(ping, sizeof(ping) - 1);
			c->last_ping_ms = now;
			conn_send(&c->c, m);
		}
	}
	msg_unref(m);
}

void
workers_init(const struct config *cfg)
{
	workers_cfg = cfg;
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
	struct wconn	*c;

	TAILQ_FOREACH(c, &workers_all, entry)
		conn_close(&c->c, LWS_CLOSE_STATUS_GOINGAWAY, "server stopping",
		    1);
}

/* For the metrics page: registered sockets, and what waits for all. */
void
workers_counts(size_t *online, size_t *queued)
{
	const struct wconn	*c;

	*online = *queued = 0;
	TAILQ_FOREACH(c, &workers_all, entry) {
		if (c->wstate == WORKER_ONLINE)
			(*online)++;
		*queued += c->c.q.n;
	}
}
