/*
 * replay.c: browsers' resumes read from the database on a thread of
 * their own; the events come back to the loop as OUT_REPLAY outs.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct config;

int	replay_start(const struct config *);
int	replay_join(int wait_ms);
/* 0, or -1 when too many wait (the browser is told to come back). */
int	replay_ask(uint64_t conn, uint64_t gen, long long from, long long to);
void	replay_cancel(uint64_t conn);
void	replay_counts(size_t *waiting, uint64_t *runs);

#endif
