/*
 * Heartbeats over HTTP, as the seed's worker sent them: POST
 * /api/workers/heartbeat with the worker's metrics, at start and every
 * HEARTBEAT_INTERVAL seconds. They keep the worker "online" and its
 * groups current even while the websocket is down.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#define HB_ANSWER_KEEP	200	/* bytes of an error answer worth logging */

struct heartbeat {
	struct lws_context	*ctx;
	const struct url	*url;
	char			*key;
	int			 interval_s;
	char			*(*body)(void *, size_t *);
	void			*arg;
	struct lws		*wsi;
	unsigned char		*req;	/* LWS_PRE bytes, then the body */
	size_t			 reqlen;
	int			 sent, status, done;
	char			 answer[HB_ANSWER_KEEP + 1];
	size_t			 answerlen;
	char			 state[HB_ANSWER_KEEP + REDIRECT_SHOW + 128];
	lws_sorted_usec_list_t	 sul_tick, sul_timeout;
};

struct heartbeat *
heartbeat_new(struct lws_context *ctx, const struct url *url,
    const char *key, int interval_s, char *(*body)(void *, size_t *),
    void *arg)
{
	struct heartbeat	*hb = xcalloc(1, sizeof(*hb));

	hb->ctx = ctx;
	hb->url = url;
	hb->key = secret_copy(key);
	hb->interval_s = interval_s;
	hb->body = body;
	hb->arg = arg;
	return hb;
}

