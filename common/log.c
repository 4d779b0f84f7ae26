/*
 * Logging to stderr with the program name and pid, one line per call so
 * that lines from a pool of processes never interleave mid-line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char	*log_name = "pulse";
static int		 log_debugging;

void
log_init(const char *progname, int debug)
{
	log_name = progname;
	log_debugging = debug;
}

void
log_setdebug(int debug)
{
	log_debugging = debug;
}

static void
vlog(const char *level, const char *fmt, va_list ap, const char *suffix)
{
	char	 msg[2048];
	int	 n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	/* One write(2) keeps concurrent children's lines whole. */
	dprintf(STDERR_FILENO, "%s[%d]: %s%s%s%s\n", log_name, (int)getpid(),
	    level, msg, suffix ? ": " : "", suffix ? suffix : "");
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog("warning: ", fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog("", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_debugging)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	vlog("fatal: ", fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog("fatal: ", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}

int
log_every(struct log_every *e, int every_s, unsigned *skipped)
{
	time_t	 now = time(NULL);

	if (e->last != 0 && now - e->last < every_s) {
		e->skipped++;
		return 0;
	}
	e->last = now;
	*skipped = e->skipped;
	e->skipped = 0;
	return 1;
}
