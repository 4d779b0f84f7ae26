/*
 * Unit tests for pushd/idtail.c, the follower of a log table by id: on
 * one server a gap is waited for (order kept) then passed; on Galera
 * (an increment above 1) every gap is passed at once; either way a
 * skipped id that commits later is found among the holes until
 * IDTAIL_KEEP_MS, once, and the holes never outgrow IDTAIL_HOLES_MAX.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idtail.h"
#include "test.h"

int
main(void)
{
	struct idtail	 t;
	long long	 lo = 0, hi = 0, id;
	int		 all;

	memset(&t, 0, sizeof(t));
	idtail_start(&t, 10);
	test_cond("the next id is taken", idtail_take(&t, 11, 0) == 1 &&
	    t.cursor == 11);
	test_cond("no holes, nothing to look for", !idtail_due(&t, 0, &lo,
	    &hi));
	test_cond("one server: a gap is waited for",
	    idtail_take(&t, 13, 100) == 0 && t.cursor == 11);
	test_cond("still waited for just before IDTAIL_WAIT_MS",
	    idtail_take(&t, 13, 100 + IDTAIL_WAIT_MS - 1) == 0);
	test_cond("then passed", idtail_take(&t, 13, 100 + IDTAIL_WAIT_MS) ==
	    1 && t.cursor == 13);
	test_cond("the skipped id is a hole, looked for at once",
	    idtail_due(&t, 1200, &lo, &hi) == 1 && lo == 12 && hi == 12);
	test_cond("an id that is no hole is not taken twice",
	    idtail_found(&t, 13) == 0 && idtail_found(&t, 11) == 0);
	test_cond("the late id is taken once", idtail_found(&t, 12) == 1 &&
	    idtail_found(&t, 12) == 0);
	test_cond("a found hole is forgotten", !idtail_due(&t, 1300, &lo,
	    &hi));
	test_cond("an id at or below the cursor is not taken",
	    idtail_take(&t, 13, 1400) == 0 && idtail_take(&t, 5, 1400) == 0);

	/* Galera: increment 3, node offsets; gaps are the rule. */
	idtail_step(&t, 3);
	test_cond("Galera: a gap is passed at once",
	    idtail_take(&t, 16, 2000) == 1 && t.cursor == 16);
	test_cond("Galera: holes looked for", idtail_due(&t, 2000, &lo,
	    &hi) == 1 && lo == 14 && hi == 15);
	test_cond("Galera: not again within IDTAIL_CHECK_MS",
	    idtail_due(&t, 2000 + IDTAIL_CHECK_MS - 1, &lo, &hi) == 0);
	test_cond("Galera: a smaller id committed later is found",
	    idtail_due(&t, 2000 + IDTAIL_CHECK_MS, &lo, &hi) == 1 &&
	    idtail_found(&t, 15) == 1);
	test_cond("a hole is kept IDTAIL_KEEP_MS",
	    idtail_due(&t, 2000 + IDTAIL_KEEP_MS, &lo, &hi) == 1 &&
	    lo == 14);
	test_cond("then forgotten (rolled back, or never used)",
	    idtail_due(&t, 2001 + IDTAIL_KEEP_MS, &lo, &hi) == 0 &&
	    idtail_found(&t, 14) == 0);

	/* A burst of skipped ids: the newest IDTAIL_HOLES_MAX are kept. */
	idtail_take(&t, 16 + 3LL * IDTAIL_HOLES_MAX, 100000);
	test_cond("holes bounded", t.n == IDTAIL_HOLES_MAX);
	test_cond("the newest hole is kept", idtail_due(&t, 100000 +
	    IDTAIL_CHECK_MS, &lo, &hi) == 1 &&
	    hi == 15 + 3LL * IDTAIL_HOLES_MAX &&
	    lo == 16 + 3LL * IDTAIL_HOLES_MAX - IDTAIL_HOLES_MAX);
	for (all = 1, id = lo; id <= hi; id++)
		all &= idtail_found(&t, id);
	test_cond("every kept hole found once", all &&
	    idtail_found(&t, lo) == 0);
	/* More holes than the ring holds, added one at a time. */
	idtail_start(&t, 0);
	for (id = 2; id <= 2LL * IDTAIL_HOLES_MAX + 10; id += 2)
		idtail_take(&t, id, 200000);
	test_cond("a ring that wrapped stays bounded and ordered",
	    t.n == IDTAIL_HOLES_MAX && idtail_due(&t, 200000 +
	    IDTAIL_CHECK_MS, &lo, &hi) == 1 && lo < hi && hi % 2 == 1 &&
	    idtail_found(&t, hi) == 1 && idtail_found(&t, lo) == 1 &&
	    idtail_found(&t, lo - 2) == 0);
	idtail_free(&t);
	test_report();
}
