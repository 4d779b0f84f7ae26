/*
 * Starting executions: a stored workflow (with an idempotency key or
 * not), or a direct command on one worker; the per-user cap on running
 * executions. Part of the engine (engine-int.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "events.h"
#include "notify.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "workflow.h"
#include "xmalloc.h"

static const char sql_wf_get[] =
    "SELECT name, definition, version FROM workflows WHERE id = ?";
/* A workflow step pinned to a version (an approval's plan): that one. */
static const char sql_wf_version[] =
    "SELECT name, definition, version FROM workflow_versions "
    "WHERE workflow_id = ? AND version = ?";
/* Awaiting approval (SPEC section 15): the plan frozen, nothing runs. */
static const char sql_exec_approval[] =
    "UPDATE executions SET status = 'awaiting_approval', plan = ?, "
    "plan_hash = ?, approval = ?, approval_expires_at = NOW(3) + "
    "INTERVAL ? * 1000 MICROSECOND WHERE id = ?";
/* An approved tree's pin map, inherited by each execution of the tree. */
static const char sql_exec_pins[] =
    "UPDATE executions SET pins = ? WHERE id = ?";
static const char sql_parent_pins[] =
    "SELECT pins FROM executions WHERE id = ?";
/* Waiting on a prompt holds no worker: only running ones count. */
static const char sql_user_running[] =
    "SELECT COUNT(*) FROM executions WHERE started_by = ? "
    "AND status = 'running'";
static const char sql_exec_insert[] =
    "INSERT INTO executions (id, workflow_id, workflow_version, kind, "
    "workflow_name, definition, status, started_by, started_at, "
    "current_step, params) "
    "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, NOW(3), 0, ?)";
static const char sql_exec_parent[] =
    "UPDATE executions SET parent_execution_id = ?, parent_step = ?, "
    "depth = ? WHERE id = ?";
static const char sql_step_insert[] =
    "INSERT INTO execution_steps (execution_id, step_index, name, type, "
    "prompt, parent_index, phase) VALUES (?, ?, ?, ?, ?, "
    "IF(? < 0, NULL, ?), ?)";
static const char sql_worker_get[] =
    "SELECT id, name, status, pushd_node IS NOT NULL, state FROM workers "
    "WHERE id = ?";
/* Idempotency keys (sql/005): created_at is their expiry clock. */
static const char sql_key_expire[] =
    "DELETE FROM idempotency_keys WHERE username = ? AND idem_key = ? "
    "AND created_at < NOW(3) - INTERVAL 24 HOUR";
/* Galera: the primary key (username, idem_key) is certified: two starts
 * with one key on two nodes, the later is aborted at COMMIT and rerun,
 * then finds the key (1062) and replays the winner's execution. A hook's
 * delivery id is such a key (api-hooks.c). */
static const char sql_key_claim[] =
    "INSERT INTO idempotency_keys (username, idem_key, request) "
    "VALUES (?, ?, ?)";
static const char sql_key_get[] =
    "SELECT request, execution_id FROM idempotency_keys "
    "WHERE username = ? AND idem_key = ?";
static const char sql_key_bind[] =
    "UPDATE idempotency_keys SET execution_id = ? "
    "WHERE username = ? AND idem_key = ?";

static struct json_object *
step_prompt_json(const struct step *st)
{
	struct json_object	*p, *opts;
	size_t			 i;

	if (st->type != STEP_PROMPT)
		return NULL;
	p = json_object_new_object();
	opts = json_object_new_array();
	for (i = 0; i < st->noptions; i++)
		json_object_array_add(opts,
		    json_object_new_string(st->options[i]));
	json_object_object_add(p, "message", json_object_new_string(st->message));
	json_object_object_add(p, "options", opts);
	return p;
}

/* Insert an execution and its steps, announce it, and advance it. */
static int	engine_user_max;

void
engine_set_user_max(int max)
{
	engine_user_max = max;
}

