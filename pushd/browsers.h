/*
 * browsers.c: the browser listener's protocol on top of the connection
 * layer (conn.h): identity from nginx's headers, the event feed with its
 * cursor, subscriptions to live output, and resumes (replay.c).
 */
#ifndef BROWSERS_H
#define BROWSERS_H

#include <stddef.h>

#include <libwebsockets.h>

#include "conn.h"
#include "queue.h"

struct config;

extern const struct conn_kind		browsers_kind;
extern const struct lws_protocols	browsers_protocols[];

void	browsers_init(const struct config *);
/* OUT_CURSOR, OUT_EVENT, OUT_REPLAY, OUT_REPLAY_END. */
void	browsers_out(struct out *);
void	browsers_close_all(void);
void	browsers_counts(size_t *open, size_t *queued);

#endif
