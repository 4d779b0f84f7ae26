/*
 * The MariaDB layer. Connector/C's own auto-reconnect is not used: after a
 * server restart it reconnects silently and every prepared statement then
 * fails with 1243 (STACK-NOTES.md). Instead a lost connection is closed,
 * reopened, its statements re-prepared, and the statement retried once
 * when that is safe (outside a transaction).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "config.h"
#include "db.h"
#include "db-int.h"
#include "xmalloc.h"

#define DB_PARAMS_MAX	32
#define DB_TXN_PAUSE_MS	5	/* db_txn's first pause; doubles */
#define DB_TXN_PAUSE_MAX 50

struct db_cell {
	char	*v;
	size_t	 len;
};

struct db_res {
	size_t		 rows, cols, cap;
	struct db_cell	*cells;
};

/* Errors after which the connection is no good and must be reopened. */
int
db_conn_error(unsigned code)
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
	return !db->connected || db_conn_error(db->errcode);
}

int
db_transient(const struct db *db)
{
	/* 1205 lock wait timeout, 1213 deadlock (after db_txn's retry). */
	return db_down(db) || db->errcode == 1205 || db->errcode == 1213;
}

void
db_err_mysql(struct db *db)
{
	db_seterr(db, mysql_errno(db->my), "%s", mysql_error(db->my));
}

static void
err_from_stmt(struct db *db, MYSQL_STMT *st)
{
	db_seterr(db, mysql_stmt_errno(st), "%s", mysql_stmt_error(st));
}

int
db_simple_query(struct db *db, const char *q)
{
	if (mysql_query(db->my, q) != 0) {
		db_err_mysql(db);
		return -1;
	}
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
		db_err_mysql(db);
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

/* Work the server rolled back because of another transaction: running
 * it again may well succeed. On Galera, 1213 is also a certification
 * conflict with a transaction of another node, found at COMMIT. */
static int
txn_conflict(unsigned code)
{
	return code == ER_LOCK_DEADLOCK || code == ER_LOCK_WAIT_TIMEOUT;
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
	if (db->in_txn && db->txn_dead) {
		db_seterr(db, db->txn_dead, "the transaction was rolled back "
		    "(%u) at an earlier statement", db->txn_dead);
		return -1;
	}
	was_up = db->connected;
	since = db_ms();
	if (exec_once(db, sql, res, &pp) == 0)
		return 0;
	if (!db_conn_error(db->errcode)) {
		/*
		 * After a deadlock, or a Galera conflict that aborted us
		 * between statements, the server has rolled the
		 * transaction back and runs what follows in autocommit:
		 * a caller that went on past the error would commit half
		 * of its work, unlocked. Nothing more runs in it, and
		 * COMMIT fails with the same code, which db_txn reruns.
		 */
		if (db->in_txn && txn_conflict(db->errcode))
			db->txn_dead = db->errcode;
		return -1;
	}
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
		db_err_mysql(db);
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
	db->txn_dead = 0;
	db->txn_slow = 0;
	db->commit_unknown = 0;
	if (!db->connected && db_connect(db) == -1)
		return -1;
	since = db_ms();
	if (db_simple_query(db, "START TRANSACTION") == -1) {
		if (!db_conn_error(db->errcode) || !db_worth_retry(db, 1, since)) {
			if (db_conn_error(db->errcode))
				db_disconnect(db);
			return -1;
		}
		/* Nothing was done yet: reconnecting is always safe here. */
		db_disconnect(db);
		if (db_connect(db) == -1 ||
		    db_simple_query(db, "START TRANSACTION") == -1)
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
	if (db->txn_dead) {
		unsigned code = db->txn_dead;

		db_rollback(db);	/* 1205 left the rest of it open */
		db_seterr(db, code, "the transaction was rolled back (%u) at "
		    "an earlier statement", code);
		return -1;
	}
	db->in_txn = 0;
	since = db_ms();
	if (db_simple_query(db, "COMMIT") == -1) {
		if (db_conn_error(db->errcode)) {
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
	db->txn_dead = 0;
	if (broken || !db->connected)
		return;
	/* A failed ROLLBACK means the connection is gone: so is the txn. */
	if (mysql_query(db->my, "ROLLBACK") != 0)
		db_disconnect(db);
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
			if (db_conn_error(code) && !slow && !lost) {
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
