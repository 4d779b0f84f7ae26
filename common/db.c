/*
 * The MariaDB layer. Connector/C's own auto-reconnect is not used: after a
 * server restart it reconnects silently and every prepared statement then
 * fails with 1243 (STACK-NOTES.md). Instead a lost connection is closed,
 * reopened, its statements re-prepared, and the statement retried once
 * when that is safe (outside a transaction).
 */
#include <errno.h>
#include <stdarg.h>
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
#include "xmalloc.h"

#define DB_PARAMS_MAX	32
#define DB_HOLD_MS	2000	/* after a time-out: fail at once */
#define DB_TXN_PAUSE_MS	5	/* db_txn's first pause; doubles */
#define DB_TXN_PAUSE_MAX 50
#define DB_NODE_MAX	(CONFIG_DB_HOSTNAME_MAX + 16)	/* "[name]:port" */

/* ER_UNKNOWN_COM_ERROR: what a Galera node that is not part of the
 * primary component (or rejects queries) answers to any statement. */
#define DB_WSREP_NOT_READY	1047

struct stmt {
	const char	*sql;		/* static text; the cache key */
	MYSQL_STMT	*st;
};

struct db_host {
	struct config_db_host	 h;
	long long		 failed_at;	/* ms; 0: not lately */
};

struct db {
	MYSQL			*my;
	struct db_params	 p;
	struct db_host		 hosts[CONFIG_DB_HOSTS_MAX];
	size_t			 nhosts;
	char			 hosts_err[256];	/* a bad list: why */
	int			 cur;		/* hosts[] connected to, or -1 */
	int			 last;		/* ... last connected to, or -1 */
	char			 node[DB_NODE_MAX];	/* db_current_host */
	unsigned		 rnd;		/* db_txn's jitter */
	int			 connected;
	int			 in_txn;
	int			 txn_broken;	/* connection lost inside a txn */
	int			 txn_slow;	/* ... after a whole time-out */
	int			 commit_unknown;	/* the last COMMIT's fate */
	long long		 hold_until;	/* no connecting before (ms) */

	struct stmt		*stmts;
	size_t			 nstmts;

	unsigned		 errcode;
	char			 errmsg[512];
	unsigned long long	 affected;
	unsigned long long	 insert_id;
};

struct db_cell {
	char	*v;
	size_t	 len;
};

struct db_res {
	size_t		 rows, cols, cap;
	struct db_cell	*cells;
};

/* Errors after which the connection is no good and must be reopened. */
static int
conn_error(unsigned code)
{
	switch (code) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_NO_PREPARE_STMT:
	case CR_COMMANDS_OUT_OF_SYNC:
	case ER_UNKNOWN_STMT_HANDLER:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
	case 4031:		/* ER_CLIENT_INTERACTION_TIMEOUT */
	/* A Galera node that left the primary component, or is not yet
	 * synced, refuses every statement with 1047: another node may
	 * well take it, so it is an outage of this node. */
	case DB_WSREP_NOT_READY:
		return 1;
	}
	return 0;
}

static long long
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

static void
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

void
db_seterr(struct db *db, unsigned code, const char *fmt, ...)
{
	va_list	 ap;

	db->errcode = code;
	va_start(ap, fmt);
	vsnprintf(db->errmsg, sizeof(db->errmsg), fmt, ap);
	va_end(ap);
}

unsigned
db_errcode(const struct db *db)
{
	return db->errcode;
}

const char *
db_errmsg(const struct db *db)
{
	return db->errmsg;
}

int
db_down(const struct db *db)
{
	return !db->connected || conn_error(db->errcode);
}

int
db_transient(const struct db *db)
{
	/* 1205 lock wait timeout, 1213 deadlock (after db_txn's retry). */
	return db_down(db) || db->errcode == 1205 || db->errcode == 1213;
}

static void
err_from_mysql(struct db *db)
{
	db_seterr(db, mysql_errno(db->my), "%s", mysql_error(db->my));
}

