/*
 * The notification delivery thread: claims due rows of the outbox
 * (common/notify.c), sends each with libcurl (Slack, Discord, a signed
 * webhook, or email through an SMTP relay) and records the outcome. Up to
 * NOTIFY_INFLIGHT_MAX transfers run at once in one multi handle, so a
 * receiver that hangs holds only its own deliveries, until the timeout.
 * Never logged: a channel's URL (it holds a Slack or Discord hook's
 * credentials) or a webhook's secret; only the channel's name.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>
#include <mysql.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "notifier.h"
#include "notify.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "pushd.h"
#include "queue.h"
#include "xmalloc.h"

#define NOTIFIER_IDLE_MS	500	/* nothing due: look again after */
#define NOTIFIER_AWAY_MS	2000	/* database away: again after */

struct flight {
	CURL			*easy;
	struct notify_job	 job;
	struct curl_slist	*headers;
	struct curl_slist	*rcpt;
	char			*body;
	size_t			 bodylen, sent;
	char			 answer[NOTIFY_ANSWER_MAX + 1];
	size_t			 alen;
	int			 capped;	/* answer cut at the cap */
	char			 errbuf[CURL_ERROR_SIZE];
	/* Its outcome, once known (settle). */
	enum notify_outcome	 outcome;
	long long		 delay;
	int			 gone;		/* taken back meanwhile */
	char			 error[NOTIFY_ERROR_MAX];
};

static struct {
	pthread_t		 thread;
	int			 started;
	pthread_mutex_t		 mtx;
	int			 stop;
	struct notifier_counts	 counts;
	struct db		*db;
	const struct config	*cfg;
	char			 node[65];
	CURLM			*multi;
	struct flight		*f[NOTIFY_INFLIGHT_MAX];
	size_t			 n;
	/* Ended this round (and refused before sending: up to a claim). */
	struct flight		*done[2 * NOTIFY_INFLIGHT_MAX];
	size_t			 ndone;
} nt = { .mtx = PTHREAD_MUTEX_INITIALIZER };

static char *
str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
str(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	xvasprintf(&s, fmt, ap);
	va_end(ap);
	return s;
}

static void
count(uint64_t *c)
{
	pthread_mutex_lock(&nt.mtx);
	(*c)++;
	pthread_mutex_unlock(&nt.mtx);
}

void
notifier_counts(struct notifier_counts *out)
{
	pthread_mutex_lock(&nt.mtx);
	*out = nt.counts;
	pthread_mutex_unlock(&nt.mtx);
}

/* The receiver's answer: its first NOTIFY_ANSWER_MAX bytes; then the
 * transfer stops (CURLE_WRITE_ERROR, taken as answered: flight_done), so
 * an endless answer is not read until the timeout. */
static size_t
on_answer(char *p, size_t size, size_t nmemb, void *arg)
{
	struct flight	*f = arg;
	size_t		 n = size * nmemb, room = NOTIFY_ANSWER_MAX - f->alen;

	if (n > room) {
		memcpy(f->answer + f->alen, p, room);
		f->alen += room;
		f->answer[f->alen] = '\0';
		f->capped = 1;
		return 0;
	}
	memcpy(f->answer + f->alen, p, n);
	f->alen += n;
	f->answer[f->alen] = '\0';
	return n;
}

/* The message of an email, read by libcurl's SMTP upload. */
static size_t
on_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct flight	*f = arg;
	size_t		 n = size * nmemb;

	if (n > f->bodylen - f->sent)
		n = f->bodylen - f->sent;
	memcpy(p, f->body + f->sent, n);
	f->sent += n;
	return n;
}

