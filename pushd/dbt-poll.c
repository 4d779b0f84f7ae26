/*
 * The db thread's polls: claiming the commands that wait for the workers
 * held here and sending them (and cancels) on, moving executions on with
 * engine_advance() (and ending one that keeps failing to move), and
 * following the events table in id order for the browsers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "dbt.h"
#include "dispatch.h"
#include "engine.h"
#include "idtail.h"
#include "log.h"
#include "metrics.h"
#include "params.h"
#include "pjson.h"
#include "xmalloc.h"

static const char sql_events_max[] =
    "SELECT COALESCE(MAX(id), 0) FROM events";
/* The increment rides along: it tells one server from Galera (idtail.h). */
static const char sql_events_after[] =
    "SELECT id, type, execution_id, payload, @@auto_increment_increment "
    "FROM events WHERE id > ? ORDER BY id LIMIT 1000";
/*
 * The ids present among the holes: created_at's index holds (created_at,
 * id), so this reads the last minute or two of index entries, not every
 * event row of the range (Galera looks four times a second). created_at
 * is the inserting node's clock at insert, before its commit; the margin
 * past IDTAIL_KEEP_MS is for nodes' clocks apart.
 */
static const char sql_events_present[] =
    "SELECT id FROM events FORCE INDEX (idx_events_created) "
    "WHERE created_at >= NOW(3) - INTERVAL ? SECOND "
    "AND id >= ? AND id <= ? ORDER BY id";
static const char sql_events_one[] =
    "SELECT id, type, execution_id, payload FROM events WHERE id = ?";

/* --------------------------------------------------------------- commands */

/*
 * A dispatch's env (dispatches.env, written by the engine from
 * params_env()) for the command message: only names the worker takes,
 * string values. NULL when there is none, so a command without
 * parameters is the version-1 message it always was.
 */
static struct json_object *
cmd_env(const char *text)
{
	struct json_object		*in, *out;
	struct json_object_iterator	 it, end;
	char				 perr[64];

	if (text == NULL || (in = pjson_parse(text, strlen(text), 2, perr,
	    sizeof(perr))) == NULL)
		return NULL;
	out = NULL;
	if (json_object_is_type(in, json_type_object)) {
		it = json_object_iter_begin(in);
		end = json_object_iter_end(in);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			const char *k = json_object_iter_peek_name(&it);
			struct json_object *v = json_object_iter_peek_value(&it);

			if (!params_env_name_ok(k) ||
			    !json_object_is_type(v, json_type_string))
				continue;
			if (out == NULL)
				out = json_object_new_object();
			json_object_object_add(out, k, json_object_get(v));
		}
	}
	json_object_put(in);
	return out;
}

/* execute_command or cancel_command to whichever socket holds the worker. */
void
dbt_send_cmds(struct dispatch_cmd *cmds, size_t n, uint64_t conn)
{
	struct json_object	*m, *env;
	struct idmap_node	*e;
	size_t			 i;
	uint64_t		 to;

	for (i = 0; i < n; i++) {
		struct dispatch_cmd *c = &cmds[i];

		to = conn;
		if (to == 0) {
			e = idmap_get(&dbt.held, c->worker_id, ID_LEN);
			if (e == NULL)
				continue;	/* sent again on reconnect */
			to = e->num;
		}
		m = json_object_new_object();
		if (c->cancel) {
			json_object_object_add(m, "type",
			    json_object_new_string("cancel_command"));
			json_object_object_add(m, "command_id",
			    json_object_new_string(c->id));
		} else {
			json_object_object_add(m, "type",
			    json_object_new_string("execute_command"));
			json_object_object_add(m, "command_id",
			    json_object_new_string(c->id));
			json_object_object_add(m, "execution_id",
			    json_object_new_string(c->execution_id));
			json_object_object_add(m, "step_index",
			    json_object_new_int(c->step_index));
			json_object_object_add(m, "attempt",
			    json_object_new_int(c->attempt));
			json_object_object_add(m, "command",
			    json_object_new_string(c->command));
			json_object_object_add(m, "timeout",
			    json_object_new_int64(c->timeout_ms));
			json_object_object_add(m, "worker_id",
			    json_object_new_string(c->worker_id));
			if ((env = cmd_env(c->env)) != NULL)
				json_object_object_add(m, "env", env);
		}
		log_debug("%s %s to worker %s", c->cancel ? "cancel" :
		    "command", c->id, c->worker_id);
		dbt_send(to, m);
	}
	if (n > 0)
		dbt_busy();
	dispatch_cmds_free(cmds, n);
}

