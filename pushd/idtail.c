/*
 * A log table followed by id, with its holes (idtail.h says why). The
 * holes are a ring in ascending id order: added at the back as the
 * cursor moves, dropped at the front once IDTAIL_KEEP_MS old (or found),
 * and the oldest dropped when it is full: a burst of skipped ids shortens
 * how late a row may come, it never grows the memory.
 */
#include <stdlib.h>
#include <string.h>

#include "idtail.h"
#include "xmalloc.h"

#define HOLE(t, i)	((t)->holes[((t)->head + (i)) & (IDTAIL_HOLES_MAX - 1)])

void
idtail_start(struct idtail *t, long long cursor)
{
	if (t->holes == NULL)
		t->holes = xcalloc(IDTAIL_HOLES_MAX, sizeof(*t->holes));
	t->cursor = cursor;
	t->gap_since = 0;
	t->checked_ms = 0;
	t->head = t->n = 0;
	if (t->step < 1)
		t->step = 1;
}

void
idtail_free(struct idtail *t)
{
	free(t->holes);
	memset(t, 0, sizeof(*t));
}

/* @@auto_increment_increment as the server reports it with each read. */
void
idtail_step(struct idtail *t, long long step)
{
	t->step = step < 1 ? 1 : step;
}

static void
hole_add(struct idtail *t, long long id, long long now)
{
	if (t->n == IDTAIL_HOLES_MAX) {
		t->head = (t->head + 1) & (IDTAIL_HOLES_MAX - 1);
		t->n--;
	}
	HOLE(t, t->n).id = id;
	HOLE(t, t->n).since_ms = now;
	t->n++;
}

/*
 * The next row read after the cursor, in id order: 1 to take it (the ids
 * skipped become holes), 0 to stop here and read again later (one
 * server, a gap younger than IDTAIL_WAIT_MS).
 */
int
idtail_take(struct idtail *t, long long id, long long now)
{
	if (id <= t->cursor)
		return 0;	/* not after the cursor: not ours to take */
	if (id != t->cursor + 1) {
		if (t->step == 1) {
			if (t->gap_since == 0)
				t->gap_since = now;
			if (now - t->gap_since < IDTAIL_WAIT_MS)
				return 0;
		}
		/* A huge jump: only the last ids may come. */
		if (id - t->cursor > IDTAIL_HOLES_MAX)
			t->cursor = id - IDTAIL_HOLES_MAX - 1;
		while (++t->cursor < id)
			hole_add(t, t->cursor, now);
	}
	t->gap_since = 0;
	t->cursor = id;
	return 1;
}

/*
 * Forget holes found or too old; 1 and the id range [lo, hi] to look in
 * when some are left and it is time to look (every poll on one server,
 * where holes are rare; every IDTAIL_CHECK_MS on Galera, where most ids
 * are never used and the range spans the last minute), else 0.
 */
int
idtail_due(struct idtail *t, long long now, long long *lo, long long *hi)
{
	while (t->n > 0 && (HOLE(t, 0).since_ms == -1 ||
	    now - HOLE(t, 0).since_ms > IDTAIL_KEEP_MS)) {
		t->head = (t->head + 1) & (IDTAIL_HOLES_MAX - 1);
		t->n--;
	}
	if (t->n == 0)
		return 0;
	if (t->step > 1 && now - t->checked_ms < IDTAIL_CHECK_MS)
		return 0;
	t->checked_ms = now;
	*lo = HOLE(t, 0).id;
	*hi = HOLE(t, t->n - 1).id;
	return 1;
}

/* id seen in a hole's range: 1 if it is a hole (now found), else 0. */
int
idtail_found(struct idtail *t, long long id)
{
	size_t	 lo = 0, hi = t->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (HOLE(t, mid).id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == t->n || HOLE(t, lo).id != id || HOLE(t, lo).since_ms == -1)
		return 0;
	HOLE(t, lo).since_ms = -1;
	return 1;
}
