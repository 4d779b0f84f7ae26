/*
 * Inside the MariaDB layer only (common/db.c, common/db-conn.c): the
 * handle and what its two halves share. Everyone else includes db.h.
 */
#ifndef PULSE_DB_INT_H
#define PULSE_DB_INT_H

#include <mysql.h>

#include "config.h"

#define DB_HOLD_MS	2000	/* after a time-out: fail at once */
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
	unsigned		 txn_dead;	/* rolled back by the server */
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

/* db.c */
int		 db_conn_error(unsigned);
void		 db_err_mysql(struct db *);
int		 db_simple_query(struct db *, const char *);

/* db-conn.c */
long long	 db_ms(void);
void		 db_disconnect(struct db *);
int		 db_timed_out(struct db *, long long);
int		 db_worth_retry(struct db *, int, long long);

#endif
