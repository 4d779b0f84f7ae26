/* Unit tests for common/log.c and common/xmalloc.c's string helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "test.h"
#include "xmalloc.h"

/* Run fn with stderr going to a pipe; return what it wrote. */
static char *
capture(void (*fn)(void))
{
	static char	 buf[4096];
	int		 p[2], saved;
	ssize_t		 n;

	if (pipe(p) == -1)
		return NULL;
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void
info(void)
{
	log_info("hello %d", 42);
}

static void
warn_errno(void)
{
	errno = ENOENT;
	log_warn("open %s", "x");
}

static void
debug_off(void)
{
	log_setdebug(0);
	log_debug("hidden");
}

static void
debug_on(void)
{
	log_setdebug(1);
	log_debug("shown");
}

static void
long_line(void)
{
	char	 big[5000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_warnx("%s", big);
}

int
main(void)
{
	char	*s, *p, buf[4];
	int	 n;

	log_init("test-log", 0);
	s = capture(info);
	test_cond("info line has name, pid, text and one newline",
	    strncmp(s, "test-log[", 9) == 0 && strstr(s, "]: hello 42\n") &&
	    strchr(s, '\n') == s + strlen(s) - 1);
	s = capture(warn_errno);
	test_cond("log_warn appends strerror",
	    strstr(s, "warning: open x: No such file or directory") != NULL);
	s = capture(debug_off);
	test_cond("debug hidden unless enabled", *s == '\0');
	s = capture(debug_on);
	test_cond("debug shown when enabled", strstr(s, "debug: shown") != NULL);
	s = capture(long_line);
	test_cond("a long message is cut, still one line",
	    strlen(s) < 2200 && strchr(s, '\n') == s + strlen(s) - 1);

	n = xasprintf(&p, "%s-%d", "a", 7);
	test_cond("xasprintf", n == 3 && strcmp(p, "a-7") == 0);
	free(p);
	p = xstrndup("abcdef", 3);
	test_cond("xstrndup", strcmp(p, "abc") == 0);
	free(p);
	test_cond("strlcpy_p truncates and terminates",
	    strlcpy_p(buf, "abcdef", sizeof(buf)) == 6 &&
	    strcmp(buf, "abc") == 0);
	p = xcalloc(0, 0);
	test_cond("xcalloc(0, 0) gives a pointer", p != NULL);
	free(p);

	{
		struct log_every e = { 0, 0 };
		unsigned	 skipped = 99, i, due = 0;

		test_cond("log_every: the first line is due, none skipped",
		    log_every(&e, 3600, &skipped) == 1 && skipped == 0);
		for (i = 0; i < 5; i++)
			due += log_every(&e, 3600, &skipped);
		test_cond("log_every: none more within the interval",
		    due == 0 && e.skipped == 5);
		e.last -= 3600;
		test_cond("log_every: due again after it, counting the 5 "
		    "left out", log_every(&e, 3600, &skipped) == 1 &&
		    skipped == 5 && e.skipped == 0);
	}
	test_report();
}
