/*
 * dbthread.c: the database thread (dbt-*.c hold its parts, dbt.h their
 * shared state). The loop talks to it only through queue.h.
 */
#ifndef DBTHREAD_H
#define DBTHREAD_H

struct config;

int	dbthread_start(const struct config *, const char *node);
int	dbthread_join(int wait_ms);

#endif
