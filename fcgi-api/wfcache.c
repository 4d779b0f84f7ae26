/*
 * The workflow list as JSON text, kept by each pulse-api child between
 * requests: GET /api/workflows (100 workflows, 40 KB) built its answer
 * from the database and json-c every time, which made it the slowest
 * read of the dashboard.
 *
 * Never stale: the list is kept with the tag it was read under, in the
 * same statement as its rows (one read view), and served again only
 * while read_versions still holds that tag. Every transaction that
 * writes workflows gives the tag a new random value (wfcache_bump(),
 * called by api-workflows.c, the one writer of that table), and the new
 * tag commits with the change: a tag read after a commit is never one
 * read before it. The one check per request is a primary-key read.
 * (Database triggers would catch writes made outside PULSE too, but
 * creating one needs SUPER wherever a binary log is on, and Galera's is:
 * the ha stack's migration failed with 1419.)
 *
 * What a list holds differs per caller only in each row's can_start, so
 * a row is kept as its JSON object without that last member, with the
 * rule that decides it (admins may start anything; a workflow with
 * allowed_groups only members of one of them).
 *
 * This is, with auth.c's note of recent users, the one piece of state
 * that outlives a request (STYLE.md): it holds no identity and nothing
 * a caller sent.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "id.h"
#include "pjson.h"
#include "xmalloc.h"

/* A list bigger than this is built for each request and not kept. */
#define WFCACHE_BYTES_MAX	(8 * 1024 * 1024)

static const char sql_tag[] =
    "SELECT tag FROM read_versions WHERE name = 'workflows'";
static const char sql_bump[] =
    "UPDATE read_versions SET tag = ? WHERE name = 'workflows'";

static const char can_start_yes[] = ",\"can_start\":true}";
static const char can_start_no[] = ",\"can_start\":false}";

static struct wflist	 wfcache;

void
wflist_clear(struct wflist *l)
{
	size_t	 i, j;

	for (i = 0; i < l->n; i++) {
		free(l->rows[i].text);
		for (j = 0; j < l->rows[i].ngroups; j++)
			free(l->rows[i].groups[j]);
		free(l->rows[i].groups);
	}
	free(l->rows);
	memset(l, 0, sizeof(*l));
}

/*
 * Add a row: obj is the workflow's JSON object without can_start, def
 * its definition (len bytes), the text can_start is decided from, as
 * api-workflows.c's can_start() did per request.
 */
void
wflist_add(struct wflist *l, struct json_object *obj, const char *def,
    size_t deflen)
{
	struct wflist_row	*r;
	struct json_object	*d, *a, *g;
	const char		*text;
	char			 perr[64];
	size_t			 len, i;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->rows = xreallocarray(l->rows, l->cap, sizeof(*l->rows));
	}
	r = &l->rows[l->n++];
	memset(r, 0, sizeof(*r));
	/* "{...}" without its closing brace: can_start goes last. */
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(text) - 1;
	r->text = xmalloc(len);
	memcpy(r->text, text, len);
	r->len = len;
	l->bytes += len + sizeof(can_start_no);

	r->start = WFLIST_ANYONE;
	if (def == NULL || memmem(def, deflen, "allowed_groups", 14) == NULL)
		return;
	if ((d = pjson_parse(def, deflen, API_JSON_DEPTH, perr,
	    sizeof(perr))) == NULL) {
		r->start = WFLIST_ADMINS;
		return;
	}
	if (json_object_object_get_ex(d, "allowed_groups", &a) &&
	    json_object_is_type(a, json_type_array)) {
		r->start = WFLIST_GROUPS;
		r->groups = xcalloc(json_object_array_length(a) + 1,
		    sizeof(*r->groups));
		for (i = 0; i < json_object_array_length(a); i++) {
			g = json_object_array_get_idx(a, i);
			if (g != NULL && json_object_is_type(g,
			    json_type_string))
				r->groups[r->ngroups++] =
				    xstrdup(json_object_get_string(g));
		}
	}
	json_object_put(d);
}

static int
wflist_can_start(const struct wflist_row *r, const struct user *u)
{
	size_t	 i, j;

	if (u->role == ROLE_ADMIN || r->start == WFLIST_ANYONE)
		return 1;
	if (r->start == WFLIST_ADMINS)
		return 0;
	for (i = 0; i < r->ngroups; i++)
		for (j = 0; j < u->ngroups; j++)
			if (strcmp(r->groups[i], u->groups[j]) == 0)
				return 1;
	return 0;
}

/*
 * The JSON array as u sees it, what json-c printed for the same objects
 * (PLAIN: no spaces); the caller frees it.
 */
char *
wflist_text(const struct wflist *l, const struct user *u, size_t *lenp)
{
	const char	*cs;
	char		*s;
	size_t		 i, len = 0, n;

	s = xmalloc(l->bytes + l->n + 3);
	s[len++] = '[';
	for (i = 0; i < l->n; i++) {
		if (i > 0)
			s[len++] = ',';
		memcpy(s + len, l->rows[i].text, l->rows[i].len);
		len += l->rows[i].len;
		cs = wflist_can_start(&l->rows[i], u) ? can_start_yes :
		    can_start_no;
		n = strlen(cs);
		memcpy(s + len, cs, n);
		len += n;
	}
	s[len++] = ']';
	s[len] = '\0';
	*lenp = len;
	return s;
}

/*
 * The kept list if the workflows' tag is still the one it was read
 * under, else NULL (nothing kept, or stale: the caller reads the rows
 * and offers them to wfcache_keep()); -1 on a database error.
 */
int
wfcache_get(struct db *db, const struct wflist **out)
{
	struct db_res	*res;
	const char	*tag;
	int		 fresh;

	*out = NULL;
	if (db_exec(db, sql_tag, &res, "") == -1)
		return -1;
	tag = db_res_rows(res) == 1 ? db_res_get(res, 0, 0) : NULL;
	fresh = tag != NULL && wfcache.tag[0] != '\0' &&
	    strcmp(tag, wfcache.tag) == 0;
	db_res_free(res);
	if (fresh)
		*out = &wfcache;
	return 0;
}

/*
 * Keep l, read in one statement with tag (NULL: there was none), in
 * place of the kept list, and return the kept list; l is then empty.
 * Not kept (no tag, or too big): l itself, still the caller's.
 */
const struct wflist *
wfcache_keep(struct wflist *l, const char *tag)
{
	if (tag == NULL || *tag == '\0' || strlen(tag) >= sizeof(l->tag) ||
	    l->bytes > WFCACHE_BYTES_MAX)
		return l;
	wflist_clear(&wfcache);
	wfcache = *l;
	memcpy(wfcache.tag, tag, strlen(tag) + 1);
	memset(l, 0, sizeof(*l));
	return &wfcache;
}

/* In a transaction that writes workflows: a new tag, never used before
 * (a random UUID), so no kept list matches it. */
int
wfcache_bump(struct db *db)
{
	char	 tag[ID_LEN + 1];

	id_new(tag);
	return db_exec(db, sql_bump, NULL, "s", tag);
}
