/*
 * wmsg.c: a worker's message, decoded and checked; no socket, no lws
 * call, so the unit test and the libFuzzer target run exactly this code.
 */
#ifndef WMSG_H
#define WMSG_H

#include <stddef.h>

#include "dispatch.h"

struct json_object;

enum wmsg_type {
	WMSG_CONNECT,		/* worker_connect */
	WMSG_STARTED,		/* command_started */
	WMSG_OUTPUT,		/* command_output */
	WMSG_RESULT,		/* command_result */
	WMSG_WORKFLOW_RESULT,	/* workflow_result (older agents) */
	WMSG_PONG,		/* pong */
	WMSG_KEY_ACK,		/* key_ack: a rotated key is stored */
};

struct wmsg {
	enum wmsg_type		 type;
	const char		*type_name;
	int			 any_time;	/* may precede worker_connect */
	struct json_object	*json;		/* owns every string below */

	const char		*worker_id;	/* CONNECT; any other: NULL
						   when not given */
	long long		 key_id;	/* KEY_ACK */
	const char		*worker_name;	/* CONNECT */
	const char		*version;
	const char		**groups;
	size_t			 ngroups;
	int			 has_groups;
	const char		**running;
	size_t			 nrunning;
	int			 has_running;	/* a journaling agent */

	const char		*command_id;	/* STARTED, OUTPUT */
	const char		*execution_id;	/* STARTED, WORKFLOW_RESULT */
	int			 stream;	/* OUTPUT */
	long long		 offset;
	const char		*b64;
	size_t			 b64len;

	struct dispatch_result	 res;		/* RESULT */
};

/* The JSON and a known type: 0, or -1 with why (nothing held). */
int		 wmsg_parse(struct wmsg *, const char *, size_t, char *why,
		    size_t);
/* That type's fields: 0, or -1 with why (call wmsg_clear all the same). */
int		 wmsg_fields(struct wmsg *, char *why, size_t);
struct json_object *wmsg_take_json(struct wmsg *);
const char	**wmsg_take_running(struct wmsg *);
void		 wmsg_clear(struct wmsg *);

#endif
