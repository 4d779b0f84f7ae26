/*
 * Heartbeats over HTTP, as the seed's worker sent them: POST
 * /api/workers/heartbeat with the worker's metrics, at start and every
 * HEARTBEAT_INTERVAL seconds. They keep the worker "online" and its
 * groups current even while the websocket is down. With several
 * PULSE_SERVER entries a beat goes to the one whose index the websocket
 * uses, when the lists pair up (pick() says which), else to the entries
 * in order, from the last that answered, until one answers.
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
	const struct urls	*urls;
	size_t			 cur;		/* the entry asked */
	size_t			 left;		/* entries still to try */
	const struct identity	*who;
	int			 interval_s;
	char			*(*body)(void *, size_t *);
	int			(*pick)(void *);
	void			*arg;
	struct http		*http;
	unsigned		 refusals;	/* 401s in a row */
	char			 state[HB_ANSWER_KEEP + REDIRECT_SHOW + 128];
	lws_sorted_usec_list_t	 sul_tick, sul_next;
};

static void	hb_tick(lws_sorted_usec_list_t *);
static void	hb_send(struct heartbeat *);
static void	hb_next(lws_sorted_usec_list_t *);

#define HB_URL(hb)	(&(hb)->urls->u[(hb)->cur])

/*
 * pick(arg): the entry to use (the websocket's index), or -1: any, the
 * first that answers.
 */
struct heartbeat *
heartbeat_new(struct lws_context *ctx, const struct urls *urls,
    const struct identity *who, int interval_s,
    char *(*body)(void *, size_t *), int (*pick)(void *), void *arg)
{
	struct heartbeat	*hb = xcalloc(1, sizeof(*hb));

	hb->ctx = ctx;
	hb->urls = urls;
	hb->who = who;
	hb->interval_s = interval_s;
	hb->body = body;
	hb->pick = pick;
	hb->arg = arg;
	hb->http = http_new(ctx, HB_URL(hb), HB_ANSWER_KEEP);
	return hb;
}

void
heartbeat_free(struct heartbeat *hb)
{
	if (hb == NULL)
		return;
	lws_sul_cancel(&hb->sul_tick);
	lws_sul_cancel(&hb->sul_next);
	http_free(hb->http);
	free(hb);
}

/* Log a change of outcome (of a beat to u) once, not every beat. */
static void
hb_outcome(struct heartbeat *hb, const struct url *u, const char *state)
{
	if (strcmp(state, hb->state) == 0)
		return;
	if (strcmp(state, "ok") == 0)
		log_info("heartbeat: accepted by %s://%s%s",
		    u->tls ? "https" : "http", u->hosthdr, u->path);
	else
		log_warnx("heartbeat to %s://%s%s: %s (logged again only when "
		    "this changes)", u->tls ? "https" : "http", u->hosthdr,
		    u->path, state);
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
	const struct url	*asked = HB_URL(hb);
	char			 state[sizeof(hb->state)], text[HB_ANSWER_KEEP + 1];

	/*
	 * No answer: the next entry, if the beat may go to any; from the
	 * loop, once this request's connection is gone (a timed-out one is
	 * still closing: the next beat goes there).
	 */
	if (a->error != NULL && hb->left > 0) {
		log_debug("heartbeat to %s://%s%s: %s; trying the next URL",
		    HB_URL(hb)->tls ? "https" : "http", HB_URL(hb)->hosthdr,
		    HB_URL(hb)->path, a->error);
		hb->cur = (hb->cur + 1) % hb->urls->n;
		hb->left--;
		if (!http_busy(hb->http)) {
			lws_sul_schedule(hb->ctx, 0, &hb->sul_next, hb_next,
			    1);
			return;
		}
	}
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
	hb_outcome(hb, asked, state);
	/* Sent with the key a rotation has since replaced: not refused. */
	if (a->error == NULL && a->status == 401 && a->gen == hb->who->gen)
		hb_refused(hb);
	else
		hb->refusals = 0;
}

/* One beat to HB_URL(hb); on no answer hb_done may try the next. */
static void
hb_send(struct heartbeat *hb)
{
	char		*body;
	size_t		 len;
	int		 rc;

	for (;;) {
		http_url(hb->http, HB_URL(hb));
		body = hb->body(hb->arg, &len);
		rc = http_post(hb->http, body, len, hb->who, hb_done, hb);
		free(body);
		if (rc == 0)
			return;
		if (hb->left == 0)
			break;
		hb->cur = (hb->cur + 1) % hb->urls->n;
		hb->left--;
	}
	hb_outcome(hb, HB_URL(hb), "cannot start a connection");
}

static void
hb_next(lws_sorted_usec_list_t *sul)
{
	struct heartbeat *hb = lws_container_of(sul, struct heartbeat,
	    sul_next);

	if (http_busy(hb->http))
		return;		/* the tick came first */
	hb_send(hb);
}

static void
hb_tick(lws_sorted_usec_list_t *sul)
{
	struct heartbeat *hb = lws_container_of(sul, struct heartbeat,
	    sul_tick);
	int		 i;

	lws_sul_schedule(hb->ctx, 0, &hb->sul_tick, hb_tick,
	    (lws_usec_t)hb->interval_s * LWS_US_PER_SEC);
	if (http_busy(hb->http)) {
		log_debug("heartbeat: the previous one is still in flight");
		return;
	}
	i = hb->pick != NULL ? hb->pick(hb->arg) : -1;
	if (i >= 0 && (size_t)i < hb->urls->n) {
		hb->cur = (size_t)i;
		hb->left = 0;
	} else
		hb->left = hb->urls->n - 1;	/* from the last that answered */
	hb_send(hb);
}

void
heartbeat_start(struct heartbeat *hb)
{
	lws_sul_schedule(hb->ctx, 0, &hb->sul_tick, hb_tick, 1);
}
