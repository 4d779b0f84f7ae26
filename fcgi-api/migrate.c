/*
 * Schema migrations: apply sql/NNN_name.sql files in order, each once,
 * recording it in schema_migrations. A named lock keeps two migrators
 * (say, two deploys) from racing; the files themselves are written to be
 * re-runnable, so a migration cut short is finished by running again.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "log.h"
#include "xmalloc.h"

#define MIGRATION_FILE_MAX	(1024 * 1024)

static const char sql_create[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL PRIMARY KEY,"
    " name VARCHAR(255) NOT NULL,"
    " applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
static const char sql_lock[] = "SELECT GET_LOCK('pulse_migrate', 60)";
static const char sql_unlock[] = "SELECT RELEASE_LOCK('pulse_migrate')";
static const char sql_applied[] =
    "SELECT 1 FROM schema_migrations WHERE version = ?";
static const char sql_record[] =
    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)";

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

	if (db_exec(db, sql_create, NULL, "") == -1 ||
	    db_exec(db, sql_lock, &res, "") == -1)
		goto dberr;
	locked = db_res_int(res, 0, 0, 0) == 1;
	db_res_free(res);
	res = NULL;
	if (!locked) {
		snprintf(err, errlen, "another migration holds the lock");
		goto fail;
	}
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
	}
	log_info("schema up to date (%zu applied, %zu known)", applied, n);
	rc = 0;
	goto fail;
dberr:
	snprintf(err, errlen, "%s", db_errmsg(db));
fail:
	if (locked)
		db_exec(db, sql_unlock, NULL, "");
	db_res_free(res);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
