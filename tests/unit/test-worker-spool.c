/*
 * Unit tests for worker/spool.c: the state directory, the persistent id,
 * the worker's own key (0600, atomic, checked), the started journal (durable, torn lines repaired, compacted) and the
 * result spool (atomic files, ids checked before they become paths).
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"
#include "xmalloc.h"
#include "test.h"

#define ID1	"11111111-1111-4111-8111-111111111111"
#define ID2	"22222222-2222-4222-8222-222222222222"
#define ID3	"33333333-3333-4333-8333-333333333333"
#define KEY1	"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define KEY2	"abcdefghijklmnopqrstuvwxyz-_0123456789ABCDE"

static char	 base[64];

static char *
path(const char *rel)
{
	static char	 buf[256];

	snprintf(buf, sizeof(buf), "%s/state/%s", base, rel);
	return buf;
}

static char *
slurp(const char *p)
{
	FILE	*f = fopen(p, "r");
	char	*buf = xcalloc(1, 65536);

	if (f != NULL) {
		if (fread(buf, 1, 65535, f) == 0)
			buf[0] = '\0';
		fclose(f);
	}
	return buf;
}

static void
append(const char *p, const char *text)
{
	FILE	*f = fopen(p, "a");

	fputs(text, f);
	fclose(f);
}

/* The key file: absent, stored 0600 atomically, replaced, checked. */
static void
test_key(const char *dir)
{
	struct spool	*sp;
	struct stat	 sb;
	char		 key[PROTO_KEY_LEN + 1], id[ID_LEN + 1], err[256], *s;

	sp = spool_open(dir, err, sizeof(err));
	test_cond("no key yet", sp != NULL && spool_key_load(sp, key) == 1);
	test_cond("key stored", spool_key_store(sp, KEY1) == 0 &&
	    stat(path("key"), &sb) == 0 && (sb.st_mode & 0777) == 0600 &&
	    access(path("key.tmp"), F_OK) == -1);
	test_cond("key read back", spool_key_load(sp, key) == 0 &&
	    strcmp(key, KEY1) == 0);
	/* A stale key.tmp left 0644 by someone must not make the key 0644. */
	append(path("key.tmp"), "junk");
	chmod(path("key.tmp"), 0644);
	test_cond("key replaced whole, still 0600", spool_key_store(sp,
	    KEY2) == 0 && spool_key_load(sp, key) == 0 &&
	    strcmp(key, KEY2) == 0 && stat(path("key"), &sb) == 0 &&
	    (sb.st_mode & 0777) == 0600);
	s = slurp(path("key"));
	test_cond("key file is the key and a newline",
	    strcmp(s, KEY2 "\n") == 0);
	free(s);
	test_cond("a malformed key is not stored", spool_key_store(sp,
	    "short") == -1 && spool_key_store(sp, KEY1 "x") == -1 &&
	    spool_key_store(sp, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n")
	    == -1 && spool_key_store(sp,
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=") == -1 &&
	    spool_key_load(sp, key) == 0 && strcmp(key, KEY2) == 0);
	append(path("key"), "more");
	test_cond("a damaged key file is refused", spool_key_load(sp, key) ==
	    -1);
	unlink(path("key"));

	unlink(path("worker_id"));
	test_cond("no worker id: load says so, makes none",
	    spool_worker_id_load(sp, id) == 1 &&
	    access(path("worker_id"), F_OK) == -1);
	test_cond("the server's id stored", spool_worker_id_store(sp, ID2) ==
	    0 && spool_worker_id_load(sp, id) == 0 && strcmp(id, ID2) == 0 &&
	    access(path("worker_id.tmp"), F_OK) == -1);
	test_cond("a non-UUID id is not stored",
	    spool_worker_id_store(sp, "../x") == -1 &&
	    spool_worker_id_load(sp, id) == 0 && strcmp(id, ID2) == 0);
	spool_free(sp);
}

int
main(void)
{
	struct spool	*sp, *sp2;
	struct stat	 sb;
	char		 dir[128], id[ID_LEN + 1], id2[ID_LEN + 1], err[256];
	char		 line[128], **ids, *s;
	size_t		 n, len;

	snprintf(base, sizeof(base), "/tmp/test-worker-spool.XXXXXX");
	if (mkdtemp(base) == NULL)
		return 1;
	snprintf(dir, sizeof(dir), "%s/state", base);

	sp = spool_open(dir, err, sizeof(err));
	test_cond("creates the state directory", sp != NULL &&
	    stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	test_cond("and its spool directory", stat(path("spool"), &sb) == 0 &&
	    (sb.st_mode & 0777) == 0700);
	test_cond("a second worker on it is refused",
	    spool_open(dir, err, sizeof(err)) == NULL &&
	    strstr(err, "another pulse-worker") != NULL);

	test_cond("worker id made", spool_worker_id(sp, id) == 0 &&
	    id_valid(id));
	s = slurp(path("worker_id"));
	test_cond("worker id saved", strncmp(s, id, ID_LEN) == 0 &&
	    access(path("worker_id.tmp"), F_OK) == -1);
	free(s);
	test_cond("worker id kept", spool_worker_id(sp, id2) == 0 &&
	    strcmp(id, id2) == 0);

	test_cond("not started yet", spool_started(sp, ID1) == 0);
	test_cond("start recorded", spool_start(sp, ID1) == 0 &&
	    spool_started(sp, ID1) == 1 && spool_started(sp, ID2) == 0);
	s = slurp(path("started"));
	snprintf(line, sizeof(line), "%s ", ID1);
	test_cond("journal line", strncmp(s, line, strlen(line)) == 0 &&
	    s[strlen(s) - 1] == '\n');
	free(s);
	test_cond("ids are checked", spool_start(sp, "../../x") == -1 &&
	    spool_started(sp, "x") == -1);

	test_cond("result spooled", spool_put(sp, ID1, "{\"a\":1}", 7) == 0 &&
	    spool_has(sp, ID1) && !spool_has(sp, ID2) &&
	    access(path("spool/" ID1 ".json.tmp"), F_OK) == -1);
	s = spool_get(sp, ID1, &len);
	test_cond("result read back", s != NULL && len == 7 &&
	    strcmp(s, "{\"a\":1}") == 0);
	free(s);
	test_cond("result replaced whole", spool_put(sp, ID1, "{}", 2) == 0 &&
	    (s = spool_get(sp, ID1, &len)) != NULL && len == 2);
	free(s);
	spool_put(sp, ID2, "{}", 2);
	append(path("spool/junk.json"), "x");
	test_cond("list has exactly the results", spool_list(sp, &ids,
	    &n) == 0 && n == 2);
	spool_list_free(ids, n);
	test_cond("ack removes", spool_remove(sp, ID1) == 0 &&
	    !spool_has(sp, ID1) && spool_get(sp, ID1, &len) == NULL);
	test_cond("a path is not an id", spool_put(sp, "../evil", "x", 1) ==
	    -1 && access(path("evil.json"), F_OK) == -1);

	/* Written now, synced later: the same file for every reader. */
	{
		char	 lazy[2][ID_LEN + 1] = { ID3, ID1 };

		test_cond("lazy result spooled whole",
		    spool_put_lazy(sp, ID3, "{\"b\":2}", 7) == 0 &&
		    spool_has(sp, ID3) &&
		    access(path("spool/" ID3 ".json.tmp"), F_OK) == -1 &&
		    (s = spool_get(sp, ID3, &len)) != NULL && len == 7 &&
		    strcmp(s, "{\"b\":2}") == 0);
		free(s);
		test_cond("lazy result listed with the others",
		    spool_list(sp, &ids, &n) == 0 && n == 2);
		spool_list_free(ids, n);
		/* ID1 was acknowledged (removed): skipped, not an error. */
		test_cond("synced, an acknowledged one skipped",
		    spool_sync(sp, lazy, 2) == 0 && spool_has(sp, ID3));
		test_cond("a lazy path is not an id",
		    spool_put_lazy(sp, "../evil", "x", 1) == -1 &&
		    access(path("evil.json"), F_OK) == -1);
		test_cond("lazy result acknowledged",
		    spool_remove(sp, ID3) == 0 && !spool_has(sp, ID3));
	}
	spool_free(sp);

	/* A crash mid-append leaves a torn line and a stray temporary. */
	append(path("started"), "33333333-3333-4333");
	append(path("spool/" ID3 ".json.tmp"), "{\"half\":");
	sp = spool_open(dir, err, sizeof(err));
	test_cond("reopen after a crash", sp != NULL);
	test_cond("torn line dropped, old entries kept",
	    spool_started(sp, ID1) == 1 && spool_started(sp, ID3) == 0);
	test_cond("new append is intact", spool_start(sp, ID3) == 0 &&
	    spool_started(sp, ID3) == 1);
	test_cond("stray temporary removed, spool kept",
	    access(path("spool/" ID3 ".json.tmp"), F_OK) == -1 &&
	    spool_has(sp, ID2));

	/* Entries older than the longest timeout go. */
	test_cond("compaction by age", spool_compact(sp, (long long)time(NULL) +
	    10) == 0 && spool_started(sp, ID1) == 0 &&
	    spool_start(sp, ID2) == 0 && spool_started(sp, ID2) == 1);
	spool_free(sp);

	test_key(dir);

	append(path("worker_id"), "garbage");
	sp = spool_open(dir, err, sizeof(err));
	test_cond("a damaged worker id is not replaced", sp != NULL &&
	    spool_worker_id(sp, id2) == -1);
	spool_free(sp);

	test_cond("an unusable directory is refused",
	    (sp2 = spool_open("/proc/forbidden/x", err, sizeof(err))) ==
	    NULL && strstr(err, "WORKER_STATE_DIR") != NULL);

	snprintf(line, sizeof(line), "rm -rf %s", base);
	if (system(line) != 0)
		return 1;
	test_report();
}
