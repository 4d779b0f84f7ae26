/*
 * The database thread, the only code in pushd that talks to MariaDB: it
 * records what the loop hands it, in order, and answers after the commit;
 * every PULSE_POLL_INTERVAL_MS it claims commands for the workers held
 * here, follows the events table, and runs the timers several pushd share.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>

#include "base64.h"
#include "config.h"
#include "db.h"
#include "dispatch.h"
#include "engine.h"
#include "log.h"
#include "pjson.h"
#include "pushd.h"
#include "registry.h"
#include "retention.h"
#include "trust.h"
#include "xmalloc.h"

#define DBT_TAIL_BATCH		1000	/* events per feed query */
#define DBT_HOLE_WAIT_MS	1000	/* an id may commit this late */
#define DBT_HOLE_KEEP_MS	60000	/* later than that: still sent */
#define DBT_HOLES_MAX		256
#define DBT_REPORT_BATCH	200	/* reports per transaction */
#define DBT_REPORT_BYTES	(16 * 1024 * 1024)	/* ... and their bytes */
#define DBT_RETRY_MS		500	/* database away: retry after */
#define DBT_TIMERS_MS		1000
#define DBT_STALE_MS		5000
#define DBT_TOUCH_MS		10000
#define DBT_SWEEP_MS		30000
#define DBT_SWEEP_IDLE_S	10
#define DBT_RETAIN_MORE_MS	200	/* a full batch: the next one soon */
#define DBT_METRICS_MS		5000
#define DBT_BUSY_MS		2000	/* fast polls after work */
#define DBT_LATENCY_LAG		"2"	/* s: a finish may commit this late */
#define DBT_UNKNOWN_SEEN	64	/* unknown command ids logged */
#define DBT_POISON_TRIES	5	/* an execution that fails to move */
#define DBT_POISON_SLOTS	64
#define DBT_REATTACH_MS		60000	/* an earlier run's workers: back? */

static const char sql_events_max[] =
    "SELECT COALESCE(MAX(id), 0) FROM events";
static const char sql_events_after[] =
    "SELECT id, type, execution_id, payload FROM events WHERE id > ? "
    "ORDER BY id LIMIT 1000";
static const char sql_events_range[] =
    "SELECT id, type, execution_id, payload FROM events "
    "WHERE id > ? AND id <= ? ORDER BY id LIMIT 1000";
static const char sql_trust_max[] =
    "SELECT COALESCE(MAX(id), 0) FROM worker_trust_events";
static const char sql_trust_after[] =
    "SELECT id, worker_id, kind FROM worker_trust_events WHERE id > ? "
    "ORDER BY id LIMIT 500";
/* What a trust event told, asked again now and then (dbt_untrusted). */
static const char sql_revoked_here[] =
    "SELECT id FROM workers WHERE pushd_node = ? AND state = 'revoked'";
static const char sql_m_workers[] =
    "SELECT status, COUNT(*) FROM workers GROUP BY status";
static const char sql_m_executions[] =
    "SELECT status, COUNT(*) FROM executions GROUP BY status";
static const char sql_m_dispatches[] =
    "SELECT status, COUNT(*) FROM dispatches "
    "WHERE status IN ('queued', 'sent', 'running') GROUP BY status";
static const char sql_m_now[] =
    "SELECT NOW(3) - INTERVAL " DBT_LATENCY_LAG " SECOND";
static const char sql_m_latency[] =
    "SELECT TIMESTAMPDIFF(MICROSECOND, queued_at, sent_at), "
    "IF(status = 'lost', NULL, "
    "TIMESTAMPDIFF(MICROSECOND, sent_at, finished_at)) "
    "FROM dispatches WHERE finished_at > ? AND finished_at <= ? "
    "LIMIT 10000";	/* per refresh: a flood is sampled */

/* An event id skipped over while its transaction had not committed. */
struct dbt_hole {
	long long	 id;
	long long	 since_ms;
};

static struct dbt {
	const struct config	*cfg;
	char			 node[256];
	struct db		*db;
	pthread_t		 thread;
	int			 started;
	struct jobq		 pending;	/* taken, not yet done */
	struct idmap		 held;		/* worker_id -> serial */
	struct idmap		 refused;	/* serials whose key was
						 * refused: nothing more from
						 * them is taken */
	int			 trust_ready;
	long long		 trust_cursor;	/* last trust event seen */
	long long		 trust_gap_since;
	long long		 grace_ms;
	long long		 retry_at;	/* db away until then */
	int			 away;		/* logged that */

	int			 feed_ready;
	long long		 cursor;	/* last event id sent on */
	long long		 gap_since;
	struct dbt_hole		 holes[DBT_HOLES_MAX];
	size_t			 nholes;

	long long		 next_timers, next_stale, next_touch,
				 next_sweep, next_retain, next_metrics;
	struct retention_counts	 retained;	/* this sweep, so far */
	size_t			 retain_rounds;
	long long		 retain_ms;	/* time in the database */
	char			 latency_wm[32];	/* finished_at seen */
	struct dispatch_ids	 advance;	/* executions to move */
	int			 claim_now;
	long long		 detach_at;	/* earlier run's workers */
	int			 detached;
	long long		 busy_until;	/* poll fast until then */
	/* Reports on commands that no longer exist, each logged once. */
	char			 unknown[DBT_UNKNOWN_SEEN][ID_LEN + 1];
	size_t			 nunknown;
	/* Executions whose advance failed, not for the database being away. */
	struct {
		char		 id[ID_LEN + 1];
		int		 fails;
	}			 poison[DBT_POISON_SLOTS];
	size_t			 npoison;
} dbt;

/* ---------------------------------------------------------------- helpers */

