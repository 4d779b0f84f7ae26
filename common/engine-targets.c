/*
 * Target resolution: which online workers with a command channel a step's
 * targets name (SPEC section 12, issue 12). Reads the workers table,
 * writes nothing (registry.c owns it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "engine.h"
#include "engine-int.h"
#include "pjson.h"
#include "workflow.h"
#include "xmalloc.h"

/*
 * A target needs a command channel: online by heartbeat alone (no
 * websocket on any pushd) it could never receive the command (issue 11).
 */
static const char sql_targets[] =
    "SELECT w.id, w.name FROM workers w WHERE w.status = 'online' "
    "AND w.pushd_node IS NOT NULL AND w.state = 'accepted' "
    "AND (? = 'all' OR w.name = ? OR EXISTS (SELECT 1 FROM worker_groups g "
    "WHERE g.worker_id = w.id AND g.group_name = ?)) ORDER BY w.name";
/*
 * Prefixed targets say which they mean (issue 12): "id:<uuid>" exactly
 * that worker (a direct command), "name:X" the worker named X, "group:X"
 * the workers in group X. A plain X keeps its version-1 meaning, a worker
 * name or a group name, and is refused when it is both.
 */
static const char sql_target_id[] =
    "SELECT w.id, w.name FROM workers w WHERE w.id = ? "
    "AND w.status = 'online' AND w.pushd_node IS NOT NULL "
    "AND w.state = 'accepted'";
static const char sql_target_name[] =
    "SELECT w.id, w.name FROM workers w WHERE w.name = ? "
    "AND w.status = 'online' AND w.pushd_node IS NOT NULL "
    "AND w.state = 'accepted'";
static const char sql_target_group[] =
    "SELECT w.id, w.name FROM workers w WHERE w.status = 'online' "
    "AND w.pushd_node IS NOT NULL AND w.state = 'accepted' "
    "AND EXISTS (SELECT 1 FROM worker_groups g "
    "WHERE g.worker_id = w.id AND g.group_name = ?) ORDER BY w.name";
static const char sql_target_both[] =
    "SELECT EXISTS (SELECT 1 FROM workers WHERE name = ?) AND "
    "EXISTS (SELECT 1 FROM worker_groups g JOIN workers w "
    "ON w.id = g.worker_id WHERE g.group_name = ? AND w.name <> ?)";
/*
 * A target that names a worker (by id, name or a plain name) which is
 * pending or revoked: the step says so rather than "no online worker".
 */
static const char sql_target_untrusted[] =
    "SELECT name, state FROM workers WHERE state <> 'accepted' "
    "AND (id = ? OR name = ?) LIMIT 1";

void
engine_targets_free(struct target *t, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(t[i].id);
		free(t[i].name);
	}
	free(t);
}

/* Is target s (a plain one) both a worker name and a group name? */
int
engine_target_ambiguous(struct db *db, const char *s, int *ambiguous)
{
	struct db_res	*res;

	*ambiguous = 0;
	if (strcmp(s, "all") == 0 || strncmp(s, ENGINE_TARGET_ID,
	    strlen(ENGINE_TARGET_ID)) == 0 || strncmp(s, ENGINE_TARGET_NAME,
	    strlen(ENGINE_TARGET_NAME)) == 0 || strncmp(s, ENGINE_TARGET_GROUP,
	    strlen(ENGINE_TARGET_GROUP)) == 0)
		return 0;
	if (db_exec(db, sql_target_both, &res, "sss", s, s, s) == -1)
		return -1;
	*ambiguous = db_res_int(res, 0, 0, 0) != 0;
	db_res_free(res);
	return 0;
}

static int
target_query(struct db *db, const char *s, struct db_res **res)
{
	size_t	 n;

	if (strncmp(s, ENGINE_TARGET_ID, (n = strlen(ENGINE_TARGET_ID))) ==
	    0 && id_valid(s + n))
		return db_exec(db, sql_target_id, res, "s", s + n);
	if (strncmp(s, ENGINE_TARGET_NAME, (n = strlen(ENGINE_TARGET_NAME))) ==
	    0)
		return db_exec(db, sql_target_name, res, "s", s + n);
	if (strncmp(s, ENGINE_TARGET_GROUP,
	    (n = strlen(ENGINE_TARGET_GROUP))) == 0)
		return db_exec(db, sql_target_group, res, "s", s + n);
	return db_exec(db, sql_targets, res, "sss", s, s, s);
}

/*
 * A target that found no worker: does it name one that is pending or
 * revoked? Then why says so (SPEC section 12: never commanded).
 */
static int
target_untrusted(struct db *db, const char *s, char *why, size_t len)
{
	struct db_res	*res;
	size_t		 n;

	if (why[0] != '\0' || strcmp(s, "all") == 0 || strncmp(s,
	    ENGINE_TARGET_GROUP, strlen(ENGINE_TARGET_GROUP)) == 0)
		return 0;
	if (strncmp(s, ENGINE_TARGET_ID, (n = strlen(ENGINE_TARGET_ID))) == 0)
		s += n;
	else if (strncmp(s, ENGINE_TARGET_NAME,
	    (n = strlen(ENGINE_TARGET_NAME))) == 0)
		s += n;
	if (db_exec(db, sql_target_untrusted, &res, "ss", s, s) == -1)
		return -1;
	if (db_res_rows(res) > 0)
		snprintf(why, len, "worker '%s' is %s: an admin must accept it "
		    "before it is sent commands", db_res_get(res, 0, 0),
		    db_res_get(res, 0, 1));
	db_res_free(res);
	pjson_utf8_trim(why);
	return 0;
}

/*
 * Online workers matching any of the step's targets, without repeats.
 * *ambiguous names a plain target that is both a worker and a group (the
 * step fails rather than run on more servers than one of them meant);
 * untrusted says why a target that names a worker found none, if that
 * worker is pending or revoked.
 */
int
engine_targets(struct db *db, const struct step *st, struct target **out,
    size_t *nout, const char **ambiguous, char *untrusted, size_t ulen)
{
	struct target	*t = NULL;
	size_t		 n = 0, i, r, k;
	int		 both;

	*ambiguous = NULL;
	for (i = 0; i < st->ntargets; i++) {
		struct db_res	*res;
		const char	*name = st->targets[i];

		if (engine_target_ambiguous(db, name, &both) == -1) {
			engine_targets_free(t, n);
			return -1;
		}
		if (both) {
			*ambiguous = name;
			break;
		}
		if (target_query(db, name, &res) == -1) {
			engine_targets_free(t, n);
			return -1;
		}
		if (db_res_rows(res) == 0 && target_untrusted(db, name,
		    untrusted, ulen) == -1) {
			db_res_free(res);
			engine_targets_free(t, n);
			return -1;
		}
		for (r = 0; r < db_res_rows(res); r++) {
			const char *id = db_res_get(res, r, 0);

			for (k = 0; k < n; k++)
				if (strcmp(t[k].id, id) == 0)
					break;
			if (k < n)
				continue;
			t = xreallocarray(t, n + 1, sizeof(*t));
			t[n].id = xstrdup(id);
			t[n].name = xstrdup(db_res_get(res, r, 1));
			n++;
		}
		db_res_free(res);
	}
	*out = t;
	*nout = n;
	return 0;
}
