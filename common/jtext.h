/*
 * JSON written straight as text, byte for byte what json-c prints for the
 * same values with JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE
 * (tests/unit/test-jtext.c compares the two): for answers that are long
 * lists of flat rows, where a json-c object per value, its hash table and
 * then its printing cost more than the database read.
 */
#ifndef PULSE_JTEXT_H
#define PULSE_JTEXT_H

#include <stddef.h>

struct jtext {
	char	*s;		/* NUL-terminated */
	size_t	 len, cap;
};

void	jtext_init(struct jtext *, size_t cap);
/* Verbatim: punctuation, keys, or text that is JSON already. */
void	jtext_raw(struct jtext *, const char *, size_t);
void	jtext_lit(struct jtext *, const char *);
/* A JSON string (escaped as json-c does), or null for NULL. */
void	jtext_str(struct jtext *, const char *);
void	jtext_int(struct jtext *, long long);
/* A database time as pjson_time() shows it ("...T...Z"), or null. */
void	jtext_time(struct jtext *, const char *);
/* The text, now the caller's to free; the jtext is empty again. */
char	*jtext_take(struct jtext *, size_t *len);

#endif
