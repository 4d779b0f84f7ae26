/*
 * The notification outbox: rows written with the event that causes them
 * (notify_execution, inside the engine's transaction) and moved on only by
 * pushd's delivery thread (notify_claim, notify_settle) or an
 * administrator's retry. The message itself is built when it is sent, from
 * the payload stored here (pushd/notifier.c).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "id.h"
#include "notify.h"
#include "pjson.h"
#include "pulse-limits.h"
#include "xmalloc.h"

#define NOTIFY_STR_(x)	#x
#define NOTIFY_STR(x)	NOTIFY_STR_(x)

static const char *const event_names[NOTIFY_EVENT_COUNT] = {
	"failed", "completed", "prompt", "approval",
};

const char *const notify_channel_types[] = {
	"slack", "discord", "webhook", "email", NULL,
};

static const char sql_exec[] =
    "SELECT JSON_EXTRACT(e.definition, '$.notify'), w.name, e.started_by, "
    "e.status, e.error FROM executions e "
    "LEFT JOIN workflows w ON w.id = e.workflow_id WHERE e.id = ?";
static const char sql_step[] =
    "SELECT name FROM execution_steps WHERE execution_id = ? AND status = ? "
    "ORDER BY step_index LIMIT 1";
/* By id or by name, as the rule was written: the id first, so a rule
 * names one channel only; a channel deleted or disabled since the
 * workflow was saved gets nothing. */
static const char sql_channel[] =
    "SELECT id, enabled FROM channels WHERE id = COALESCE("
    "(SELECT id FROM channels WHERE id = ?), "
    "(SELECT id FROM channels WHERE name = ?))";
static const char sql_queue[] =
    "INSERT INTO notifications (channel_id, event, execution_id, payload, "
    "delivery_id, expires_at) VALUES (?, ?, ?, ?, ?, "
    "NOW(3) + INTERVAL " NOTIFY_STR(NOTIFY_GIVE_UP_S) " SECOND)";
static const char sql_retry[] =
    "UPDATE notifications SET status = 'pending', next_try_at = NOW(3), "
    "attempts = 0, "
    "expires_at = NOW(3) + INTERVAL " NOTIFY_STR(NOTIFY_GIVE_UP_S) " SECOND, "
    "locked_by = NULL, locked_at = NULL "
    "WHERE id = ? AND status IN ('failed', 'dead')";
/* Due: pending and its time come, or held by a pushd gone for
 * NOTIFY_RECLAIM_S. The claim's UPDATE checks it again (SKIP LOCKED
 * readers may race with a settle that just committed). */
#define NOTIFY_DUE \
    "((status = 'pending' AND next_try_at <= NOW(3)) OR " \
    "(status = 'delivering' AND locked_at < NOW(3) - INTERVAL " \
    NOTIFY_STR(NOTIFY_RECLAIM_S) " SECOND))"
/*
 * At most NOTIFY_CHANNEL_INFLIGHT_MAX of one channel in flight (counting
 * those held now), the rest of the batch for the others: a receiver that
 * hangs delays only its own messages (DESIGN section 11), not every
 * channel's behind its backlog.
 */
static const char sql_due[] =
    "SELECT id FROM notifications WHERE " NOTIFY_DUE " AND id IN ("
    "SELECT t.id FROM (SELECT n.id, COALESCE(h.held, 0) + ROW_NUMBER() "
    "OVER (PARTITION BY n.channel_id ORDER BY n.next_try_at, n.id) AS slot "
    "FROM notifications n LEFT JOIN (SELECT channel_id, COUNT(*) AS held "
    "FROM notifications WHERE status = 'delivering' AND locked_at >= "
    "NOW(3) - INTERVAL " NOTIFY_STR(NOTIFY_RECLAIM_S) " SECOND "
    "GROUP BY channel_id) h ON h.channel_id = n.channel_id "
    "WHERE " NOTIFY_DUE ") t WHERE t.slot <= "
    NOTIFY_STR(NOTIFY_CHANNEL_INFLIGHT_MAX) ") "
    "ORDER BY next_try_at LIMIT ? FOR UPDATE SKIP LOCKED";
/* Galera: SKIP LOCKED only spreads the rows between pushd on one node;
 * the take is conditional (NOTIFY_DUE again), its count checked, and it
 * always changes the row (attempts + 1): two nodes taking one row both
 * write it, and the later is aborted at COMMIT and rerun. A reclaim of a
 * dead pushd's row is the same take. The per-channel cap is counted per
 * node: with two pushd a channel may have twice as many in flight. */
