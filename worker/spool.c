/*
 * The worker's state directory: its persistent id and its own key, the
 * journal of every command_id it ever started (so none starts twice) and
 * the spool of results the server has not acknowledged yet (so none is
 * lost). Every file is replaced atomically: write a temporary, fsync,
 * rename, fsync the directory; a result may be written first and made
 * durable later, in a batch (spool_put_lazy, spool_sync).
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#define SPOOL_JOURNAL		"started"
#define SPOOL_JOURNAL_TMP	"started.tmp"
#define SPOOL_ID		"worker_id"
#define SPOOL_KEY		"key"
/*
 * A journal entry must outlive any chance of the server sending the same
 * command again: the longest timeout (7 days) plus a day.
 */
#define SPOOL_KEEP_S		(8 * 24 * 3600LL)
#define SPOOL_COMPACT_EVERY	4096	/* appends between compactions */
#define SPOOL_LINE_MAX		128

struct spool {
	char		*dir;
	int		 dirfd;		/* WORKER_STATE_DIR */
	int		 spoolfd;	/* WORKER_STATE_DIR/spool */
	int		 lockfd;
	int		 journalfd;
	unsigned	 appends;
};

/* mkdir -p, new components 0700: the state is nobody else's business. */
static int
mkdirs(const char *path)
{
	char	*p = xstrdup(path), *s;
	int	 rc = 0;

	for (s = p + 1; *s != '\0' && rc == 0; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (rc == 0 && mkdir(p, 0700) == -1 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write name in dirfd atomically: a reader sees the old file or the new
 * one, whole. Durable when this returns 0 and durable is set; otherwise
 * in the page cache (it survives any process, not a crash of the host)
 * until spool_sync.
 */
static int
atomic_write(int dirfd, const char *name, const char *buf, size_t len,
    int durable)
{
	char	 tmp[256];
	int	 fd, saved;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1)
		return -1;
	/* A stale temporary keeps its mode through O_TRUNC: 0600 it is. */
	if (fchmod(fd, 0600) == -1 || write_all(fd, buf, len) == -1 ||
	    (durable && fsync(fd) == -1)) {
		saved = errno;
		close(fd);
		unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 || renameat(dirfd, tmp, dirfd, name) == -1) {
		saved = errno;
		unlinkat(dirfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return durable ? fsync(dirfd) : 0;
}

/* A crash may leave *.tmp files; they never were the real thing. */
static void
remove_tmp(int dirfd)
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;
	size_t		 n;

	fd = dup(dirfd);
	d = fd != -1 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n > 4 && strcmp(de->d_name + n - 4, ".tmp") == 0)
			unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

struct spool *
spool_open(const char *dir, char *err, size_t errlen)
{
	struct spool	*sp = xcalloc(1, sizeof(*sp));

	sp->dirfd = sp->spoolfd = sp->lockfd = sp->journalfd = -1;
	sp->dir = xstrdup(dir);
	if (*dir == '\0' || mkdirs(dir) == -1) {
		snprintf(err, errlen, "WORKER_STATE_DIR: cannot create '%s': "
		    "%s", dir, strerror(errno));
		goto fail;
	}
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd == -1) {
		snprintf(err, errlen, "WORKER_STATE_DIR: %s: %s", dir,
		    strerror(errno));
		goto fail;
	}
	/* Two workers on one state directory would break at-most-once. */
	sp->lockfd = openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC,
	    0600);
	if (sp->lockfd == -1 || flock(sp->lockfd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "WORKER_STATE_DIR: %s: %s", dir,
		    errno == EWOULDBLOCK ? "another pulse-worker uses it" :
		    strerror(errno));
		goto fail;
	}
	if (mkdirat(sp->dirfd, "spool", 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "WORKER_STATE_DIR: %s/spool: %s", dir,
		    strerror(errno));
		goto fail;
	}
	sp->spoolfd = openat(sp->dirfd, "spool", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (sp->spoolfd == -1) {
		snprintf(err, errlen, "WORKER_STATE_DIR: %s/spool: %s", dir,
		    strerror(errno));
		goto fail;
	}
	remove_tmp(sp->dirfd);
	remove_tmp(sp->spoolfd);
	/* Compaction also drops a line torn by a crash mid-append. */
	if (spool_compact(sp, (long long)time(NULL) - SPOOL_KEEP_S) == -1) {
		snprintf(err, errlen, "WORKER_STATE_DIR: %s/%s: %s", dir,
		    SPOOL_JOURNAL, strerror(errno));
		goto fail;
	}
	return sp;
fail:
	spool_free(sp);
	return NULL;
}

const char *
spool_dir(const struct spool *sp)
{
	return sp->dir;
}

void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	if (sp->journalfd != -1)
		close(sp->journalfd);
	if (sp->spoolfd != -1)
		close(sp->spoolfd);
	if (sp->lockfd != -1)
		close(sp->lockfd);
	if (sp->dirfd != -1)
		close(sp->dirfd);
	free(sp->dir);
	free(sp);
}

/*
 * The id stored in the state directory: 0 read, 1 there is none yet, -1
 * unreadable or not a UUID (logged).
 */
int
spool_worker_id_load(struct spool *sp, char out[ID_LEN + 1])
{
	char	 buf[ID_LEN + 8];
	ssize_t	 n;
	int	 fd;

	fd = openat(sp->dirfd, SPOOL_ID, O_RDONLY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 1;
	if (fd == -1) {
		log_warn("%s/%s", sp->dir, SPOOL_ID);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		log_warn("%s/%s", sp->dir, SPOOL_ID);
		return -1;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (!id_valid(buf)) {
		log_warnx("%s/%s does not hold a UUID; restore it, or remove it "
		    "to register as a new worker", sp->dir, SPOOL_ID);
		return -1;
	}
	memcpy(out, buf, ID_LEN + 1);
	return 0;
}

/* Store id (the server's, at enrollment) as this worker's; durable on 0. */
int
spool_worker_id_store(struct spool *sp, const char *id)
{
	char	 line[ID_LEN + 2];

	if (!id_valid(id)) {
		log_warnx("%s/%s: not storing a worker id that is not a UUID",
		    sp->dir, SPOOL_ID);
		return -1;
	}
	snprintf(line, sizeof(line), "%s\n", id);
	if (atomic_write(sp->dirfd, SPOOL_ID, line, strlen(line), 1) == -1) {
		log_warn("%s/%s", sp->dir, SPOOL_ID);
		return -1;
	}
	return 0;
}

/* The id this worker has had since its first start; made once. */
int
spool_worker_id(struct spool *sp, char out[ID_LEN + 1])
{
	int	 rc;

	if ((rc = spool_worker_id_load(sp, out)) != 1)
		return rc;
	id_new(out);
	if (spool_worker_id_store(sp, out) == -1)
		return -1;
	log_info("new worker id %s saved in %s/%s", out, sp->dir, SPOOL_ID);
	return 0;
}

/*
 * The worker's own key (WORKER_STATE_DIR/key): 0 read into out (a
 * secret: the caller wipes it), 1 there is none, -1 unreadable or not a
 * key (logged, without its bytes). A key others may read is used, with a
 * warning: refusing it would take the worker off line for a chmod.
 */
int
spool_key_load(struct spool *sp, char out[PROTO_KEY_LEN + 1])
{
	char		 buf[PROTO_KEY_LEN + 8];
	struct stat	 sb;
	ssize_t		 n;
	int		 fd, rc = -1;

	fd = openat(sp->dirfd, SPOOL_KEY, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 && errno == ENOENT)
		return 1;
	if (fd == -1) {
		log_warn("%s/%s", sp->dir, SPOOL_KEY);
		return -1;
	}
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) != 0)
		log_warnx("%s/%s is readable by others (mode %03o): chmod 600 "
		    "it", sp->dir, SPOOL_KEY, (unsigned)(sb.st_mode & 0777));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		log_warn("%s/%s", sp->dir, SPOOL_KEY);
		goto done;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	if (!proto_key_valid(buf)) {
		log_warnx("%s/%s does not hold a worker key (43 characters of "
		    "base64url); restore it, or remove it and enroll again",
		    sp->dir, SPOOL_KEY);
		goto done;
	}
	memcpy(out, buf, PROTO_KEY_LEN + 1);
	rc = 0;
done:
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* Store key as this worker's own, mode 0600; durable when this returns 0. */
int
spool_key_store(struct spool *sp, const char *key)
{
	char	 line[PROTO_KEY_LEN + 2];
	int	 rc = 0;

	if (!proto_key_valid(key)) {
		log_warnx("%s/%s: not storing a malformed key", sp->dir,
		    SPOOL_KEY);
		return -1;
	}
	snprintf(line, sizeof(line), "%s\n", key);
	if (atomic_write(sp->dirfd, SPOOL_KEY, line, strlen(line), 1) == -1) {
		log_warn("%s/%s", sp->dir, SPOOL_KEY);
		rc = -1;
	}
	explicit_bzero(line, sizeof(line));
	return rc;
}

/* A journal line: "<command_id> <unix seconds>\n"; anything else is junk. */
static int
journal_line(const char *line, long long *ts)
{
	char	 id[ID_LEN + 1], *end;

	if (strlen(line) < ID_LEN + 3 || line[ID_LEN] != ' ')
		return -1;
	memcpy(id, line, ID_LEN);
	id[ID_LEN] = '\0';
	if (!id_valid(id))
		return -1;
	*ts = strtoll(line + ID_LEN + 1, &end, 10);
	if (end == line + ID_LEN + 1 || *end != '\n')
		return -1;
	return 0;
}

/*
 * Rewrite the journal without entries older than cutoff (unix seconds)
 * and without a torn last line, then reopen it for appending.
 */
int
spool_compact(struct spool *sp, long long cutoff)
{
	FILE		*in = NULL;
	char		 line[SPOOL_LINE_MAX];
	char		*keep = NULL;
	size_t		 len = 0, cap = 0, n;
	long long	 ts;
	int		 fd, rc = -1, saved;

	fd = openat(sp->dirfd, SPOOL_JOURNAL, O_RDONLY | O_CLOEXEC);
	if (fd == -1 && errno != ENOENT)
		return -1;
	if (fd != -1) {
		in = fdopen(fd, "r");
		if (in == NULL) {
			close(fd);
			return -1;
		}
	}
	while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
		if (journal_line(line, &ts) == -1 || ts < cutoff)
			continue;
		n = strlen(line);
		if (len + n > cap) {
			cap = cap == 0 ? 4096 : cap * 2;
			keep = xrealloc(keep, cap);
		}
		memcpy(keep + len, line, n);
		len += n;
	}
	if (in != NULL && ferror(in))
		goto fail;
	if (atomic_write(sp->dirfd, SPOOL_JOURNAL, keep != NULL ? keep : "",
	    len, 1) == -1)
		goto fail;
	if (sp->journalfd != -1)
		close(sp->journalfd);
	sp->journalfd = openat(sp->dirfd, SPOOL_JOURNAL, O_WRONLY | O_APPEND |
	    O_CLOEXEC);
	if (sp->journalfd == -1)
		goto fail;
	sp->appends = 0;
	rc = 0;
fail:
	saved = errno;
	if (in != NULL)
		fclose(in);
	free(keep);
	errno = saved;
	return rc;
}

/* 1 if command_id was ever started here, 0 if not, -1 on error. */
int
spool_started(struct spool *sp, const char *id)
{
	FILE		*f;
	char		 line[SPOOL_LINE_MAX];
	long long	 ts;
	int		 fd, found = 0;

	if (!id_valid(id))
		return -1;
	fd = openat(sp->dirfd, SPOOL_JOURNAL, O_RDONLY | O_CLOEXEC);
	f = fd != -1 ? fdopen(fd, "r") : NULL;
	if (f == NULL) {
		log_warn("%s/%s", sp->dir, SPOOL_JOURNAL);
		if (fd != -1)
			close(fd);
		return -1;
	}
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strncmp(line, id, ID_LEN) == 0 &&
		    journal_line(line, &ts) == 0;
	fclose(f);
	return found;
}

/*
 * Record command_id as started, durably: called before the fork. This
 * fsync stays on every command's path: pushd sends a dispatch still
 * 'sent' again when the worker reconnects (dispatch_redeliver), and the
 * journal is what keeps it from starting twice; a line only in the page
 * cache would be gone after a crash of the host, and the command with it
 * would run again once the host is back.
 */
int
spool_start(struct spool *sp, const char *id)
{
	char	 line[SPOOL_LINE_MAX];
	int	 n;

	if (!id_valid(id))
		return -1;
	n = snprintf(line, sizeof(line), "%s %lld\n", id,
	    (long long)time(NULL));
	if (write_all(sp->journalfd, line, (size_t)n) == -1 ||
	    fsync(sp->journalfd) == -1) {
		log_warn("%s/%s", sp->dir, SPOOL_JOURNAL);
		return -1;
	}
	if (++sp->appends >= SPOOL_COMPACT_EVERY &&
	    spool_compact(sp, (long long)time(NULL) - SPOOL_KEEP_S) == -1)
		log_warn("compacting %s/%s", sp->dir, SPOOL_JOURNAL);
	return 0;
}

static void
result_name(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s.json", id);
}

static int
spool_write(struct spool *sp, const char *id, const char *buf, size_t len,
    int durable)
{
	char	 name[64];

	if (!id_valid(id))
		return -1;
	result_name(id, name, sizeof(name));
	if (atomic_write(sp->spoolfd, name, buf, len, durable) == -1) {
		log_warn("%s/spool/%s", sp->dir, name);
		return -1;
	}
	return 0;
}

/* A result, durable when this returns 0. */
int
spool_put(struct spool *sp, const char *id, const char *buf, size_t len)
{
	return spool_write(sp, id, buf, len, 1);
}

/*
 * A result, whole but not durable yet: the caller makes it so with
 * spool_sync, unless the server acknowledged it first (spool_remove).
 */
int
spool_put_lazy(struct spool *sp, const char *id, const char *buf,
    size_t len)
{
	return spool_write(sp, id, buf, len, 0);
}

/*
 * Make the results ids[0..n-1] that spool_put_lazy wrote durable: each
 * file, then the directory once for all of them (their renames). One
 * already removed (acknowledged) is skipped. 0, or -1 (logged).
 */
int
spool_sync(struct spool *sp, char (*ids)[ID_LEN + 1], size_t n)
{
	char	 name[64];
	size_t	 i;
	int	 fd, rc = 0;

	for (i = 0; i < n; i++) {
		if (!id_valid(ids[i]))
			continue;
		result_name(ids[i], name, sizeof(name));
		fd = openat(sp->spoolfd, name, O_RDONLY | O_CLOEXEC);
		if (fd == -1 && errno == ENOENT)
			continue;
		if (fd == -1 || fsync(fd) == -1) {
			log_warn("%s/spool/%s", sp->dir, name);
			rc = -1;
		}
		if (fd != -1)
			close(fd);
	}
	if (n > 0 && fsync(sp->spoolfd) == -1) {
		log_warn("%s/spool", sp->dir);
		rc = -1;
	}
	return rc;
}

int
spool_has(struct spool *sp, const char *id)
{
	char	 name[64];

	if (!id_valid(id))
		return 0;
	result_name(id, name, sizeof(name));
	return faccessat(sp->spoolfd, name, F_OK, 0) == 0;
}

/* The spooled message, NUL-terminated; NULL if absent or unreadable. */
char *
spool_get(struct spool *sp, const char *id, size_t *lenp)
{
	struct stat	 sb;
	char		 name[64], *buf = NULL;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if (!id_valid(id))
		return NULL;
	result_name(id, name, sizeof(name));
	fd = openat(sp->spoolfd, name, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT)
			log_warn("%s/spool/%s", sp->dir, name);
		return NULL;
	}
	if (fstat(fd, &sb) == -1 || sb.st_size > WORKER_MSG_MAX) {
		log_warnx("%s/spool/%s: unreadable or too large", sp->dir,
		    name);
		goto fail;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (off < (size_t)sb.st_size) {
		n = read(fd, buf + off, (size_t)sb.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("%s/spool/%s", sp->dir, name);
			goto fail;
		}
		off += (size_t)n;
	}
	buf[off] = '\0';
	close(fd);
	*lenp = off;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

int
spool_remove(struct spool *sp, const char *id)
{
	char	 name[64];

	if (!id_valid(id))
		return -1;
	result_name(id, name, sizeof(name));
	if (unlinkat(sp->spoolfd, name, 0) == -1) {
		if (errno != ENOENT)
			log_warn("%s/spool/%s", sp->dir, name);
		return -1;
	}
	return 0;
}

/*
 * The command ids named by the files "<id><ext>" in d, in no particular
 * order; closes d. The spool and the keeper's directory both name their
 * files this way.
 */
void
dir_ids(DIR *d, const char *ext, char ***out, size_t *np)
{
	struct dirent	*de;
	char		**v = NULL, id[ID_LEN + 1];
	size_t		 n = 0, elen = strlen(ext);

	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != ID_LEN + elen ||
		    strcmp(de->d_name + ID_LEN, ext) != 0)
			continue;
		memcpy(id, de->d_name, ID_LEN);
		id[ID_LEN] = '\0';
		if (!id_valid(id))
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = xstrdup(id);
	}
	closedir(d);
	*out = v;
	*np = n;
}

/* The command ids with a spooled result, in no particular order. */
int
spool_list(struct spool *sp, char ***out, size_t *np)
{
	DIR		*d;
	int		 fd;

	*out = NULL;
	*np = 0;
	fd = dup(sp->spoolfd);
	d = fd != -1 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		log_warn("%s/spool", sp->dir);
		if (fd != -1)
			close(fd);
		return -1;
	}
	rewinddir(d);
	dir_ids(d, ".json", out, np);
	return 0;
}

void
spool_list_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