int
engine_user_capped(struct db *db, const char *user, struct engine_err *err)
{
	struct db_res	*res;
	long long	 n;

	if (engine_user_max <= 0 || user == NULL)
		return 0;
	/*
	 * A plain read, no lock: a user's concurrent starts may pass the cap
	 * by a few, rather than wait on each other (a start held by the
	 * database would hold every other start of that user).
	 */
	if (db_exec(db, sql_user_running, &res, "s", user) == -1)
		return engine_dberr(err, db);
	n = db_res_int(res, 0, 0, 0);
	db_res_free(res);
	if (n >= engine_user_max)
		return engine_fail(err, ENGINE_LIMIT, "%s has %lld running "
		    "executions, the most one user may have "
		    "(PULSE_USER_EXECUTIONS_MAX): wait for one to end, or "
		    "cancel one", user, n);
	return 0;
}

static int	approval_store(struct db *, const struct exec *, const char *,
		    const char *);

static int
create_execution(struct db *db, struct call *c, const char *kind,
    const char *workflow_name, struct json_object *def)
{
	struct workflow_error	 werr;
	struct exec		 ex;
	struct json_object	*p, *pinned = NULL, *tree = NULL, *pins;
	const char		*s, *pv;
	char			*plan = NULL, hash[65];
	size_t			 len, i;
	int			 rc;

	memset(&ex, 0, sizeof(ex));
	/* A child runs for its parent, which already counts. */
	if (c->parent_id == NULL &&
	    engine_user_capped(db, c->user, c->err) == -1)
		return -1;
	if (workflow_from_json(def, &ex.wf, &werr) == -1)
		return engine_fail(c->err, ENGINE_INVALID, "the workflow's definition "
		    "is invalid: %s", werr.msg);
	id_new(c->id_out);
	strlcpy_p(ex.id, c->id_out, sizeof(ex.id));
	ex.started_by = c->user ? xstrdup(c->user) : NULL;
	ex.params = c->resolved != NULL ? json_object_get(c->resolved) : NULL;
	ex.pins = c->pins != NULL ? json_object_get(c->pins) : NULL;
	ex.depth = c->depth;
	/*
	 * An approval freezes the plan now, from this definition and these
	 * values; the execution stores (and runs) the definition with its
	 * workflow steps pinned, which expands to exactly the plan.
	 */
	if (ex.wf->has_approval) {
		if (engine_plan_build(db, &ex, def, c->workflow_id, c->version,
		    &pinned, &plan, hash, &tree, c->err) == -1) {
			engine_exec_clear(&ex);
			return -1;
		}
		def = pinned;
	}
	s = pjson_str(def, &len);
	pv = c->resolved != NULL ? pjson_str(c->resolved, NULL) : NULL;
	/* A direct command has no workflow and so no version: NULL. */
	if (c->version > 0)
		rc = db_exec(db, sql_exec_insert, NULL, "ssisbbss", c->id_out,
		    c->workflow_id, c->version, kind, workflow_name,
		    strlen(workflow_name), s, len, c->user, pv);
	else
		rc = db_exec(db, sql_exec_insert, NULL, "ssnsbbss", c->id_out,
		    c->workflow_id, kind, workflow_name,
		    strlen(workflow_name), s, len, c->user, pv);
	if (rc == -1 || (c->parent_id != NULL && db_exec(db, sql_exec_parent,
	    NULL, "siis", c->parent_id, (long long)c->parent_step,
	    (long long)c->depth, c->id_out) == -1))
		goto dbfail;
	if (plan != NULL && approval_store(db, &ex, plan, hash) == -1)
		goto dbfail;
	/* Its own plan's map (which read the inherited one), else the
	 * tree's: each descendant resolves its workflow steps through it. */
	pins = plan != NULL ? tree : c->pins;
	if (pins != NULL && db_exec(db, sql_exec_pins, NULL, "ss",
	    pjson_str(pins, NULL), c->id_out) == -1)
		goto dbfail;
	/* One row per entry of the flat plan (workflow.h). */
	for (i = 0; i < ex.wf->nplan; i++) {
		const struct plan_entry *pe = &ex.wf->plan[i];
		const struct step *st = pe->st;
		struct json_object *pr = step_prompt_json(st);
		const char	*ps = pr ? pjson_str(pr, NULL) : NULL;

		rc = db_exec(db, sql_step_insert, NULL, "sisssiis", c->id_out,
		    (long long)i, st->name, step_type_name(st->type), ps,
		    (long long)pe->parent, (long long)pe->parent,
		    plan_phase_name(pe->phase));
		json_object_put(pr);
		if (rc == -1)
			goto dbfail;
	}
	p = json_object_new_object();
	json_object_object_add(p, "execution_id",
	    json_object_new_string(c->id_out));
	json_object_object_add(p, "workflow_id",
	    pjson_string_or_null(c->workflow_id));
	if (events_append(db, "execution_started", c->id_out, NULL, p) == -1)
		goto dbfail;
	ex.status = plan != NULL ? EXEC_AWAITING_APPROVAL : EXEC_RUNNING;
	strlcpy_p(ex.kind, kind, sizeof(ex.kind));
	ex.budget = c->budget;
	/* Awaiting approval: announced, and nothing moves until approved. */
	if (plan != NULL && (events_status(db, ex.id,
	    exec_status_name(EXEC_AWAITING_APPROVAL)) == -1 ||
	    engine_approval_event(db, ex.id, "requested", NULL) == -1))
		goto dbfail;
	/* The approvers hear of it in this transaction (notify.c). */
	if (plan != NULL && ex.wf->nnotify > 0 &&
	    notify_execution(db, ex.id, NOTIFY_APPROVAL) == -1)
		goto dbfail;
	if (engine_advance_locked(db, &ex) == -1)
		goto dbfail;
	engine_exec_clear(&ex);
	json_object_put(pinned);
	json_object_put(tree);
	free(plan);
	return 0;
dbfail:
	engine_exec_clear(&ex);
	json_object_put(pinned);
	json_object_put(tree);
	free(plan);
	return engine_dberr(c->err, db);
}

