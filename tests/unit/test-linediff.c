/*
 * Unit tests for common/linediff.c: small cases written out, the limits,
 * and a property check over random texts: the script turns a into b
 * exactly, so do the hunks alone, and the number of edits is the minimum
 * an O(NM) LCS table gives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linediff.h"
#include "linediff-check.h"
#include "test.h"

static const struct linediff_limits big = { 20000, 2000, NULL };
/* Each ceiling, and one past it. */
static const struct linediff_limits lines100 = { 100, 2000, NULL };
static const struct linediff_limits lines101 = { 101, 2000, NULL };
static const struct linediff_limits edits59 = { 20000, 59, NULL };
static const struct linediff_limits edits60 = { 20000, 60, NULL };

/* The hunks as unified diff text ("@@ -1,2 +1,3 @@\n lines"). */
static char *
unified(const struct linediff *d)
{
	static char	 buf[8192];
	size_t		 h, i, o = 0;

	buf[0] = '\0';
	for (h = 0; h < d->nhunks; h++) {
		const struct linediff_hunk *k = &d->hunks[h];

		o += (size_t)snprintf(buf + o, sizeof(buf) - o,
		    "@@ -%zu,%zu +%zu,%zu @@\n", k->a_start, k->a_lines,
		    k->b_start, k->b_lines);
		for (i = k->first; i < k->first + k->count; i++) {
			const struct linediff_op *op = &d->ops[i];
			const struct linediff_line *l = op->op == '+' ?
			    &d->b[op->b] : &d->a[op->a];

			o += (size_t)snprintf(buf + o, sizeof(buf) - o,
			    "%c%.*s%s\n", op->op, (int)l->len, l->p,
			    l->eol ? "" : "\\");
		}
	}
	return buf;
}

static int
diff_is(const char *a, const char *b, size_t edits, const char *want)
{
	struct linediff	 d;
	int		 ok;

	if (linediff_run(&d, a, strlen(a), b, strlen(b), &big, 3) == -1) {
		linediff_free(&d);
		return 0;
	}
	ok = d.edits == edits && strcmp(unified(&d), want) == 0 &&
	    linediff_check(&d, a, strlen(a), b, strlen(b)) == 0;
	if (!ok)
		printf("# edits %zu, got:\n%s", d.edits, unified(&d));
	linediff_free(&d);
	return ok;
}

/* n lines "<prefix><i>\n". */
static char *
numbered(const char *prefix, size_t n)
{
	size_t	 i, o = 0, cap = n * (strlen(prefix) + 12) + 1;
	char	*s = malloc(cap);

	s[0] = '\0';
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%zu\n", prefix, i);
	return s;
}

static int
too_large(const char *a, const char *b, const struct linediff_limits *lim,
    const char *reason_has)
{
	struct linediff	 d;
	int		 ok;

	ok = linediff_run(&d, a, strlen(a), b, strlen(b), lim, 3) == -1 &&
	    strstr(d.reason, reason_has) != NULL && d.ops == NULL &&
	    d.nhunks == 0;
	if (!ok)
		printf("# reason: %s\n", d.reason);
	linediff_free(&d);
	return ok;
}

/* Diffed within lim, with `edits` edits and a script that checks out. */
static int
diffed(const char *a, const char *b, const struct linediff_limits *lim,
    size_t edits)
{
	struct linediff	 d;
	int		 ok;

	ok = linediff_run(&d, a, strlen(a), b, strlen(b), lim, 3) == 0 &&
	    d.edits == edits && linediff_check(&d, a, strlen(a), b,
	    strlen(b)) == 0;
	linediff_free(&d);
	return ok;
}

/* Random text of up to maxlines lines over a small alphabet of lines,
 * so that lines repeat and the search has choices. */
static size_t
random_text(char *buf, size_t maxlines, unsigned alphabet)
{
	size_t	 n = (size_t)rand() % (maxlines + 1), i, o = 0;

	for (i = 0; i < n; i++)
		o += (size_t)sprintf(buf + o, "%c%s", 'a' + rand() % alphabet,
		    i + 1 == n && rand() % 4 == 0 ? "" : "\n");
	return o;
}

