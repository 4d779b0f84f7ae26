/*
 * A line diff (Myers' O(ND) greedy algorithm): the shortest edit script
 * turning text a into text b, and its hunks with context lines, as the
 * execution diff shows them. Pure: no I/O, no logging; bounded by the
 * limits the caller passes, past which it answers "too large" and why.
 */
#ifndef PULSE_LINEDIFF_H
#define PULSE_LINEDIFF_H

#include <stddef.h>

/*
 * A line: the bytes before its '\n' (len of them at p, pointing into the
 * caller's text), and whether it ended with one. Only a text's last line
 * can lack it; "x" and "x\n" are different lines, so a newline lost at
 * the end shows as that line removed and added (eol tells them apart).
 */
struct linediff_line {
	const char	*p;
	size_t		 len;
	int		 eol;
};

/* One step of the script: ' ' a[a] == b[b], '-' a[a] goes, '+' b[b] comes. */
struct linediff_op {
	char		 op;
	size_t		 a, b;	/* line indexes; for '+' a is where, for '-' b */
};

/*
 * A hunk, numbered as unified diff does: a_start is the 1-based first
 * line of a it shows, or with a_lines 0 the line after which b's lines
 * come (0: before the first); the same for b. Its lines are ops
 * [first, first + count).
 */
struct linediff_hunk {
	size_t		 a_start, a_lines, b_start, b_lines;
	size_t		 first, count;
};

struct linediff_limits {
	size_t		 lines_max;	/* lines of either side */
	size_t		 edits_max;	/* lines removed plus lines added */
	/* Steps of the search all diffs of a request may take together:
	 * *work_left is spent by each call (NULL: no such bound). */
	unsigned long long *work_left;
};

struct linediff {
	struct linediff_line	*a, *b;
	size_t			 na, nb;
	struct linediff_op	*ops;		/* every line of a and b once */
	size_t			 nops;
	size_t			 edits;		/* '-' and '+' ops: minimal */
	struct linediff_hunk	*hunks;
	size_t			 nhunks;
	char			 reason[160];	/* why too large */
};

/*
 * Diff a (alen bytes) against b with `context` lines around each change.
 * 0: d holds the script and hunks (none when equal); -1: too large, with
 * d->reason set and no script. Either way linediff_free(d) afterwards.
 * d points into a and b, which must outlive it.
 */
int	linediff_run(struct linediff *d, const char *a, size_t alen,
	    const char *b, size_t blen, const struct linediff_limits *lim,
	    size_t context);
void	linediff_free(struct linediff *d);

/* Split text into lines (as linediff_run does): the count, and the lines
 * into *out (free() it) unless more than max, when *out is NULL. */
size_t	linediff_split(const char *text, size_t len, size_t max,
	    struct linediff_line **out);

#endif
