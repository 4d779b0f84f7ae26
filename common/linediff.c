/*
 * Myers' O(ND) line diff (E. Myers, "An O(ND) Difference Algorithm and
 * Its Variations", 1986), the greedy forward search keeping each round's
 * furthest points (the trace) to walk back the path. Not the linear-space
 * refinement: the caller's edit ceiling bounds D, so the trace is at most
 * (D+1)(D+2)/2 ints (8 MB at D = 2,000) and the plain version is the one
 * a reader can check against the paper line by line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linediff.h"
#include "xmalloc.h"

size_t
linediff_split(const char *text, size_t len, size_t max,
    struct linediff_line **out)
{
	struct linediff_line	*v = NULL;
	const char		*p = text, *end = text + len, *nl;
	size_t			 n = 0, i = 0;

	/* Count first: the array is allocated only when it is allowed. */
	for (p = text; p < end; n++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl == NULL ? end : nl + 1;
	}
	*out = NULL;
	if (n > max || n == 0)
		return n;
	v = xcalloc(n, sizeof(*v));
	for (p = text; p < end; i++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		v[i].p = p;
		v[i].len = nl == NULL ? (size_t)(end - p) : (size_t)(nl - p);
		v[i].eol = nl != NULL;
		p = nl == NULL ? end : nl + 1;
	}
	*out = v;
	return n;
}

static int
line_eq(const struct linediff_line *x, const struct linediff_line *y)
{
	return x->len == y->len && x->eol == y->eol &&
	    memcmp(x->p, y->p, x->len) == 0;
}

/* FNV-1a over the bytes and the newline flag. */
static uint64_t
line_hash(const struct linediff_line *l)
{
	uint64_t	h = 1469598103934665603ULL;
	size_t		i;

	for (i = 0; i < l->len; i++)
		h = (h ^ (unsigned char)l->p[i]) * 1099511628211ULL;
	return (h ^ (uint64_t)l->eol) * 1099511628211ULL;
}

/*
 * Give each distinct line a number, so the search compares ints: an
 * open-addressing table over both sides (at most 2 (na + nb) slots).
 */
static void
intern(const struct linediff *d, int *ia, int *ib)
{
	size_t		 cap = 16, i, slot, n = d->na + d->nb;
	size_t		*tab;
	int		 next = 0;

	while (cap < 2 * n)
		cap *= 2;
	tab = xcalloc(cap, sizeof(*tab));	/* line number + 1; 0 empty */
	for (i = 0; i < n; i++) {
		const struct linediff_line *l = i < d->na ? &d->a[i] :
		    &d->b[i - d->na];
		int *id = i < d->na ? &ia[i] : &ib[i - d->na];

		slot = (size_t)line_hash(l) & (cap - 1);
		for (;;) {
			size_t		 t = tab[slot];
			const struct linediff_line *o;

			if (t == 0) {
				tab[slot] = i + 1;
				*id = next++;
				break;
			}
			o = t - 1 < d->na ? &d->a[t - 1] : &d->b[t - 1 - d->na];
			if (line_eq(o, l)) {
				*id = t - 1 < d->na ? ia[t - 1] :
				    ib[t - 1 - d->na];
				break;
			}
			slot = (slot + 1) & (cap - 1);
		}
	}
	free(tab);
}

static void
push(struct linediff *d, char op, size_t a, size_t b)
{
	d->ops[d->nops].op = op;
	d->ops[d->nops].a = a;
	d->ops[d->nops].b = b;
	d->nops++;
	if (op != ' ')
		d->edits++;
}

/*
 * The search over x[0, n) and y[0, m) (ids of the lines between the
 * common prefix and suffix, which every shortest script keeps). At round
 * dd, diagonal k = x - y is reachable only with k's parity; the trace
 * keeps round dd's dd + 1 furthest x at trace[dd (dd + 1) / 2 + (k +
 * dd) / 2]. The path is pushed onto d->ops backwards (offset by pre).
 * 0, or -1 with d->reason when a limit is met.
 */
static int
search(struct linediff *d, const int *x, size_t n, const int *y, size_t m,
    size_t pre, const struct linediff_limits *lim)
{
	long		 N = (long)n, M = (long)m, max, dd, k, px, py, cx, cy;
	long		*tr = NULL, *v, *pv;
	size_t		 cells, used = 0;
	unsigned long long work = 0;
	int		 done = 0;

	max = N + M < (long)lim->edits_max ? N + M : (long)lim->edits_max;
	cells = (size_t)(max + 1) * (size_t)(max + 2) / 2;
	/* Grown as rounds are taken: most diffs end long before max. */
	for (dd = 0; dd <= max && !done; dd++) {
		size_t need = (size_t)(dd + 1) * (size_t)(dd + 2) / 2;

		if (need > used) {
			used = need * 2 < cells ? need * 2 : cells;
			tr = xreallocarray(tr, used, sizeof(*tr));
		}
		v = tr + dd * (dd + 1) / 2;
		pv = dd > 0 ? tr + (dd - 1) * dd / 2 : NULL;
		for (k = -dd; k <= dd; k += 2) {
			long i = (k + dd) / 2;

			if (dd == 0)
				px = 0;
			else if (k == -dd || (k != dd && pv[i - 1] < pv[i]))
				px = pv[i];		/* down: a '+' */
			else
				px = pv[i - 1] + 1;	/* right: a '-' */
			py = px - k;
			work++;
			while (px < N && py < M && x[px] == y[py]) {
				px++;
				py++;
				work++;
			}
			v[i] = px;
			if (px >= N && py >= M) {
				done = 1;
				break;
			}
		}
		if (lim->work_left != NULL && work > *lim->work_left) {
			*lim->work_left = 0;
			snprintf(d->reason, sizeof(d->reason), "this comparison "
			    "spent its budget of diff work before these outputs");
			free(tr);
			return -1;
		}
	}
	if (lim->work_left != NULL)
		*lim->work_left -= work;
	if (!done) {
		snprintf(d->reason, sizeof(d->reason), "more than %zu lines "
		    "were removed or added", lim->edits_max);
		free(tr);
		return -1;
	}
	/* Walk back from (N, M) through rounds dd - 1 .. 0. */
	cx = N;
	cy = M;
	for (dd = dd - 1; dd >= 0; dd--) {
		long	mx, my;

		k = cx - cy;
		if (dd == 0) {
			mx = 0;
			my = 0;
		} else {
			long i = (k + dd) / 2;

			pv = tr + (dd - 1) * dd / 2;
			if (k == -dd || (k != dd && pv[i - 1] < pv[i])) {
				px = pv[i];
				py = px - (k + 1);
				mx = px;
				my = py + 1;
			} else {
				px = pv[i - 1];
				py = px - (k - 1);
				mx = px + 1;
				my = py;
			}
		}
		while (cx > mx && cy > my) {
			cx--;
			cy--;
			push(d, ' ', pre + (size_t)cx, pre + (size_t)cy);
		}
		if (dd == 0)
			break;
		if (mx == px)
			push(d, '+', pre + (size_t)px, pre + (size_t)py);
		else
			push(d, '-', pre + (size_t)px, pre + (size_t)py);
		cx = px;
		cy = py;
	}
	free(tr);
	return 0;
}

