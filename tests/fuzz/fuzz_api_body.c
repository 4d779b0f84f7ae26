/*
 * libFuzzer target: a JSON request body as pulse-api reads it. The bytes
 * go through the router's parse (pjson_parse at API_JSON_DEPTH, an object
 * only), then through every body reader: POST/PUT /api/workflows (body.c
 * and workflow_from_json, as read_input() in api-workflows.c), POST
 * /api/executions, .../respond, POST /api/workers/:id/command and the
 * heartbeat. Beyond crashes it checks what a client would see: a body is
 * accepted exactly when it is RFC 8259 JSON within the limits, every
 * error response is valid UTF-8 JSON, and an accepted definition, stored
 * and read back as the API does, is accepted again with the same steps.
 */
#include <string.h>

#include "api.h"
#include "cond.h"
#include "fuzz.h"
#include "id.h"
#include "pjson.h"
#include "workflow.h"

/*
 * An independent RFC 8259 recogniser, to hold pjson_parse to the
 * standard both ways: json-c has its own ideas (it waited for a
 * delimiter after "1"). Returns the nesting depth reached, -1 if the
 * text is not one JSON value.
 */
struct rfc {
	const unsigned char	*p, *end;
	int			 depth, max;
};

static void
rfc_ws(struct rfc *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
	    *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int
rfc_lit(struct rfc *r, const char *lit)
{
	size_t	 n = strlen(lit);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
		return -1;
	r->p += n;
	return 0;
}

static int
rfc_digits(struct rfc *r)
{
	const unsigned char	*start = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > start ? 0 : -1;
}

static int
rfc_number(struct rfc *r)
{
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p < r->end && *r->p == '0')
		r->p++;
	else if (rfc_digits(r) == -1)
		return -1;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (rfc_digits(r) == -1)
			return -1;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (rfc_digits(r) == -1)
			return -1;
	}
	return 0;
}

static int
rfc_string(struct rfc *r)
{
	int	 i;

	if (r->p >= r->end || *r->p++ != '"')
		return -1;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p < 0x20)
			return -1;
		if (*r->p++ != '\\')
			continue;
		if (r->p >= r->end)
			return -1;
		if (strchr("\"\\/bfnrt", *r->p) != NULL && *r->p != '\0') {
			r->p++;
			continue;
		}
		if (*r->p++ != 'u')
			return -1;
		for (i = 0; i < 4; i++, r->p++)
			if (r->p >= r->end || strchr("0123456789abcdefABCDEF",
			    *r->p) == NULL || *r->p == '\0')
				return -1;
	}
	if (r->p >= r->end)
		return -1;
	r->p++;
	return 0;
}

static int
rfc_value(struct rfc *r)
{
	unsigned char	 close;

	rfc_ws(r);
	if (r->p >= r->end)
		return -1;
	switch (*r->p) {
	case '{':
	case '[':
		close = *r->p == '{' ? '}' : ']';
		if (++r->depth > r->max)
			r->max = r->depth;
		r->p++;
		rfc_ws(r);
		if (r->p < r->end && *r->p == close) {
			r->p++;
			r->depth--;
			return 0;
		}
		for (;;) {
			if (close == '}') {
				rfc_ws(r);
				if (rfc_string(r) == -1)
					return -1;
				rfc_ws(r);
				if (r->p >= r->end || *r->p++ != ':')
					return -1;
			}
			if (rfc_value(r) == -1)
				return -1;
			rfc_ws(r);
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				continue;
			}
			if (r->p < r->end && *r->p == close) {
				r->p++;
				r->depth--;
				return 0;
			}
			return -1;
		}
	case '"':
		return rfc_string(r);
	case 't':
		return rfc_lit(r, "true");
	case 'f':
		return rfc_lit(r, "false");
	case 'n':
		return rfc_lit(r, "null");
	default:
		return rfc_number(r);
	}
}

static int
rfc_json(const uint8_t *data, size_t size)
{
	struct rfc	 r = { data, data + size, 0, 0 };

	if (rfc_value(&r) == -1)
		return -1;
	rfc_ws(&r);
	return r.p == r.end ? r.max : -1;
}

/* The one request.c function body.c calls: check the response body. */
void
reply_error_obj(struct request *req, int status, struct json_object *err)
{
	const char	*s;
	size_t		 n;

	fuzz_assert(status >= 400 && status < 500);
	fuzz_assert(!req->replied);
	s = pjson_str(err, &n);
	fuzz_assert(fuzz_utf8_valid(s, n));
	req->replied = 1;
	req->status = status;
	json_object_put(err);
}

