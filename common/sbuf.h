/* A growable text buffer for output built piece by piece (metrics pages). */
#ifndef PULSE_SBUF_H
#define PULSE_SBUF_H

#include <stddef.h>

struct sbuf {
	char	*s;
	size_t	 len, cap;
};

/* Start with room for cap bytes, the first `reserve` of them left unused
 * (lws wants LWS_PRE bytes of headroom before what it sends). */
void	sbuf_init(struct sbuf *, size_t cap, size_t reserve);
void	sbuf_printf(struct sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