static void
err_from_stmt(struct db *db, MYSQL_STMT *st)
{
	db_seterr(db, mysql_stmt_errno(st), "%s", mysql_stmt_error(st));
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
static int
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
static int
db_worth_retry(struct db *db, int was_up, long long since)
{
	int	 slow = db_timed_out(db, since);

	/* With a list, the next try goes to another node (the one that
	 * timed out goes last): one more try costs no second time-out. */
	return was_up && (!slow || db->nhosts > 1);
}

static int
simple_query(struct db *db, const char *q)
{
	if (mysql_query(db->my, q) != 0) {
		err_from_mysql(db);
		return -1;
	}
	return 0;
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
		err_from_mysql(db);
		return -1;
	}
	if ((r = mysql_store_result(db->my)) == NULL) {
		err_from_mysql(db);
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
		err_from_mysql(db);
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
	return simple_query(db, set);
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
		if (!conn_error(db->errcode))
			db->errcode = CR_CONNECTION_ERROR;
		goto fail;
	}
	for (i = 0; i < sizeof(session_sql) / sizeof(session_sql[0]); i++)
		if (simple_query(db, session_sql[i]) == -1)
			goto fail;
	if (galera_check(db) == -1)
		goto fail;
	return 0;
fail:
	/* Whatever went wrong, this node is no good for now. */
	if (!conn_error(db->errcode))
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

static MYSQL_STMT *
stmt_get(struct db *db, const char *sql)
{
	MYSQL_STMT	*st;
	size_t		 i;

	for (i = 0; i < db->nstmts; i++)
		if (db->stmts[i].sql == sql)
			return db->stmts[i].st;
	if ((st = mysql_stmt_init(db->my)) == NULL) {
		err_from_mysql(db);
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		err_from_stmt(db, st);
		mysql_stmt_close(st);
		return NULL;
	}
	db->stmts = xreallocarray(db->stmts, db->nstmts + 1,
	    sizeof(*db->stmts));
	db->stmts[db->nstmts].sql = sql;
	db->stmts[db->nstmts].st = st;
	db->nstmts++;
	return st;
}

struct params {
	MYSQL_BIND	 bind[DB_PARAMS_MAX];
	long long	 ints[DB_PARAMS_MAX];
	unsigned long	 lens[DB_PARAMS_MAX];
	size_t		 n;
};

static int
params_bind(struct db *db, struct params *pp, const char *fmt, va_list ap)
{
	const char	*f;

	memset(pp, 0, sizeof(*pp));
	for (f = fmt; *f != '\0'; f++) {
		MYSQL_BIND	*b;
		const char	*s;
		size_t		 i = pp->n;

		if (i == DB_PARAMS_MAX) {
			db_seterr(db, 0, "too many parameters");
			return -1;
		}
		b = &pp->bind[i];
		switch (*f) {
		case 's':
			s = va_arg(ap, const char *);
			if (s == NULL) {
				b->buffer_type = MYSQL_TYPE_NULL;
				break;
			}
			pp->lens[i] = strlen(s);
			goto str;
		case 'b':
			s = va_arg(ap, const char *);
			pp->lens[i] = va_arg(ap, size_t);
			if (s == NULL) {
				b->buffer_type = MYSQL_TYPE_NULL;
				break;
			}
str:
			b->buffer_type = MYSQL_TYPE_STRING;
			b->buffer = (void *)s;
			b->buffer_length = pp->lens[i];
			b->length = &pp->lens[i];
			break;
		case 'i':
			pp->ints[i] = va_arg(ap, long long);
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &pp->ints[i];
			break;
		case 'n':
			b->buffer_type = MYSQL_TYPE_NULL;
			break;
		default:
			db_seterr(db, 0, "bad format character '%c'", *f);
			return -1;
		}
		pp->n++;
	}
	return 0;
}

/* Fetch every row of an executed statement into a new result. */
static int
fetch_all(struct db *db, MYSQL_STMT *st, struct db_res **out)
{
	MYSQL_RES	*meta;
	MYSQL_BIND	*bind = NULL;
	unsigned long	*lens = NULL;
	my_bool		*nulls = NULL;
	char		**bufs = NULL;
	struct db_res	*res = NULL;
	unsigned	 cols, c;
	my_bool		 one = 1;
	int		 rc = -1, frc;

	if ((meta = mysql_stmt_result_metadata(st)) == NULL) {
		if (out != NULL)
			*out = xcalloc(1, sizeof(**out));
		return 0;
	}
	cols = mysql_num_fields(meta);
	mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &one);
	if (mysql_stmt_store_result(st) != 0) {
		err_from_stmt(db, st);
		goto fail;
	}
	if (out == NULL) {
		rc = 0;
		goto fail;
	}
	bind = xcalloc(cols, sizeof(*bind));
	lens = xcalloc(cols, sizeof(*lens));
	nulls = xcalloc(cols, sizeof(*nulls));
	bufs = xcalloc(cols, sizeof(*bufs));
	for (c = 0; c < cols; c++) {
		MYSQL_FIELD *fld = mysql_fetch_field_direct(meta, c);
		size_t	 sz = fld->max_length + 1;

		bufs[c] = xmalloc(sz);
		bind[c].buffer_type = MYSQL_TYPE_STRING;
		bind[c].buffer = bufs[c];
		bind[c].buffer_length = sz;
		bind[c].length = &lens[c];
		bind[c].is_null = &nulls[c];
	}
	if (mysql_stmt_bind_result(st, bind) != 0) {
		err_from_stmt(db, st);
		goto fail;
	}
	res = xcalloc(1, sizeof(*res));
	res->cols = cols;
	while ((frc = mysql_stmt_fetch(st)) == 0) {
		size_t	 base;

		if ((res->rows + 1) * cols > res->cap) {
			res->cap = res->cap ? res->cap * 2 : cols * 16;
			res->cells = xreallocarray(res->cells, res->cap,
			    sizeof(*res->cells));
		}
		base = res->rows * cols;
		for (c = 0; c < cols; c++) {
			if (nulls[c]) {
				res->cells[base + c].v = NULL;
				res->cells[base + c].len = 0;
				continue;
			}
			res->cells[base + c].v = xmalloc(lens[c] + 1);
			memcpy(res->cells[base + c].v, bufs[c], lens[c]);
			res->cells[base + c].v[lens[c]] = '\0';
			res->cells[base + c].len = lens[c];
		}
		res->rows++;
	}
	if (frc != MYSQL_NO_DATA) {
		if (frc == MYSQL_DATA_TRUNCATED)
			db_seterr(db, 0, "result truncated");
		else
			err_from_stmt(db, st);
		goto fail;
	}
	*out = res;
	res = NULL;
	rc = 0;
fail:
	mysql_stmt_free_result(st);
	mysql_free_result(meta);
	if (bufs != NULL)
		for (c = 0; c < cols; c++)
			free(bufs[c]);
	free(bufs);
	free(bind);
	free(lens);
	free(nulls);
	db_res_free(res);
	return rc;
}

