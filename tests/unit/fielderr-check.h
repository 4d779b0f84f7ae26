/*
 * What tests of the language's JSON checkers share (test-batch.c,
 * test-retry.c): run a reader on a JSON text and compare its
 * struct fielderr message, or expect it to accept. One copy, so each
 * test is a table of inputs and messages.
 */
#ifndef PULSE_FIELDERR_CHECK_H
#define PULSE_FIELDERR_CHECK_H

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "fielderr.h"

/* A reader: 0 and out filled, or -1 and err. */
typedef int (*fielderr_reader)(struct json_object *, void *out,
    struct fielderr *);

/* Accepted (want NULL) or refused with exactly want. */
static int
fielderr_check(fielderr_reader read, const char *json, void *out,
    const char *want)
{
	struct json_object	*o = json_tokener_parse(json);
	struct fielderr		 err;
	int			 rc;

	memset(&err, 0, sizeof(err));
	rc = read(o, out, &err);
	json_object_put(o);
	if (want == NULL) {
		if (rc == -1)
			printf("# %s: %s\n", json, err.msg);
		return rc == 0;
	}
	if (rc != -1 || strcmp(err.msg, want) != 0) {
		printf("# %s\n#   got: %s\n#  want: %s\n", json,
		    rc == -1 ? err.msg : "(accepted)", want);
		return 0;
	}
	return 1;
}

/* A row of a table of refusals. */
struct fielderr_case {
	const char	*desc, *json, *msg;
};

#define FIELDERR_TABLE(read, out, table) do {				\
	size_t	 i_;							\
	for (i_ = 0; i_ < sizeof(table) / sizeof((table)[0]); i_++)	\
		test_cond((table)[i_].desc, fielderr_check(read,	\
		    (table)[i_].json, out, (table)[i_].msg));		\
} while (0)

#endif
