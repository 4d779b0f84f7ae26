/*
 * The worker listener (README "The worker protocol"): the API key is
 * checked before the upgrade, every message is checked field by field and
 * turned into a job for the db thread, and anything off-protocol closes
 * the socket with 1008. Results are acknowledged only once the db thread
 * has committed them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "config.h"
#include "ident.h"
#include "log.h"
#include "pjson.h"
#include "pushd.h"
#include "xmalloc.h"

#define WORKERS_PROTOCOL	"pulse-worker"
#define WORKERS_PATH		"/worker"
#define CLOSE_TRY_AGAIN		1013	/* RFC 6455: try again later */

static struct idmap	 workers_by_id;	/* worker_id -> conn */

/* Why the current message is refused, for the close frame and the log. */
static char		 workers_why[124];

static int workers_fail(const char *, ...)
    __attribute__((format(printf, 1, 2)));

static int
workers_fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(workers_why, sizeof(workers_why), fmt, ap);
	va_end(ap);
	return -1;
}

/* ------------------------------------------------------------ admission */

/*
 * The handshake: path, subprotocol, key. 0 to accept; else the HTTP status
 * and why. Remote-* headers mean nothing here and are never read.
 */
static int
workers_admit(struct lws *wsi, const char **why)
{
	const char	*want = server.cfg->worker_api_key;
	char		 path[64], proto[64], key[WORKER_KEY_MAX + 2];

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
	/* An empty configured key would match an empty header: refuse. */
	if (header_copy(wsi, "x-api-key:", key, sizeof(key)) <= 0 ||
	    *want == '\0' || !ident_key_equal(key, want)) {
		explicit_bzero(key, sizeof(key));
		*why = "invalid or missing API key";
		return 401;
	}
	explicit_bzero(key, sizeof(key));
	return 0;
}

/* ------------------------------------------------------- message fields */

static int
want_str(struct json_object *o, const char *type, const char *key, int req,
    size_t min, size_t max, const char **out, size_t *len)
{
	size_t	 n = 0;
	int	 rc;

	*out = NULL;
	rc = pjson_get_string(o, key, out, &n);
	if (rc == -1)
		return workers_fail("%s: %s must be a string", type, key);
	if (rc == 0) {
		if (req)
			return workers_fail("%s: %s is missing", type, key);
		return 0;
	}
	if (n < min || n > max)
		return workers_fail("%s: %s must be %zu to %zu bytes", type,
		    key, min, max);
	if (len != NULL)
		*len = n;
	return 0;
}

static int
want_id(struct json_object *o, const char *type, const char *key, int req,
    const char **out)
{
	if (want_str(o, type, key, req, 0, ID_LEN + 1, out, NULL) == -1)
		return -1;
	if (*out != NULL && !id_valid(*out))
		return workers_fail("%s: %s must be a UUID", type, key);
	return 0;
}

/* An integer in [min, max]; JSON null or absent leaves *has at 0. */
static int
want_int(struct json_object *o, const char *type, const char *key,
    long long min, long long max, long long *out, int *has)
{
	int	 rc;

	*has = 0;
	rc = pjson_get_int(o, key, out);
	if (rc == -1)
		return workers_fail("%s: %s must be an integer", type, key);
	if (rc == 0)
		return 0;
	if (*out < min || *out > max)
		return workers_fail("%s: %s is out of range", type, key);
	*has = 1;
	return 0;
}

static int
want_bool(struct json_object *o, const char *type, const char *key, int req,
    int *out)
{
	int	 rc;

	*out = 0;
	rc = pjson_get_bool(o, key, out);
	if (rc == -1)
		return workers_fail("%s: %s must be true or false", type, key);
	if (rc == 0 && req)
		return workers_fail("%s: %s is missing", type, key);
	return 0;
}

