/*
 * The agent's secrets leave its environment once the configuration has
 * read them. Its commands run as the same user and can read
 * /proc/PID/environ of the agent and of the keeper (a fork of it); that
 * file shows the block the kernel set up at exec, which unsetenv() never
 * touches, so the bytes themselves are overwritten where they lie.
 */
#include <stdlib.h>
#include <string.h>

#include "worker.h"
#include "xmalloc.h"

/* Every variable the agent treats as secret (the config keys that are). */
static const char *const secret_names[] = {
	"WORKER_API_KEY", "SECRET_KEY", "DB_PASSWORD",
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