/* The frozen plan and the workflow's approval (defaults filled) on ex. */
static int
approval_store(struct db *db, const struct exec *ex, const char *plan,
    const char *hash)
{
	struct json_object	*a, *g;
	size_t			 i;
	int			 rc;

	a = json_object_new_object();
	g = json_object_new_array();
	for (i = 0; i < ex->wf->napprovers; i++)
		json_object_array_add(g,
		    json_object_new_string(ex->wf->approvers[i]));
	json_object_object_add(a, "required",
	    json_object_new_int(ex->wf->approval_required));
	json_object_object_add(a, "approvers", g);
	json_object_object_add(a, "expires_in",
	    json_object_new_int64(ex->wf->approval_expires_ms));
	rc = db_exec(db, sql_exec_approval, NULL, "bssis", plan, strlen(plan),
	    hash, pjson_str(a, NULL), ex->wf->approval_expires_ms, ex->id);
	json_object_put(a);
	return rc;
}

/*
 * Claim c->key for this start. The key row's unique index is the lock: a
 * second request with the key waits here until the first commits (then
 * sees its row: a replay) or rolls back (then claims it itself). 0: claimed;
 * 1: replay, c->id_out is the first execution; -1: error in c->err.
 */
static int
key_claim(struct db *db, struct call *c)
{
	struct db_res	*res;
	char		 request[ID_LEN + 128];
	int		 rc = -1;

	engine_params_request(c, request, sizeof(request));
	if (db_exec(db, sql_key_expire, NULL, "ss", c->user, c->key) == -1)
		return engine_dberr(c->err, db);
	if (db_exec(db, sql_key_claim, NULL, "sss", c->user, c->key,
	    request) == 0)
		return 0;
	if (db_errcode(db) == 1205) {	/* ER_LOCK_WAIT_TIMEOUT */
		/* The first request is stuck mid-transaction: not a retry
		 * of db_txn's kind, the client should come back later. */
		db_seterr(db, 0, "idempotency key busy");
		return engine_fail(c->err, ENGINE_CONFLICT, "a request with this "
		    "Idempotency-Key is still in progress; retry later");
	}
	if (db_errcode(db) != 1062)	/* ER_DUP_ENTRY */
		return engine_dberr(c->err, db);
	if (db_exec(db, sql_key_get, &res, "ss", c->user, c->key) == -1)
		return engine_dberr(c->err, db);
	if (db_res_rows(res) == 0 || db_res_get(res, 0, 1) == NULL)
		engine_fail(c->err, ENGINE_CONFLICT, "a request with this "
		    "Idempotency-Key is still in progress; retry later");
	else if (strcmp(db_res_get(res, 0, 0), request) != 0)
		engine_fail(c->err, ENGINE_KEY_REUSED, "this Idempotency-Key was "
		    "used to start workflow %.36s%s; a different request needs "
		    "a new key", db_res_get(res, 0, 0),
		    strlen(db_res_get(res, 0, 0)) > ID_LEN ?
		    " with other parameters" : "");
	else {
		strlcpy_p(c->id_out, db_res_get(res, 0, 1), ID_LEN + 1);
		c->replayed = 1;
		rc = 1;
	}
	db_res_free(res);
	return rc;
}