/* Milliseconds as an integer or, from older agents, a fraction. */
static int
want_ms(struct json_object *o, const char *type, const char *key,
    long long *out, int *has)
{
	struct json_object	*v;
	double			 d;

	*has = 0;
	if (!json_object_object_get_ex(o, key, &v) || v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!(d >= 0 && d < 1e15))
			return workers_fail("%s: %s is out of range", type,
			    key);
		*out = (long long)d;
		*has = 1;
		return 0;
	}
	return want_int(o, type, key, 0, 1000000000000000LL, out, has);
}

/* An array of at most max strings (ids when ids is set), into *out. */
static int
want_strings(struct json_object *o, const char *type, const char *key,
    size_t max, size_t maxlen, int ids, const char ***out, size_t *n,
    int *has)
{
	struct json_object	*a, *v;
	size_t			 i, len;
	int			 rc;

	*n = 0;
	*has = 0;
	rc = pjson_get_array(o, key, &a);
	if (rc == -1)
		return workers_fail("%s: %s must be an array", type, key);
	if (rc == 0)
		return 0;
	len = json_object_array_length(a);
	if (len > max)
		return workers_fail("%s: %s has more than %zu items", type,
		    key, max);
	*out = xreallocarray(NULL, len + 1, sizeof(**out));
	for (i = 0; i < len; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0 ||
		    (size_t)json_object_get_string_len(v) > maxlen ||
		    (ids && !id_valid(json_object_get_string(v)))) {
			free(*out);
			*out = NULL;
			return workers_fail("%s: %s[%zu] must be a %s", type,
			    key, i, ids ? "UUID" : "non-empty name");
		}
		(*out)[i] = json_object_get_string(v);
	}
	*n = len;
	*has = 1;
	return 0;
}

/* ------------------------------------------------------------- messages */

/*
 * Hand a job over. Small jobs always fit; when a large one does not (the
 * database is slow or we are stopping) the worker is told to come back,
 * which makes it send again what we never acknowledged.
 */
static int
workers_push(struct job *j, struct json_object **msg)
{
	j->msg = *msg;
	*msg = NULL;
	if (jobs_push(j) == 0)
		return 0;
	job_free(j);
	return workers_fail("server busy: reconnect and send it again");
}

static int
workers_connect(struct conn *c, struct json_object **msg)
{
	static const char	 type[] = "worker_connect";
	struct json_object	*o = *msg;
	struct idmap_node	*e;
	struct conn		*old;
	struct job		*j;
	const char		*id, *name, **groups = NULL;
	size_t			 i, ngroups;
	int			 has;

	if (c->wstate != WORKER_HELLO)
		return workers_fail("worker_connect sent twice");
	j = job_new(JOB_CONNECT, c->serial, NULL);
	if (want_id(o, type, "worker_id", 1, &id) == -1 ||
	    want_str(o, type, "worker_name", 1, 1, WORKER_NAME_MAX, &name,
	    NULL) == -1 ||
	    want_str(o, type, "version", 0, 1, PUSHD_VERSION_MAX,
	    &j->w.version, NULL) == -1 ||
	    want_strings(o, type, "groups", DISPATCH_GROUPS_MAX,
	    WF_TARGET_MAX, 0, &groups, &ngroups, &has) == -1 ||
	    want_strings(o, type, "running", DISPATCH_RUNNING_MAX, ID_LEN, 1,
	    &j->running, &j->nrunning, &has) == -1) {
		free(groups);
		job_free(j);
		return -1;
	}
	j->w.id = id;
	j->w.name = name;
	j->w.has_groups = groups != NULL;
	for (i = 0; i < ngroups; i++)
		j->w.groups[i] = groups[i];
	j->w.ngroups = ngroups;
	free(groups);
	strlcpy_p(j->worker_id, id, sizeof(j->worker_id));

	/* One socket per worker: a reconnect replaces a half-dead one. */
	e = idmap_get(&workers_by_id, id, ID_LEN);
	old = e != NULL ? e->ptr : NULL;
	if (old != NULL && old != c) {
		old->replaced = 1;
		conn_close(old, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "replaced by a newer connection", 0);
		log_info("worker %s: a new connection replaces the old one",
		    name);
	}
	strlcpy_p(c->worker_id, id, sizeof(c->worker_id));
	strlcpy_p(c->worker_name, name, sizeof(c->worker_name));
	e = idmap_put(&workers_by_id, id, ID_LEN);
	e->ptr = c;
	c->wstate = WORKER_CONNECTING;
	c->last_ping_ms = server_now_ms();
	return workers_push(j, msg);
}

