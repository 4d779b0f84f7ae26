/*
 * Enrollment: a worker without a key of its own asks the server for one
 * (POST /api/workers/enroll) with PULSE_ENROLL_TOKEN, or with the shared
 * WORKER_API_KEY (then it waits, pending, for an admin). The answer's id
 * and key are stored before anything else happens; a refusal stops the
 * agent with the server's reason, a server that is away is asked again.
 * With several PULSE_SERVER entries, one that does not answer (refused,
 * timed out) is left for the next at once; an answer, even an error,
 * is that server's word. Once none answered, the backoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "pulse-autoconf.h"
#include "worker.h"
#include "xmalloc.h"

#define ENROLL_BACKOFF_MIN_MS	1000
#define ENROLL_BACKOFF_MAX_MS	60000
#define ENROLL_JITTER_PCT	30	/* each delay is +-30 % */

struct enroll {
	struct lws_context	*ctx;
	const struct urls	*urls;
	size_t			 cur;		/* the entry asked */
	size_t			 silent;	/* in a row, none answered */
	struct spool		*spool;
	struct identity		*ident;		/* filled when enrolled */
	struct identity		 cred;		/* the shared key, or none */
	struct http		*http;
	char			*body;		/* holds the token: wiped */
	size_t			 len;
	unsigned		 tries;
	int			 state;		/* enroll_done() */
	lws_sorted_usec_list_t	 sul_retry;
};

static void	enroll_send(lws_sorted_usec_list_t *);

static void
enroll_url(const struct enroll *e, char *buf, size_t len)
{
	const struct url *u = &e->urls->u[e->cur];

	snprintf(buf, len, "%s://%s%s", u->tls ? "https" : "http",
	    u->hosthdr, u->path);
}

/* min(60 s, 1 s * 2^tries), then +-30 %: a fleet started at once spreads. */
static void
enroll_retry(struct enroll *e, const char *why)
{
	long long	 ms = ENROLL_BACKOFF_MIN_MS;
	unsigned	 rnd = 0, i;
	char		 url[512];

	for (i = 0; i < e->tries && ms < ENROLL_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > ENROLL_BACKOFF_MAX_MS)
		ms = ENROLL_BACKOFF_MAX_MS;
	e->tries++;
	lws_get_random(e->ctx, &rnd, sizeof(rnd));
	ms = ms * (100 - ENROLL_JITTER_PCT + (long long)(rnd %
	    (2 * ENROLL_JITTER_PCT + 1))) / 100;
	enroll_url(e, url, sizeof(url));
	log_warnx("enrollment at %s: %s; trying again in %.1f s", url, why,
	    ms / 1000.0);
	lws_sul_schedule(e->ctx, 0, &e->sul_retry, enroll_send,
	    ms * LWS_US_PER_MS);
}

/*
 * No answer from the entry asked: the next one now, unless every entry
 * of the list has been silent in a row (then the backoff).
 */
static void
enroll_silent(struct enroll *e, const char *why)
{
	char	 url[512];

	if (++e->silent >= e->urls->n) {
		e->silent = 0;
		enroll_retry(e, why);
		e->cur = (e->cur + 1) % e->urls->n;
		return;
	}
	enroll_url(e, url, sizeof(url));
	log_warnx("enrollment at %s: %s; trying the next URL", url, why);
	e->cur = (e->cur + 1) % e->urls->n;
	lws_sul_schedule(e->ctx, 0, &e->sul_retry, enroll_send, 1);
}

/* 201: store the id, then the key (the key's presence means enrolled). */
static void
enroll_accepted(struct enroll *e, const struct http_answer *a)
{
	struct enroll_answer	 ea;
	char			 err[256];

	if (proto_enroll_answer(a->body, a->len, &ea, err,
	    sizeof(err)) == -1) {
		snprintf(err + strlen(err), sizeof(err) - strlen(err),
		    " (in a 201 answer)");
		enroll_retry(e, err);
		return;
	}
	if (spool_worker_id_store(e->spool, ea.worker_id) == -1 ||
	    spool_key_store(e->spool, ea.key) == -1) {
		log_warnx("enrolled as %s, but its key cannot be stored in "
		    "%s: fix the state directory, then revoke that worker and "
		    "enroll again", ea.worker_id, spool_dir(e->spool));
		explicit_bzero(&ea, sizeof(ea));
		e->state = ENROLL_FAILED;
		return;
	}
	memcpy(e->ident->worker_id, ea.worker_id, sizeof(ea.worker_id));
	secret_free(e->ident->key);
	e->ident->key = secret_copy(ea.key);
	e->ident->own = 1;
	log_info("enrolled: worker id %s, %s; its own key is stored in "
	    "%s/key (mode 0600) and used from now on", ea.worker_id,
	    strcmp(ea.state, "pending") == 0 ? "pending: waiting for an "
	    "admin to accept this worker" : ea.state[0] != '\0' ? ea.state :
	    "state not given", spool_dir(e->spool));
	explicit_bzero(&ea, sizeof(ea));
	e->state = ENROLL_OK;
}

