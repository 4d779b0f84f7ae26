/*
 * workers.c: the worker listener's protocol on top of the connection
 * layer (conn.h): admission by key, each message checked and handed to
 * the db thread as a job, pings, and what the db thread sends back.
 */
#ifndef WORKERS_H
#define WORKERS_H

#include <stddef.h>

#include <libwebsockets.h>

#include "conn.h"
#include "queue.h"

struct config;

extern const struct conn_kind		workers_kind;
extern const struct lws_protocols	workers_protocols[];

void	workers_init(const struct config *);
void	workers_free(void);
void	workers_out(struct out *);
void	workers_tick(long long now_ms);
void	workers_close_all(void);
void	workers_counts(size_t *online, size_t *queued);

#endif