static const char sql_take[] =
    "UPDATE notifications SET status = 'delivering', locked_by = ?, "
    "locked_at = NOW(3), attempts = attempts + 1 WHERE id = ? AND "
    NOTIFY_DUE;
static const char sql_job[] =
    "SELECT n.attempts, c.type, c.name, c.url, c.secret, c.email_to, "
    "n.event, n.payload, n.delivery_id FROM notifications n "
    "JOIN channels c ON c.id = n.channel_id WHERE n.id = ?";
/* A channel deleted while its message waited: nothing to send it to. */
static const char sql_orphan[] =
    "UPDATE notifications SET status = 'failed', locked_by = NULL, "
    "last_error = 'the channel was deleted' WHERE id = ? AND locked_by = ?";
static const char sql_delivered[] =
    "UPDATE notifications SET status = 'delivered', delivered_at = NOW(3), "
    "last_error = NULL, locked_by = NULL WHERE id = ? AND "
    "status = 'delivering' AND locked_by = ?";
static const char sql_later[] =
    "UPDATE notifications SET status = IF(NOW(3) + INTERVAL ? * 1000 "
    "MICROSECOND >= expires_at, 'dead', 'pending'), "
    "next_try_at = NOW(3) + INTERVAL ? * 1000 MICROSECOND, last_error = ?, "
    "locked_by = NULL WHERE id = ? AND status = 'delivering' AND "
    "locked_by = ?";
static const char sql_refused[] =
    "UPDATE notifications SET status = 'failed', last_error = ?, "
    "locked_by = NULL WHERE id = ? AND status = 'delivering' AND "
    "locked_by = ?";
/* Retention: final rows past RETENTION_DAYS, and final rows of an
 * execution deleted meanwhile (by retention or by hand): one statement
 * each, nothing cascades from a notification. */
static const char sql_prune_old[] =
    "DELETE FROM notifications WHERE status IN ('delivered', 'failed', "
    "'dead') AND created_at < NOW(3) - INTERVAL ? DAY LIMIT ?";
static const char sql_prune_orphans[] =
    "DELETE FROM notifications WHERE status IN ('delivered', 'failed', "
    "'dead') AND execution_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
    "executions e WHERE e.id = notifications.execution_id) LIMIT ?";
static const char sql_test[] =
    "INSERT INTO notifications (channel_id, event, payload, delivery_id, "
    "expires_at) VALUES (?, 'test', ?, ?, "
    "NOW(3) + INTERVAL " NOTIFY_STR(NOTIFY_GIVE_UP_S) " SECOND)";

const char *
notify_event_name(enum notify_event e)
{
	return (unsigned)e < NOTIFY_EVENT_COUNT ? event_names[e] : "unknown";
}

int
notify_event_from(const char *s, enum notify_event *out)
{
	int	 i;

	if (s == NULL)
		return -1;
	for (i = 0; i < NOTIFY_EVENT_COUNT; i++)
		if (strcmp(s, event_names[i]) == 0) {
			*out = (enum notify_event)i;
			return 0;
		}
	return -1;
}

/* Does rule (an element of the stored `notify`) listen to event? */
static int
rule_wants(struct json_object *rule, const char *event, const char **channel)
{
	struct json_object	*on, *ch, *v;
	size_t			 i, n;

	if (!json_object_object_get_ex(rule, "channel", &ch) ||
	    !json_object_is_type(ch, json_type_string) ||
	    !json_object_object_get_ex(rule, "on", &on) ||
	    !json_object_is_type(on, json_type_array))
		return 0;
	*channel = json_object_get_string(ch);
	n = json_object_array_length(on);
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(on, i);
		if (json_object_is_type(v, json_type_string) &&
		    strcmp(json_object_get_string(v), event) == 0)
			return 1;
	}
	return 0;
}

static void
add_str(struct json_object *o, const char *key, const char *val)
{
	json_object_object_add(o, key, val == NULL ? NULL :
	    json_object_new_string(val));
}

/* "at": when the event happened, ISO-8601 UTC with milliseconds. */
static void
add_now(struct json_object *o)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 buf[96];	/* what -Wformat-truncation counts */
	time_t		 t;

	clock_gettime(CLOCK_REALTIME, &ts);
	t = ts.tv_sec;
	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	json_object_object_add(o, "at", json_object_new_string(buf));
}

