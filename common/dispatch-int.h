/*
 * Inside the dispatch module (dispatch.c, dispatch-result.c,
 * dispatch-timer.c): the row they check and the helpers they share. Not
 * for any other file. It does not include dispatch.h (an include cycle
 * dispatch -> dispatch-int -> dispatch): its users include that first.
 */
#ifndef PULSE_DISPATCH_INT_H
#define PULSE_DISPATCH_INT_H

#include <stddef.h>

#include "id.h"
#include "pulse-limits.h"
#include "status.h"

struct db;
struct db_res;
struct dispatch_cmd;
struct dispatch_ids;
struct json_object;

/* One dispatch row as the checks need it. */
struct drow {
	char		 id[ID_LEN + 1];
	char		 execution_id[ID_LEN + 1];
	char		 worker_id[ID_LEN + 1];
	char		 worker_name[WORKER_NAME_MAX + 1];
	char		 status[16];
	enum dispatch_status st;	/* DISP_STATUS_COUNT: not known */
	int		 step;
	int		 cancel_requested;
	long long	 timeout_ms;
};

/* Columns 0-7 of a dispatch row select (sql_lock's) into r. */
void	dsp_drow_fill(struct drow *, const struct db_res *, size_t row);
/* Lock one dispatch: 1 and r, 0 if there is none, -1 on a db error. */
int	dsp_drow_lock(struct db *, const char *id, struct drow *);
/* What every event about one command says of it (a new object). */
struct json_object *dsp_drow_event_json(const struct drow *);
/* The dispatch_status event; exit_code and duration only if has_*. */
int	dsp_event(struct db *, const struct drow *, const char *status,
	    int has_exit, long long exit_code, int has_dur,
	    long long duration, const char *error);
/* A command (res row with command and attempt) or a cancel (res NULL). */
void	dsp_cmd_add(struct dispatch_cmd **, size_t *, const struct drow *,
	    const struct db_res *res, size_t row);
void	dsp_ids_add(struct dispatch_ids *, const char *id);
/* sent -> running, with its event; 0 also when it was not sent. */
int	dsp_mark_started(struct db *, struct drow *, long long grace_ms);
/* Its streamed output chunks are dropped (stored or lost by now). */
int	dsp_chunks_clear(struct db *, const char *id);

#endif
