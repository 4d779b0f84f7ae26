/*
 * One log API for every program, OpenBSD-style: to stderr, which systemd
 * hands to the journal. log_warn appends strerror(errno).
 */
#ifndef PULSE_LOG_H
#define PULSE_LOG_H

#include <stdarg.h>
#include <time.h>

void	log_init(const char *progname, int debug);
void	log_setdebug(int);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * For a line about what anyone can send without limit (a refused key):
 * 1 when one is due, at most one per every_s seconds per struct (zeroed
 * to start); *skipped then says how many were left out since the last.
 * One thread per struct.
 */
struct log_every {
	time_t		 last;
	unsigned	 skipped;
};
int	log_every(struct log_every *, int every_s, unsigned *skipped);

#endif