static int
exec_once(struct db *db, const char *sql, struct db_res **res,
    struct params *pp)
{
	MYSQL_STMT	*st;

	if (!db->connected && db_connect(db) == -1)
		return -1;
	if ((st = stmt_get(db, sql)) == NULL)
		return -1;
	if (mysql_stmt_param_count(st) != pp->n) {
		db_seterr(db, 0, "statement wants %lu parameters, got %zu",
		    mysql_stmt_param_count(st), pp->n);
		return -1;
	}
	if (pp->n > 0 && mysql_stmt_bind_param(st, pp->bind) != 0) {
		err_from_stmt(db, st);
		return -1;
	}
	if (mysql_stmt_execute(st) != 0) {
		err_from_stmt(db, st);
		return -1;
	}
	db->affected = mysql_stmt_affected_rows(st);
	db->insert_id = mysql_stmt_insert_id(st);
	return fetch_all(db, st, res);
}

int
db_exec(struct db *db, const char *sql, struct db_res **res, const char *fmt,
    ...)
{
	struct params	 pp;
	va_list		 ap;
	long long	 since;
	int		 rc, was_up, worth;

	if (res != NULL)
		*res = NULL;
	va_start(ap, fmt);
	rc = params_bind(db, &pp, fmt, ap);
	va_end(ap);
	if (rc == -1)
		return -1;
	if (db->in_txn && db->txn_broken) {
		db_seterr(db, CR_SERVER_LOST, "transaction lost its connection");
		return -1;
	}
	was_up = db->connected;
	since = db_ms();
	if (exec_once(db, sql, res, &pp) == 0)
		return 0;
	if (!conn_error(db->errcode))
		return -1;
	if (db->in_txn) {
		/* The server rolled the transaction back; db_txn decides. */
		db->txn_broken = 1;
		db->txn_slow = !db_worth_retry(db, 1, since);
		db_disconnect(db);
		db->in_txn = 1;
		return -1;
	}
	worth = db_worth_retry(db, was_up, since);
	db_disconnect(db);
	if (!worth)
		return -1;
	return exec_once(db, sql, res, &pp);
}