static int
workers_started(struct conn *c, struct json_object **msg)
{
	static const char	 type[] = "command_started";
	struct job		*j = job_new(JOB_STARTED, c->serial,
	    c->worker_id);

	if (want_id(*msg, type, "command_id", 1, &j->command_id) == -1 ||
	    want_id(*msg, type, "execution_id", 0, &j->execution_id) == -1) {
		job_free(j);
		return -1;
	}
	return workers_push(j, msg);
}

static int
workers_output(struct conn *c, struct json_object **msg)
{
	static const char	 type[] = "command_output";
	struct job		*j = job_new(JOB_OUTPUT, c->serial,
	    c->worker_id);
	const char		*stream, *enc;
	int			 has;

	if (want_id(*msg, type, "command_id", 1, &j->command_id) == -1 ||
	    want_str(*msg, type, "stream", 1, 0, 16, &stream, NULL) == -1 ||
	    want_int(*msg, type, "offset", 0, 1LL << 50, &j->offset,
	    &has) == -1 ||
	    want_str(*msg, type, "data", 1, 0,
	    base64_len(DISPATCH_CHUNK_MAX), &j->b64, &j->b64len) == -1 ||
	    want_str(*msg, type, "encoding", 0, 1, 16, &enc, NULL) == -1)
		goto fail;
	if (!has) {
		workers_fail("%s: offset is missing", type);
		goto fail;
	}
	if (strcmp(stream, "stdout") == 0)
		j->stream = DISPATCH_STDOUT;
	else if (strcmp(stream, "stderr") == 0)
		j->stream = DISPATCH_STDERR;
	else {
		workers_fail("%s: stream must be stdout or stderr", type);
		goto fail;
	}
	if (enc != NULL && strcmp(enc, "base64") != 0) {
		workers_fail("%s: encoding must be base64", type);
		goto fail;
	}
	j->size += j->b64len;
	j->msg = *msg;
	*msg = NULL;
	/* Live output is a convenience: the result carries all of it. */
	if (jobs_push(j) == -1)
		job_free(j);
	return 0;
fail:
	job_free(j);
	return -1;
}

static int
workers_result(struct conn *c, struct json_object **msg)
{
	static const char	 type[] = "command_result";
	static const char *const names[2][4] = {
		{ "stdout", "stdout_b64", "stdout_bytes", "stdout_truncated" },
		{ "stderr", "stderr_b64", "stderr_bytes", "stderr_truncated" },
	};
	struct json_object	*o = *msg;
	struct job		*j = job_new(JOB_RESULT, c->serial,
	    c->worker_id);
	struct dispatch_result	*r = &j->res;
	const char		*wid;
	size_t			 max = PUSHD_WORKER_MSG_MAX;
	int			 s;

	if (want_id(o, type, "command_id", 1, &r->command_id) == -1 ||
	    want_id(o, type, "execution_id", 0, &r->execution_id) == -1 ||
	    want_id(o, type, "worker_id", 0, &wid) == -1 ||
	    want_bool(o, type, "success", 1, &r->success) == -1 ||
	    want_int(o, type, "exit_code", -1000000, 1000000, &r->exit_code,
	    &r->has_exit_code) == -1 ||
	    want_int(o, type, "signal", 0, 1024, &r->signal,
	    &r->has_signal) == -1 ||
	    want_bool(o, type, "timed_out", 0, &r->timed_out) == -1 ||
	    want_ms(o, type, "duration", &r->duration_ms,
	    &r->has_duration) == -1)
		goto fail;
	for (s = 0; s < 2; s++)
		if (want_str(o, type, names[s][0], 0, 0, max, &r->text[s],
		    &r->textlen[s]) == -1 ||
		    want_str(o, type, names[s][1], 0, 0, max, &r->b64[s],
		    &r->b64len[s]) == -1 ||
		    want_int(o, type, names[s][2], 0, 1LL << 50, &r->bytes[s],
		    &r->has_bytes[s]) == -1 ||
		    want_bool(o, type, names[s][3], 0, &r->truncated[s]) == -1)
			goto fail;
	if (wid != NULL && strcmp(wid, c->worker_id) != 0) {
		workers_fail("%s: for another worker", type);
		goto fail;
	}
	j->size += r->textlen[0] + r->textlen[1] + r->b64len[0] + r->b64len[1];
	return workers_push(j, msg);
fail:
	job_free(j);
	return -1;
}

