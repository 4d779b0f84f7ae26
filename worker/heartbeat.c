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
#define HB_REFUSED_MIN_S 60	/* after a 401: the next beat at the earliest */
#define HB_REFUSED_MAX_S 600

struct heartbeat {
	struct lws_context	*ctx;
	const struct url	*url;
	const struct identity	*who;
	int			 interval_s;
	char			*(*body)(void *, size_t *);
	void			*arg;
	struct http		*http;
	unsigned		 refusals;	/* 401s in a row */
	char			 state[HB_ANSWER_KEEP + REDIRECT_SHOW + 128];
	lws_sorted_usec_list_t	 sul_tick;
};

static void	hb_tick(lws_sorted_usec_list_t *);

struct heartbeat *
heartbeat_new(struct lws_context *ctx, const struct url *url,
    const struct identity *who, int interval_s,
    char *(*body)(void *, size_t *), void *arg)
{
	struct heartbeat	*hb = xcalloc(1, sizeof(*hb));

	hb->ctx = ctx;
	hb->url = url;
	hb->who = who;
	hb->interval_s = interval_s;
	hb->body = body;
	hb->arg = arg;
	hb->http = http_new(ctx, url, HB_ANSWER_KEEP);
	return hb;
}

void
heartbeat_free(struct heartbeat *hb)
{
	if (hb == NULL)
		return;
	lws_sul_cancel(&hb->sul_tick);
	http_free(hb->http);
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

/*
 * A refused key stays refused until an admin acts: beat again after a
 * long pause (doubling up to 10 min), not every interval.
 */
static void
hb_refused(struct heartbeat *hb)
{
	long long	 s = HB_REFUSED_MIN_S;
	unsigned	 i;

	for (i = 0; i < hb->refusals && s < HB_REFUSED_MAX_S; i++)
		s *= 2;
	if (s > HB_REFUSED_MAX_S)
		s = HB_REFUSED_MAX_S;
	if (s < hb->interval_s)
		s = hb->interval_s;
	hb->refusals++;
	lws_sul_schedule(hb->ctx, 0, &hb->sul_tick, hb_tick,
	    (lws_usec_t)s * LWS_US_PER_SEC);
}

static void
hb_done(const struct http_answer *a, void *arg)
{
	struct heartbeat	*hb = arg;
	char			 state[sizeof(hb->state)], text[HB_ANSWER_KEEP + 1];

	if (a->error != NULL)
		snprintf(state, sizeof(state), "%s", a->error);
	else if (a->status >= 200 && a->status < 300)
		snprintf(state, sizeof(state), "ok");
	else {
		proto_error_text(a->body, a->len, text, sizeof(text));
		snprintf(state, sizeof(state), "HTTP %d%s%s%s", a->status,
		    a->status != 401 ? "" : hb->who->own ? " (this worker's "
		    "key was refused: revoked, or replaced by a rotation; "
		    "beating again after a long pause)" :
		    " (check WORKER_API_KEY)", text[0] != '\0' ? ": " : "",
		    text);
	}
	hb_outcome(hb, state);
	/* Sent with the key a rotation has since replaced: not refused. */
	if (a->error == NULL && a->status == 401 && a->gen == hb->who->gen)
		hb_refused(hb);
	else
		hb->refusals = 0;
}

static void
hb_tick(lws_sorted_usec_list_t *sul)
{
	struct heartbeat *hb = lws_container_of(sul, struct heartbeat,
	    sul_tick);
	char		*body;
	size_t		 len;

	lws_sul_schedule(hb->ctx, 0, &hb->sul_tick, hb_tick,
	    (lws_usec_t)hb->interval_s * LWS_US_PER_SEC);
	if (http_busy(hb->http)) {
		log_debug("heartbeat: the previous one is still in flight");
		return;
	}
	body = hb->body(hb->arg, &len);
	if (http_post(hb->http, body, len, hb->who, hb_done, hb) == -1)
		hb_outcome(hb, "cannot start a connection");
	free(body);
}

void
heartbeat_start(struct heartbeat *hb)
{
	lws_sul_schedule(hb->ctx, 0, &hb->sul_tick, hb_tick, 1);
}
