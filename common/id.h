/* Identifiers: random (v4) UUIDs as 36-character lower-case strings. */
#ifndef PULSE_ID_H
#define PULSE_ID_H

#define ID_LEN	36

void	id_new(char out[ID_LEN + 1]);
int	id_valid(const char *);
int	id_canonical(const char *);

#endif
