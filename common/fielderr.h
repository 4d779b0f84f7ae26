/*
 * The error of a checker that reads user JSON (params.c, batch.c,
 * retry.c): which field is at fault and a message that starts with it,
 * such as "batch.size[2]: must be ...". Both valid UTF-8, for a 400.
 */
#ifndef PULSE_FIELDERR_H
#define PULSE_FIELDERR_H

struct fielderr {
	char	field[96];	/* "params[2].pattern", "retry.delay" */
	char	msg[256];	/* field, ": ", then what is wrong */
};

/* Set both; NULL err is allowed and ignored. A cut message is trimmed
 * to whole UTF-8 characters. */
void	fielderr_set(struct fielderr *err, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void	fielderr_clear(struct fielderr *err);

#endif
