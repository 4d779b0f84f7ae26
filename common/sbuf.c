/*
 * A growable text buffer: printf appends, the buffer doubles as needed,
 * and the caller owns s (free it) when done.
 */
#include <stdarg.h>
#include <stdio.h>

#include "sbuf.h"
#include "xmalloc.h"

void
sbuf_init(struct sbuf *b, size_t cap, size_t reserve)
{
	b->cap = cap > reserve ? cap : reserve + 1;
	b->s = xmalloc(b->cap);
	b->len = reserve;
	b->s[b->len] = '\0';
}

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap * 2 + (size_t)n + 1;
		b->s = xrealloc(b->s, b->cap);
	}
}