/* The payload every message of this event is built from. */
static struct json_object *
payload_new(struct db *db, const char *exec_id, const char *event,
    const struct db_res *ex)
{
	struct json_object	*p = json_object_new_object();
	struct db_res		*res = NULL;
	const char		*status = NULL;

	add_str(p, "event", event);
	add_str(p, "execution_id", exec_id);
	add_str(p, "workflow_name", db_res_get(ex, 0, 1));
	add_str(p, "started_by", db_res_get(ex, 0, 2));
	add_str(p, "status", db_res_get(ex, 0, 3));
	add_now(p);
	if (strcmp(event, "failed") == 0) {
		add_str(p, "error", db_res_get(ex, 0, 4));
		status = "failed";
	} else if (strcmp(event, "prompt") == 0)
		status = "waiting";
	if (status != NULL &&
	    db_exec(db, sql_step, &res, "ss", exec_id, status) == 0 &&
	    db_res_rows(res) > 0)
		add_str(p, "step", db_res_get(res, 0, 0));
	db_res_free(res);
	return p;
}

int
notify_execution(struct db *db, const char *exec_id, enum notify_event ev)
{
	struct db_res		*res = NULL, *ch = NULL;
	struct json_object	*rules = NULL, *payload = NULL;
	const char		*event = notify_event_name(ev), *channel;
	const char		*text, *s;
	char			 did[ID_LEN + 1];
	char			 sent[NOTIFY_RULES_MAX][ID_LEN + 1];
	size_t			 i, j, n, len, nsent = 0;
	int			 rc = -1;

	if (db_exec(db, sql_exec, &res, "s", exec_id) == -1)
		return -1;
	if (db_res_rows(res) == 0 || (s = db_res_get(res, 0, 0)) == NULL) {
		rc = 0;
		goto out;
	}
	/* Checked when the workflow was saved; still read with care. */
	rules = pjson_parse(s, db_res_len(res, 0, 0), 8, NULL, 0);
	if (rules == NULL || !json_object_is_type(rules, json_type_array)) {
		rc = 0;
		goto out;
	}
	n = json_object_array_length(rules);
	if (n > NOTIFY_RULES_MAX)
		n = NOTIFY_RULES_MAX;
	for (i = 0; i < n; i++) {
		if (!rule_wants(json_object_array_get_idx(rules, i), event,
		    &channel))
			continue;
		if (db_exec(db, sql_channel, &ch, "ss", channel, channel) == -1)
			goto out;
		if (db_res_rows(ch) == 0 || db_res_int(ch, 0, 1, 0) == 0) {
			db_res_free(ch);
			continue;
		}
		/* One message an event a channel, however many rules name
		 * it (a workflow saved before that was refused). */
		for (j = 0; j < nsent; j++)
			if (strcmp(sent[j], db_res_get(ch, 0, 0)) == 0)
				break;
		if (j < nsent) {
			db_res_free(ch);
			continue;
		}
		snprintf(sent[nsent++], sizeof(sent[0]), "%s",
		    db_res_get(ch, 0, 0));
		db_res_free(ch);
		if (payload == NULL)
			payload = payload_new(db, exec_id, event, res);
		text = pjson_str(payload, &len);
		id_new(did);
		if (db_exec(db, sql_queue, NULL, "sssbs", sent[nsent - 1],
		    event, exec_id, text, len, did) == -1)
			goto out;
	}
	rc = 0;
out:
	json_object_put(payload);
	json_object_put(rules);
	db_res_free(res);
	return rc;
}

int
notify_test(struct db *db, const char *channel_id, const char *user,
    long long *id_out)
{
	struct json_object	*p = json_object_new_object();
	const char		*text;
	char			 did[ID_LEN + 1];
	size_t			 len;
	int			 rc;

	add_str(p, "event", "test");
	add_str(p, "started_by", user);
	add_now(p);
	text = pjson_str(p, &len);
	id_new(did);
	rc = db_exec(db, sql_test, NULL, "sbs", channel_id, text, len, did);
	json_object_put(p);
	if (rc == 0 && id_out != NULL)
		*id_out = (long long)db_insert_id(db);
	return rc;
}