static void
dbt_close(uint64_t conn, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
dbt_close(uint64_t conn, int code, const char *fmt, ...)
{
	struct out	*o = out_new(OUT_CLOSE, conn);
	va_list		 ap;

	o->code = code;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof(o->reason), fmt, ap);
	va_end(ap);
	outs_push(o);
}

static void
dbt_send(uint64_t conn, struct json_object *msg)
{
	struct out	*o = out_new(OUT_SEND, conn);

	o->msg = msg_json(msg);
	json_object_put(msg);
	outs_push(o);
}

/*
 * Work came (commands, events, reports): poll every PULSE_POLL_BUSY_MS for
 * a while, since more tends to follow (the next execution, the next step
 * started by an answer); idle, every PULSE_POLL_INTERVAL_MS.
 */
static void
dbt_busy(void)
{
	dbt.busy_until = server_now_ms() + DBT_BUSY_MS;
}

static int
dbt_held(const char *worker_id, void *arg)
{
	(void)arg;
	return idmap_get(&dbt.held, worker_id, strlen(worker_id)) != NULL;
}

/*
 * A worker reported on a command that does not exist (deleted with its
 * workflow or execution, past retention, from before a restore): said
 * once per command, however many chunks and resends follow.
 */
static void
dbt_unknown(const struct job *j, const char *what, const char *command_id)
{
	size_t	 i;

	for (i = 0; i < DBT_UNKNOWN_SEEN; i++)
		if (strcmp(dbt.unknown[i], command_id) == 0)
			return;
	strlcpy_p(dbt.unknown[dbt.nunknown++ % DBT_UNKNOWN_SEEN], command_id,
	    ID_LEN + 1);
	log_info("worker %s: %s for command %s, which no longer exists: "
	    "dropped", j->worker_id, what, command_id);
}

/* After a failure: is the database away (try later) or was it this job? */
static int
dbt_failed(const char *what)
{
	metrics_db_error();
	if (db_down(dbt.db)) {
		if (!dbt.away)
			log_warnx("database unreachable (%s): %s", what,
			    db_errmsg(dbt.db));
		dbt.away = 1;
		dbt.retry_at = server_now_ms() + DBT_RETRY_MS;
		return -1;
	}
	log_warnx("%s: %s", what, db_errmsg(dbt.db));
	return 0;
}

