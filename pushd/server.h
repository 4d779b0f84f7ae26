/*
 * server.c: the loop and its listeners; the top of pushd (main.c starts
 * it). Everything it drives has its own header.
 */
#ifndef SERVER_H
#define SERVER_H

struct config;

/* Also makes the loop's end of the queue to the db thread (queue_init). */
int	server_init(const struct config *);
void	server_run(void);
void	server_free(void);
/* From main's signal thread: the one cross-thread call. */
void	server_request_stop(void);

#endif
