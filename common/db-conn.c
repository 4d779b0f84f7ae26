/*
 * The MariaDB layer's connections: the DB_HOST list, opening one with the
 * session settings, Galera readiness, which node to try next, and when a
 * failure is worth a second try (db.c runs the statements on them).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "config.h"
#include "db.h"
#include "db-int.h"
#include "xmalloc.h"

long long
db_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Process-wide: set once at start-up, before any thread. */
static void	(*db_node_hook)(const char *);

static char *
dupornull(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

void
db_set_node_hook(void (*fn)(const char *))
{
	db_node_hook = fn;
}

/* The list is checked at config load; a bad one here (a caller of
 * db_new that did not load it) leaves no host, and connecting says why. */
static void
db_hosts_parse(struct db *db)
{
	struct config_db_host	 h[CONFIG_DB_HOSTS_MAX];
	size_t			 i;

	if (config_db_hosts(db->p.host != NULL ? db->p.host : "",
	    db->p.port, h, &db->nhosts, db->hosts_err,
	    sizeof(db->hosts_err)) == -1) {
		db->nhosts = 0;
		return;
	}
	for (i = 0; i < db->nhosts; i++)
		db->hosts[i].h = h[i];
}

struct db *
db_new(const struct db_params *p)
{
	struct db	*db = xcalloc(1, sizeof(*db));

	db->p.host = dupornull(p->host);
	db->p.port = p->port;
	db->p.socket = (p->socket != NULL && *p->socket != '\0') ?
	    xstrdup(p->socket) : NULL;
	db->p.user = dupornull(p->user);
	db->p.password = dupornull(p->password);
	db->p.name = dupornull(p->name);
	db->p.timeout = p->timeout ? p->timeout : 5;
	db->p.wsrep_sync_wait = p->wsrep_sync_wait;
	db->cur = db->last = -1;
	db->rnd = (unsigned)db_ms() ^ (unsigned)getpid() << 16 ^
	    (unsigned)(uintptr_t)db;
	if (db->rnd == 0)
		db->rnd = 1;
	if (db->p.socket == NULL)
		db_hosts_parse(db);
	return db;
}

void
db_disconnect(struct db *db)
{
	size_t	 i;

	for (i = 0; i < db->nstmts; i++)
		if (db->stmts[i].st != NULL)
			mysql_stmt_close(db->stmts[i].st);
	free(db->stmts);
	db->stmts = NULL;
	db->nstmts = 0;
	if (db->my != NULL)
		mysql_close(db->my);
	db->my = NULL;
	/* A node that says it cannot serve goes last for DB_HOST_HOLD_S
	 * (so does one that timed out: db_timed_out). A connection merely
	 * lost does not mark its node: if the node is down, reconnecting
	 * is refused at once and marks it then. */
	if (db->cur >= 0 && (db->errcode == DB_WSREP_NOT_READY ||
	    db->errcode == ER_SERVER_SHUTDOWN))
		db->hosts[db->cur].failed_at = db_ms();
	db->cur = -1;
	db->node[0] = '\0';
	db->connected = 0;
	db->in_txn = 0;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free((char *)db->p.host);
	free((char *)db->p.socket);
	free((char *)db->p.user);
	if (db->p.password != NULL)
		explicit_bzero((char *)db->p.password, strlen(db->p.password));
	free((char *)db->p.password);
	free((char *)db->p.name);
	free(db);
}

/* Session settings every connection gets, so all processes agree. */
static const char *const session_sql[] = {
	"SET SESSION time_zone = '+00:00'",
	"SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,"
	    "ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE'",
	"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
	"SET SESSION innodb_lock_wait_timeout = 10",
};

/*
 * Did a call that failed with a connection error take the whole time-out?
 * A restarted server fails a call in milliseconds, a frozen one (or a
 * network gone quiet) only when the time-out ends: half of it tells the
 * two apart with room for a slow machine. After a time-out, connecting
 * fails at once for DB_HOLD_MS: a pulse-api child then answers the
 * requests queued behind it with 503 at once, instead of making each wait
 * out its own time-out (48 requests on 4 children took 58 s, nearly
 * nginx's 60 s).
 */
int
db_timed_out(struct db *db, long long since)
{
	if (db_ms() - since < (long long)db->p.timeout * 500)
		return 0;
	db->hold_until = db_ms() + DB_HOLD_MS;
	if (db->cur >= 0)
		db->hosts[db->cur].failed_at = db_ms();
	return 1;
}

/*
 * Whether such a call is worth repeating on a new connection: only when a
 * connection that was open died at once. One that could not be opened,
 * or a time-out, would only double the wait of a caller who gets an
 * error all the same.
 */
int
db_worth_retry(struct db *db, int was_up, long long since)
{
	int	 slow = db_timed_out(db, since);

	/* With a list, the next try goes to another node (the one that
	 * timed out goes last): one more try costs no second time-out. */
	return was_up && (!slow || db->nhosts > 1);
}

/*
 * On a Galera node (@@wsrep_on = 1), require it to be Synced, ready for
 * clients and not told to reject queries (an operator draining it), then
 * set this session's wsrep_sync_wait. A server without the variables
 * (built without wsrep) or with wsrep_on = 0 is not Galera. Both
 * statements touch no table, which a node that is not ready still
 * answers (checked on a three-node cluster: a node cut off from the
 * others says wsrep_ready OFF, state Initialized, and 1047 to any
 * statement on a table); an error of either counts as "not ready".
 */
static int
galera_check(struct db *db)
{
	static const char sql_on[] =
	    "SELECT @@GLOBAL.wsrep_on, @@GLOBAL.wsrep_reject_queries";
	static const char sql_status[] = "SHOW GLOBAL STATUS WHERE "
	    "Variable_name IN ('wsrep_ready', 'wsrep_local_state_comment')";
	MYSQL_RES	*r;
	MYSQL_ROW	 row;
	char		 ready[32] = "?", state[64] = "?", set[64];
	int		 on;

	if (mysql_query(db->my, sql_on) != 0) {
		if (mysql_errno(db->my) == ER_UNKNOWN_SYSTEM_VARIABLE)
			return 0;
		db_err_mysql(db);
		return -1;
	}
	if ((r = mysql_store_result(db->my)) == NULL) {
		db_err_mysql(db);
		return -1;
	}
	row = mysql_fetch_row(r);
	on = row != NULL && row[0] != NULL && strcmp(row[0], "1") == 0;
	if (on && (row[1] == NULL || strcmp(row[1], "NONE") != 0)) {
		db_seterr(db, DB_WSREP_NOT_READY, "Galera node rejects "
		    "queries (wsrep_reject_queries %s)", row[1] ? row[1] : "?");
		mysql_free_result(r);
		return -1;
	}
	mysql_free_result(r);
	if (!on)
		return 0;
	if (mysql_query(db->my, sql_status) != 0 ||
	    (r = mysql_store_result(db->my)) == NULL) {
		db_err_mysql(db);
		return -1;
	}
	while ((row = mysql_fetch_row(r)) != NULL) {
		if (row[0] == NULL || row[1] == NULL)
			continue;
		if (strcasecmp(row[0], "wsrep_ready") == 0)
			snprintf(ready, sizeof(ready), "%s", row[1]);
		else if (strcasecmp(row[0], "wsrep_local_state_comment") == 0)
			snprintf(state, sizeof(state), "%s", row[1]);
	}
	mysql_free_result(r);
	if (strcmp(ready, "ON") != 0 || strcmp(state, "Synced") != 0) {
		db_seterr(db, DB_WSREP_NOT_READY, "Galera node not ready for "
		    "clients: wsrep_ready %s, state %s", ready, state);
		return -1;
	}
	/* A number from config (0-15): nothing to bind. */
	snprintf(set, sizeof(set), "SET SESSION wsrep_sync_wait = %u",
	    db->p.wsrep_sync_wait);
	return db_simple_query(db, set);
}

/*
 * Open one connection to host:port (host NULL: the socket) with the
 * session settings; -1 with the error set and nothing left open.
 */
static int
db_open(struct db *db, const char *host, unsigned port)
{
	unsigned	 t = db->p.timeout;
	size_t		 i;

	if ((db->my = mysql_init(NULL)) == NULL) {
		db_seterr(db, CR_OUT_OF_MEMORY, "mysql_init failed");
		return -1;
	}
	mysql_options(db->my, MYSQL_OPT_CONNECT_TIMEOUT, &t);
	mysql_options(db->my, MYSQL_OPT_READ_TIMEOUT, &t);
	mysql_options(db->my, MYSQL_OPT_WRITE_TIMEOUT, &t);
	mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* Affected rows = matched rows: status changes check their count. */
	if (mysql_real_connect(db->my, host, db->p.user, db->p.password,
	    db->p.name, port, db->p.socket, CLIENT_FOUND_ROWS) == NULL) {
		db_seterr(db, mysql_errno(db->my), "connect: %s",
		    mysql_error(db->my));
		/* A refused login is not an outage, but it is fatal all the
		 * same for callers; keep the code so db_down() says "down". */
		if (!db_conn_error(db->errcode))
			db->errcode = CR_CONNECTION_ERROR;
		goto fail;
	}
	for (i = 0; i < sizeof(session_sql) / sizeof(session_sql[0]); i++)
		if (db_simple_query(db, session_sql[i]) == -1)
			goto fail;
	if (galera_check(db) == -1)
		goto fail;
	return 0;
fail:
	/* Whatever went wrong, this node is no good for now. */
	if (!db_conn_error(db->errcode))
		db->errcode = CR_CONNECTION_ERROR;
	mysql_close(db->my);
	db->my = NULL;
	return -1;
}

/* The node's "host:port" into db->node; the hook hears of a change. */
static void
db_on_node(struct db *db, int idx)
{
	const struct config_db_host *h = &db->hosts[idx].h;

	snprintf(db->node, sizeof(db->node), strchr(h->name, ':') != NULL ?
	    "[%s]:%u" : "%s:%u", h->name, h->port);
	db->hosts[idx].failed_at = 0;
	db->cur = idx;
	if (db->nhosts > 1 && idx != db->last && db_node_hook != NULL)
		db_node_hook(db->node);
	db->last = idx;
}

static int
db_held(struct db *db)
{
	db_seterr(db, CR_CONNECTION_ERROR, "connect: the server did not "
	    "answer within %u s a moment ago", db->p.timeout);
	return -1;
}

int
db_connect(struct db *db)
{
	int		 order[CONFIG_DB_HOSTS_MAX];
	size_t		 i, n = 0;
	long long	 since;
	int		 lately, held;

	if (db->connected)
		return 0;
	db_disconnect(db);
	since = db_ms();
	/* After a time-out, only the nodes that did not fail lately (with
	 * one node or a socket: none) are tried until the hold ends. */
	held = since < db->hold_until;
	if (held && db->p.socket != NULL) {
		return db_held(db);
	}
	if (db->p.socket != NULL) {
		if (db_open(db, NULL, 0) == -1) {
			db_timed_out(db, since);
			return -1;
		}
		snprintf(db->node, sizeof(db->node), "%s", db->p.socket);
		goto done;
	}
	if (db->nhosts == 0) {
		db_seterr(db, CR_CONNECTION_ERROR, "%s", db->hosts_err);
		return -1;
	}
	/* The list's order, but a node that failed lately goes last. */
	for (lately = 0; lately <= !held; lately++)
		for (i = 0; i < db->nhosts; i++)
			if ((db->hosts[i].failed_at != 0 && since -
			    db->hosts[i].failed_at < DB_HOST_HOLD_S * 1000) ==
			    lately)
				order[n++] = (int)i;
	if (n == 0) {
		return db_held(db);
	}
	for (i = 0; i < n; i++) {
		struct db_host	*h = &db->hosts[order[i]];

		if (db_open(db, h->h.name, h->h.port) == 0) {
			db_on_node(db, order[i]);
			goto done;
		}
		h->failed_at = db_ms();
	}
	db_timed_out(db, since);
	return -1;
done:
	db->connected = 1;
	db->txn_broken = 0;
	return 0;
}

const char *
db_current_host(const struct db *db)
{
	return db->connected ? db->node : "";
}

struct db *
db_new_config(const struct config *cfg)
{
	struct db_params	 p;

	memset(&p, 0, sizeof(p));
	p.host = cfg->db_host;
	p.port = (unsigned)cfg->db_port;
	p.socket = cfg->db_socket[0] != '\0' ? cfg->db_socket : NULL;
	p.user = cfg->db_user;
	p.password = cfg->db_password;
	p.name = cfg->db_name;
	p.timeout = (unsigned)cfg->db_timeout;
	p.wsrep_sync_wait = (unsigned)cfg->db_wsrep_sync_wait;
	return db_new(&p);
}
