/*
 * The agent's secrets leave its environment once the configuration has
 * read them. Its commands run as the same user and can read
 * /proc/PID/environ of the agent and of the keeper (a fork of it); that
 * file shows the block the kernel set up at exec, which unsetenv() never
 * touches, so the bytes themselves are overwritten where they lie. The
 * copies the agent keeps (the key, for every reconnect) live in a page
 * that a keeper does not inherit.
 */
#include <sys/mman.h>

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#define SECRET_SLOT	(WORKER_KEY_MAX + 1)
#define SECRET_SLOTS	8

/* The slots of secret_copy(): one page, wiped in every child. */
static char	*secret_page;
static int	 secret_used[SECRET_SLOTS];

/* Every variable the agent treats as secret (the config keys that are). */
static const char *const secret_names[] = {
	"WORKER_API_KEY", "SECRET_KEY", "DB_PASSWORD", "PULSE_ENROLL_TOKEN",
};

/* 1 when entry ("NAME=value") names a secret. */
int
secret_entry(const char *entry)
{
	size_t	 i, len;

	for (i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++) {
		len = strlen(secret_names[i]);
		if (strncmp(entry, secret_names[i], len) == 0 &&
		    entry[len] == '=')
			return 1;
	}
	return 0;
}

/*
 * Take every secret out of environ and zero its "NAME=value" bytes. The
 * strings of the initial environment are what /proc/PID/environ shows
 * (between the kernel's env_start and env_end): zeroing them there is
 * what empties that file; a string setenv() made is zeroed too. Call it
 * after the configuration holds its own copies and before any fork.
 */
void
secret_scrub_environ(void)
{
	extern char	**environ;
	char		**hit;
	size_t		 n = 0, nhit = 0, i;

	while (environ[n] != NULL)
		n++;
	hit = xcalloc(n + 1, sizeof(*hit));
	for (i = 0; i < n; i++)
		if (secret_entry(environ[i]))
			hit[nhit++] = environ[i];
	/* Out of environ first: nothing may find a zeroed entry later. */
	for (i = 0; i < sizeof(secret_names) / sizeof(secret_names[0]); i++)
		unsetenv(secret_names[i]);
	for (i = 0; i < nhit; i++)
		explicit_bzero(hit[i], strlen(hit[i]));
	free(hit);
}

/*
 * The page is zero in a forked child (MADV_WIPEONFORK, Linux 4.14), or
 * absent there (MADV_DONTFORK, older kernels): a keeper lives as long as
 * its command, survives its agent, and never needs the key. The child
 * of vfork shares our memory only until its execve.
 */
static void
secret_page_init(void)
{
	size_t	 len = (size_t)sysconf(_SC_PAGESIZE);
	void	*p;

	if (len < SECRET_SLOT * SECRET_SLOTS)
		len = SECRET_SLOT * SECRET_SLOTS;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("mmap");
	if (madvise(p, len, MADV_WIPEONFORK) == -1 &&
	    madvise(p, len, MADV_DONTFORK) == -1)
		fatal("madvise");
	secret_page = p;
}

/*
 * A copy of value (at most WORKER_KEY_MAX bytes) that no forked child
 * has; secret_free() zeroes it. A few at once: the connection's and the
 * heartbeat's key.
 */
char *
secret_copy(const char *value)
{
	size_t	 len = strlen(value), i;

	if (len >= SECRET_SLOT)
		fatalx("a secret over %d bytes", WORKER_KEY_MAX);
	if (secret_page == NULL)
		secret_page_init();
	for (i = 0; i < SECRET_SLOTS; i++)
		if (!secret_used[i]) {
			secret_used[i] = 1;
			memcpy(secret_page + i * SECRET_SLOT, value, len + 1);
			return secret_page + i * SECRET_SLOT;
		}
	fatalx("more than %d secrets held", SECRET_SLOTS);
}

void
secret_free(char *p)
{
	size_t	 i;

	if (p == NULL)
		return;
	for (i = 0; i < SECRET_SLOTS; i++)
		if (secret_used[i] && p == secret_page + i * SECRET_SLOT)
			break;
	if (i == SECRET_SLOTS)
		fatalx("secret_free: not a secret_copy()");
	explicit_bzero(p, SECRET_SLOT);
	secret_used[i] = 0;
}

/*
 * Memory that libwebsockets and OpenSSL free is wiped first: their
 * buffers held the enrollment answer and rotate_key messages (a key),
 * and a freed block stays in the heap that a command's keeper, forked
 * later, copies. A realloc moves through a new block so that the old
 * one is wiped too.
 */
static void *
wipe_realloc(void *p, size_t size)
{
	void	*n;
	size_t	 old;

	if (p == NULL)
		return size == 0 ? NULL : malloc(size);
	old = malloc_usable_size(p);
	if (size == 0) {
		explicit_bzero(p, old);
		free(p);
		return NULL;
	}
	if ((n = malloc(size)) == NULL)
		return NULL;
	memcpy(n, p, old < size ? old : size);
	explicit_bzero(p, old);
	free(p);
	return n;
}

static void *
wipe_lws(void *p, size_t size, const char *reason)
{
	(void)reason;
	return wipe_realloc(p, size);
}

static void *
wipe_ssl_malloc(size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(size);
}

static void *
wipe_ssl_realloc(void *p, size_t size, const char *file, int line)
{
	(void)file;
	(void)line;
	return wipe_realloc(p, size);
}

static void
wipe_ssl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	wipe_realloc(p, 0);
}

/* Before anything is allocated by either library. */
void
secret_wipe_freed(void)
{
	lws_set_allocator(wipe_lws);
	if (CRYPTO_set_mem_functions(wipe_ssl_malloc, wipe_ssl_realloc,
	    wipe_ssl_free) != 1)
		log_warnx("OpenSSL's buffers are freed without being wiped");
}