int
db_exec_text(struct db *db, const char *sql)
{
	MYSQL_STMT	*st;
	int		 rc = -1;

	if (!db->connected && db_connect(db) == -1)
		return -1;
	if ((st = mysql_stmt_init(db->my)) == NULL) {
		err_from_mysql(db);
		return -1;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0 ||
	    mysql_stmt_execute(st) != 0) {
		err_from_stmt(db, st);
		goto fail;
	}
	mysql_stmt_store_result(st);
	mysql_stmt_free_result(st);
	rc = 0;
fail:
	mysql_stmt_close(st);
	return rc;
}

unsigned long long
db_affected(struct db *db)
{
	return db->affected;
}

unsigned long long
db_insert_id(struct db *db)
{
	return db->insert_id;
}

int
db_begin(struct db *db)
{
	long long	 since;

	db->errcode = 0;
	db->errmsg[0] = '\0';
	db->txn_broken = 0;
	db->txn_slow = 0;
	db->commit_unknown = 0;
	if (!db->connected && db_connect(db) == -1)
		return -1;
	since = db_ms();
	if (simple_query(db, "START TRANSACTION") == -1) {
		if (!conn_error(db->errcode) || !db_worth_retry(db, 1, since)) {
			if (conn_error(db->errcode))
				db_disconnect(db);
			return -1;
		}
		/* Nothing was done yet: reconnecting is always safe here. */
		db_disconnect(db);
		if (db_connect(db) == -1 ||
		    simple_query(db, "START TRANSACTION") == -1)
			return -1;
	}
	db->in_txn = 1;
	return 0;
}

int
db_commit(struct db *db)
{
	long long	 since;

	if (db->txn_broken || !db->connected) {
		db->in_txn = 0;
		db->txn_broken = 0;
		db_seterr(db, CR_SERVER_LOST, "transaction lost its connection");
		return -1;
	}
	db->in_txn = 0;
	since = db_ms();
	if (simple_query(db, "COMMIT") == -1) {
		if (conn_error(db->errcode)) {
			/* Sent, no answer: it may have committed (on
			 * Galera, on every node) or not. */
			db->commit_unknown = 1;
			db_timed_out(db, since);	/* a frozen node */
			db_disconnect(db);
		}
		return -1;
	}
	return 0;
}

int
db_commit_unknown(const struct db *db)
{
	return db->commit_unknown;
}