static const char *
get(struct json_object *o, const char *key)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The short text every channel shows: what happened and a link. */
static char *
message_text(const struct notify_job *j, struct json_object *p,
    const char *link)
{
	const char	*wf = get(p, "workflow_name"), *step = get(p, "step");
	const char	*by = get(p, "started_by"), *st = get(p, "status");
	char		 on[320] = "";

	if (wf == NULL)
		wf = "(deleted workflow)";
	if (by == NULL)
		by = "unknown";
	if (strcmp(j->event, "test") == 0)
		return str("PULSE: test message for channel %s "
		    "(sent by %s)", j->channel, by);
	if (step != NULL)
		snprintf(on, sizeof(on), " %s step %s",
		    strcmp(j->event, "prompt") == 0 ? "at" : "on", step);
	if (strcmp(j->event, "failed") == 0 && st != NULL &&
	    strcmp(st, "rejected") == 0)
		return str("PULSE: %s was rejected (started by %s) %s", wf,
		    by, link);
	if (strcmp(j->event, "failed") == 0 && st != NULL &&
	    strcmp(st, "expired") == 0)
		return str("PULSE: %s expired waiting for approval (started "
		    "by %s) %s", wf, by, link);
	if (strcmp(j->event, "failed") == 0)
		return str("PULSE: %s failed%s (started by %s) %s", wf,
		    on, by, link);
	if (strcmp(j->event, "completed") == 0)
		return str("PULSE: %s completed (started by %s) %s",
		    wf, by, link);
	if (strcmp(j->event, "prompt") == 0)
		return str("PULSE: %s waits for an answer%s "
		    "(started by %s) %s", wf, on, by, link);
	return str("PULSE: %s waits for approval (started by %s) %s",
	    wf, by, link);
}

static void
hmac_hex(const char *key, const char *body, size_t len, char *out)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;

	HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body,
	    len, md, &mdlen);
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * mdlen] = '\0';
}

/* A header's text: no CR, LF or other control byte can start another. */
static void
header_clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

/* user[:password]@ before the host of url. */
static int
url_has_userinfo(const char *url)
{
	const char	*a = strstr(url, "://");
	size_t		 n;

	if (a == NULL)
		return 0;
	a += 3;
	n = strcspn(a, "/?#");
	return memchr(a, '@', n) != NULL;
}