static void
reverse(struct linediff_op *ops, size_t lo, size_t hi)
{
	struct linediff_op t;

	while (lo + 1 < hi) {
		t = ops[lo];
		ops[lo] = ops[hi - 1];
		ops[hi - 1] = t;
		lo++;
		hi--;
	}
}

/* Group the changes into hunks: two changes share one when at most
 * 2 * context unchanged lines lie between them. */
static void
hunks(struct linediff *d, size_t context)
{
	size_t	 i = 0, j, start, end, last, cap = 0;

	while (i < d->nops) {
		struct linediff_hunk *h;

		while (i < d->nops && d->ops[i].op == ' ')
			i++;
		if (i == d->nops)
			break;
		start = i > context ? i - context : 0;
		last = i;	/* the last change of this hunk */
		for (j = i; j < d->nops; j++) {
			if (d->ops[j].op != ' ')
				last = j;
			else if (j - last > 2 * context)
				break;
		}
		end = last + 1 + context < d->nops ? last + 1 + context :
		    d->nops;
		if (d->nhunks == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			d->hunks = xreallocarray(d->hunks, cap,
			    sizeof(*d->hunks));
		}
		h = &d->hunks[d->nhunks++];
		memset(h, 0, sizeof(*h));
		h->first = start;
		h->count = end - start;
		for (j = start; j < end; j++) {
			if (d->ops[j].op != '+')
				h->a_lines++;
			if (d->ops[j].op != '-')
				h->b_lines++;
		}
		/* The first op's own position; unified diff's numbering. */
		h->a_start = d->ops[start].a + (h->a_lines > 0);
		h->b_start = d->ops[start].b + (h->b_lines > 0);
		i = end;
	}
}

int
linediff_run(struct linediff *d, const char *a, size_t alen, const char *b,
    size_t blen, const struct linediff_limits *lim, size_t context)
{
	size_t	 pre = 0, suf = 0, i, na, nb;
	int	*ia = NULL, *ib = NULL;

	memset(d, 0, sizeof(*d));
	na = linediff_split(a, alen, lim->lines_max, &d->a);
	nb = linediff_split(b, blen, lim->lines_max, &d->b);
	if (na > lim->lines_max || nb > lim->lines_max) {
		snprintf(d->reason, sizeof(d->reason), "%s has %zu lines, more "
		    "than the %zu a diff reads", na > lim->lines_max ? "a" :
		    "b", na > lim->lines_max ? na : nb, lim->lines_max);
		return -1;
	}
	d->na = na;
	d->nb = nb;
	while (pre < na && pre < nb && line_eq(&d->a[pre], &d->b[pre]))
		pre++;
	while (suf < na - pre && suf < nb - pre &&
	    line_eq(&d->a[na - 1 - suf], &d->b[nb - 1 - suf]))
		suf++;
	d->ops = xcalloc(na + nb + 1, sizeof(*d->ops));
	if (pre < na - suf || pre < nb - suf) {
		ia = xcalloc(na + 1, sizeof(*ia));
		ib = xcalloc(nb + 1, sizeof(*ib));
		intern(d, ia, ib);
		/* Backwards: the common suffix, the search's path, the
		 * prefix; then the whole is reversed once. */
		for (i = 0; i < suf; i++)
			push(d, ' ', na - 1 - i, nb - 1 - i);
		if (search(d, ia + pre, na - suf - pre, ib + pre,
		    nb - suf - pre, pre, lim) == -1) {
			free(ia);
			free(ib);
			free(d->ops);
			d->ops = NULL;
			d->nops = d->edits = 0;
			return -1;
		}
		for (i = pre; i > 0; i--)
			push(d, ' ', i - 1, i - 1);
		reverse(d->ops, 0, d->nops);
		free(ia);
		free(ib);
	} else
		for (i = 0; i < na; i++)
			push(d, ' ', i, i);
	hunks(d, context);
	return 0;
}

void
linediff_free(struct linediff *d)
{
	if (d == NULL)
		return;
	free(d->a);
	free(d->b);
	free(d->ops);
	free(d->hunks);
	memset(d, 0, sizeof(*d));
}
