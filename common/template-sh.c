/*
 * Where a template sits in a sh command. A value is expanded as one
 * single-quoted word, which keeps it one literal argument only where sh
 * reads quotes: in plain words. Inside '...' or "..." the value's quotes
 * close the author's and its $(...) runs; inside `...`, $((...)), a
 * here-document or a comment sh does not read our quotes at all; after a
 * backslash or a '$' the first quote is not a quote. So a command is
 * scanned as sh would tokenise it, and a template anywhere but in a plain
 * word (at top level or in $(...)) is refused at
 * save, where the author can still drop the quotes around it.
 *
 * bash (/bin/sh on some systems) also evaluates a value as an arithmetic
 * expression, running any $(...) in an array subscript, quoted or not:
 * in (( )) (after a blank or glued to for, while, if, `{`: anywhere in a
 * word), $[ ], [[ ]], let, ${a[...]} and an array subscript in a word
 * (a[...]=, read a[...], printf -v a[...]), so those are refused too. What no
 * scan of the text can see is left to the author: a variable declared
 * -i, eval, sh -c, a script that takes its argument as code.
 *
 * The scanner keeps a stack of the quoting contexts it is in. Where it
 * cannot follow sh (case patterns closing a $( early, and the like) it
 * errs on the refusing side, never on the accepting one: the tests run
 * every accepted command through /bin/sh with a hostile value.
 */
#include <stdio.h>
#include <string.h>

#include "pulse-limits.h"
#include "template.h"

#define DEPTH_MAX	64
#define HEREDOCS_MAX	8
#define DELIM_MAX	64

enum ctx {
	C_WORD,		/* top level, or inside $(...) */
	C_SQ,		/* '...' */
	C_DQ,		/* "..." */
	C_BQ,		/* `...` */
	C_ARITH,	/* $((...)) */
	C_PARAM,	/* ${...} in a plain word */
	C_PARAM_DQ,	/* ${...} inside "..." */
	C_TEST,		/* bash's [[ ... ]] */
	C_LET,		/* bash's let ..., to the end of the command */
	C_ABR,		/* bash's $[...] (old arithmetic) */
};

struct frame {
	enum ctx	 k;
	int		 parens;	/* C_WORD in $(: open '('; C_ARITH */
	int		 cmdsub;	/* C_WORD: opened by $( */
};

struct heredoc {
	char	 delim[DELIM_MAX + 1];
	int	 strip;		/* <<- */
};

struct scan {
	const char	*s;
	size_t		 len, i;
	struct frame	 st[DEPTH_MAX];
	int		 n;
	struct heredoc	 hd[HEREDOCS_MAX];
	int		 nhd;
	struct template_err *err;
};

static const char *const where[] = {
	[C_WORD] = NULL, [C_SQ] = "single quotes",
	[C_DQ] = "double quotes", [C_BQ] = "backquotes",
	[C_ARITH] = "$(( )) or (( ))", [C_PARAM] = "${ }",
	[C_PARAM_DQ] = "double quotes", [C_TEST] = "[[ ]]", [C_LET] = "let",
	[C_ABR] = "$[ ]",
};

static int
refuse(struct scan *sc, size_t off, const char *what)
{
	if (sc->err != NULL) {
		sc->err->off = off;
		snprintf(sc->err->msg, sizeof(sc->err->msg), "a template inside "
		    "%s is not quoted safely: write it bare, as a word of its "
		    "own; its value is quoted for you", what);
	}
	return -1;
}

static int
push(struct scan *sc, enum ctx k, int cmdsub)
{
	if (sc->n == DEPTH_MAX)
		return refuse(sc, sc->i, "quoting nested this deep");
	sc->st[sc->n].k = k;
	sc->st[sc->n].parens = 0;
	sc->st[sc->n].cmdsub = cmdsub;
	sc->n++;
	return 0;
}

static int
at(const struct scan *sc, size_t i, const char *lit)
{
	size_t	 n = strlen(lit);

	return i + n <= sc->len && memcmp(sc->s + i, lit, n) == 0;
}

/* Past the template at i ("{{" known closed by the checker). */
static size_t
tmpl_end(const struct scan *sc, size_t i)
{
	const char	*c = memmem(sc->s + i + 2, sc->len - i - 2, "}}", 2);

	return c != NULL ? (size_t)(c - sc->s) + 2 : sc->len;
}

static int
word_start(const struct scan *sc, size_t i)
{
	return i == 0 || strchr(" \t\n;&|()<>", sc->s[i - 1]) != NULL;
}