static int
build_email(struct flight *f, const char *text, char *why, size_t whylen)
{
	const struct config	*cfg = nt.cfg;
	char			*subject, *to, *tok, *save = NULL, date[64];
	const char		*url;
	time_t			 now = time(NULL);
	struct tm		 tm;

	if (f->job.email_to == NULL || f->job.email_to[0] == '\0') {
		snprintf(why, whylen, "the channel has no recipients");
		return -1;
	}
	if ((f->job.url == NULL || f->job.url[0] == '\0') &&
	    cfg->smtp_url[0] == '\0') {
		snprintf(why, whylen, "no SMTP relay: set SMTP_URL");
		return -1;
	}
	to = xstrdup(f->job.email_to);
	for (tok = strtok_r(to, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok != '\0')
			f->rcpt = curl_slist_append(f->rcpt, tok);
	}
	free(to);
	subject = xstrdup(text);
	header_clean(subject);
	if (strlen(subject) > 200)
		strcpy(subject + 197, "...");
	to = xstrdup(f->job.email_to);
	header_clean(to);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	f->body = str("Date: %s\r\nFrom: %s\r\nTo: %s\r\n"
	    "Subject: %s\r\nMessage-ID: <%s@pulse>\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", date,
	    cfg->mail_from, to, subject, f->job.delivery_id, text);
	f->bodylen = strlen(f->body);
	free(subject);
	free(to);
	url = f->job.url != NULL && f->job.url[0] != '\0' ? f->job.url :
	    cfg->smtp_url;
	curl_easy_setopt(f->easy, CURLOPT_URL, url);
	if (curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps") !=
	    CURLE_OK) {
		snprintf(why, whylen, "libcurl cannot limit the protocols");
		return -1;
	}
	/* A password never crosses in clear: with credentials, smtp:// must
	 * go through STARTTLS (the send fails if the relay offers none);
	 * without, TLS when offered. */
	curl_easy_setopt(f->easy, CURLOPT_USE_SSL, url_has_userinfo(url) ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	curl_easy_setopt(f->easy, CURLOPT_MAIL_FROM, cfg->mail_from);
	curl_easy_setopt(f->easy, CURLOPT_MAIL_RCPT, f->rcpt);
	curl_easy_setopt(f->easy, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(f->easy, CURLOPT_READDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(f->easy, CURLOPT_INFILESIZE_LARGE,
	    (curl_off_t)f->bodylen);
	return 0;
}

static int
build_http(struct flight *f, struct json_object *p, const char *text,
    const char *link, char *why, size_t whylen)
{
	struct json_object	*o;
	char			 hdr[160], sig[2 * EVP_MAX_MD_SIZE + 1];
	const char		*s;

	if (strcmp(f->job.type, "webhook") == 0) {
		o = json_object_get(p);
		json_object_object_add(o, "url", json_object_new_string(link));
		json_object_object_add(o, "text", json_object_new_string(text));
		json_object_object_add(o, "delivery_id",
		    json_object_new_string(f->job.delivery_id));
	} else {
		o = json_object_new_object();
		json_object_object_add(o, strcmp(f->job.type, "discord") == 0 ?
		    "content" : "text", json_object_new_string(text));
	}
	s = pjson_str(o, &f->bodylen);
	f->body = xstrdup(s);
	json_object_put(o);
	f->headers = curl_slist_append(f->headers,
	    "Content-Type: application/json");
	snprintf(hdr, sizeof(hdr), "X-Pulse-Delivery: %s", f->job.delivery_id);
	f->headers = curl_slist_append(f->headers, hdr);
	if (f->job.secret != NULL && f->job.secret[0] != '\0') {
		hmac_hex(f->job.secret, f->body, f->bodylen, sig);
		snprintf(hdr, sizeof(hdr), "X-Pulse-Signature: sha256=%s", sig);
		f->headers = curl_slist_append(f->headers, hdr);
	}
	/* No "Expect: 100-continue" wait on a larger body. */
	f->headers = curl_slist_append(f->headers, "Expect:");
	curl_easy_setopt(f->easy, CURLOPT_URL, f->job.url);
	if (curl_easy_setopt(f->easy, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK) {
		snprintf(why, whylen, "libcurl cannot limit the protocols");
		return -1;
	}
	curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->headers);
	curl_easy_setopt(f->easy, CURLOPT_POSTFIELDS, f->body);
	curl_easy_setopt(f->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)f->bodylen);
	return 0;
}

static void
flight_free(struct flight *f)
{
	if (f == NULL)
		return;
	if (f->easy != NULL) {
		curl_multi_remove_handle(nt.multi, f->easy);
		curl_easy_cleanup(f->easy);
	}
	curl_slist_free_all(f->headers);
	curl_slist_free_all(f->rcpt);
	free(f->body);
	notify_job_clear(&f->job);
	free(f);
}

/* Exponential from the base, capped, with +-20 % jitter. */
static long long
backoff_ms(int attempts)
{
	long long	 d = nt.cfg->notify_backoff_ms;
	int		 i;

	for (i = 1; i < attempts && d < NOTIFY_BACKOFF_CAP_MS; i++)
		d *= 2;
	if (d > NOTIFY_BACKOFF_CAP_MS)
		d = NOTIFY_BACKOFF_CAP_MS;
	return d * 8 / 10 + (long long)arc4random_uniform(
	    (uint32_t)(d * 4 / 10 + 1));
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629: no
 * overlong form, no surrogate, nothing past U+10FFFF), 0 if there is none. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t	 need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return need;
}

/*
 * What a receiver or the transport said, as last_error can store it: a
 * byte that is not part of well-formed UTF-8 becomes '?', a control byte a
 * space, and the cut falls between characters. A strict-mode server
 * refuses anything else, and with it the whole round's outcomes (the rows
 * would stay 'delivering' and be sent again with no backoff, forever).
 */
static void
error_clean(char *out, size_t len, const char *in)
{
	const unsigned char	*s = (const unsigned char *)in;
	size_t			 n = strlen(in), i = 0, o = 0, k;

	while (i < n) {
		k = utf8_seq(s + i, n - i);
		if (o + (k ? k : 1) + 1 > len)
			break;
		if (k == 0) {
			out[o++] = '?';
			i++;
		} else if (k == 1) {
			out[o++] = s[i] < 0x20 || s[i] == 0x7f ? ' ' :
			    (char)s[i];
			i++;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
}

/* The outcome of f, recorded with the others of this round by
 * settle_all(), which frees it. */
static void
settle(struct flight *f, enum notify_outcome outcome, const char *error)
{
	f->outcome = outcome;
	f->delay = outcome == NOTIFY_RETRY ? backoff_ms(f->job.attempts) : 0;
	error_clean(f->error, sizeof(f->error), error != NULL ? error : "");
	nt.done[nt.ndone++] = f;
}

static int
settle_txn(struct db *db, void *arg)
{
	struct flight	*f;
	size_t		 i;
	int		 rc;

	for (i = 0; i < nt.ndone; i++) {
		f = nt.done[i];
		if (arg != NULL && f != arg)
			continue;
		rc = notify_settle(db, nt.node, f->job.id, f->outcome, f->delay,
		    f->outcome == NOTIFY_DELIVERED ? NULL : f->error);
		if (rc == -1)
			return -1;
		f->gone = rc == 1;
	}
	return 0;
}

/*
 * The round's transaction failed for its data, not for a lost server: one
 * row at a time, so one bad outcome does not hold the others back; a row
 * whose error still cannot be stored gets a fixed one. 0 when every row
 * was recorded.
 */
static int
settle_each(void)
{
	struct flight	*f;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < nt.ndone; i++) {
		f = nt.done[i];
		if (db_txn(nt.db, settle_txn, f) == 0)
			continue;
		if (db_down(nt.db)) {
			rc = -1;
			break;
		}
		log_warnx("notifications: #%lld: outcome not recorded: %s",
		    f->job.id, db_errmsg(nt.db));
		snprintf(f->error, sizeof(f->error), "the receiver's answer "
		    "could not be stored");
		if (db_txn(nt.db, settle_txn, f) == -1) {
			rc = -1;
			f->gone = 1;
		}
	}
	return rc;
}

/*
 * Every outcome of the round in one transaction: one commit (one log
 * flush) for up to NOTIFY_INFLIGHT_MAX deliveries instead of one each,
 * which was the ceiling of the rate (~250/s with one commit each).
 */
static void
settle_all(void)
{
	struct flight	*f;
	size_t		 i;

	if (nt.ndone == 0)
		return;
	if (db_txn(nt.db, settle_txn, NULL) == -1 &&
	    (db_down(nt.db) || settle_each() == -1)) {
		/* The rows stay delivering: taken back after the reclaim. */
		log_warnx("notifications: %zu outcomes not recorded: %s",
		    nt.ndone, db_errmsg(nt.db));
		goto out;
	}
	for (i = 0; i < nt.ndone; i++) {
		f = nt.done[i];
		if (f->gone)
			continue;
		switch (f->outcome) {
		case NOTIFY_DELIVERED:
			count(&nt.counts.delivered);
			log_debug("notifications: #%lld delivered to %s",
			    f->job.id, f->job.channel);
			break;
		case NOTIFY_RETRY:
			count(&nt.counts.retried);
			log_info("notifications: #%lld to %s, attempt %d: %s; "
			    "again in %lld ms", f->job.id, f->job.channel,
			    f->job.attempts, f->error, f->delay);
			break;
		default:
			count(&nt.counts.failed);
			log_warnx("notifications: #%lld to %s refused: %s",
			    f->job.id, f->job.channel, f->error);
			break;
		}
	}
out:
	for (i = 0; i < nt.ndone; i++)
		flight_free(nt.done[i]);
	nt.ndone = 0;
}

static void
flight_start(struct notify_job *job)
{
	struct flight		*f = xcalloc(1, sizeof(*f));
	struct json_object	*p;
	char			*text, *link, why[128];
	const char		*id;

	f->job = *job;
	memset(job, 0, sizeof(*job));
	p = pjson_parse(f->job.payload, strlen(f->job.payload), 8, NULL, 0);
	if (p == NULL) {
		settle(f, NOTIFY_REFUSED, "the stored payload is not JSON");
		return;
	}
	id = get(p, "execution_id");
	link = id != NULL ? str("%s/#/executions/%s",
	    nt.cfg->public_url, id) : xstrdup(nt.cfg->public_url);
	text = message_text(&f->job, p, link);
	f->easy = curl_easy_init();
	if (f->easy == NULL)
		fatalx("curl_easy_init");
	curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
	curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->easy, CURLOPT_CONNECTTIMEOUT,
	    (long)NOTIFY_CONNECT_TIMEOUT_S);
	curl_easy_setopt(f->easy, CURLOPT_TIMEOUT,
	    (long)nt.cfg->notify_timeout_s);
	curl_easy_setopt(f->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(f->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(f->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(f->easy, CURLOPT_ERRORBUFFER, f->errbuf);
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(f->easy, CURLOPT_USERAGENT, "PULSE-notifier");
	why[0] = '\0';
	if ((strcmp(f->job.type, "email") == 0 ?
	    build_email(f, text, why, sizeof(why)) :
	    build_http(f, p, text, link, why, sizeof(why))) == -1) {
		free(text);
		free(link);
		json_object_put(p);
		settle(f, NOTIFY_REFUSED, why);
		return;
	}
	free(text);
	free(link);
	json_object_put(p);
	curl_multi_add_handle(nt.multi, f->easy);
	nt.f[nt.n++] = f;
	pthread_mutex_lock(&nt.mtx);
	nt.counts.inflight = nt.n;
	pthread_mutex_unlock(&nt.mtx);
}

/* The answer as kept in last_error: printable, at most NOTIFY_ERROR_MAX. */
static void
answer_error(const struct flight *f, long code, char *out, size_t len)
{
	size_t	 o, i;

	o = (size_t)snprintf(out, len, "HTTP %ld", code);
	if (f->alen > 0 && o + 2 < len) {
		out[o++] = ':';
		out[o++] = ' ';
		/* Raw bytes (a NUL ends them): settle() makes them text. */
		for (i = 0; i < f->alen && o + 1 < len; i++)
			out[o++] = f->answer[i] == '\0' ? ' ' : f->answer[i];
		out[o] = '\0';
	}
}

static void
flight_done(struct flight *f, CURLcode res)
{
	/* Longer than last_error: settle() cuts it between characters. */
	char	 error[2 * NOTIFY_ERROR_MAX];
	long	 code = 0;
	size_t	 i;

	if (res == CURLE_WRITE_ERROR && f->capped)
		res = CURLE_OK;		/* answered; the rest unread */
	if (res != CURLE_OK) {
		/* The error buffer names a host at most, never the URL. */
		snprintf(error, sizeof(error), "%s", f->errbuf[0] ?
		    f->errbuf : curl_easy_strerror(res));
		settle(f, NOTIFY_RETRY, error);
	} else if (strcmp(f->job.type, "email") == 0) {
		settle(f, NOTIFY_DELIVERED, NULL);
	} else {
		curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &code);
		answer_error(f, code, error, sizeof(error));
		if (code >= 200 && code < 300)
			settle(f, NOTIFY_DELIVERED, NULL);
		else if ((code >= 400 && code < 500 && code != 408 &&
		    code != 429) || (code >= 300 && code < 400))
			settle(f, NOTIFY_REFUSED, error);
		else
			settle(f, NOTIFY_RETRY, error);
	}
	for (i = 0; i < nt.n; i++)
		if (nt.f[i] == f) {
			nt.f[i] = nt.f[--nt.n];
			break;
		}
	pthread_mutex_lock(&nt.mtx);
	nt.counts.inflight = nt.n;
	pthread_mutex_unlock(&nt.mtx);
}

static int
stopping(void)
{
	int	 s;

	pthread_mutex_lock(&nt.mtx);
	s = nt.stop;
	pthread_mutex_unlock(&nt.mtx);
	return s;
}

static int
inflight(long long id)
{
	size_t	 i;

	for (i = 0; i < nt.n; i++)
		if (nt.f[i]->job.id == id)
			return 1;
	return 0;
}

/* Claim what fits; the time of the next claim. */
static long long
claim(long long now, int *away)
{
	struct notify_job	*jobs;
	size_t			 n, i;

	if (notify_claim(nt.db, nt.node, NOTIFY_INFLIGHT_MAX - nt.n, &jobs,
	    &n) == -1) {
		if (!*away)
			log_warnx("notifications: %s", db_errmsg(nt.db));
		*away = 1;
		return now + NOTIFIER_AWAY_MS;
	}
	if (*away)
		log_info("notifications: database reachable again");
	*away = 0;
	for (i = 0; i < n; i++) {
		/* Taken back from this node while it still sends it (the
		 * timeout is below the reclaim, so only a stalled round):
		 * not a second time at once. */
		if (inflight(jobs[i].id)) {
			notify_job_clear(&jobs[i]);
			continue;
		}
		flight_start(&jobs[i]);
	}
	free(jobs);
	settle_all();
	/* A full batch: more may be due at once. */
	return n == 0 ? now + NOTIFIER_IDLE_MS : now;
}

static void *
notifier_main(void *arg)
{
	struct CURLMsg	*m;
	long long	 next = 0, now;
	int		 running, left, away = 0;

	(void)arg;
	mysql_thread_init();
	while (!stopping()) {
		now = pushd_now_ms();
		if (nt.n < NOTIFY_INFLIGHT_MAX && now >= next)
			next = claim(now, &away);
		curl_multi_perform(nt.multi, &running);
		while ((m = curl_multi_info_read(nt.multi, &left)) != NULL) {
			struct flight	*f = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
			    (char **)&f);
			flight_done(f, m->data.result);
			/*
			 * A slot is free: claim again now, not after the idle
			 * wait. An empty claim may only have meant that every
			 * due row's channel was at its in-flight cap (4 to
			 * one receiver held 1,000 messages to 10/s).
			 */
			next = 0;
		}
		settle_all();
		now = pushd_now_ms();
		curl_multi_poll(nt.multi, NULL, 0, nt.n == 0 ? (int)(next >
		    now ? next - now : 0) : 50, NULL);
	}
	/* Cut short: due again now (if the database answers; else they are
	 * taken back after NOTIFY_RECLAIM_S by whichever pushd runs then). */
	while (nt.n > 0) {
		struct flight *f = nt.f[--nt.n];

		(void)notify_settle(nt.db, nt.node, f->job.id, NOTIFY_RETRY, 0,
		    "interrupted: pushd stopped");
		flight_free(f);
	}
	db_free(nt.db);
	nt.db = NULL;
	mysql_thread_end();
	return NULL;
}

int
notifier_start(const struct config *cfg, const char *node)
{
	int	 rc;

	nt.cfg = cfg;
	strlcpy_p(nt.node, node, sizeof(nt.node));
	nt.db = db_new_config(cfg);
	nt.multi = curl_multi_init();
	if (nt.multi == NULL) {
		log_warnx("curl_multi_init failed");
		db_free(nt.db);
		return -1;
	}
	rc = pthread_create(&nt.thread, NULL, notifier_main, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("pthread_create");
		curl_multi_cleanup(nt.multi);
		db_free(nt.db);
		nt.db = NULL;
		return -1;
	}
	nt.started = 1;
	log_info("notifications: delivering (retry from %d ms, timeout "
	    "%d s)", cfg->notify_backoff_ms, cfg->notify_timeout_s);
	return 0;
}

int
notifier_join(int wait_ms)
{
	if (!nt.started)
		return 0;
	pthread_mutex_lock(&nt.mtx);
	nt.stop = 1;
	pthread_mutex_unlock(&nt.mtx);
	curl_multi_wakeup(nt.multi);
	if (thread_join_ms(nt.thread, wait_ms) == -1)
		return -1;
	curl_multi_cleanup(nt.multi);
	nt.multi = NULL;
	nt.started = 0;
	return 0;
}