/*
 * Before anything is created: may the caller start it, and do the values
 * given resolve (c->resolved)? A definition that does not load is left to
 * create_execution() to refuse as before.
 */
static int
start_check(struct call *c, struct json_object *def)
{
	struct workflow_error	 werr;
	struct workflow		*wf;
	int			 rc = 0;

	json_object_put(c->resolved);
	c->resolved = NULL;
	if (workflow_from_json(def, &wf, &werr) == -1)
		return 0;
	if (engine_caller_check(wf, c, "start") == -1 ||
	    engine_params_resolve(wf, c) == -1)
		rc = -1;
	workflow_free(wf);
	return rc;
}

/* The stored workflow c->workflow_id: its row (name, definition,
 * version) in *res and its definition parsed in *def, or -1 in c->err. */
static int
workflow_load(struct db *db, struct call *c, struct db_res **res,
    struct json_object **def)
{
	char	 perr[128];

	*res = NULL;
	if (!id_valid(c->workflow_id))
		return engine_fail(c->err, ENGINE_NOTFOUND, "no workflow %s",
		    c->workflow_id);
	if ((c->version > 0 ? db_exec(db, sql_wf_version, res, "si",
	    c->workflow_id, c->version) : db_exec(db, sql_wf_get, res, "s",
	    c->workflow_id)) == -1)
		return engine_dberr(c->err, db);
	if (db_res_rows(*res) == 0) {
		db_res_free(*res);
		*res = NULL;
		if (c->version > 0)
			return engine_fail(c->err, ENGINE_NOTFOUND, "no version "
			    "%lld of workflow %s", c->version, c->workflow_id);
		return engine_fail(c->err, ENGINE_NOTFOUND, "no workflow %s",
		    c->workflow_id);
	}
	*def = pjson_parse(db_res_get(*res, 0, 1), db_res_len(*res, 0, 1),
	    API_JSON_DEPTH, perr, sizeof(perr));
	if (*def == NULL) {
		db_res_free(*res);
		*res = NULL;
		return engine_fail(c->err, ENGINE_INVALID, "the workflow's definition "
		    "is not valid JSON: %s", perr);
	}
	return 0;
}

int
engine_start_child(struct db *db, const struct exec *parent,
    const char *workflow_id, long long version, struct json_object *given,
    int depth, int *budget, char id_out[ID_LEN + 1], struct engine_err *err)
{
	struct call		 c = { .workflow_id = workflow_id,
	    .user = parent->started_by, .params = given, .id_out = id_out,
	    .err = err, .parent_id = parent->id, .parent_step = parent->at,
	    .depth = depth, .budget = budget, .version = version };
	struct db_res		*res;
	struct json_object	*def;
	char			 perr[64];
	int			 rc;

	err->code = ENGINE_OK;
	/* In an approved tree, a step naming no version runs the pinned
	 * one: what the approvers signed (engine-plan.c). */
	if (db_exec(db, sql_parent_pins, &res, "s", parent->id) == -1)
		return engine_dberr(err, db);
	if (db_res_rows(res) > 0 && db_res_get(res, 0, 0) != NULL)
		c.pins = pjson_parse(db_res_get(res, 0, 0),
		    db_res_len(res, 0, 0), API_JSON_DEPTH, perr, sizeof(perr));
	db_res_free(res);
	if (c.version == 0 && c.pins != NULL &&
	    (c.version = engine_pin_version(db, c.pins, workflow_id)) == -1) {
		json_object_put(c.pins);
		return engine_dberr(err, db);
	}
	if (workflow_load(db, &c, &res, &def) == -1) {
		json_object_put(c.pins);
		return -1;
	}
	rc = start_check(&c, def);
	if (rc == 0) {
		c.version = db_res_int(res, 0, 2, 0);
		rc = create_execution(db, &c, "workflow", db_res_get(res, 0, 0),
		    def);
	}
	json_object_put(c.pins);
	json_object_put(c.resolved);
	json_object_put(def);
	db_res_free(res);
	return rc;
}

