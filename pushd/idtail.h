/*
 * Following a log table (events, worker_trust_events) by its
 * AUTO_INCREMENT id. An id is taken at insert and committed later, so a
 * smaller id can become visible after a larger one: an id skipped over
 * is a hole, looked for again until it is IDTAIL_KEEP_MS old.
 *
 * One MariaDB (auto_increment_increment 1): ids are dense, a gap is a
 * transaction still open (or rolled back), so the tail waits at it up to
 * IDTAIL_WAIT_MS before going past, which keeps browsers' order.
 * Galera (wsrep_auto_increment_control: increment = cluster size, an
 * offset per node): most gaps are ids no node will ever use, and a row
 * another node commits late may carry any smaller id. Waiting would
 * delay every event, so the tail goes past at once and finds the late
 * rows among its holes (at most every IDTAIL_CHECK_MS).
 */
#ifndef PULSE_IDTAIL_H
#define PULSE_IDTAIL_H

#define IDTAIL_WAIT_MS		1000	/* one server: an id may commit
					 * this late, in order */
#define IDTAIL_KEEP_MS		60000	/* later than that: still taken */
#define IDTAIL_CHECK_MS		250	/* Galera: holes looked for */
#define IDTAIL_HOLES_MAX	16384	/* a power of two */

struct idtail_hole {
	long long	 id;
	long long	 since_ms;	/* -1: found since */
};

struct idtail {
	long long		 cursor;	/* highest id taken */
	long long		 gap_since;	/* waiting at a gap since */
	long long		 step;		/* auto_increment_increment */
	long long		 checked_ms;
	struct idtail_hole	*holes;		/* a ring, ascending ids */
	size_t			 head, n;
};

void	idtail_start(struct idtail *, long long cursor);
void	idtail_free(struct idtail *);
void	idtail_step(struct idtail *, long long step);
int	idtail_take(struct idtail *, long long id, long long now_ms);
int	idtail_due(struct idtail *, long long now_ms, long long *lo,
	    long long *hi);
int	idtail_found(struct idtail *, long long id);

#endif