/* The 400 that read_input() builds from a workflow_error. */
static void
reply_workflow_error(struct request *req, const struct workflow_error *werr)
{
	struct json_object	*e = json_object_new_object();

	/* field may be "": the user's own empty key is the culprit. */
	fuzz_assert(werr->msg[0] != '\0');
	fuzz_assert(werr->step >= -1 && werr->step < WF_STEPS_MAX);
	json_object_object_add(e, "error", json_object_new_string(werr->msg));
	json_object_object_add(e, "field", json_object_new_string(werr->field));
	json_object_object_add(e, "step", werr->step < 0 ? NULL :
	    json_object_new_int(werr->step));
	reply_error_obj(req, 400, e);
}

/* Everything the engine relies on in a workflow it was handed. */
static void
check_workflow(const struct workflow *wf)
{
	const struct step	*st;
	size_t			 i, j;

	fuzz_assert(wf->nsteps >= 1 && wf->nsteps <= WF_STEPS_MAX);
	for (i = 0; i < wf->nsteps; i++) {
		st = &wf->steps[i];
		fuzz_assert(st->name != NULL && st->name[0] != '\0');
		fuzz_assert((st->condition == NULL) == (st->cond == NULL));
		switch (st->type) {
		case STEP_EXECUTE:
			fuzz_assert(st->command != NULL && st->ntargets >= 1);
			for (j = 0; j < st->ntargets; j++)
				fuzz_assert(strlen(st->targets[j]) >= 1);
			fuzz_assert(st->timeout_ms >= 1 &&
			    st->timeout_ms <= WF_TIMEOUT_MAX);
			break;
		case STEP_PROMPT:
			fuzz_assert(st->message != NULL && st->noptions >= 1);
			for (j = 0; j < st->noptions; j++)
				fuzz_assert(strlen(st->options[j]) >= 1);
			break;
		case STEP_WAIT:
			fuzz_assert(st->duration_ms >= 0 &&
			    st->duration_ms <= WF_DURATION_MAX);
			break;
		default:
			fuzz_assert(!"unknown step type");
		}
	}
}

static int
same_workflow(const struct workflow *a, const struct workflow *b)
{
	size_t	 i;

	if (a->nsteps != b->nsteps)
		return 0;
	for (i = 0; i < a->nsteps; i++)
		if (a->steps[i].type != b->steps[i].type ||
		    strcmp(a->steps[i].name, b->steps[i].name) != 0 ||
		    a->steps[i].ntargets != b->steps[i].ntargets ||
		    a->steps[i].noptions != b->steps[i].noptions ||
		    a->steps[i].timeout_ms != b->steps[i].timeout_ms ||
		    a->steps[i].duration_ms != b->steps[i].duration_ms ||
		    (a->steps[i].condition == NULL) !=
		    (b->steps[i].condition == NULL))
			return 0;
	return 1;
}

/* POST and PUT /api/workflows, as read_input() in api-workflows.c. */
static void
workflow_body(struct request *req)
{
	static const char *const allowed[] = { "name", "description",
	    "definition", NULL };
	struct json_object	*def, *back;
	struct workflow		*wf, *wf2;
	struct workflow_error	 werr;
	const char		*name, *descr, *s;
	char			 err[256];
	size_t			 n;
	int			 rc;

	if (body_only(req, allowed) == -1 ||
	    body_string(req, "name", WF_NAME_MAX, 1, &name) == -1 ||
	    body_string(req, "description", WF_DESCRIPTION_MAX, 0,
	    &descr) == -1)
		return;
	rc = pjson_get_object(req->json, "definition", &def);
	if (rc != 1) {
		reply_error_field(req, 400, "definition", rc == 0 ?
		    "definition is required" :
		    "definition must be an object with a \"steps\" array");
		return;
	}
	if (workflow_from_json(def, &wf, &werr) == -1) {
		fuzz_assert(wf == NULL);
		reply_workflow_error(req, &werr);
		return;
	}
	check_workflow(wf);

	/* Stored as pjson_str() wrote it; read back by row_json(). */
	s = pjson_str(def, &n);
	fuzz_assert(fuzz_utf8_valid(s, n));
	back = pjson_parse(s, n, API_JSON_DEPTH, err, sizeof(err));
	fuzz_assert(back != NULL);
	fuzz_assert(workflow_from_json(back, &wf2, &werr) == 0);
	fuzz_assert(same_workflow(wf, wf2));
	workflow_free(wf2);
	json_object_put(back);
	workflow_free(wf);
}