static int
start_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct db_res		*res = NULL;
	struct json_object	*def;
	int			 rc;

	c->replayed = 0;
	c->version = 0;		/* a rerun reads the workflow again */
	if (workflow_load(db, c, &res, &def) == -1)
		return -1;
	if (start_check(c, def) == -1 ||
	    (c->key != NULL && (rc = key_claim(db, c)) != 0)) {
		json_object_put(def);
		db_res_free(res);
		return c->replayed ? 0 : -1;
	}
	c->version = db_res_int(res, 0, 2, 0);
	rc = create_execution(db, c, "workflow", db_res_get(res, 0, 0), def);
	json_object_put(def);
	if (rc == 0 && c->key != NULL && db_exec(db, sql_key_bind, NULL, "sss",
	    c->id_out, c->user, c->key) == -1)
		rc = engine_dberr(c->err, db);
	if (rc == 0) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "workflow_id",
		    json_object_new_string(c->workflow_id));
		json_object_object_add(d, "workflow_name",
		    json_object_new_string(db_res_get(res, 0, 0)));
		json_object_object_add(d, "workflow_version",
		    json_object_new_int64(c->version));
		/* Names only: a value may be a secret. */
		json_object_object_add(d, "params", engine_params_names(c));
		rc = engine_call_audit(db, c, "execution.start", "execution",
		    c->id_out, d);
	}
	db_res_free(res);
	return rc;
}

int
engine_start(struct db *db, const char *workflow_id, const char *user,
    char id_out[ID_LEN + 1], struct engine_err *err)
{
	return engine_start_keyed(db, workflow_id, user, NULL, id_out, NULL,
	    err, NULL);
}

int
engine_start_keyed(struct db *db, const char *workflow_id, const char *user,
    const char *key, char id_out[ID_LEN + 1], int *replayed,
    struct engine_err *err, const struct audit_actor *audit)
{
	struct engine_start_req	 r = { .workflow_id = workflow_id,
	    .user = user, .key = key };

	return engine_start_with(db, &r, id_out, replayed, err, audit);
}

int
engine_start_with(struct db *db, const struct engine_start_req *r,
    char id_out[ID_LEN + 1], int *replayed, struct engine_err *err,
    const struct audit_actor *audit)
{
	struct call	 c = { .workflow_id = r->workflow_id, .user = r->user,
	    .key = r->key, .params = r->params, .caller = r->caller,
	    .id_out = id_out, .err = err, .audit = audit };
	int		 rc;

	rc = engine_run(db, start_txn, &c);
	json_object_put(c.resolved);
	if (replayed != NULL)
		*replayed = rc == 0 && c.replayed;
	return rc;
}

int
engine_start_in_txn(struct db *db, const struct engine_start_req *r,
    char id_out[ID_LEN + 1], struct engine_err *err,
    const struct audit_actor *audit)
{
	struct call	 c = { .workflow_id = r->workflow_id, .user = r->user,
	    .params = r->params, .caller = r->caller, .id_out = id_out,
	    .err = err, .audit = audit };
	int		 rc;

	err->code = ENGINE_OK;
	err->field[0] = '\0';
	err->msg[0] = '\0';
	rc = start_txn(db, &c);
	json_object_put(c.resolved);
	if (rc == -1 && err->code == ENGINE_OK)
		engine_dberr(err, db);
	return rc;
}

