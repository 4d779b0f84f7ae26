/*
 * The agent's one HTTP client, for what is not the websocket (heartbeats,
 * enrollment): a POST of a JSON body with the worker's credentials, one
 * connection and one timeout per request, the status and the first bytes
 * of the answer handed back. A redirect is refused, never followed: it
 * would take X-API-Key to whatever address the answer names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker.h"
#include "xmalloc.h"

struct http {
	struct lws_context	*ctx;
	const struct url	*url;
	size_t			 max;		/* answer bytes kept */
	const struct identity	*who;		/* or NULL: no credentials */
	void			(*done)(const struct http_answer *, void *);
	void			*arg;
	struct lws		*wsi;
	unsigned char		*req;	/* LWS_PRE bytes, then the body */
	size_t			 reqlen;
	int			 busy, sent, status;
	unsigned		 gen;		/* who->gen in the headers */
	char			*answer;	/* max + 1 bytes */
	size_t			 answerlen;
	char			 why[REDIRECT_SHOW + 128];
	lws_sorted_usec_list_t	 sul_timeout;
};

struct http *
http_new(struct lws_context *ctx, const struct url *url, size_t max)
{
	struct http	*h = xcalloc(1, sizeof(*h));

	h->ctx = ctx;
	h->url = url;
	h->max = max;
	h->answer = xmalloc(max + 1);
	return h;
}