int
notify_retry(struct db *db, long long id)
{
	if (db_exec(db, sql_retry, NULL, "i", id) == -1)
		return -1;
	return db_affected(db) == 0 ? 1 : 0;
}

void
notify_job_clear(struct notify_job *j)
{
	free(j->type);
	free(j->channel);
	free(j->url);
	free(j->secret);
	free(j->email_to);
	free(j->event);
	free(j->payload);
	free(j->delivery_id);
	memset(j, 0, sizeof(*j));
}

static char *
dup_cell(const struct db_res *r, size_t col)
{
	const char	*s = db_res_get(r, 0, col);

	return s == NULL ? NULL : xstrdup(s);
}

struct claim {
	const char	*node;
	size_t		 max;
	long long	*ids;
	size_t		 n;
};

static int
claim_txn(struct db *db, void *arg)
{
	struct claim	*c = arg;
	struct db_res	*res;
	size_t		 i, rows;

	c->n = 0;
	if (db_exec(db, sql_due, &res, "i", (long long)c->max) == -1)
		return -1;
	rows = db_res_rows(res);
	for (i = 0; i < rows && i < c->max; i++) {
		long long id = db_res_int(res, i, 0, -1);

		if (db_exec(db, sql_take, NULL, "si", c->node, id) == -1) {
			db_res_free(res);
			return -1;
		}
		if (db_affected(db) == 1)
			c->ids[c->n++] = id;
	}
	db_res_free(res);
	return 0;
}

int
notify_claim(struct db *db, const char *node, size_t max,
    struct notify_job **jobs, size_t *n)
{
	struct claim		 c = { node, max, NULL, 0 };
	struct notify_job	*out;
	struct db_res		*res;
	size_t			 i;

	*jobs = NULL;
	*n = 0;
	if (max == 0)
		return 0;
	c.ids = xcalloc(max, sizeof(*c.ids));
	if (db_txn(db, claim_txn, &c) == -1) {
		free(c.ids);
		return -1;
	}
	out = xcalloc(c.n ? c.n : 1, sizeof(*out));
	for (i = 0; i < c.n; i++) {
		if (db_exec(db, sql_job, &res, "i", c.ids[i]) == -1)
			goto fail;
		if (db_res_rows(res) == 0) {
			db_res_free(res);
			if (db_exec(db, sql_orphan, NULL, "is", c.ids[i],
			    node) == -1)
				goto fail;
			continue;
		}
		out[*n].id = c.ids[i];
		out[*n].attempts = (int)db_res_int(res, 0, 0, 1);
		out[*n].type = dup_cell(res, 1);
		out[*n].channel = dup_cell(res, 2);
		out[*n].url = dup_cell(res, 3);
		out[*n].secret = dup_cell(res, 4);
		out[*n].email_to = dup_cell(res, 5);
		out[*n].event = dup_cell(res, 6);
		out[*n].payload = dup_cell(res, 7);
		out[*n].delivery_id = dup_cell(res, 8);
		(*n)++;
		db_res_free(res);
	}
	free(c.ids);
	*jobs = out;
	return 0;
fail:
	/* Claimed rows not read come back after NOTIFY_RECLAIM_S. */
	for (i = 0; i < *n; i++)
		notify_job_clear(&out[i]);
	free(out);
	free(c.ids);
	*n = 0;
	return -1;
}

int
notify_settle(struct db *db, const char *node, long long id,
    enum notify_outcome outcome, long long delay_ms, const char *error)
{
	int	 rc;

	switch (outcome) {
	case NOTIFY_DELIVERED:
		rc = db_exec(db, sql_delivered, NULL, "is", id, node);
		break;
	case NOTIFY_RETRY:
		rc = db_exec(db, sql_later, NULL, "iisis", delay_ms, delay_ms,
		    error, id, node);
		break;
	default:
		rc = db_exec(db, sql_refused, NULL, "sis", error, id, node);
		break;
	}
	if (rc == -1)
		return -1;
	return db_affected(db) == 0 ? 1 : 0;
}

int
notify_prune(struct db *db, int days, size_t limit, size_t *deleted)
{
	if (db_exec(db, sql_prune_old, NULL, "ii", (long long)days,
	    (long long)limit) == -1)
		return -1;
	*deleted += (size_t)db_affected(db);
	if (db_exec(db, sql_prune_orphans, NULL, "i", (long long)limit) == -1)
		return -1;
	*deleted += (size_t)db_affected(db);
	return 0;
}