static int
command_txn(struct db *db, void *arg)
{
	struct call		*c = arg;
	struct db_res		*res = NULL;
	struct json_object	*def, *steps, *st, *targets;
	char			 name[WF_STEP_NAME_MAX + 1],
				 target[sizeof(ENGINE_TARGET_ID) + ID_LEN];
	const char		*wname;
	size_t			 n;
	int			 rc, k;

	if (!id_valid(c->worker_id))
		return engine_fail(c->err, ENGINE_NOTFOUND, "no worker %s",
		    c->worker_id);
	if (db_exec(db, sql_worker_get, &res, "s", c->worker_id) == -1)
		return engine_dberr(c->err, db);
	if (db_res_rows(res) == 0) {
		db_res_free(res);
		return engine_fail(c->err, ENGINE_NOTFOUND, "no worker %s",
		    c->worker_id);
	}
	if (strcmp(db_res_get(res, 0, 4), "accepted") != 0) {
		engine_fail(c->err, ENGINE_CONFLICT, "worker '%s' is %s: an admin "
		    "must accept it before it is sent commands",
		    db_res_get(res, 0, 1), db_res_get(res, 0, 4));
		db_res_free(res);
		return -1;
	}
	if (strcmp(db_res_get(res, 0, 2), "online") != 0) {
		engine_fail(c->err, ENGINE_CONFLICT, "worker '%s' is offline",
		    db_res_get(res, 0, 1));
		db_res_free(res);
		return -1;
	}
	if (db_res_int(res, 0, 3, 0) == 0) {
		engine_fail(c->err, ENGINE_CONFLICT, "worker '%s' is online but has "
		    "no command channel (its websocket is not connected)",
		    db_res_get(res, 0, 1));
		db_res_free(res);
		return -1;
	}
	/*
	 * Target the worker by id: by name, any worker that claims a group
	 * of that name would run it too (issue 12). The step's name says
	 * which worker it is for a reader.
	 */
	wname = db_res_get(res, 0, 1);
	for (n = 0, k = 0; wname[n] != '\0'; n++)
		if (((unsigned char)wname[n] & 0xc0) != 0x80 &&
		    ++k > WF_STEP_NAME_CHARS - (int)strlen("Command on "))
			break;	/* a step name has 255 characters at most */
	snprintf(name, sizeof(name), "Command on %.*s", (int)n, wname);
	snprintf(target, sizeof(target), "%s%s", ENGINE_TARGET_ID,
	    db_res_get(res, 0, 0));
	def = json_object_new_object();
	steps = json_object_new_array();
	st = json_object_new_object();
	targets = json_object_new_array();
	json_object_array_add(targets, json_object_new_string(target));
	json_object_object_add(st, "name", json_object_new_string(name));
	json_object_object_add(st, "type", json_object_new_string("execute"));
	json_object_object_add(st, "targets", targets);
	json_object_object_add(st, "command",
	    json_object_new_string(c->command));
	json_object_object_add(st, "timeout",
	    json_object_new_int64(c->timeout_ms));
	json_object_array_add(steps, st);
	json_object_object_add(def, "steps", steps);
	rc = create_execution(db, c, "command", name, def);
	json_object_put(def);
	if (rc == 0) {
		struct json_object *d = json_object_new_object();

		json_object_object_add(d, "execution_id",
		    json_object_new_string(c->id_out));
		json_object_object_add(d, "worker_name",
		    json_object_new_string(wname));
		json_object_object_add(d, "command",
		    json_object_new_string(c->command));
		json_object_object_add(d, "timeout",
		    json_object_new_int64(c->timeout_ms));
		rc = engine_call_audit(db, c, "worker.command", "worker",
		    c->worker_id, d);
	}
	db_res_free(res);
	return rc;
}

int
engine_start_command(struct db *db, const char *worker_id, const char *command,
    long long timeout_ms, const char *user, char id_out[ID_LEN + 1],
    struct engine_err *err, const struct audit_actor *audit)
{
	struct call	 c = { .worker_id = worker_id, .command = command,
	    .timeout_ms = timeout_ms, .user = user, .id_out = id_out,
	    .err = err, .audit = audit };

	return engine_run(db, command_txn, &c);
}