void
db_rollback(struct db *db)
{
	int	 broken = db->txn_broken;

	db->in_txn = 0;
	db->txn_broken = 0;
	if (broken || !db->connected)
		return;
	/* A failed ROLLBACK means the connection is gone: so is the txn. */
	if (mysql_query(db->my, "ROLLBACK") != 0)
		db_disconnect(db);
}

/* Work the server rolled back because of another transaction: running
 * it again may well succeed. On Galera, 1213 is also a certification
 * conflict with a transaction of another node, found at COMMIT. */
static int
txn_conflict(unsigned code)
{
	return code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT;
}

/* Sleep *pause ms jittered up to twice that (capped), then double it:
 * two transactions that collided should not collide again in step. */
static void
txn_pause(struct db *db, unsigned *pause)
{
	struct timespec	 ts;
	unsigned	 ms;

	/* xorshift32: jitter needs no more, and no lock between threads. */
	db->rnd ^= db->rnd << 13;
	db->rnd ^= db->rnd >> 17;
	db->rnd ^= db->rnd << 5;
	ms = *pause + db->rnd % *pause;
	if (ms > DB_TXN_PAUSE_MAX)
		ms = DB_TXN_PAUSE_MAX;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ms * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	if (*pause < DB_TXN_PAUSE_MAX)
		*pause *= 2;
}

int
db_txn(struct db *db, int (*fn)(struct db *, void *), void *arg)
{
	unsigned	 pause = DB_TXN_PAUSE_MS;
	int		 attempt, rc, lost = 0;

	for (attempt = 1; attempt <= DB_TXN_ATTEMPTS; attempt++) {
		if (db_begin(db) == -1)
			return -1;
		rc = fn(db, arg);
		if (rc == -1) {
			unsigned code = db->errcode;
			int	 slow = db->txn_slow;

			db_rollback(db);
			if (attempt == DB_TXN_ATTEMPTS)
				return -1;
			/* Lost before COMMIT: nothing happened; once. */
			if (conn_error(code) && !slow && !lost) {
				lost = 1;
				db_disconnect(db);
				continue;
			}
			if (txn_conflict(code)) {
				txn_pause(db, &pause);
				continue;
			}
			return -1;
		}
		/*
		 * A COMMIT whose answer was lost may or may not have
		 * happened: never run the work again blindly after that.
		 * A conflict at COMMIT was rolled back: safe to rerun.
		 */
		if (db_commit(db) == -1) {
			if (attempt < DB_TXN_ATTEMPTS &&
			    txn_conflict(db->errcode)) {
				txn_pause(db, &pause);
				continue;
			}
			return -1;
		}
		return rc;
	}
	return -1;
}

const char *
db_current_host(const struct db *db)
{
	return db->connected ? db->node : "";
}

int
db_ping(struct db *db)
{
	static const char sql[] = "SELECT 1";

	return db_exec(db, sql, NULL, "");
}

size_t
db_res_rows(const struct db_res *r)
{
	return r == NULL ? 0 : r->rows;
}

size_t
db_res_cols(const struct db_res *r)
{
	return r == NULL ? 0 : r->cols;
}

const char *
db_res_get(const struct db_res *r, size_t row, size_t col)
{
	if (r == NULL || row >= r->rows || col >= r->cols)
		return NULL;
	return r->cells[row * r->cols + col].v;
}

size_t
db_res_len(const struct db_res *r, size_t row, size_t col)
{
	if (r == NULL || row >= r->rows || col >= r->cols)
		return 0;
	return r->cells[row * r->cols + col].len;
}

long long
db_res_int(const struct db_res *r, size_t row, size_t col, long long dflt)
{
	const char	*s = db_res_get(r, row, col);
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0')
		return dflt;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || (*end != '\0' && *end != '.'))
		return dflt;
	return v;
}

void
db_res_free(struct db_res *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->rows * r->cols; i++)
		free(r->cells[i].v);
	free(r->cells);
	free(r);
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
