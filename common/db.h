/*
 * The MariaDB layer: one connection per process, prepared statements
 * cached by their SQL text, explicit reconnect + re-prepare + one retry,
 * transactions, time-outs, a list of Galera nodes to fail over between.
 * Nothing here logs; callers read db_errmsg() (and db_set_node_hook).
 */
#ifndef PULSE_DB_H
#define PULSE_DB_H

#include <stddef.h>

struct db;
struct db_res;

struct db_params {
	const char	*host;		/* a DB_HOST list (config.h) */
	unsigned	 port;		/* for entries without a port */
	const char	*socket;	/* unix socket path, or NULL for TCP */
	const char	*user;
	const char	*password;
	const char	*name;
	unsigned	 timeout;	/* seconds: connect, read and write */
	unsigned	 wsrep_sync_wait; /* session value on a Galera node */
};

/* Creates a handle; connects lazily, so a process can start DB-less. */
struct config;
struct db	*db_new_config(const struct config *);	/* DB_* settings */
struct db	*db_new(const struct db_params *);
void		 db_free(struct db *);
/*
 * Connecting tries the host list in order, first to last, but an entry
 * that failed within DB_HOST_HOLD_S goes to the end. A Galera node that
 * is not Synced and ready counts as failed. A connection stays on its
 * node until it fails. DB_SOCKET, when set, is the only place tried.
 */
#define DB_HOST_HOLD_S	30
int		 db_connect(struct db *);
int		 db_ping(struct db *);
/* "host:port" (or the socket path) of the open connection, else "". */
const char	*db_current_host(const struct db *);
/*
 * Called, from the thread that connected, each time a handle whose list
 * has more than one entry connects to another node than it was on (its
 * first connection included), with "host:port": the program logs it. One
 * hook for the process, set before any thread starts; NULL for none.
 */
void		 db_set_node_hook(void (*)(const char *node));

/*
 * Execute a prepared statement. sql must be a string with static storage
 * (it keys the statement cache). fmt names the arguments that follow:
 *   's'  const char *          (NULL binds SQL NULL)
 *   'b'  const char *, size_t  (bytes with a length)
 *   'i'  long long
 *   'n'  SQL NULL, no argument
 * If res is not NULL every row is fetched into *res (free with
 * db_res_free). Outside a transaction a lost connection is re-opened and
 * the statement retried once; inside one the transaction is doomed and
 * db_txn() decides whether to run it again.
 */
int		 db_exec(struct db *, const char *sql, struct db_res **res,
		    const char *fmt, ...);
/* Prepare, run and close one statement that is not cached: for the
 * migration files only, whose text is not static. */
int		 db_exec_text(struct db *, const char *sql);
unsigned long long db_affected(struct db *);
unsigned long long db_insert_id(struct db *);

int		 db_begin(struct db *);
int		 db_commit(struct db *);
void		 db_rollback(struct db *);

/*
 * Run fn in a transaction. After a deadlock or Galera certification
 * conflict (1213) or a lock wait time-out (1205), at a statement or at
 * COMMIT, roll back and run fn again, up to DB_TXN_ATTEMPTS runs in all,
 * with a jittered pause of 5-50 ms (doubling) between them. After a
 * connection lost before COMMIT was sent, reconnect and run fn once
 * more (on another node if it was the node that failed); one lost at
 * COMMIT is never rerun (it may have committed). fn returns 0 to commit,
 * -1 to roll back (the error stays as fn left it); if fn returns 1 the
 * transaction is committed and 1 is passed through, which lets callers
 * report "nothing to do" without an error. fn must be safe to run again:
 * nothing outside the database may depend on a run that was rolled back.
 */
#define DB_TXN_ATTEMPTS	5
int		 db_txn(struct db *, int (*fn)(struct db *, void *), void *arg);

/*
 * 1 when the last transaction's COMMIT was sent and its answer lost: it
 * may or may not have happened (db_txn never reruns such work). Reset
 * by the next db_begin.
 */
int		 db_commit_unknown(const struct db *);

/* Error of the last failed call. */
unsigned	 db_errcode(const struct db *);
const char	*db_errmsg(const struct db *);
/* Server unreachable, or (1047) a Galera node not serving clients. */
int		 db_down(const struct db *);
/* Down, or a lock that another transaction held: the same work may well
 * succeed if tried again, so it is no fault of the work itself. */
int		 db_transient(const struct db *);
void		 db_seterr(struct db *, unsigned code, const char *fmt, ...)
		    __attribute__((format(printf, 3, 4)));

/* Results: every cell as text (NULL for SQL NULL). */
size_t		 db_res_rows(const struct db_res *);
size_t		 db_res_cols(const struct db_res *);
const char	*db_res_get(const struct db_res *, size_t row, size_t col);
size_t		 db_res_len(const struct db_res *, size_t row, size_t col);
long long	 db_res_int(const struct db_res *, size_t row, size_t col,
		    long long dflt);
void		 db_res_free(struct db_res *);

#endif
