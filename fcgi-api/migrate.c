/*
 * Schema migrations: apply sql/NNN_name.sql files in order, each once,
 * recording it in schema_migrations. A guard row in schema_lock keeps two
 * migrators (say, two deploys, on two Galera nodes) from racing: GET_LOCK
 * is local to one node, a row is not. The files themselves are written
 * to be re-runnable, so a migration cut short is finished by running
 * again.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "log.h"
#include "xmalloc.h"

#define MIGRATION_FILE_MAX	(1024 * 1024)
/* The guard expires this long after it was taken or renewed (after each
 * file), so a migrator that died does not block the next for ever. */
#define MIGRATE_LOCK_S		120
/* A second migrator waits for the guard up to this long: past the
 * expiry, so a dead holder's guard is taken over, not waited out. */
#define MIGRATE_WAIT_S		(MIGRATE_LOCK_S + 30)
#define MIGRATE_POLL_MS		250
#define STR_(x)			#x
#define STR(x)			STR_(x)

static const char sql_create[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
static const char sql_lock_create[] =
    "CREATE TABLE IF NOT EXISTS schema_lock ("
    " id TINYINT UNSIGNED NOT NULL PRIMARY KEY,"
    " owner VARCHAR(128) NOT NULL,"
    " expires_at DATETIME NOT NULL"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
static const char sql_lock_expire[] =
    "DELETE FROM schema_lock WHERE id = 1 AND expires_at < NOW()";
/* Two migrators inserting at once on two Galera nodes: certification
 * lets one row in; the other sees a duplicate, ignored, 0 rows. */
static const char sql_lock_take[] =
    "INSERT IGNORE INTO schema_lock (id, owner, expires_at)"
    " VALUES (1, ?, NOW() + INTERVAL " STR(MIGRATE_LOCK_S) " SECOND)";
static const char sql_lock_renew[] =
    "UPDATE schema_lock SET expires_at = NOW() + INTERVAL "
    STR(MIGRATE_LOCK_S) " SECOND WHERE id = 1 AND owner = ?";
static const char sql_unlock[] =
    "DELETE FROM schema_lock WHERE id = 1 AND owner = ?";
static const char sql_applied[] =
    "SELECT 1 FROM schema_migrations WHERE version = ?";
static const char sql_record[] =
    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";

/*
 * Take the guard row, waiting up to MIGRATE_WAIT_S for another holder to
 * finish (or its guard to expire). 0 taken, -1 with err set.
 */
static int
migrate_lock(struct db *db, const char *owner, char *err, size_t errlen)
{
	struct timespec	 poll = { 0, MIGRATE_POLL_MS * 1000000L };
	time_t		 until = time(NULL) + MIGRATE_WAIT_S;
	int		 said = 0;

	if (db_exec(db, sql_lock_create, NULL, "") == -1)
		goto dberr;
	for (;;) {
		if (db_exec(db, sql_lock_expire, NULL, "") == -1 &&
		    db_errcode(db) != 1213)
			goto dberr;
		/* 1213: another node's insert won certification. */
		if (db_exec(db, sql_lock_take, NULL, "s", owner) == 0) {
			if (db_affected(db) == 1)
				return 0;
		} else if (db_errcode(db) != 1213)
			goto dberr;
		if (time(NULL) >= until) {
			snprintf(err, errlen, "another migration holds the "
			    "guard in schema_lock (waited %d s)",
			    MIGRATE_WAIT_S);
			return -1;
		}
		if (!said) {
			log_info("another migration is running: waiting");
			said = 1;
		}
		nanosleep(&poll, NULL);
	}
dberr:
	snprintf(err, errlen, "%s", db_errmsg(db));
	return -1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "NNN_word.sql" with NNN all digits; returns NNN or -1. */
static int
migration_version(const char *name)
{
	size_t	 n = strlen(name), i;

	if (n < 9 || strcmp(name + n - 4, ".sql") != 0)
		return -1;
	for (i = 0; i < 3; i++)
		if (!isdigit((unsigned char)name[i]))
			return -1;
	if (name[3] != '_')
		return -1;
	return atoi(name);
}

static char *
slurp(const char *path, char *err, size_t errlen)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = xmalloc(MIGRATION_FILE_MAX + 1);
	n = fread(buf, 1, MIGRATION_FILE_MAX + 1, f);
	fclose(f);
	if (n > MIGRATION_FILE_MAX) {
		snprintf(err, errlen, "%s: file too large", path);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * Run the statements of one file. Statements end with ';' at the end of
 * a line; lines starting with "--" are comments. Our migration files keep
 * to that, which spares us a SQL lexer.
 */
static int
run_file(struct db *db, const char *path, char *text, char *err,
    size_t errlen)
{
	char	*stmt = xmalloc(strlen(text) + 1), *line, *save = NULL;
	size_t	 len = 0;
	int	 rc = -1;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		const char *p = line;
		size_t	 n;

		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "--", 2) == 0 || *p == '\0')
			continue;
		n = strlen(line);
		memcpy(stmt + len, line, n);
		len += n;
		stmt[len++] = '\n';
		while (n > 0 && isspace((unsigned char)line[n - 1]))
			n--;
		if (n == 0 || line[n - 1] != ';')
			continue;
		/* Drop the ';' and run it. */
		while (len > 0 && stmt[len - 1] != ';')
			len--;
		stmt[len - 1] = '\0';
		if (db_exec_text(db, stmt) == -1) {
			snprintf(err, errlen, "%s: %s", path, db_errmsg(db));
			goto fail;
		}
		len = 0;
	}
	if (len > 0) {
		snprintf(err, errlen, "%s: last statement lacks a ';'", path);
		goto fail;
	}
	rc = 0;
fail:
	free(stmt);
	return rc;
}