void
heartbeat_free(struct heartbeat *hb)
{
	if (hb == NULL)
		return;
	lws_sul_cancel(&hb->sul_tick);
	lws_sul_cancel(&hb->sul_timeout);
	if (hb->wsi != NULL) {
		lws_set_opaque_user_data(hb->wsi, NULL);
		lws_set_timeout(hb->wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
	}
	free(hb->req);
	secret_free(hb->key);
	free(hb);
}

/* Log a change of outcome once, not every beat. */
static void
hb_outcome(struct heartbeat *hb, const char *state)
{
	if (strcmp(state, hb->state) == 0)
		return;
	if (strcmp(state, "ok") == 0)
		log_info("heartbeat: accepted by %s://%s%s",
		    hb->url->tls ? "https" : "http", hb->url->hosthdr,
		    hb->url->path);
	else
		log_warnx("heartbeat to %s://%s%s: %s (logged again only when "
		    "this changes)", hb->url->tls ? "https" : "http",
		    hb->url->hosthdr, hb->url->path, state);
	strlcpy_p(hb->state, state, sizeof(hb->state));
}

static void
hb_finish(struct heartbeat *hb, const char *error)
{
	char	 state[sizeof(hb->state)];
	size_t	 i;

	lws_sul_cancel(&hb->sul_timeout);
	if (hb->done)
		return;
	hb->done = 1;
	if (error != NULL)
		snprintf(state, sizeof(state), "%s", error);
	else if (hb->status >= 200 && hb->status < 300)
		snprintf(state, sizeof(state), "ok");
	else {
		/* The answer is the server's text: keep it printable. */
		for (i = 0; i < hb->answerlen; i++)
			if (!isprint((unsigned char)hb->answer[i]))
				hb->answer[i] = ' ';
		hb->answer[hb->answerlen] = '\0';
		snprintf(state, sizeof(state), "HTTP %d%s%s%s", hb->status,
		    hb->status == 401 ? " (check WORKER_API_KEY)" : "",
		    hb->answerlen > 0 ? ": " : "", hb->answer);
	}
	hb_outcome(hb, state);
}

static void
hb_timeout(lws_sorted_usec_list_t *sul)
{
	struct heartbeat *hb = lws_container_of(sul, struct heartbeat,
	    sul_timeout);
	char	 why[64];

	if (hb->wsi == NULL)
		return;
	snprintf(why, sizeof(why), "no answer within %d s",
	    WORKER_HTTP_TIMEOUT_S);
	hb_finish(hb, why);
	lws_set_timeout(hb->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void
hb_send(struct heartbeat *hb)
{
	struct lws_client_connect_info	 i;
	char				*body;
	size_t				 len;

	body = hb->body(hb->arg, &len);
	free(hb->req);
	hb->req = xmalloc(LWS_PRE + len);
	memcpy(hb->req + LWS_PRE, body, len);
	hb->reqlen = len;
	free(body);
	hb->sent = hb->done = 0;
	hb->status = 0;
	hb->answerlen = 0;

	memset(&i, 0, sizeof(i));
	i.context = hb->ctx;
	i.address = hb->url->host;
	i.port = hb->url->port;
	i.path = hb->url->path;
	i.host = hb->url->hosthdr;
	i.method = "POST";
	/* A redirect would take X-API-Key elsewhere: never follow one. */
	i.ssl_connection = (hb->url->tls ? LCCSCF_USE_SSL : 0) |
	    LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	i.protocol = "pulse-http";
	i.local_protocol_name = "pulse-http";
	i.alpn = "http/1.1";
	i.pwsi = &hb->wsi;
	i.opaque_user_data = hb;
	if (lws_client_connect_via_info(&i) == NULL) {
		hb->wsi = NULL;
		hb_finish(hb, "cannot start a connection");
		return;
	}
	lws_sul_schedule(hb->ctx, 0, &hb->sul_timeout, hb_timeout,
	    (lws_usec_t)WORKER_HTTP_TIMEOUT_S * LWS_US_PER_SEC);
}

static void
hb_tick(lws_sorted_usec_list_t *sul)
{
	struct heartbeat *hb = lws_container_of(sul, struct heartbeat,
	    sul_tick);

	lws_sul_schedule(hb->ctx, 0, &hb->sul_tick, hb_tick,
	    (lws_usec_t)hb->interval_s * LWS_US_PER_SEC);
	if (hb->wsi != NULL) {
		log_debug("heartbeat: the previous one is still in flight");
		return;
	}
	hb_send(hb);
}

void
heartbeat_start(struct heartbeat *hb)
{
	lws_sul_schedule(hb->ctx, 0, &hb->sul_tick, hb_tick, 1);
}

static int
hb_headers(struct heartbeat *hb, struct lws *wsi, void *in, size_t len)
{
	unsigned char	**p = in, *end = *p + len;
	char		 clen[32];

	snprintf(clen, sizeof(clen), "%zu", hb->reqlen);
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)
	    "content-type:", (const unsigned char *)"application/json", 16,
	    p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)
	    "content-length:", (const unsigned char *)clen,
	    (int)strlen(clen), p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)
	    "x-api-key:", (const unsigned char *)hb->key,
	    (int)strlen(hb->key), p, end))
		return -1;
	lws_client_http_body_pending(wsi, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

int
heartbeat_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct heartbeat	*hb;
	char			 buf[LWS_PRE + 1024], *p;
	int			 n;

	(void)user;
	hb = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	if (hb == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return hb_headers(hb, wsi, in, len);
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		if (hb->sent)
			return 0;
		hb->sent = 1;
		lws_client_http_body_pending(wsi, 0);
		if (lws_write(wsi, hb->req + LWS_PRE, hb->reqlen,
		    LWS_WRITE_HTTP_FINAL) != (int)hb->reqlen)
			return -1;
		return 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		hb->status = (int)lws_http_client_http_response(wsi);
		if (hb->status < 300 || hb->status > 399)
			return 0;
		redirect_why(wsi, NULL, hb->status, buf, sizeof(buf));
		hb_finish(hb, buf);
		return -1;
	case LWS_CALLBACK_CLIENT_HTTP_REDIRECT:
		/* Only if lws ignored LCCSCF_HTTP_NO_FOLLOW_REDIRECT. */
		redirect_why(wsi, in, (int)len, buf, sizeof(buf));
		hb_finish(hb, buf);
		return -1;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		p = buf + LWS_PRE;
		n = (int)(sizeof(buf) - LWS_PRE);
		return lws_http_client_read(wsi, &p, &n) < 0 ? -1 : 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (hb->answerlen < HB_ANSWER_KEEP) {
			n = (int)(HB_ANSWER_KEEP - hb->answerlen);
			if ((size_t)n > len)
				n = (int)len;
			memcpy(hb->answer + hb->answerlen, in, (size_t)n);
			hb->answerlen += (size_t)n;
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		hb_finish(hb, NULL);
		/* One beat, one connection: no idle socket between beats. */
		return -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(buf, sizeof(buf), "%s", in != NULL ? (char *)in :
		    "connection failed");
		hb->wsi = NULL;
		hb_finish(hb, buf);
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		hb->wsi = NULL;
		hb_finish(hb, hb->status != 0 ? NULL :
		    "connection closed before an answer");
		free(hb->req);
		hb->req = NULL;
		return 0;
	default:
		return 0;
	}
}
