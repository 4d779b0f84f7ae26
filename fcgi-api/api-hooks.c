/*
 * POST /hooks/<trigger id> (SPEC section 16): the one route reached with
 * no identity at all. The HMAC-SHA256 of the body under the trigger's
 * secret is the only credential; a good one starts the trigger's workflow
 * as "trigger:<name>" with parameters taken from the body by dotted
 * paths. Every call of a known trigger is recorded (common/trigger-log.c)
 * with what it was answered and why.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api.h"
#include "audit.h"
#include "db.h"
#include "engine.h"
#include "id.h"
#include "log.h"
#include "pjson.h"
#include "tpath.h"
#include "trigger-log.h"
#include "xmalloc.h"

#define HOOK_MAC_LEN	32	/* SHA-256 */
#define HOOK_NAME_MAX	UTF8_BYTES(TRIGGER_NAME_CHARS)
#define HOOK_WHO_MAX	(sizeof("trigger:") + HOOK_NAME_MAX)

static const char sql_trigger[] =
    "SELECT name, workflow_id, secret, params_map, enabled "
    "FROM triggers WHERE id = ?";

/* The spellings a sender may use, in the order they are looked for. */
static const struct hook_sig {
	const char	*cgi;		/* as FastCGI names the header */
	const char	*prefix;	/* before the hex */
} hook_sigs[] = {
	{ "HTTP_X_PULSE_SIGNATURE",	"sha256=" },
	{ "HTTP_X_HUB_SIGNATURE_256",	"sha256=" },	/* GitHub */
	{ "HTTP_X_GITEA_SIGNATURE",	"" },		/* Gitea */
	{ NULL,				NULL }
};
static const char *const hook_delivery_hdrs[] = {
	"HTTP_X_PULSE_DELIVERY",
	"HTTP_X_GITHUB_DELIVERY",
	"HTTP_X_GITEA_DELIVERY",
	NULL
};

struct hook {
	struct request	*req;
	const char	*id;
	char		 name[HOOK_NAME_MAX + 1];
	char		 who[HOOK_WHO_MAX + 1];	/* "trigger:<name>" */
	char		 workflow_id[ID_LEN + 1];
	char		 secret[TRIGGER_SECRET_LEN + 1];
	char		*map;			/* params_map JSON, or NULL */
	const char	*delivery;		/* NULL: none sent */
	const char	*say;			/* the answer, if not the
						 * recorded reason */
	int		 known;			/* a trigger to record on */
};

/*
 * Answer status with reason as the JSON error (and field when given),
 * and record the attempt on a known trigger. A record that cannot be
 * written is logged: the answer is what the caller acts on.
 */
static void
hook_answer(struct hook *h, int status, const char *outcome,
    const char *field, const char *execution_id, const char *fmt, ...)
{
	struct trigger_attempt	 a;
	struct json_object	*o;
	char			 reason[TRIGGER_REASON_MAX];
	va_list			 ap;

	reason[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
		pjson_utf8_trim(reason);
	}
	if (h->known) {
		memset(&a, 0, sizeof(a));
		a.trigger_id = h->id;
		a.delivery_id = h->delivery;
		a.status = status;
		a.outcome = outcome;
		a.reason = fmt != NULL ? reason : NULL;
		a.execution_id = execution_id;
		if (trigger_log_add(h->req->db, &a) == -1)
			log_warnx("trigger %s: delivery not recorded: %s",
			    h->id, db_errmsg(h->req->db));
	}
	if (h->req->replied)
		return;		/* request_read_body() answered */
	if (status == 202 || execution_id != NULL) {
		o = json_object_new_object();
		if (fmt != NULL)
			json_object_object_add(o, "error",
			    json_object_new_string(reason));
		json_object_object_add(o, "execution_id",
		    json_object_new_string(execution_id));
		reply_json(h->req, status, o);
	} else if (field != NULL)
		reply_error_field(h->req, status, field, "%s", reason);
	else
		reply_error(h->req, status, "%s", h->say != NULL ? h->say :
		    reason);
}