/*
 * Claim and send what waits for the workers here, until none is left.
 * A poll looks first (one cheap read); after an advance we know to claim.
 */
void
dbt_claim(int look_first)
{
	struct dispatch_cmd	*cmds;
	size_t			 n;
	long long		 t0;
	int			 queued = 1, cancels = 1, rc;

	dbt.claim_now = 0;
	if (dbt.nunsure > 0) {
		if (dispatch_claimed(dbt.db, dbt.node, dbt.unsure,
		    &dbt.nunsure) == -1) {
			dbt_failed("checking commands claimed as the database "
			    "went away");
			return;
		}
		if (dbt.nunsure > 0)
			log_info("sending %zu command(s) claimed as the "
			    "database went away", dbt.nunsure);
		dbt_send_cmds(dbt.unsure, dbt.nunsure, 0);	/* frees */
		dbt.unsure = NULL;
		dbt.nunsure = 0;
	}
	if (dbt.held.n == 0)
		return;
	if (look_first && dispatch_pending(dbt.db, dbt.node, &queued,
	    &cancels) == -1) {
		dbt_failed("looking for commands");
		return;
	}
	while (queued) {
		t0 = pushd_now_ms();
		rc = dispatch_claim(dbt.db, dbt.node, dbt.grace_ms, dbt_held,
		    NULL, &cmds, &n);
		if (rc == -2) {
			/* Checked first thing next time (none pending now). */
			dbt.unsure = cmds;
			dbt.nunsure = n;
		}
		if (rc != 0) {
			dbt_failed("claiming commands");
			return;
		}
		dbt_load_claimed(cmds, n, pushd_now_ms() - t0);
		dbt_send_cmds(cmds, n, 0);
		queued = n >= DISPATCH_BATCH_MAX;
	}
	if (!cancels)
		return;
	if (dispatch_cancels(dbt.db, dbt.node, dbt_held, NULL, &cmds,
	    &n) == -1) {
		dbt_failed("sending cancels");
		return;
	}
	dbt_send_cmds(cmds, n, 0);
}

/*
 * An execution failed to advance, not because the database is away: the
 * sweep tries again, but the same failure DBT_POISON_TRIES times in a row
 * (a definition that no longer parses, a write the server refuses) ends
 * it failed with the reason, rather than retrying it for ever (issue 12).
 */
static void
dbt_poison(const char *id, const struct engine_err *e)
{
	struct engine_err	 err;
	size_t			 i;
	int			 rc;
	char			 why[sizeof(e->msg) + 64];

	for (i = 0; i < dbt.npoison; i++)
		if (strcmp(dbt.poison[i].id, id) == 0)
			break;
	if (i == dbt.npoison) {
		if (dbt.npoison == DBT_POISON_SLOTS)
			i = (size_t)(pushd_now_ms() % DBT_POISON_SLOTS);
		else
			dbt.npoison++;
		strlcpy_p(dbt.poison[i].id, id, ID_LEN + 1);
		dbt.poison[i].fails = 0;
	}
	if (++dbt.poison[i].fails < DBT_POISON_TRIES)
		return;
	snprintf(why, sizeof(why), "could not be moved on after %d tries: %s",
	    DBT_POISON_TRIES, e->msg);
	if ((rc = engine_abort(dbt.db, id, why, &err)) == -1) {
		log_warnx("ending execution %s: %s", id, err.msg);
		return;
	}
	if (rc == 0)
		log_warnx("execution %s failed: %s", id, why);
	dbt.poison[i] = dbt.poison[--dbt.npoison];
}

static void
dbt_unpoison(const char *id)
{
	size_t	 i;

	for (i = 0; i < dbt.npoison; i++)
		if (strcmp(dbt.poison[i].id, id) == 0) {
			dbt.poison[i] = dbt.poison[--dbt.npoison];
			return;
		}
}