/* POST /api/executions. */
static void
start_body(struct request *req)
{
	static const char *const allowed[] = { "workflow_id", NULL };
	const char	*wid;

	if (body_only(req, allowed) == -1 ||
	    body_string(req, "workflow_id", ID_LEN + 64, 1, &wid) == -1)
		return;
	fuzz_assert(wid != NULL && strlen(wid) <= ID_LEN + 64);
	(void)id_valid(wid);
}

/* POST /api/executions/:id/respond. */
static void
respond_body(struct request *req)
{
	static const char *const allowed[] = { "response", "step", NULL };
	const char	*resp;
	long long	 step;

	if (body_only(req, allowed) == -1 ||
	    body_string(req, "response", EXEC_RESPONSE_MAX, 1, &resp) == -1 ||
	    body_int(req, "step", 0, WF_STEPS_MAX - 1, -1, &step) == -1)
		return;
	fuzz_assert(resp != NULL && strlen(resp) <= EXEC_RESPONSE_MAX);
	fuzz_assert(step >= -1 && step < WF_STEPS_MAX);
}

/* POST /api/workers/:id/command. */
static void
command_body(struct request *req)
{
	static const char *const allowed[] = { "command", "timeout", NULL };
	const char	*cmd;
	long long	 timeout;

	if (body_only(req, allowed) == -1 ||
	    body_string(req, "command", WF_COMMAND_MAX, 1, &cmd) == -1 ||
	    body_int(req, "timeout", 1, WF_TIMEOUT_MAX, WF_TIMEOUT_DEFAULT,
	    &timeout) == -1)
		return;
	fuzz_assert(cmd != NULL && cmd[0] != '\0');
	fuzz_assert(timeout >= 1 && timeout <= WF_TIMEOUT_MAX);
}

/* POST /api/workers/heartbeat, up to its database transaction. */
static void
heartbeat_body(struct request *req)
{
	static const char *const allowed[] = { "worker_id", "name", "metadata",
	    NULL };
	struct json_object	*meta = NULL;
	const char		*id, *name;
	size_t			 n;

	if (body_only(req, allowed) == -1 ||
	    body_string(req, "worker_id", ID_LEN, 1, &id) == -1 ||
	    body_string(req, "name", WORKER_NAME_MAX, 1, &name) == -1)
		return;
	if (!id_valid(id)) {
		reply_error_field(req, 400, "worker_id", "worker_id must be a "
		    "UUID");
		return;
	}
	if (pjson_get_object(req->json, "metadata", &meta) == -1) {
		reply_error_field(req, 400, "metadata", "metadata must be an "
		    "object");
		return;
	}
	if (meta != NULL && pjson_str(meta, &n) != NULL &&
	    n > WORKER_METADATA_MAX)
		reply_error_field(req, 400, "metadata", "metadata is longer "
		    "than %d bytes", WORKER_METADATA_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void (*const readers[])(struct request *) = {
		workflow_body, start_body, respond_body, command_body,
		heartbeat_body,
	};
	struct request	 req;
	struct json_object *json;
	char		 err[256];
	size_t		 i;
	int		 depth;

	if (size > API_BODY_MAX)
		return 0;		/* request.c answers 413 first */
	err[0] = '\0';
	json = pjson_parse((const char *)data, size, API_JSON_DEPTH, err,
	    sizeof(err));
	/*
	 * Valid JSON (of valid UTF-8, nested less deeply than the limit, not
	 * a bare null, no number past a double's range, which json-c would
	 * make infinity) parses; anything else is refused.
	 */
	depth = rfc_json(data, size);
	if (depth >= 0 && depth < API_JSON_DEPTH &&
	    fuzz_utf8_valid((const char *)data, size) &&
	    strstr(err, "JSON null") == NULL &&
	    strstr(err, "too large for a double") == NULL)
		fuzz_assert(json != NULL);
	if (depth == -1)
		fuzz_assert(json == NULL);
	if (json == NULL) {
		/* The 400 quotes err: it must be text a client can read. */
		fuzz_assert(err[0] != '\0');
		fuzz_assert(fuzz_utf8_valid(err, strlen(err)));
		return 0;
	}
	if (!json_object_is_type(json, json_type_object)) {
		json_object_put(json);
		return 0;
	}
	for (i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		memset(&req, 0, sizeof(req));
		req.json = json;
		readers[i](&req);
	}
	json_object_put(json);
	return 0;
}