/* The trigger named in the path: 0 found and enabled, -1 answered. */
static int
hook_load(struct hook *h)
{
	struct db_res	*res;
	int		 enabled;

	/* Upper case is refused too: nginx keys the rate limit by the text. */
	if (!id_canonical(h->id)) {
		hook_answer(h, 404, TRIGGER_REFUSED, NULL, NULL,
		    "no such trigger");
		return -1;
	}
	if (db_exec(h->req->db, sql_trigger, &res, "s", h->id) == -1) {
		reply_db_error(h->req);
		return -1;
	}
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		hook_answer(h, 404, TRIGGER_REFUSED, NULL, NULL,
		    "no such trigger");
		return -1;
	}
	strlcpy_p(h->name, db_res_get(res, 0, 0), sizeof(h->name));
	strlcpy_p(h->workflow_id, db_res_get(res, 0, 1),
	    sizeof(h->workflow_id));
	strlcpy_p(h->secret, db_res_get(res, 0, 2), sizeof(h->secret));
	if (db_res_get(res, 0, 3) != NULL)
		h->map = xstrdup(db_res_get(res, 0, 3));
	enabled = db_res_int(res, 0, 4, 0) != 0;
	db_res_free(res);
	snprintf(h->who, sizeof(h->who), "trigger:%s", h->name);
	h->known = 1;
	if (!enabled) {
		/* The same answer as an unknown id; the record says why. */
		h->say = "no such trigger";
		hook_answer(h, 404, TRIGGER_REFUSED, NULL, NULL,
		    "the trigger is disabled");
		return -1;
	}
	return 0;
}

/* The delivery id header, if any: 1 to TRIGGER_DELIVERY_MAX visible
 * ASCII characters. 0, or -1 answered. */