/* We never send execute_workflow (the engine sends steps one by one);
 * an older agent's answer is checked and noted. */
static int
workers_workflow_result(struct conn *c, struct json_object **msg)
{
	static const char	 type[] = "workflow_result";
	const char		*eid;
	int			 ok;

	if (want_str(*msg, type, "execution_id", 1, 1, ID_LEN, &eid,
	    NULL) == -1 ||
	    want_bool(*msg, type, "success", 0, &ok) == -1)
		return -1;
	log_info("worker %s: workflow_result for %s ignored (none was sent)",
	    c->worker_name, eid);
	return 0;
}

static int
workers_pong(struct conn *c, struct json_object **msg)
{
	const char	*wid;

	(void)c;
	return want_str(*msg, "pong", "worker_id", 0, 0, ID_LEN, &wid, NULL);
}

/* Message types, and whether each may come before worker_connect. */
static const struct workers_handler {
	const char	*type;
	int		(*fn)(struct conn *, struct json_object **);
	int		 any_time;
} workers_handlers[] = {
	{ "worker_connect",	workers_connect,		1 },
	{ "command_started",	workers_started,		0 },
	{ "command_output",	workers_output,			0 },
	{ "command_result",	workers_result,			0 },
	{ "workflow_result",	workers_workflow_result,	0 },
	{ "pong",		workers_pong,			1 },
};

/* One whole message: 0, or -1 with workers_why set (close with 1008). */
static int
workers_message(struct conn *c)
{
	const struct workers_handler *h = NULL;
	struct json_object	*msg;
	const char		*type;
	char			 perr[96];
	size_t			 i;
	int			 rc;

	msg = pjson_parse((const char *)c->rx, c->rxlen, PUSHD_WORKER_DEPTH,
	    perr, sizeof(perr));
	conn_rx_reset(c);
	if (msg == NULL)
		return workers_fail("not JSON: %s", perr);
	if (!json_object_is_type(msg, json_type_object) ||
	    pjson_get_string(msg, "type", &type, NULL) != 1) {
		json_object_put(msg);
		return workers_fail("a message is an object with a type");
	}
	for (i = 0; i < sizeof(workers_handlers) / sizeof(*h); i++)
		if (strcmp(workers_handlers[i].type, type) == 0) {
			h = &workers_handlers[i];
			break;
		}
	if (h == NULL)
		rc = workers_fail("unknown message type '%.40s'", type);
	else if (!h->any_time && c->wstate == WORKER_HELLO)
		rc = workers_fail("%s before worker_connect", h->type);
	else
		rc = h->fn(c, &msg);
	json_object_put(msg);
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
	const char	*why;
	int		 complete, status;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* Checked at CONFIRM_UPGRADE already; this is the last door. */
		return workers_admit(wsi, &why) == 0 ? 0 : -1;
	case LWS_CALLBACK_ESTABLISHED:
		conn_register(c, wsi, CONN_WORKER);
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
	const char	*why;
	int		 status;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		return server_wake();
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		status = workers_admit(wsi, &why);
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
		if (c->wstate == WORKER_CONNECTING) {
			c->wstate = WORKER_ONLINE;
			log_info("worker %s (%s) connected", c->worker_name,
			    c->worker_id);
		}
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
