/*
 * Unit test for worker/secret.c: what clears /proc/self/environ. The test
 * runs itself again with secrets in its initial environment (one of them
 * twice), shows that unsetenv() leaves the file as it was, then that
 * secret_scrub_environ() empties it of every secret, in a forked child
 * too, and keeps every other variable; and that what secret_copy() holds
 * is not in a forked child's memory.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"
#include "test.h"

#define KEY	"key-4f0c9d2e1b7a"
#define KEY2	"key-second-copy-88e1"
#define SKEY	"secret-key-6a2b"
#define DBPW	"db-password-93c1"
#define PROBE	"probe-value-5d7e"
#define ETOK	"enroll-token-3f9a"

extern char	**environ;

/* Does /proc/self/environ hold needle (bytes, NULs included)? */
static int
environ_has(const char *needle)
{
	static char	 buf[256 * 1024];
	size_t		 n, len = strlen(needle), i;
	FILE		*f;

	if ((f = fopen("/proc/self/environ", "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (i = 0; i + len <= n; i++)
		if (memcmp(buf + i, needle, len) == 0)
			return 1;
	return 0;
}

/* Does an entry of /proc/self/environ start with prefix? */
static int
environ_entry(const char *prefix)
{
	static char	 buf[256 * 1024];
	size_t		 n, i, len = strlen(prefix);
	FILE		*f;

	if ((f = fopen("/proc/self/environ", "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (i = 0; i < n; i += strnlen(buf + i, n - i) + 1)
		if (n - i >= len && memcmp(buf + i, prefix, len) == 0)
			return 1;
	return 0;
}

static int
child(void)
{
	pid_t	 pid;
	int	 status;

	test_cond("the secrets are in /proc/self/environ at start",
	    environ_has("WORKER_API_KEY=" KEY) == 1 &&
	    environ_has("WORKER_API_KEY=" KEY2) == 1 &&
	    environ_has(SKEY) == 1 && environ_has(DBPW) == 1 &&
	    environ_has(ETOK) == 1);
	unsetenv("PULSE_TEST_PROBE");
	test_cond("unsetenv() leaves /proc/self/environ as it was",
	    getenv("PULSE_TEST_PROBE") == NULL && environ_has(PROBE) == 1);

	secret_scrub_environ();
	test_cond("after secret_scrub_environ(): no key, either copy",
	    environ_has(KEY) == 0 && environ_has(KEY2) == 0 &&
	    environ_entry("WORKER_API_KEY=") == 0);
	test_cond("... nor SECRET_KEY or DB_PASSWORD",
	    environ_has(SKEY) == 0 && environ_has(DBPW) == 0);
	test_cond("... nor PULSE_ENROLL_TOKEN", environ_has(ETOK) == 0 &&
	    environ_entry("PULSE_ENROLL_TOKEN=") == 0 &&
	    getenv("PULSE_ENROLL_TOKEN") == NULL);
	test_cond("... nor in environ", getenv("WORKER_API_KEY") == NULL &&
	    getenv("SECRET_KEY") == NULL && getenv("DB_PASSWORD") == NULL);
	test_cond("other variables stay", environ_entry("PULSE_TEST_KEEP=yes") ==
	    1 && getenv("PULSE_TEST_KEEP") != NULL &&
	    strcmp(getenv("PULSE_TEST_KEEP"), "yes") == 0);

	/* The copies the agent keeps: no forked child has them. */
	{
		char	*a = secret_copy(KEY), *b = secret_copy("");

		fflush(stdout);
		if ((pid = fork()) == 0)
			_exit(a[0] == '\0' && memcmp(a, "\0\0\0\0", 4) == 0 ?
			    0 : 1);
		/* MADV_DONTFORK on old kernels: the child faults instead. */
		test_cond("secret_copy(): a forked child reads no key there",
		    pid > 0 && waitpid(pid, &status, 0) == pid &&
		    ((WIFEXITED(status) && WEXITSTATUS(status) == 0) ||
		    (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)));
		test_cond("... while we still have it", strcmp(a, KEY) == 0 &&
		    b[0] == '\0' && a != b);
		secret_free(a);
		test_cond("secret_free() zeroes it", a[0] == '\0' &&
		    memcmp(a + 1, "\0\0\0", 3) == 0);
		secret_free(b);
	}

	/* A keeper is a fork made later: it has the wiped block. */
	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(environ_has(KEY) == 0 && environ_has(KEY2) == 0 ? 0 : 1);
	test_cond("a forked child's /proc/self/environ holds no key",
	    pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0);
	test_report();
}

int
main(int argc, char *argv[])
{
	char	**env;
	size_t	 n = 0, i;

	(void)argc;
	if (getenv("PULSE_TEST_CHILD") != NULL)
		return child();
	/* Again, with the secrets in the block the kernel sets up. */
	while (environ[n] != NULL)
		n++;
	env = calloc(n + 9, sizeof(*env));
	if (env == NULL)
		return 1;
	for (i = 0; i < n; i++)
		env[i] = environ[i];
	env[n++] = (char *)"PULSE_TEST_CHILD=1";
	env[n++] = (char *)"WORKER_API_KEY=" KEY;
	env[n++] = (char *)"PULSE_TEST_KEEP=yes";
	env[n++] = (char *)"WORKER_API_KEY=" KEY2;
	env[n++] = (char *)"SECRET_KEY=" SKEY;
	env[n++] = (char *)"DB_PASSWORD=" DBPW;
	env[n++] = (char *)"PULSE_ENROLL_TOKEN=" ETOK;
	env[n++] = (char *)"PULSE_TEST_PROBE=" PROBE;
	execve("/proc/self/exe", argv, env);
	perror("execve");
	return 1;
}