static void
enroll_answered(const struct http_answer *a, void *arg)
{
	struct enroll	*e = arg;
	char		 text[256], why[320], url[512];

	if (a->error != NULL) {
		enroll_silent(e, a->error);
		return;
	}
	e->silent = 0;
	if (a->status == 201) {
		enroll_accepted(e, a);
		return;
	}
	proto_error_text(a->body, a->len, text, sizeof(text));
	snprintf(why, sizeof(why), "HTTP %d%s%s", a->status,
	    text[0] != '\0' ? ": " : "", text);
	/* Busy (nginx's rate limit) or broken: it may pass. */
	if (a->status == 429 || a->status >= 500 || a->status < 400) {
		enroll_retry(e, why);
		return;
	}
	/* The token or key is refused, or the request: asking again won't do. */
	enroll_url(e, url, sizeof(url));
	log_warnx("enrollment refused by %s: %s; stopping (exit %d)%s", url,
	    why, ENROLL_EXIT_REFUSED, a->status != 401 ? "" :
	    e->cred.key != NULL ? ": check WORKER_API_KEY" :
	    ": ask an admin for a new PULSE_ENROLL_TOKEN");
	e->state = ENROLL_REFUSED;
}

static void
enroll_send(lws_sorted_usec_list_t *sul)
{
	struct enroll	*e = lws_container_of(sul, struct enroll, sul_retry);

	if (e->state != 0)
		return;
	/* A timed-out request's connection may still be closing. */
	if (http_busy(e->http)) {
		lws_sul_schedule(e->ctx, 0, &e->sul_retry, enroll_send,
		    100 * LWS_US_PER_MS);
		return;
	}
	http_url(e->http, &e->urls->u[e->cur]);
	if (http_post(e->http, e->body, e->len, &e->cred, enroll_answered,
	    e) == -1)
		enroll_silent(e, "cannot start a connection");
}

/*
 * Who this worker is: its own key and id from the state directory, else
 * what enrollment will give (enroll_new). 1 when it must enroll; exits
 * (78) when it cannot.
 */
int
enroll_identity(struct spool *spool, const struct config *cfg,
    struct identity *who)
{
	char	 key[PROTO_KEY_LEN + 1];
	int	 rc_id, rc_key;

	memset(who, 0, sizeof(*who));
	if ((rc_id = spool_worker_id_load(spool, who->worker_id)) == -1 ||
	    (rc_key = spool_key_load(spool, key)) == -1)
		fatalx("WORKER_STATE_DIR: cannot read this worker's identity");
	if (rc_key == 0) {
		if (rc_id != 0)
			fatalx("%s/key has no worker_id beside it: restore it, "
			    "or remove the key and enroll again",
			    spool_dir(spool));
		who->key = secret_copy(key);
		who->own = 1;
		explicit_bzero(key, sizeof(key));
		log_info("using this worker's own key (%s/key)",
		    spool_dir(spool));
		return 0;
	}
	if (cfg->enroll_token[0] != '\0' && !proto_key_valid(
	    cfg->enroll_token)) {
		log_warnx("PULSE_ENROLL_TOKEN is not an enrollment token (%d "
		    "characters of base64url)", PROTO_KEY_LEN);
		exit(ENROLL_EXIT_REFUSED);
	}
	if (cfg->enroll_token[0] == '\0' && cfg->worker_api_key[0] == '\0') {
		log_warnx("no key in %s/key, no PULSE_ENROLL_TOKEN and no "
		    "WORKER_API_KEY: this worker cannot enroll; ask an admin "
		    "for an enrollment token and set PULSE_ENROLL_TOKEN",
		    spool_dir(spool));
		exit(ENROLL_EXIT_REFUSED);
	}
	/*
	 * Its id is chosen and stored before the first request: should the
	 * 201 be lost, the same id and token asked again get a key for the
	 * same worker, not a second worker and a second use of the token.
	 */
	if (rc_id != 0 && spool_worker_id(spool, who->worker_id) == -1)
		fatalx("WORKER_STATE_DIR: cannot store this worker's id");
	return 1;
}

/*
 * Start enrolling (from the loop): the token if there is one, else the
 * shared key. ident gets the id and key once enroll_done() says so.
 */
struct enroll *
enroll_new(struct lws_context *ctx, const struct urls *urls,
    struct spool *spool, const struct enroll_request *r,
    struct identity *ident)
{
	struct enroll	*e = xcalloc(1, sizeof(*e));
	char		 u[512];

	e->ctx = ctx;
	e->urls = urls;
	e->spool = spool;
	e->ident = ident;
	e->http = http_new(ctx, &urls->u[0], ENROLL_ANSWER_MAX);
	e->body = proto_enroll_request(r->name, r->groups, r->ngroups,
	    PACKAGE_VERSION, ident->worker_id, r->token, &e->len);
	if (r->token[0] == '\0')
		e->cred.key = secret_copy(r->shared_key);
	enroll_url(e, u, sizeof(u));
	log_info("no key in %s/key: enrolling as %s at %s with %s%s%s",
	    spool_dir(spool), r->name, u, r->token[0] != '\0' ?
	    "PULSE_ENROLL_TOKEN" : "the shared WORKER_API_KEY (the worker "
	    "stays pending until an admin accepts it)", ident->worker_id[0] !=
	    '\0' ? ", as worker " : "", ident->worker_id);
	lws_sul_schedule(ctx, 0, &e->sul_retry, enroll_send, 1);
	return e;
}

void
enroll_free(struct enroll *e)
{
	if (e == NULL)
		return;
	lws_sul_cancel(&e->sul_retry);
	http_free(e->http);
	secret_free(e->cred.key);
	explicit_bzero(e->body, e->len);
	free(e->body);
	free(e);
}

/* 0 still trying, else ENROLL_OK, ENROLL_REFUSED or ENROLL_FAILED. */
int
enroll_done(const struct enroll *e)
{
	return e->state;
}
