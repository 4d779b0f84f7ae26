/*
 * UUIDs for every row we create. v4 (random) so ids reveal nothing about
 * the host or the time, and can be made in any process without a lock.
 */
#include <ctype.h>
#include <string.h>
#include <uuid/uuid.h>

#include "id.h"

void
id_new(char out[ID_LEN + 1])
{
	uuid_t	 u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

/* Accepts the canonical 8-4-4-4-12 hex form, either case. */
int
id_valid(const char *s)
{
	size_t	 i;

	if (s == NULL || strlen(s) != ID_LEN)
		return 0;
	for (i = 0; i < ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/* id_valid and lower case, the form id_new writes: where an id is a key
 * outside the database (nginx's limit_req bucket, a delivery's key), the
 * case variants of one id must not count as different ids. */
int
id_canonical(const char *s)
{
	size_t	 i;

	if (!id_valid(s))
		return 0;
	for (i = 0; i < ID_LEN; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			return 0;
	return 1;
}