int
migrate_run(struct db *db, const char *dir, char *err, size_t errlen)
{
	DIR		*d;
	struct dirent	*de;
	char		**names = NULL;
	size_t		 n = 0, i, applied = 0;
	struct db_res	*res = NULL;
	char		 owner[128], host[64];
	int		 rc = -1, locked = 0;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (migration_version(de->d_name) < 0)
			continue;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(owner, sizeof(owner), "%s:%ld:%ld", host, (long)getpid(),
	    (long)time(NULL));
	if (migrate_lock(db, owner, err, errlen) == -1)
		goto fail;
	locked = 1;
	if (db_exec(db, sql_create, NULL, "") == -1)
		goto dberr;
	for (i = 0; i < n; i++) {
		int	 version = migration_version(names[i]);
		char	*path, *text;

		if (i > 0 && version == migration_version(names[i - 1])) {
			snprintf(err, errlen, "two migrations numbered %03d",
			    version);
			goto fail;
		}
		if (db_exec(db, sql_applied, &res, "i", (long long)version) ==
		    -1)
			goto dberr;
		if (db_res_rows(res) > 0) {
			db_res_free(res);
			res = NULL;
			continue;
		}
		db_res_free(res);
		res = NULL;
		xasprintf(&path, "%s/%s", dir, names[i]);
		text = slurp(path, err, errlen);
		if (text == NULL || run_file(db, path, text, err, errlen) ==
		    -1) {
			free(text);
			free(path);
			goto fail;
		}
		free(text);
		free(path);
		if (db_exec(db, sql_record, NULL, "is", (long long)version,
		    names[i]) == -1)
			goto dberr;
		log_info("migration %s applied", names[i]);
		applied++;
		if (db_exec(db, sql_lock_renew, NULL, "s", owner) == -1)
			goto dberr;
		if (db_affected(db) != 1) {
			/* Expired and taken over: stop, the other goes on. */
			locked = 0;
			snprintf(err, errlen, "the guard in schema_lock "
			    "expired during %s", names[i]);
			goto fail;
		}
	}
	log_info("schema up to date (%zu applied, %zu known)", applied, n);
	rc = 0;
	goto fail;
dberr:
	snprintf(err, errlen, "%s", db_errmsg(db));
fail:
	if (locked)
		db_exec(db, sql_unlock, NULL, "s", owner);
	db_res_free(res);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
