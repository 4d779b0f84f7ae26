/*
 * Allocation that cannot fail: on out-of-memory the program aborts, so
 * callers never test for NULL (tmux xmalloc.c).
 */
#ifndef PULSE_XMALLOC_H
#define PULSE_XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
size_t	 strlcpy_p(char *, const char *, size_t);

#endif