int
main(void)
{
	struct linediff		 d;
	struct linediff_limits	 lim;
	unsigned long long	 work;
	char			 a[4096], b[4096], *x, *y;
	size_t			 alen, blen, i, bad_script = 0, bad_min = 0;

	test_cond("identical: no edits, no hunks",
	    diff_is("a\nb\nc\n", "a\nb\nc\n", 0, ""));
	test_cond("both empty", diff_is("", "", 0, ""));
	test_cond("a empty: all added", diff_is("", "x\ny\n", 2,
	    "@@ -0,0 +1,2 @@\n+x\n+y\n"));
	test_cond("b empty: all removed", diff_is("x\ny\n", "", 2,
	    "@@ -1,2 +0,0 @@\n-x\n-y\n"));
	test_cond("a line added in the middle",
	    diff_is("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\n4\nnew\n5\n6\n7\n8\n",
	    1, "@@ -2,6 +2,7 @@\n 2\n 3\n 4\n+new\n 5\n 6\n 7\n"));
	test_cond("a line removed at the start",
	    diff_is("0\n1\n2\n3\n4\n5\n", "1\n2\n3\n4\n5\n", 1,
	    "@@ -1,4 +1,3 @@\n-0\n 1\n 2\n 3\n"));
	test_cond("a line changed at the end",
	    diff_is("1\n2\n3\n4\n5\nold\n", "1\n2\n3\n4\n5\nnew\n", 2,
	    "@@ -3,4 +3,4 @@\n 3\n 4\n 5\n-old\n+new\n"));
	test_cond("changes 6 lines apart share a hunk",
	    diff_is("a\n1\n2\n3\n4\n5\n6\nb\n", "A\n1\n2\n3\n4\n5\n6\nB\n", 4,
	    "@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n-b\n+B\n"));
	test_cond("changes 7 lines apart make two hunks",
	    diff_is("a\n1\n2\n3\n4\n5\n6\n7\nb\n",
	    "A\n1\n2\n3\n4\n5\n6\n7\nB\n", 4,
	    "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n"
	    "@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-b\n+B\n"));
	test_cond("a missing final newline is a change of that line",
	    diff_is("a\nb\n", "a\nb", 2, "@@ -1,2 +1,2 @@\n a\n-b\n+b\\\n"));
	test_cond("a last line without newline is a line",
	    diff_is("x", "y", 2, "@@ -1,1 +1,1 @@\n-x\\\n+y\\\n"));
	test_cond("an empty line is a line", diff_is("\n", "", 1,
	    "@@ -1,1 +0,0 @@\n-\n"));
	test_cond("lines are bytes: a CR is kept",
	    diff_is("a\r\nb\n", "a\nb\n", 2, "@@ -1,2 +1,2 @@\n-a\r\n+a\n b\n"));

	/* The checker itself must catch a wrong script. */
	test_cond("a broken script fails the check",
	    linediff_run(&d, "a\nb\n", 4, "a\nc\n", 4, &big, 3) == 0 &&
	    d.nops == 3 && d.ops[2].op == '+' &&
	    (d.ops[2].op = ' ', linediff_check(&d, "a\nb\n", 4, "a\nc\n",
	    4) == -1));
	linediff_free(&d);

	/* Ceilings. */
	x = numbered("l", 101);
	y = numbered("l", 100);
	test_cond("more lines than lines_max: too large, a named",
	    too_large(x, y, &lines100, "a has 101 lines, more than the 100"));
	test_cond("b past lines_max: b named",
	    too_large(y, x, &lines100, "b has 101 lines"));
	test_cond("exactly lines_max lines is diffed",
	    diffed(x, y, &lines101, 1));
	free(x);
	free(y);
	/* 30 lines all replaced: 60 edits. */
	x = numbered("a", 30);
	y = numbered("b", 30);
	test_cond("more edits than edits_max: too large", too_large(x, y,
	    &edits59, "more than 59 lines were removed or added"));
	test_cond("exactly edits_max edits is diffed",
	    diffed(x, y, &edits60, 60));
	work = 100;
	lim = big;
	lim.work_left = &work;
	test_cond("work budget spent: too large, budget at 0",
	    too_large(x, y, &lim, "budget") && work == 0);
	work = 1000000;
	test_cond("work budget is spent by each diff",
	    linediff_run(&d, x, strlen(x), y, strlen(y), &lim, 3) == 0 &&
	    work < 1000000 && work > 0);
	linediff_free(&d);
	free(x);
	free(y);
	/* The whole ceiling: 20,000 lines a side, 2,000 edits, in time. */
	x = numbered("line ", 20000);
	y = numbered("line ", 20000);
	/* Every 20th line changed: 1,000 lines, 2,000 edits. */
	for (i = 0, alen = 0; y[alen] != '\0'; alen++)
		if ((alen == 0 || y[alen - 1] == '\n') && i++ % 20 == 0)
			y[alen] = 'L';
	test_cond("20,000 lines with 2,000 edits: diffed",
	    diffed(x, y, &big, 2000));
	y[strlen(y) - 2] = 'X';
	test_cond("... and 2,002 edits: too large",
	    too_large(x, y, &big, "more than 2000"));
	free(x);
	free(y);

	/* Property: random texts, lines repeating. */
	srand(15);
	for (i = 0; i < 3000; i++) {
		alen = random_text(a, 40, 1 + (unsigned)(i % 5));
		blen = random_text(b, 40, 1 + (unsigned)(i % 5));
		if (linediff_run(&d, a, alen, b, blen, &big, i % 4) == -1 ||
		    linediff_check(&d, a, alen, b, blen) == -1)
			bad_script++;
		else if (d.edits != linediff_min_edits(&d))
			bad_min++;
		linediff_free(&d);
	}
	test_cond("3,000 random pairs: script and hunks turn a into b",
	    bad_script == 0);
	test_cond("3,000 random pairs: edits minimal (LCS table)",
	    bad_min == 0);
	test_report();
}