/* engine_advance() each execution a step of ours may have moved. */
void
dbt_advance(void)
{
	struct engine_err	 err;
	size_t			 i;

	for (i = 0; i < dbt.advance.n; i++) {
		if (engine_advance(dbt.db, dbt.advance.id[i], &err) == 0) {
			if (dbt.npoison > 0)
				dbt_unpoison(dbt.advance.id[i]);
			continue;
		}
		if (err.code == ENGINE_NOTFOUND)
			continue;
		/* The sweep tries again; nothing is lost. */
		log_warnx("advancing execution %s: %s", dbt.advance.id[i],
		    err.msg);
		if (!db_transient(dbt.db))
			dbt_poison(dbt.advance.id[i], &err);
	}
	if (dbt.advance.n > 0)
		dbt.claim_now = 1;
	dispatch_ids_clear(&dbt.advance);
}

void
dbt_want_advance(const char *id)
{
	size_t	 i;

	for (i = 0; i < dbt.advance.n; i++)
		if (strcmp(dbt.advance.id[i], id) == 0)
			return;
	dbt.advance.id = xreallocarray(dbt.advance.id, dbt.advance.n + 1,
	    sizeof(*dbt.advance.id));
	strlcpy_p(dbt.advance.id[dbt.advance.n++], id, ID_LEN + 1);
}

/* ------------------------------------------------------------------ feed */

static void
dbt_forward(const struct db_res *r, size_t i)
{
	struct out	*o = out_event(OUT_EVENT, 0, r, i);

	dbt_busy();
	if (o != NULL)
		outs_push(o);
}

/*
 * Skipped ids that committed after all: sent late (browsers order by
 * event_id); the rest are forgotten after IDTAIL_KEEP_MS (rolled back,
 * or on Galera never used).
 */
static int
dbt_holes(long long now)
{
	struct db_res	*r, *one;
	size_t		 i;
	long long	 lo, hi, id;

	if (!idtail_due(&dbt.feed, now, &lo, &hi))
		return 0;
	if (db_exec(dbt.db, sql_events_present, &r, "iii",
	    (long long)IDTAIL_KEEP_MS / 1000 + 120, lo, hi) == -1)
		return -1;
	for (i = 0; i < db_res_rows(r); i++) {
		id = db_res_int(r, i, 0, 0);
		if (!idtail_found(&dbt.feed, id))
			continue;
		if (db_exec(dbt.db, sql_events_one, &one, "i", id) == -1) {
			db_res_free(r);
			return -1;
		}
		if (db_res_rows(one) == 1)
			dbt_forward(one, 0);
		db_res_free(one);
	}
	db_res_free(r);
	return 0;
}

/*
 * Follow the events table in id order, from where this pushd started.
 * An AUTO_INCREMENT id is taken at insert time and committed later, so a
 * missing id may still come: idtail.c decides whether to wait at it (one
 * server) or to go past and look for it again (Galera, where ids are not
 * commit-ordered across nodes), and keeps the holes.
 */
void
dbt_tail(void)
{
	struct db_res	*r;
	struct out	*o;
	long long	 now = pushd_now_ms(), cursor;
	size_t		 i, rows;

	if (!dbt.feed_ready) {
		if (dbt_start_at(sql_events_max, &cursor,
		    "reading the event feed") == -1)
			return;
		idtail_start(&dbt.feed, cursor);
		dbt.feed_ready = 1;
		o = out_new(OUT_CURSOR, 0);
		o->event_id = cursor;
		outs_push(o);
		log_info("event feed starts after event %lld", cursor);
	}
	do {
		if (db_exec(dbt.db, sql_events_after, &r, "i",
		    dbt.feed.cursor) == -1) {
			dbt_failed("reading the event feed");
			return;
		}
		rows = db_res_rows(r);
		if (rows > 0)
			idtail_step(&dbt.feed, db_res_int(r, 0, 4, 1));
		for (i = 0; i < rows; i++) {
			if (!idtail_take(&dbt.feed, db_res_int(r, i, 0, 0),
			    now))
				break;
			dbt_forward(r, i);
		}
		db_res_free(r);
	} while (i == rows && rows == DBT_TAIL_BATCH);
	if (dbt_holes(now) == -1)
		dbt_failed("reading late events");
}