static int
hook_delivery(struct hook *h)
{
	const char *const	*name;
	const char		*v;
	size_t			 i;

	for (name = hook_delivery_hdrs; *name != NULL; name++)
		if ((v = request_header(h->req, *name)) != NULL && *v != '\0')
			break;
	if (*name == NULL)
		return 0;
	for (i = 0; v[i] != '\0' && i <= TRIGGER_DELIVERY_MAX; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			break;
	if (i > TRIGGER_DELIVERY_MAX || v[i] != '\0') {
		hook_answer(h, 400, TRIGGER_REFUSED, "delivery", NULL, "the "
		    "delivery id must be 1 to %d visible ASCII characters",
		    TRIGGER_DELIVERY_MAX);
		return -1;
	}
	h->delivery = v;
	return 0;
}

static int
hook_unhex(const char *s, unsigned char out[HOOK_MAC_LEN])
{
	size_t	 i;
	int	 hi, lo;

	if (strlen(s) != 2 * HOOK_MAC_LEN)
		return -1;
	for (i = 0; i < HOOK_MAC_LEN; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* The body's HMAC under the secret against the first signature header
 * sent, in constant time: 0 good, -1 answered 401. */
static int
hook_verify(struct hook *h)
{
	const struct hook_sig	*sig;
	const char		*v = NULL;
	unsigned char		 got[HOOK_MAC_LEN], want[EVP_MAX_MD_SIZE];
	unsigned int		 wantlen = 0;
	size_t			 plen;
	int			 ok;

	/* An empty header is as good as none: it must not hide a real
	 * signature sent in another spelling. */
	for (sig = hook_sigs; sig->cgi != NULL; sig++)
		if ((v = request_header(h->req, sig->cgi)) != NULL &&
		    v[0] != '\0')
			break;
	if (sig->cgi == NULL) {
		hook_answer(h, 401, TRIGGER_REFUSED, NULL, NULL, "missing "
		    "signature (X-Pulse-Signature, X-Hub-Signature-256 or "
		    "X-Gitea-Signature)");
		return -1;
	}
	plen = strlen(sig->prefix);
	if (strncmp(v, sig->prefix, plen) != 0 ||
	    hook_unhex(v + plen, got) == -1) {
		hook_answer(h, 401, TRIGGER_REFUSED, NULL, NULL, "malformed "
		    "signature: expected %s64 hex digits", sig->prefix);
		return -1;
	}
	if (HMAC(EVP_sha256(), h->secret, (int)strlen(h->secret),
	    (const unsigned char *)h->req->body, h->req->bodylen, want,
	    &wantlen) == NULL || wantlen != HOOK_MAC_LEN) {
		hook_answer(h, 500, TRIGGER_ERROR, NULL, NULL, "could not "
		    "compute the signature");
		return -1;
	}
	ok = CRYPTO_memcmp(got, want, HOOK_MAC_LEN) == 0;
	OPENSSL_cleanse(want, sizeof(want));
	if (!ok) {
		hook_answer(h, 401, TRIGGER_REFUSED, NULL, NULL, "signature "
		    "does not match");
		return -1;
	}
	return 0;
}

/* The start's parameters from the body by the trigger's map: a path the
 * body lacks gives no value (the workflow's default, or its "required"
 * refusal from the start's own check). A new object. */
static struct json_object *
hook_params(struct hook *h, struct json_object *body)
{
	struct json_object	*map, *params, *v;
	char			 err[128];

	params = json_object_new_object();
	if (h->map == NULL)
		return params;
	map = pjson_parse(h->map, strlen(h->map), API_JSON_DEPTH, err,
	    sizeof(err));
	if (map == NULL || !json_object_is_type(map, json_type_object)) {
		json_object_put(map);
		return params;
	}
	json_object_object_foreach(map, k, path) {
		if (!json_object_is_type(path, json_type_string))
			continue;
		if ((v = tpath_get(body, json_object_get_string(path))) != NULL)
			json_object_object_add(params, k, json_object_get(v));
	}
	json_object_put(map);
	return params;
}

static void
hook_start(struct hook *h, struct json_object *body)
{
	struct engine_caller	 caller = { NULL, 0, 1 };
	struct engine_start_req	 r;
	struct engine_err	 err;
	struct audit_actor	 actor;
	char			 id[ID_LEN + 1];
	int			 replayed = 0, rc;

	memset(&r, 0, sizeof(r));
	r.workflow_id = h->workflow_id;
	r.user = h->who;
	/* The replay guard: the engine's idempotency key, scoped to this
	 * trigger's actor and claimed in the transaction that creates the
	 * execution; kept ENGINE_KEY_TTL_HOURS (24 h). */
	r.key = h->delivery;
	r.params = hook_params(h, body);
	/* An admin made the trigger: the workflow's allowed_groups let it. */
	r.caller = &caller;
	actor.name = h->who;
	actor.groups = NULL;
	actor.client_addr = request_header(h->req, "REMOTE_ADDR");
	rc = engine_start_with(h->req->db, &r, id, &replayed, &err, &actor);
	json_object_put(r.params);
	if (rc == 0 && replayed) {
		hook_answer(h, 409, TRIGGER_REPLAYED, NULL, NULL, "delivery "
		    "%s was already received (execution %s); nothing "
		    "started", h->delivery, id);
		return;
	}
	if (rc == 0) {
		log_info("trigger %s (%s) started execution %s%s%s", h->id,
		    h->name, id, h->delivery != NULL ? ", delivery " : "",
		    h->delivery != NULL ? h->delivery : "");
		hook_answer(h, 202, TRIGGER_STARTED, NULL, id, NULL);
		return;
	}
	switch (err.code) {
	case ENGINE_KEY_REUSED:
		hook_answer(h, 409, TRIGGER_REPLAYED, NULL, NULL, "delivery "
		    "%s was already received with another body; nothing "
		    "started", h->delivery);
		break;
	case ENGINE_INVALID:
		/* The message names the field ("params.version: ..."). */
		hook_answer(h, 400, TRIGGER_REFUSED, err.field[0] != '\0' ?
		    err.field : NULL, NULL, "%s", err.msg);
		break;
	case ENGINE_CONFLICT:
		hook_answer(h, 409, TRIGGER_REFUSED, NULL, NULL, "%s",
		    err.msg);
		break;
	case ENGINE_LIMIT:
		hook_answer(h, 429, TRIGGER_REFUSED, NULL, NULL, "%s",
		    err.msg);
		break;
	case ENGINE_NOTFOUND:
	case ENGINE_FORBIDDEN:
		hook_answer(h, 409, TRIGGER_ERROR, NULL, NULL, "%s",
		    err.msg);
		break;
	default:
		log_warnx("trigger %s: start failed: %s", h->id, err.msg);
		hook_answer(h, db_down(h->req->db) ? 503 : 500, TRIGGER_ERROR,
		    NULL, NULL, "the execution could not be started; retry "
		    "later");
		break;
	}
}

int
hooks_post(struct request *req)
{
	struct hook		 h;
	struct json_object	*body = NULL;
	char			 err[128];

	memset(&h, 0, sizeof(h));
	h.req = req;
	h.id = req->params[0];
	if (hook_load(&h) == -1 || hook_delivery(&h) == -1)
		goto done;
	/* Read here, not by the router: a refused body is an attempt too. */
	if (request_read_body(req) == -1) {
		hook_answer(&h, req->status, TRIGGER_REFUSED, NULL, NULL,
		    req->status == 413 ? "request body too large (limit 1 "
		    "MiB)" : "request body unreadable");
		goto done;
	}
	/* Nothing of the body is looked at before its signature holds. */
	if (hook_verify(&h) == -1)
		goto done;
	body = pjson_parse(req->body, req->bodylen, API_JSON_DEPTH, err,
	    sizeof(err));
	if (body == NULL) {
		hook_answer(&h, 400, TRIGGER_REFUSED, NULL, NULL, "the body "
		    "is not JSON: %s", err);
		goto done;
	}
	if (!json_object_is_type(body, json_type_object)) {
		hook_answer(&h, 400, TRIGGER_REFUSED, NULL, NULL, "the body "
		    "must be a JSON object");
		goto done;
	}
	hook_start(&h, body);
done:
	json_object_put(body);
	free(h.map);
	explicit_bzero(h.secret, sizeof(h.secret));
	return 0;
}