/* execute_command or cancel_command to whichever socket holds the worker. */
static void
dbt_send_cmds(struct dispatch_cmd *cmds, size_t n, uint64_t conn)
{
	struct json_object	*m;
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
static void
dbt_claim(int look_first)
{
	struct dispatch_cmd	*cmds;
	size_t			 n;
	int			 queued = 1, cancels = 1;

	dbt.claim_now = 0;
	if (dbt.held.n == 0)
		return;
	if (look_first && dispatch_pending(dbt.db, dbt.node, &queued,
	    &cancels) == -1) {
		dbt_failed("looking for commands");
		return;
	}
	while (queued) {
		if (dispatch_claim(dbt.db, dbt.node, dbt.grace_ms, dbt_held,
		    NULL, &cmds, &n) == -1) {
			dbt_failed("claiming commands");
			return;
		}
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
			i = (size_t)(server_now_ms() % DBT_POISON_SLOTS);
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
static void
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

static void
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

/* ------------------------------------------------------------------- jobs */

/* From now on nothing from this socket is taken (a refused key). */
static void
dbt_refuse(uint64_t conn)
{
	idmap_put(&dbt.refused, &conn, sizeof(conn));
}

static int
dbt_is_refused(uint64_t conn)
{
	return idmap_get(&dbt.refused, &conn, sizeof(conn)) != NULL;
}

static void
dbt_worker_state(uint64_t conn, const char *worker_id, const char *state)
{
	struct json_object	*m = json_object_new_object();

	json_object_object_add(m, "type", json_object_new_string(
	    "worker_state"));
	json_object_object_add(m, "state", json_object_new_string(state));
	json_object_object_add(m, "worker_id",
	    json_object_new_string(worker_id));
	dbt_send(conn, m);
}

struct dbt_offer {
	const char	*worker_id;
	int		 wanted;
	char		 key[WKEY_LEN + 1];
	long long	 key_id;
};

static int
dbt_offer_txn(struct db *db, void *arg)
{
	struct dbt_offer	*o = arg;

	if (trust_rotation_wanted(db, o->worker_id, &o->wanted) == -1)
		return -1;
	if (!o->wanted)
		return 0;
	return trust_key_offer(db, o->worker_id, o->key, &o->key_id);
}

/*
 * An admin asked for a new key: made here, stored hashed and not active
 * until the worker acknowledges it (or reconnects with it), and sent over
 * the one channel that is the worker's own.
 */
static void
dbt_offer(const char *worker_id, uint64_t conn)
{
	struct dbt_offer	 o;
	struct json_object	*m;
	char			 kid[32];

	memset(&o, 0, sizeof(o));
	o.worker_id = worker_id;
	if (db_txn(dbt.db, dbt_offer_txn, &o) == -1) {
		dbt_failed("offering a new key");
		return;
	}
	if (!o.wanted)
		return;
	snprintf(kid, sizeof(kid), "%lld", o.key_id);
	m = json_object_new_object();
	json_object_object_add(m, "type", json_object_new_string("rotate_key"));
	json_object_object_add(m, "key", json_object_new_string(o.key));
	json_object_object_add(m, "key_id", json_object_new_string(kid));
	explicit_bzero(o.key, sizeof(o.key));
	dbt_send(conn, m);
	log_info("worker %s: new key %s offered", worker_id, kid);
}

static int
dbt_connect(struct job *j)
{
	static struct log_every	 refused_log;	/* the db thread's alone */
	unsigned		 quiet;
	struct dispatch_cmd	*cmds;
	struct idmap_node	*e;
	size_t			 n;
	int			 conflict;
	char			 replaced[ID_LEN + 1];

	if (dispatch_worker_online(dbt.db, dbt.node, &j->w, &conflict,
	    replaced, &dbt.advance) == -1) {
		if (dbt_failed("recording a worker") == -1)
			return -1;	/* the database is away: retried */
		/* Unregistered, it would never get a command: start over. */
		dbt_refuse(j->conn);
		dbt_close(j->conn, 1013, "could not register; reconnect");
		return 0;
	}
	if (j->w.refused[0] != '\0') {
		/* Anyone can present a key: not a line for each. */
		if (log_every(&refused_log, 10, &quiet))
			log_warnx("worker '%s' (%s): key refused: %s (%u more "
			    "not logged)", j->w.name, j->w.id, j->w.refused,
			    quiet);
		dbt_refuse(j->conn);
		dbt_close(j->conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "key refused: %s", j->w.refused);
		return 0;
	}
	if (conflict) {
		log_warnx("worker '%s' (%s) refused: the name belongs to "
		    "another worker", j->w.name, j->w.id);
		dbt_refuse(j->conn);
		dbt_close(j->conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "worker name is in use by another worker that is online "
		    "or that this one may not replace");
		return 0;
	}
	if (j->w.name_kept)
		log_warnx("worker %s connected as '%s': a worker with its own "
		    "key keeps the name it enrolled with", j->w.id, j->w.name);
	if (replaced[0] != '\0')
		log_info("worker '%s' (%s) replaces the offline worker %s of "
		    "the same name", j->w.name, j->w.id, replaced);
	e = idmap_put(&dbt.held, j->w.id, ID_LEN);
	e->num = j->conn;
	outs_push(out_new(OUT_REGISTERED, j->conn));
	dbt_worker_state(j->conn, j->w.id, j->w.state);
	if (strcmp(j->w.state, "accepted") != 0)
		log_info("worker '%s' (%s) is %s: it waits for an admin to "
		    "accept it", j->w.name, j->w.id, j->w.state);
	if (j->w.rotate)
		dbt_offer(j->w.id, j->conn);
	if (dispatch_redeliver(dbt.db, j->w.id, j->running, j->nrunning,
	    j->journaled, dbt.grace_ms, &cmds, &n) == -1)
		return dbt_failed("resending commands");
	dbt_send_cmds(cmds, n, j->conn);
	dbt.claim_now = 1;
	return 0;
}

struct dbt_ack {
	const char	*worker_id;
	long long	 key_id;
	int		 ok;
};

static int
dbt_ack_txn(struct db *db, void *arg)
{
	struct dbt_ack	*a = arg;

	return registry_key_ack(db, a->worker_id, a->key_id, &a->ok);
}

/* key_ack: the offered key is the worker's one key now. */
static int
dbt_key_ack(struct job *j)
{
	struct dbt_ack	 a = { j->worker_id, j->key_id, 0 };

	if (db_txn(dbt.db, dbt_ack_txn, &a) == -1)
		return dbt_failed("activating a new key");
	if (a.ok)
		log_info("worker %s: key %lld acknowledged, the old one is "
		    "revoked", j->worker_id, j->key_id);
	else
		log_warnx("worker %s: key_ack for key %lld, which is no open "
		    "offer of its own: ignored", j->worker_id, j->key_id);
	return 0;
}

static int
dbt_gone(struct job *j)
{
	struct idmap_node	*e;

	idmap_del(&dbt.refused, &j->conn, sizeof(j->conn));
	e = idmap_get(&dbt.held, j->worker_id, ID_LEN);
	/* A newer socket of the same worker took over: not gone. */
	if (e == NULL || e->num != j->conn)
		return 0;
	if (dispatch_worker_offline(dbt.db, dbt.node, j->worker_id) == -1)
		return dbt_failed("marking a worker offline");
	idmap_del(&dbt.held, j->worker_id, ID_LEN);
	return 0;
}

/*
 * result_ack: the worker may forget the result, because it is recorded
 * now ("recorded"), was before ("duplicate"), or is for a command that no
 * longer exists ("unknown"). The last must never close the socket: the
 * agent keeps an unacknowledged result on disk and sends it again on
 * every reconnect, so a refusal there wedged it for ever (issue 11).
 */
static void
dbt_ack(struct job *j, const struct dispatch_report *rp, const char *status)
{
	struct json_object	*ack = json_object_new_object();
	const char		*cid = rp->command[0] != '\0' ? rp->command :
				    j->res.command_id;

	json_object_object_add(ack, "type",
	    json_object_new_string("result_ack"));
	if (cid != NULL)
		json_object_object_add(ack, "command_id",
		    json_object_new_string(cid));
	if (j->res.execution_id != NULL)
		json_object_object_add(ack, "execution_id",
		    json_object_new_string(j->res.execution_id));
	json_object_object_add(ack, "status", json_object_new_string(status));
	dbt_send(j->conn, ack);
}

/* What a recorded (or refused) result means for its worker. */
static void
dbt_result_done(struct job *j, const struct dispatch_report *rp)
{
	switch (rp->code) {
	case DISPATCH_OK:
		dbt_want_advance(rp->exec);
		dbt_ack(j, rp, "recorded");
		break;
	case DISPATCH_STALE:
		dbt_ack(j, rp, "duplicate");
		break;
	case DISPATCH_UNKNOWN:
		if (j->res.command_id != NULL)
			dbt_unknown(j, "a result", j->res.command_id);
		else
			log_info("worker %s: a result for execution %s, which "
			    "has no open command on it: dropped",
			    j->worker_id, j->res.execution_id);
		dbt_ack(j, rp, "unknown");
		break;
	case DISPATCH_FOREIGN:
		dbt_close(j->conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "command_result: %s is not a command of yours",
		    rp->command);
		break;
	case DISPATCH_AMBIGUOUS:
		dbt_close(j->conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "command_result: several commands of that execution are "
		    "open here: send command_id");
		break;
	case DISPATCH_MALFORMED:
		dbt_close(j->conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "command_result: stdout_b64/stderr_b64 is not base64");
		break;
	}
}

/*
 * A result that failed twice (in its batch, then alone) for a reason of
 * its own: the worker would send it again on every reconnect and the
 * execution would wait for it until the deadline. It ends its command
 * failed with the reason, and the worker is told to forget it (issue 12).
 */
static void
dbt_unstorable(struct job *j, struct dispatch_report *rp)
{
	const char	*cid = j->res.command_id != NULL ? j->res.command_id :
			    rp->command;
	char		 why[256], exec[ID_LEN + 1];
	int		 ended;

	if (cid == NULL || cid[0] == '\0')
		return;		/* not resolved: it stays the worker's */
	snprintf(why, sizeof(why), "the worker's result could not be "
	    "stored: %s", db_errmsg(dbt.db));
	pjson_utf8_trim(why);	/* the error column is utf8mb4 */
	if (dispatch_result_unstorable(dbt.db, j->worker_id, cid, why, &ended,
	    exec) == -1) {
		dbt_failed("ending a command whose result cannot be stored");
		return;
	}
	log_warnx("worker %s: command %s: %s", j->worker_id, cid, why);
	if (ended)
		dbt_want_advance(exec);
	dbt_ack(j, rp, "refused");
}

/* What became of a start or an output chunk, told to its worker. */
static void
dbt_report_done(struct job *j, const struct dispatch_report *rp)
{
	const char	*what = j->type == JOB_STARTED ? "command_started" :
			    "command_output";

	if (j->type == JOB_RESULT)
		dbt_result_done(j, rp);
	else if (rp->code == DISPATCH_UNKNOWN)
		/* Still running after its workflow was deleted: harmless. */
		dbt_unknown(j, what, j->command_id);
	else if (rp->code == DISPATCH_FOREIGN)
		dbt_close(j->conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "%s: %s is not a command of yours", what, j->command_id);
	else if (rp->code == DISPATCH_MALFORMED)
		dbt_close(j->conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "command_output: data is not base64, or its stream or "
		    "offset is invalid");
}

static int
dbt_is_report(const struct job *j)
{
	return j->type == JOB_STARTED || j->type == JOB_OUTPUT ||
	    j->type == JOB_RESULT;
}

/* The report a job carries; output is decoded into *buf (freed by the
 * caller), and what does not decode is marked malformed. */
static void
dbt_report_fill(struct job *j, struct dispatch_report *rp,
    unsigned char **buf)
{
	size_t	 len;

	memset(rp, 0, sizeof(*rp));
	*buf = NULL;
	rp->worker_id = j->worker_id;
	switch (j->type) {
	case JOB_STARTED:
		rp->kind = DISPATCH_R_STARTED;
		rp->command_id = j->command_id;
		rp->execution_id = j->execution_id;
		break;
	case JOB_OUTPUT:
		rp->kind = DISPATCH_R_CHUNK;
		*buf = xmalloc(j->b64len / 4 * 3 + 3);
		if (base64_decode(j->b64, j->b64len, *buf, &len) == -1) {
			rp->code = DISPATCH_MALFORMED;
			len = 0;
		}
		rp->chunk.command_id = j->command_id;
		rp->chunk.stream = j->stream;
		rp->chunk.offset = j->offset;
		rp->chunk.data = *buf;
		rp->chunk.len = len;
		break;
	default:
		rp->kind = DISPATCH_R_RESULT;
		rp->res = &j->res;
		break;
	}
}

/*
 * The reports waiting at the head of the queue, in one transaction: a step
 * on N workers brings N starts, N or more output chunks and N results,
 * interleaved, and one commit (a disk flush) each made this thread the
 * bottleneck of every fan-out (50 workers running uptime: 1.2 s, most of
 * it here). If the batch fails for a reason of its own (not the database
 * being away), each is tried alone so one bad report costs only itself.
 * Returns how many jobs were handled, or -1 to try them all later.
 */
static int
dbt_reports(struct job *first)
{
	static struct dispatch_report	 rp[DBT_REPORT_BATCH];
	unsigned char			*bufs[DBT_REPORT_BATCH];
	struct job			*j, *jobs[DBT_REPORT_BATCH];
	size_t				 n = 0, i, bytes = 0;
	int				 rc;

	for (j = first; j != NULL && dbt_is_report(j) &&
	    !dbt_is_refused(j->conn) &&
	    n < DBT_REPORT_BATCH && bytes < DBT_REPORT_BYTES;
	    j = TAILQ_NEXT(j, entry)) {
		dbt_report_fill(j, &rp[n], &bufs[n]);
		bytes += j->size;
		jobs[n++] = j;
	}
	rc = (int)n;
	if (dispatch_reports(dbt.db, rp, n, dbt.grace_ms) == 0) {
		for (i = 0; i < n; i++)
			dbt_report_done(jobs[i], &rp[i]);
	} else if (dbt_failed("recording reports") == -1) {
		rc = -1;
	} else {
		/* Not the database: find the one at fault, alone. */
		for (i = 0; i < n; i++) {
			if (dispatch_reports(dbt.db, &rp[i], 1,
			    dbt.grace_ms) == 0)
				dbt_report_done(jobs[i], &rp[i]);
			else if (dbt_failed("recording a report") == -1) {
				rc = i == 0 ? -1 : (int)i;
				break;
			}
			else if (jobs[i]->type == JOB_RESULT &&
			    !db_transient(dbt.db))
				dbt_unstorable(jobs[i], &rp[i]);
			/* else dropped, logged: live output, a start */
		}
	}
	for (i = 0; i < n; i++)
		free(bufs[i]);
	return rc;
}

/* Where a follower of a log table starts: after its last id now. */
static int
dbt_start_at(const char *sql, long long *cursor, const char *what)
{
	struct db_res	*r;

	if (db_exec(dbt.db, sql, &r, "") == -1) {
		dbt_failed(what);
		return -1;
	}
	*cursor = db_res_int(r, 0, 0, 0);
	db_res_free(r);
	return 0;
}

/* ----------------------------------------------------------------- trust */

/* One worker_trust_events row, for a worker whose socket is here. */
static void
dbt_trust_one(const char *worker_id, const char *kind)
{
	struct idmap_node	*e;
	uint64_t		 conn;

	if ((e = idmap_get(&dbt.held, worker_id, strlen(worker_id))) == NULL)
		return;
	conn = e->num;
	if (strcmp(kind, "revoke") == 0 || strcmp(kind, "delete") == 0) {
		log_info("worker %s %s: closing its socket", worker_id,
		    kind[0] == 'r' ? "revoked" : "deleted");
		dbt_refuse(conn);
		dbt_close(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    kind[0] == 'r' ? "worker revoked" : "worker deleted");
	} else if (strcmp(kind, "enroll") == 0) {
		/* It was keyless, so this socket came with the shared key,
		 * which may no longer act as it. */
		log_info("worker %s enrolled: closing its shared-key socket",
		    worker_id);
		dbt_refuse(conn);
		dbt_close(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION,
		    "worker enrolled: reconnect with its own key");
	} else if (strcmp(kind, "rotate") == 0)
		dbt_offer(worker_id, conn);
	else if (strcmp(kind, "accept") == 0) {
		dbt_worker_state(conn, worker_id, "accepted");
		/* A rotation asked for while it was pending waits no more. */
		dbt_offer(worker_id, conn);
		dbt.claim_now = 1;
	} else if (strcmp(kind, "groups") == 0)
		dbt.claim_now = 1;
}

/*
 * Follow worker_trust_events from where this pushd started: a revocation
 * closes the socket within a poll or two (SPEC section 12: within 1 s).
 * An id not committed yet is waited for up to DBT_HOLE_WAIT_MS, then
 * passed (its transaction was rolled back).
 */
static void
dbt_trust(void)
{
	struct db_res	*r;
	long long	 now = server_now_ms(), id;
	size_t		 i;

	if (!dbt.trust_ready) {
		if (dbt_start_at(sql_trust_max, &dbt.trust_cursor,
		    "reading worker trust events") == -1)
			return;
		dbt.trust_ready = 1;
	}
	if (db_exec(dbt.db, sql_trust_after, &r, "i", dbt.trust_cursor) ==
	    -1) {
		dbt_failed("reading worker trust events");
		return;
	}
	for (i = 0; i < db_res_rows(r); i++) {
		id = db_res_int(r, i, 0, 0);
		if (id != dbt.trust_cursor + 1) {
			if (dbt.trust_gap_since == 0)
				dbt.trust_gap_since = now;
			if (now - dbt.trust_gap_since < DBT_HOLE_WAIT_MS)
				break;
		}
		dbt.trust_gap_since = 0;
		dbt.trust_cursor = id;
		dbt_trust_one(db_res_get(r, i, 1), db_res_get(r, i, 2));
	}
	db_res_free(r);
}

/*
 * The backstop of dbt_trust(): a revocation whose event committed later
 * than DBT_HOLE_WAIT_MS after its id was taken was passed over; its
 * worker, still held here, is closed at the next DBT_TOUCH_MS.
 */
static void
dbt_untrusted(void)
{
	struct db_res	*r;
	size_t		 i;

	if (db_exec(dbt.db, sql_revoked_here, &r, "s", dbt.node) == -1) {
		dbt_failed("looking for revoked workers");
		return;
	}
	for (i = 0; i < db_res_rows(r); i++)
		dbt_trust_one(db_res_get(r, i, 0), "revoke");
	db_res_free(r);
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

static void
dbt_hole_add(long long id, long long now)
{
	if (dbt.nholes == DBT_HOLES_MAX) {
		memmove(dbt.holes, dbt.holes + 1,
		    (DBT_HOLES_MAX - 1) * sizeof(*dbt.holes));
		dbt.nholes--;
	}
	dbt.holes[dbt.nholes].id = id;
	dbt.holes[dbt.nholes++].since_ms = now;
}

/*
 * Skipped ids that committed after all: sent late (browsers order by
 * event_id), the rest forgotten after DBT_HOLE_KEEP_MS (rolled back).
 */
static int
dbt_holes(long long now)
{
	struct db_res	*r;
	size_t		 i, k;
	long long	 id;

	while (dbt.nholes > 0 && now - dbt.holes[0].since_ms >
	    DBT_HOLE_KEEP_MS) {
		memmove(dbt.holes, dbt.holes + 1,
		    (dbt.nholes - 1) * sizeof(*dbt.holes));
		dbt.nholes--;
	}
	if (dbt.nholes == 0)
		return 0;
	if (db_exec(dbt.db, sql_events_range, &r, "ii", dbt.holes[0].id - 1,
	    dbt.holes[dbt.nholes - 1].id) == -1)
		return -1;
	for (i = 0; i < db_res_rows(r); i++) {
		id = db_res_int(r, i, 0, 0);
		for (k = 0; k < dbt.nholes; k++)
			if (dbt.holes[k].id == id)
				break;
		if (k == dbt.nholes)
			continue;
		dbt_forward(r, i);
		memmove(dbt.holes + k, dbt.holes + k + 1,
		    (dbt.nholes - k - 1) * sizeof(*dbt.holes));
		dbt.nholes--;
	}
	db_res_free(r);
	return 0;
}

/*
 * Follow the events table in id order. An AUTO_INCREMENT id is taken at
 * insert time and committed later, so a missing id may still come: wait
 * up to DBT_HOLE_WAIT_MS for it before going past.
 */
static void
dbt_tail(void)
{
	struct db_res	*r;
	struct out	*o;
	long long	 now = server_now_ms(), id;
	size_t		 i, rows;

	if (!dbt.feed_ready) {
		if (dbt_start_at(sql_events_max, &dbt.cursor,
		    "reading the event feed") == -1)
			return;
		dbt.feed_ready = 1;
		o = out_new(OUT_CURSOR, 0);
		o->event_id = dbt.cursor;
		outs_push(o);
		log_info("event feed starts after event %lld", dbt.cursor);
	}
	do {
		if (db_exec(dbt.db, sql_events_after, &r, "i", dbt.cursor) ==
		    -1) {
			dbt_failed("reading the event feed");
			return;
		}
		rows = db_res_rows(r);
		for (i = 0; i < rows; i++) {
			id = db_res_int(r, i, 0, 0);
			if (id != dbt.cursor + 1) {
				if (dbt.gap_since == 0)
					dbt.gap_since = now;
				if (now - dbt.gap_since < DBT_HOLE_WAIT_MS)
					break;
				/* A huge jump: only the last ids may come. */
				if (id - dbt.cursor > DBT_HOLES_MAX)
					dbt.cursor = id - DBT_HOLES_MAX - 1;
				while (++dbt.cursor < id)
					dbt_hole_add(dbt.cursor, now);
			}
			dbt.gap_since = 0;
			dbt.cursor = id;
			dbt_forward(r, i);
		}
		db_res_free(r);
	} while (i == rows && rows == DBT_TAIL_BATCH);
	if (dbt_holes(now) == -1)
		dbt_failed("reading late events");
}

/*
 * Run the jobs in the order they came, stopping at the first that failed
 * because the database is away: it and the rest wait for the next try.
 */
static void
dbt_jobs(void)
{
	struct job	*j;
	int		 rc, n;

	if (!TAILQ_EMPTY(&dbt.pending))
		dbt_busy();
	while ((j = TAILQ_FIRST(&dbt.pending)) != NULL) {
		/* Queued behind a connect whose key was refused: dropped. */
		if (j->type != JOB_GONE && dbt_is_refused(j->conn)) {
			TAILQ_REMOVE(&dbt.pending, j, entry);
			job_free(j);
			continue;
		}
		if (dbt_is_report(j)) {
			n = dbt_reports(j);
			if (n == -1)
				return;
			while (n-- > 0 && (j = TAILQ_FIRST(&dbt.pending)) !=
			    NULL) {
				TAILQ_REMOVE(&dbt.pending, j, entry);
				job_free(j);
			}
			continue;
		}
		switch (j->type) {
		case JOB_CONNECT:
			rc = dbt_connect(j);
			break;
		case JOB_GONE:
			rc = dbt_gone(j);
			break;
		case JOB_KEY_ACK:
			rc = dbt_key_ack(j);
			break;
		default:
			rc = 0;
			break;
		}
		if (rc == -1)
			return;
		TAILQ_REMOVE(&dbt.pending, j, entry);
		job_free(j);
	}
}

/* ----------------------------------------------------------------- timers */

static void
dbt_touch_one(struct idmap_node *e, void *arg)
{
	const char	***pp = arg;

	*(*pp)++ = (const char *)e->key;
}

/*
 * One batch of each kind per poll while there is more, so results and
 * claims go on between batches; a line once a sweep deleted something.
 */
static void
dbt_retain(long long now)
{
	struct retention_counts	*c = &dbt.retained;
	size_t			 ex = c->executions, ev = c->events,
				 wk = c->workers;
	char			 workers[96] = "";

	c->more = 0;
	if (retention_sweep(dbt.db, dbt.cfg->retention_days,
	    dbt.cfg->worker_prune_days, RETENTION_BATCH, c) == -1) {
		dbt_failed("deleting old rows");
		c->more = 0;
	}
	dbt.retain_rounds++;
	dbt.retain_ms += server_now_ms() - now;
	metrics_retention(c->executions - ex, c->events - ev,
	    c->workers - wk);
	if (c->more) {
		dbt.next_retain = now + DBT_RETAIN_MORE_MS;
		return;
	}
	dbt.next_retain = now + (long long)dbt.cfg->retention_interval_s *
	    1000;
	if (dbt.cfg->worker_prune_days > 0)
		snprintf(workers, sizeof(workers), ", %zu worker%s offline "
		    "for over %d days", c->workers, c->workers == 1 ? "" : "s",
		    dbt.cfg->worker_prune_days);
	if (c->executions + c->events + c->workers > 0)
		log_info("retention: deleted %zu execution%s and %zu event%s "
		    "older than %d days%s (%zu round%s, %lld ms)",
		    c->executions, c->executions == 1 ? "" : "s", c->events,
		    c->events == 1 ? "" : "s", dbt.cfg->retention_days,
		    workers, dbt.retain_rounds, dbt.retain_rounds == 1 ? "" :
		    "s", dbt.retain_ms);
	memset(c, 0, sizeof(*c));
	dbt.retain_rounds = 0;
	dbt.retain_ms = 0;
}

/* Status counts, statuses as labels: [a-z_] only, 16 at most. */
static int
dbt_counts(const char *sql, const char *const *known,
    struct metrics_count *v, size_t *np)
{
	struct db_res	*r;
	size_t		 i, k, n = 0;
	const char	*st;

	for (; *known != NULL && n < METRICS_STATUS_MAX; known++, n++) {
		strlcpy_p(v[n].status, *known, sizeof(v[n].status));
		v[n].n = 0;
	}
	if (db_exec(dbt.db, sql, &r, "") == -1)
		return -1;
	for (i = 0; i < db_res_rows(r); i++) {
		st = db_res_get(r, i, 0);
		if (st == NULL || st[0] == '\0' ||
		    strlen(st) >= sizeof(v[0].status) ||
		    st[strspn(st, "abcdefghijklmnopqrstuvwxyz_")] != '\0')
			continue;
		for (k = 0; k < n && strcmp(v[k].status, st) != 0; k++)
			;
		if (k == n) {
			if (n == METRICS_STATUS_MAX)
				continue;
			strlcpy_p(v[n++].status, st, sizeof(v[0].status));
		}
		v[k].n = db_res_int(r, i, 1, 0);
	}
	db_res_free(r);
	*np = n;
	return 0;
}

/*
 * What the metrics page shows from the database, read here every
 * DBT_METRICS_MS rather than per scrape; latencies of the commands that
 * finished since the last read (DBT_LATENCY_LAG behind, for late commits).
 */
static void
dbt_metrics(void)
{
	static const char *const wk[] = { "online", "offline", NULL };
	static const char *const ex[] = { "running", "waiting", "completed",
	    "failed", "cancelled", NULL };
	static const char *const di[] = { "queued", "sent", "running",
	    NULL };
	struct metrics_db	 m;
	struct db_res		*r;
	size_t			 i;
	char			 wm[32];

	memset(&m, 0, sizeof(m));
	if (dbt_counts(sql_m_workers, wk, m.workers, &m.nworkers) == -1 ||
	    dbt_counts(sql_m_executions, ex, m.executions,
	    &m.nexecutions) == -1 ||
	    dbt_counts(sql_m_dispatches, di, m.dispatches,
	    &m.ndispatches) == -1) {
		dbt_failed("reading counts for metrics");
		return;
	}
	for (i = 0; i < m.ndispatches; i++)
		if (strcmp(m.dispatches[i].status, "queued") == 0)
			m.queued = m.dispatches[i].n;
	metrics_db_set(&m);

	if (db_exec(dbt.db, sql_m_now, &r, "") == -1) {
		dbt_failed("reading the time");
		return;
	}
	wm[0] = '\0';
	if (db_res_rows(r) == 1 && db_res_get(r, 0, 0) != NULL)
		strlcpy_p(wm, db_res_get(r, 0, 0), sizeof(wm));
	db_res_free(r);
	if (dbt.latency_wm[0] == '\0' || wm[0] == '\0') {
		/* Only what finishes from now on. */
		strlcpy_p(dbt.latency_wm, wm, sizeof(dbt.latency_wm));
		return;
	}
	if (db_exec(dbt.db, sql_m_latency, &r, "ss", dbt.latency_wm, wm) ==
	    -1) {
		dbt_failed("reading command latencies");
		return;
	}
	for (i = 0; i < db_res_rows(r); i++) {
		if (db_res_get(r, i, 0) != NULL)
			metrics_dispatch(0, db_res_int(r, i, 0, 0) / 1e6);
		if (db_res_get(r, i, 1) != NULL)
			metrics_dispatch(1, db_res_int(r, i, 1, 0) / 1e6);
	}
	db_res_free(r);
	strlcpy_p(dbt.latency_wm, wm, sizeof(dbt.latency_wm));
}

static void
dbt_timers(long long now)
{
	const char		**ids, **p;
	struct dispatch_cmd	*cancels;
	size_t			 n;

	/* Every poll: a wait step of 10 s should last 10 s, not 11. */
	if (dispatch_due_waits(dbt.db, &dbt.advance) == -1)
		dbt_failed("waking wait steps");
	if (now >= dbt.next_timers) {
		dbt.next_timers = now + DBT_TIMERS_MS;
		if (dispatch_expire(dbt.db, dbt.grace_ms, &dbt.advance,
		    &cancels, &n) == -1)
			dbt_failed("expiring commands");
		/* Past its deadline: the worker stops it, if it runs. */
		dbt_send_cmds(cancels, n, 0);
	}
	if (dbt.detach_at == 0)
		dbt.detach_at = now + DBT_REATTACH_MS;
	if (!dbt.detached && now >= dbt.detach_at) {
		/*
		 * Attached here by a pushd of this node that died, and not
		 * back within a minute: no command channel. Not at once: a
		 * restarted pushd has its workers back in seconds, and steps
		 * that start meanwhile should wait for them, not skip them.
		 */
		if (dispatch_worker_detach_others(dbt.db, dbt.node, dbt_held,
		    NULL, &n) == -1)
			dbt_failed("detaching workers of an earlier run");
		else {
			dbt.detached = 1;
			if (n > 0)
				log_info("%zu worker%s of an earlier run "
				    "detached until they reconnect", n,
				    n == 1 ? "" : "s");
		}
	}
	if (now >= dbt.next_stale) {
		dbt.next_stale = now + DBT_STALE_MS;
		if (dispatch_workers_stale(dbt.db, dbt.cfg->worker_stale_s,
		    &n) == -1)
			dbt_failed("marking stale workers offline");
		else if (n > 0)
			log_info("%zu silent worker%s marked offline", n,
			    n == 1 ? "" : "s");
	}
	if (now >= dbt.next_touch) {
		dbt.next_touch = now + DBT_TOUCH_MS;
		dbt_untrusted();
		ids = p = xreallocarray(NULL, dbt.held.n + 1, sizeof(*ids));
		idmap_each(&dbt.held, dbt_touch_one, &p);
		if (dispatch_worker_touch(dbt.db, dbt.node, ids,
		    dbt.held.n) == -1)
			dbt_failed("refreshing worker heartbeats");
		free(ids);
	}
	if (now >= dbt.next_sweep) {
		dbt.next_sweep = now + DBT_SWEEP_MS;
		if (dispatch_sweep(dbt.db, DBT_SWEEP_IDLE_S, &dbt.advance) ==
		    -1)
			dbt_failed("sweeping executions");
	}
	if (now >= dbt.next_retain)
		dbt_retain(now);
	if (now >= dbt.next_metrics) {
		dbt.next_metrics = now + DBT_METRICS_MS;
		dbt_metrics();
	}
}

/* ------------------------------------------------------------------ thread */

static void *
dbt_main(void *arg)
{
	struct timespec	 ts, t0, t1;
	struct job	*j;
	long long	 now, stop_by = 0, next_poll = 0, wait;
	size_t		 njobs = 0;
	int		 stopped;

	(void)arg;
	mysql_thread_init();
	for (;;) {
		/* Sleep until the next poll, a retry, or a job. */
		now = server_now_ms();
		wait = next_poll - now;
		if (dbt.retry_at > now)
			wait = dbt.retry_at - now;
		else if (!TAILQ_EMPTY(&dbt.pending))
			wait = 0;
		stopped = jobs_take(&dbt.pending, wait < 0 ? 0 : (int)wait);
		now = server_now_ms();
		/*
		 * The backlog as it stands before this round works on it
		 * (the metric read 0 through a four-hour backlog when it was
		 * counted after the work; issue 12); jobs_depth() adds what
		 * came since.
		 */
		TAILQ_FOREACH(j, &dbt.pending, entry)
			njobs++;
		metrics_db_jobs(njobs);
		njobs = 0;
		if (stopped && stop_by == 0)
			stop_by = now + PUSHD_STOP_MS - 500;
		/*
		 * With the database away, waiting for it only delays the
		 * exit to the last moment (9 s seen under load, against a
		 * 10 s bound): the workers send unacknowledged results again.
		 */
		if (stopped && (now >= stop_by || dbt.away))
			break;
		if (dbt.retry_at > now) {
			/* jobs_take() no longer waits once stopped. */
			if (stopped) {
				ts.tv_sec = 0;
				ts.tv_nsec = (dbt.retry_at - now) * 1000000;
				nanosleep(&ts, NULL);
			}
			continue;
		}
		dbt.retry_at = 0;
		dbt_jobs();
		dbt_advance();
		if (stopped) {
			/* What came before the stop is done: nothing new. */
			if (TAILQ_EMPTY(&dbt.pending))
				break;
			continue;
		}
		if (dbt.retry_at != 0)
			continue;
		if (now < dbt.busy_until &&
		    next_poll > now + dbt.cfg->poll_busy_ms)
			next_poll = now + dbt.cfg->poll_busy_ms;
		if (now >= next_poll) {
			next_poll = now + (now < dbt.busy_until ?
			    dbt.cfg->poll_busy_ms : dbt.cfg->poll_interval_ms);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			dbt_trust();
			dbt_claim(1);
			dbt_tail();
			dbt_timers(now);
			dbt_advance();
			clock_gettime(CLOCK_MONOTONIC, &t1);
			metrics_poll((double)(t1.tv_sec - t0.tv_sec) +
			    (t1.tv_nsec - t0.tv_nsec) / 1e9);
		}
		/* An advance queued commands: send them now, not next poll. */
		if (dbt.claim_now)
			dbt_claim(0);
		if (dbt.away && dbt.retry_at == 0) {
			log_info("database reachable again");
			dbt.away = 0;
		}
	}
	if (!TAILQ_EMPTY(&dbt.pending))
		log_warnx("stopping with database work undone: the workers "
		    "send their results again");
	while ((j = TAILQ_FIRST(&dbt.pending)) != NULL) {
		TAILQ_REMOVE(&dbt.pending, j, entry);
		job_free(j);
	}
	dispatch_ids_clear(&dbt.advance);
	idmap_free(&dbt.held);
	idmap_free(&dbt.refused);
	db_free(dbt.db);
	dbt.db = NULL;
	mysql_thread_end();
	outs_push(out_new(OUT_DB_DONE, 0));
	return NULL;
}

int
dbthread_start(const struct config *cfg, const char *node)
{
	int		 rc;

	memset(&dbt, 0, sizeof(dbt));
	dbt.cfg = cfg;
	strlcpy_p(dbt.node, node, sizeof(dbt.node));
	dbt.grace_ms = cfg->dispatch_grace_ms;
	TAILQ_INIT(&dbt.pending);
	idmap_init(&dbt.held);
	idmap_init(&dbt.refused);
	dbt.db = db_new_config(cfg);
	rc = pthread_create(&dbt.thread, NULL, dbt_main, NULL);
	if (rc != 0) {
		errno = rc;
		log_warn("pthread_create");
		db_free(dbt.db);
		idmap_free(&dbt.held);
		idmap_free(&dbt.refused);
		return -1;
	}
	dbt.started = 1;
	return 0;
}

/* Wait up to wait_ms for the thread: 0 once joined, -1 if still busy. */
int
dbthread_join(int wait_ms)
{
	if (!dbt.started)
		return 0;
	if (thread_join_ms(dbt.thread, wait_ms) == -1)
		return -1;
	dbt.started = 0;
	return 0;
}