/*
 * "<<" at sc->i (not "<<<"): note the delimiter; the body starts at the
 * next newline. A delimiter is read up to a blank or an operator, its
 * quotes and backslashes dropped as sh does.
 */
static int
heredoc_note(struct scan *sc)
{
	struct heredoc	*h;
	size_t		 n = 0;
	char		 q = 0, c;

	if (sc->nhd == HEREDOCS_MAX)
		return refuse(sc, sc->i, "this many here-documents");
	h = &sc->hd[sc->nhd++];
	sc->i += 2;
	h->strip = sc->i < sc->len && sc->s[sc->i] == '-';
	if (h->strip)
		sc->i++;
	while (sc->i < sc->len && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t'))
		sc->i++;
	for (; sc->i < sc->len; sc->i++) {
		c = sc->s[sc->i];
		if (q != 0) {
			if (c == q)
				q = 0;
			else if (n < DELIM_MAX)
				h->delim[n++] = c;
			continue;
		}
		if (c == '\'' || c == '"') {
			q = c;
			continue;
		}
		if (strchr(" \t\n;&|()<>", c) != NULL)
			break;
		if (c == '\\' && sc->i + 1 < sc->len)
			c = sc->s[++sc->i];
		if (n < DELIM_MAX)
			h->delim[n++] = c;
	}
	h->delim[n] = '\0';
	return 0;
}

/*
 * At a newline with here-documents pending: their bodies follow, one
 * after the other, each up to a line that is its delimiter. A template
 * in a body is refused, quoted delimiter or not.
 */
static int
heredoc_bodies(struct scan *sc)
{
	const char	*line, *nl;
	size_t		 ll, k;
	int		 h;

	sc->i++;		/* the newline */
	for (h = 0; h < sc->nhd; h++) {
		while (sc->i < sc->len) {
			line = sc->s + sc->i;
			nl = memchr(line, '\n', sc->len - sc->i);
			ll = nl != NULL ? (size_t)(nl - line) : sc->len - sc->i;
			k = 0;
			if (sc->hd[h].strip)
				while (k < ll && line[k] == '\t')
					k++;
			sc->i += ll + (nl != NULL);
			if (ll - k == strlen(sc->hd[h].delim) &&
			    memcmp(line + k, sc->hd[h].delim, ll - k) == 0)
				break;
			if (memmem(line, ll, "{{", 2) != NULL)
				return refuse(sc, (size_t)((const char *)
				    memmem(line, ll, "{{", 2) - sc->s),
				    "a here-document");
		}
	}
	sc->nhd = 0;
	return 0;
}

/*
 * Whether i sits inside a '[' of its word not closed before i: bash reads
 * a[...] in an assignment, or a name given to read, printf -v, test -v,
 * declare, as an arithmetic subscript. Quotes and $( ) inside the word do
 * not end it here: this errs on the refusing side.
 */
static int
in_subscript(const struct scan *sc, size_t i)
{
	int	 depth = 0;

	for (; i > 0 && strchr(" \t\n;&|<>", sc->s[i - 1]) == NULL; i--) {
		if (sc->s[i - 1] == ']')
			depth++;
		else if (sc->s[i - 1] == '[' && depth-- == 0)
			return 1;
	}
	return 0;
}

/* A template at sc->i: allowed only in a plain word. */
static int
template_here(struct scan *sc)
{
	const struct frame	*f = &sc->st[sc->n - 1];
	size_t			 i = sc->i;

	if (where[f->k] != NULL)
		return refuse(sc, i, where[f->k]);
	if (in_subscript(sc, i))
		return refuse(sc, i, "[ ] (bash reads a subscript as "
		    "arithmetic)");
	sc->i = tmpl_end(sc, i);
	return 0;
}

/* One step in a plain word (C_WORD or C_PARAM). */
static int
step_word(struct scan *sc, struct frame *f)
{
	char	 c = sc->s[sc->i];

	if (c == '\\') {
		sc->i += 2;
		return 0;
	}
	if (c == '#' && f->k == C_WORD && word_start(sc, sc->i)) {
		for (; sc->i < sc->len && sc->s[sc->i] != '\n'; sc->i++)
			if (at(sc, sc->i, "{{"))
				return refuse(sc, sc->i, "a comment");
		return 0;
	}
	if (c == '\n' && sc->nhd > 0)
		return heredoc_bodies(sc);
	/* Not only at a word's start: bash takes for((, while((, {(( too. */
	if (f->k == C_WORD && at(sc, sc->i, "((")) {
		sc->i += 2;
		return push(sc, C_ARITH, 0);
	}
	if (f->k == C_WORD && word_start(sc, sc->i)) {
		if (at(sc, sc->i, "[[")) {
			sc->i += 2;
			return push(sc, C_TEST, 0);
		}
		if (at(sc, sc->i, "let") && sc->i + 3 < sc->len &&
		    (sc->s[sc->i + 3] == ' ' || sc->s[sc->i + 3] == '\t')) {
			sc->i += 3;
			return push(sc, C_LET, 0);
		}
	}
	if (at(sc, sc->i, "<<") && !at(sc, sc->i, "<<<"))
		return heredoc_note(sc);
	if (f->k == C_WORD && f->cmdsub && c == '(')
		f->parens++;
	else if (f->k == C_WORD && f->cmdsub && c == ')') {
		if (f->parens-- == 0)
			sc->n--;
	} else if (f->k == C_PARAM && c == '}')
		sc->n--;
	else if (c == '\'') {
		sc->i++;
		return push(sc, C_SQ, 0);
	} else if (c == '"') {
		sc->i++;
		return push(sc, C_DQ, 0);
	}
	sc->i++;
	return 0;
}

/* "`", "$((", "$(" and "${" open the same contexts in words and "...". */
static int
step_open(struct scan *sc, int in_dq, int *opened)
{
	*opened = 1;
	if (sc->s[sc->i] == '`') {
		sc->i++;
		return push(sc, C_BQ, 0);
	}
	if (at(sc, sc->i, "$((")) {
		sc->i += 3;
		return push(sc, C_ARITH, 0);
	}
	if (at(sc, sc->i, "$(")) {
		sc->i += 2;
		return push(sc, C_WORD, 1);
	}
	if (at(sc, sc->i, "${")) {
		sc->i += 2;
		return push(sc, in_dq ? C_PARAM_DQ : C_PARAM, 0);
	}
	if (at(sc, sc->i, "$[")) {
		sc->i += 2;
		return push(sc, C_ABR, 0);
	}
	*opened = 0;
	return 0;
}

int
template_sh_check(const char *src, size_t len, struct template_err *err)
{
	struct scan	 sc;
	struct frame	*f;
	int		 opened;
	char		 c;

	memset(&sc, 0, sizeof(sc));
	sc.s = src;
	sc.len = len;
	sc.err = err;
	sc.n = 1;		/* C_WORD at top level */
	while (sc.i < len) {
		if (sc.n == 0)
			sc.n = 1;	/* a stray ')' at top level */
		f = &sc.st[sc.n - 1];
		c = src[sc.i];
		/* Checked before a backslash or "${" can step over a "{". */
		if (f->k != C_SQ && (c == '\\' || c == '$') &&
		    at(&sc, sc.i + 1, "{{"))
			return refuse(&sc, sc.i + 1, c == '$' ? "a '$'" :
			    "a backslash");
		if (at(&sc, sc.i, "{{")) {
			if (template_here(&sc) == -1)
				return -1;
			continue;
		}
		switch (f->k) {
		case C_SQ:
			if (c == '\'')
				sc.n--;
			sc.i++;
			continue;
		case C_BQ:
			if (c == '\\')
				sc.i++;
			else if (c == '`')
				sc.n--;
			sc.i++;
			continue;
		case C_ARITH:
			if (c == '(')
				f->parens++;
			else if (c == ')' && f->parens-- == 0) {
				sc.n--;
				sc.i++;		/* the second ')' */
			}
			sc.i++;
			continue;
		case C_ABR:
			if (c == '[')
				f->parens++;
			else if (c == ']' && f->parens-- == 0)
				sc.n--;
			sc.i++;
			continue;
		case C_TEST:
			if (at(&sc, sc.i, "]]"))
				sc.n--;
			sc.i += c == '\\' ? 2 : 1;
			continue;
		case C_LET:
			if (strchr("\n;&|", c) != NULL)
				sc.n--;		/* the word context reads c */
			else
				sc.i += c == '\\' ? 2 : 1;
			continue;
		case C_DQ:
		case C_PARAM_DQ:
			if (step_open(&sc, 1, &opened) == -1)
				return -1;
			if (opened)
				continue;
			if (c == '\\')
				sc.i++;
			else if ((f->k == C_DQ && c == '"') ||
			    (f->k == C_PARAM_DQ && c == '}'))
				sc.n--;
			sc.i++;
			continue;
		case C_WORD:
		case C_PARAM:
			if (c == '`' || c == '$') {
				if (step_open(&sc, 0, &opened) == -1)
					return -1;
				if (opened)
					continue;
			}
			if (step_word(&sc, f) == -1)
				return -1;
			continue;
		}
	}
	return 0;
}
