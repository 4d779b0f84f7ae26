/*
 * What a line diff must satisfy, shared by tests/unit/test-linediff.c and
 * tests/fuzz/fuzz_linediff.c: the script, applied to a, gives b byte for
 * byte; so do the hunks alone (as patch(1) would apply them); and, for
 * small inputs, the number of edits is the minimum an O(NM) LCS table
 * gives.
 */
#ifndef PULSE_LINEDIFF_CHECK_H
#define PULSE_LINEDIFF_CHECK_H

#include <stdlib.h>
#include <string.h>

#include "linediff.h"

/* Append line l (and its newline) at out + *o; out has room. */
static inline void
linediff_emit(char *out, size_t *o, const struct linediff_line *l)
{
	memcpy(out + *o, l->p, l->len);
	*o += l->len;
	if (l->eol)
		out[(*o)++] = '\n';
}

static inline int
linediff_same_line(const struct linediff_line *x, const struct linediff_line *y)
{
	return x->len == y->len && x->eol == y->eol &&
	    memcmp(x->p, y->p, x->len) == 0;
}

/* 0 when the script and the hunks both turn a into b; else -1. */
static inline int
linediff_check(const struct linediff *d, const char *a, size_t alen,
    const char *b, size_t blen)
{
	char	*out = malloc(alen + blen + 1);
	size_t	 i, j, o = 0, ai = 0, bi = 0, edits = 0, inhunk = 0;
	size_t	 bl = 0, copied;
	int	 rc = -1;

	/* The lines are a's bytes, split at each newline. */
	for (i = 0; i < d->na; i++) {
		if (i + 1 < d->na && !d->a[i].eol)
			goto done;
		linediff_emit(out, &o, &d->a[i]);
	}
	if (o != alen || memcmp(out, a, alen) != 0)
		goto done;
	o = 0;

	/* The script: in order over both sides, every line once. */
	for (i = 0; i < d->nops; i++) {
		const struct linediff_op *op = &d->ops[i];

		if (op->op == ' ') {
			if (op->a != ai || op->b != bi || ai >= d->na ||
			    bi >= d->nb ||
			    !linediff_same_line(&d->a[ai], &d->b[bi]))
				goto done;
			linediff_emit(out, &o, &d->a[ai]);
			ai++;
			bi++;
		} else if (op->op == '-') {
			if (op->a != ai || op->b != bi || ai >= d->na)
				goto done;
			ai++;
			edits++;
		} else if (op->op == '+') {
			if (op->a != ai || op->b != bi || bi >= d->nb)
				goto done;
			linediff_emit(out, &o, &d->b[bi]);
			bi++;
			edits++;
		} else
			goto done;
	}
	if (ai != d->na || bi != d->nb || edits != d->edits || o != blen ||
	    memcmp(out, b, blen) != 0)
		goto done;
	if ((edits == 0) != (d->nhunks == 0))
		goto done;

	/* The hunks alone, with a's lines between them copied. */
	o = 0;
	ai = 0;
	for (i = 0; i < d->nhunks; i++) {
		const struct linediff_hunk *h = &d->hunks[i];
		size_t from = h->a_lines > 0 ? h->a_start - 1 : h->a_start;
		size_t na = 0, nb = 0;

		if (from < ai || from > d->na || h->count == 0 ||
		    h->first + h->count > d->nops)
			goto done;
		copied = ai;
		while (ai < from)
			linediff_emit(out, &o, &d->a[ai++]);
		/* b's numbering: the line b has reached here. */
		bl += from - copied;
		if ((h->b_lines > 0 ? h->b_start - 1 : h->b_start) != bl)
			goto done;
		for (j = h->first; j < h->first + h->count; j++) {
			const struct linediff_op *op = &d->ops[j];

			if (op->op != '+') {
				if (ai >= d->na || !linediff_same_line(
				    &d->a[ai], &d->a[op->a]))
					goto done;
				ai++;
				na++;
			}
			if (op->op != '-') {
				linediff_emit(out, &o, op->op == '+' ?
				    &d->b[op->b] : &d->a[op->a]);
				nb++;
			}
			if (op->op != ' ')
				inhunk++;
		}
		if (na != h->a_lines || nb != h->b_lines)
			goto done;
		bl += nb;
	}
	while (ai < d->na)
		linediff_emit(out, &o, &d->a[ai++]);
	if (inhunk != edits || o != blen || memcmp(out, b, blen) != 0)
		goto done;
	rc = 0;
done:
	free(out);
	return rc;
}

/* The fewest edits: na + nb - 2 LCS, by the O(NM) table. */
static inline size_t
linediff_min_edits(const struct linediff *d)
{
	size_t	*row = calloc(d->nb + 1, sizeof(*row));
	size_t	 i, j, diag, up, lcs;

	for (i = 1; i <= d->na; i++) {
		diag = 0;
		for (j = 1; j <= d->nb; j++) {
			up = row[j];
			if (linediff_same_line(&d->a[i - 1], &d->b[j - 1]))
				row[j] = diag + 1;
			else if (row[j - 1] > row[j])
				row[j] = row[j - 1];
			diag = up;
		}
	}
	lcs = row[d->nb];
	free(row);
	return d->na + d->nb - 2 * lcs;
}

#endif
