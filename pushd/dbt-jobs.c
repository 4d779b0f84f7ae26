/*
 * The db thread's jobs, what the loop hands it in order: a worker's
 * connect (its key checked, its commands sent again), its socket gone,
 * a key acknowledged, and the reports (starts, output, results) recorded
 * in batches, each answered only after the commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "db.h"
#include "dbt.h"
#include "dispatch.h"
#include "log.h"
#include "pjson.h"
#include "registry.h"
#include "xmalloc.h"

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
	dbt_load_attached(j->w.id);
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
	dbt_load_gone(j->worker_id);
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

/*
 * Run the jobs in the order they came, stopping at the first that failed
 * because the database is away: it and the rest wait for the next try.
 */
void
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