/* The body and the answer may hold a token or a key: wiped, then freed. */
static void
http_drop_req(struct http *h)
{
	if (h->req != NULL) {
		explicit_bzero(h->req, LWS_PRE + h->reqlen);
		free(h->req);
	}
	h->req = NULL;
	h->reqlen = 0;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	lws_sul_cancel(&h->sul_timeout);
	if (h->wsi != NULL) {
		lws_set_opaque_user_data(h->wsi, NULL);
		lws_set_timeout(h->wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
	}
	http_drop_req(h);
	explicit_bzero(h->answer, h->max + 1);
	free(h->answer);
	free(h);
}

/* Where the next request goes (a failover): only between requests. */
void
http_url(struct http *h, const struct url *url)
{
	if (!http_busy(h))
		h->url = url;
}

/* A request in flight, or its connection not closed yet. */
int
http_busy(const struct http *h)
{
	return h->busy || h->wsi != NULL;
}

/* Hand the outcome over once; the answer is wiped when done returns. */
static void
http_finish(struct http *h, const char *error)
{
	struct http_answer	 a;

	lws_sul_cancel(&h->sul_timeout);
	if (!h->busy)
		return;
	h->busy = 0;
	http_drop_req(h);
	memset(&a, 0, sizeof(a));
	h->answer[h->answerlen] = '\0';
	if (error != NULL)
		a.error = error;
	else {
		a.gen = h->gen;
		a.status = h->status;
		a.body = h->answer;
		a.len = h->answerlen;
	}
	h->done(&a, h->arg);
	explicit_bzero(h->answer, h->answerlen);
	h->answerlen = 0;
}

static void
http_timeout(lws_sorted_usec_list_t *sul)
{
	struct http	*h = lws_container_of(sul, struct http, sul_timeout);
	char		 why[64];

	if (h->wsi == NULL)
		return;
	snprintf(why, sizeof(why), "no answer within %d s",
	    WORKER_HTTP_TIMEOUT_S);
	http_finish(h, why);
	/* lws clears h->wsi when it is gone; until then we are busy. */
	lws_set_timeout(h->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/*
 * POST body (copied) to the URL, with who's key (and, for a worker's own
 * key, its id) read as the headers go out. done is called once, from the
 * loop, unless the request cannot start: then -1 and nothing is called.
 */
int
http_post(struct http *h, const char *body, size_t len,
    const struct identity *who, void (*done)(const struct http_answer *,
    void *), void *arg)
{
	struct lws_client_connect_info	 i;

	if (http_busy(h))
		return -1;
	h->req = xmalloc(LWS_PRE + len);
	memcpy(h->req + LWS_PRE, body, len);
	h->reqlen = len;
	h->who = who;
	h->done = done;
	h->arg = arg;
	h->sent = h->status = 0;
	h->answerlen = 0;
	h->busy = 1;

	redirect_client_info(&i, h->ctx, h->url, "pulse-http", &h->wsi, h);
	i.method = "POST";
	if (lws_client_connect_via_info(&i) == NULL) {
		h->wsi = NULL;
		h->busy = 0;
		http_drop_req(h);
		return -1;
	}
	lws_sul_schedule(h->ctx, 0, &h->sul_timeout, http_timeout,
	    (lws_usec_t)WORKER_HTTP_TIMEOUT_S * LWS_US_PER_SEC);
	return 0;
}

static int
http_header(struct lws *wsi, const char *name, const char *value,
    unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
	    (const unsigned char *)value, (int)strlen(value), p, end);
}

static int
http_headers(struct http *h, struct lws *wsi, void *in, size_t len)
{
	unsigned char	**p = in, *end = *p + len;
	char		 clen[32];

	snprintf(clen, sizeof(clen), "%zu", h->reqlen);
	if (http_header(wsi, "content-type:", "application/json", p, end) ||
	    http_header(wsi, "content-length:", clen, p, end))
		return -1;
	if (h->who != NULL)
		h->gen = h->who->gen;
	if (h->who != NULL && h->who->key != NULL &&
	    http_header(wsi, "x-api-key:", h->who->key, p, end))
		return -1;
	if (h->who != NULL && h->who->own && h->who->worker_id[0] != '\0' &&
	    http_header(wsi, "x-worker-id:", h->who->worker_id, p, end))
		return -1;
	lws_client_http_body_pending(wsi, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

int
http_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct http	*h;
	char		 buf[LWS_PRE + 1024], *p;
	int		 n;

	(void)user;
	h = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	if (h == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return http_headers(h, wsi, in, len);
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		if (h->sent || h->req == NULL)
			return 0;
		h->sent = 1;
		lws_client_http_body_pending(wsi, 0);
		if (lws_write(wsi, h->req + LWS_PRE, h->reqlen,
		    LWS_WRITE_HTTP_FINAL) != (int)h->reqlen)
			return -1;
		return 0;
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		h->status = (int)lws_http_client_http_response(wsi);
		if (h->status < 300 || h->status > 399)
			return 0;
		redirect_why(wsi, NULL, h->status, h->why, sizeof(h->why));
		http_finish(h, h->why);
		return -1;
	case LWS_CALLBACK_CLIENT_HTTP_REDIRECT:
		/* Only if lws ignored LCCSCF_HTTP_NO_FOLLOW_REDIRECT. */
		redirect_why(wsi, in, (int)len, h->why, sizeof(h->why));
		http_finish(h, h->why);
		return -1;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		p = buf + LWS_PRE;
		n = (int)(sizeof(buf) - LWS_PRE);
		n = lws_http_client_read(wsi, &p, &n) < 0 ? -1 : 0;
		explicit_bzero(buf, sizeof(buf));
		return n;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		/* Past the ceiling the rest is read and dropped. */
		if (h->answerlen < h->max) {
			n = (int)(h->max - h->answerlen);
			if ((size_t)n > len)
				n = (int)len;
			memcpy(h->answer + h->answerlen, in, (size_t)n);
			h->answerlen += (size_t)n;
		}
		/*
		 * An enrollment answer holds a key: lws frees its buffer
		 * (a heap block a later fork, a command's keeper, would
		 * copy) unwiped, so it is wiped here once consumed.
		 */
		explicit_bzero(in, len);
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		http_finish(h, NULL);
		/* One request, one connection: no idle socket in between. */
		return -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(h->why, sizeof(h->why), "%s", in != NULL ?
		    (char *)in : "connection failed");
		h->wsi = NULL;
		http_finish(h, h->why);
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		h->wsi = NULL;
		http_finish(h, h->status != 0 ? NULL :
		    "connection closed before an answer");
		return 0;
	default:
		return 0;
	}
}
