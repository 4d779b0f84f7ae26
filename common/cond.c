/*
 * The condition language of DESIGN.md section 5: a lexer and a recursive
 * descent parser that build a small tree when a workflow is saved, and an
 * interpreter that walks it over JSON values when a step is reached. It
 * calls out to nothing: no JS engine, no shell, no clock.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond.h"
#include "pulse-limits.h"
#include "xmalloc.h"

/*
 * A decoded string literal is never longer than its source, so the source
 * ceiling bounds literals too; raise COND_SOURCE_MAX past COND_STRING_MAX
 * and the lexer needs its own check.
 */
_Static_assert(COND_SOURCE_MAX <= COND_STRING_MAX,
    "string literals are bounded by COND_SOURCE_MAX");

/* Longest identifier or source text quoted in a message. */
#define QUOTE_MAX	32

enum tok {
	T_EOF, T_ERR, T_NUMBER, T_STRING, T_IDENT,
	T_LPAREN, T_RPAREN, T_LBRACK, T_RBRACK, T_DOT, T_COMMA,
	T_NOT, T_MINUS, T_OR, T_AND,
	T_SEQ, T_SNE, T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE,
};

struct token {
	enum tok	 type;
	size_t		 off;		/* byte offset in the source */
	size_t		 len;		/* bytes of source text */
	double		 num;		/* T_NUMBER */
	char		*str;		/* T_STRING, decoded, NUL-terminated */
	size_t		 slen;
};

enum val_type {
	V_UNDEFINED, V_NULL, V_BOOL, V_NUMBER, V_STRING, V_OBJECT, V_ARRAY,
};

/*
 * A value. Strings are (s, len) and may hold NUL bytes; s is borrowed
 * from the context or the tree unless own is set. Objects and arrays are
 * borrowed from the context, so identity is pointer equality.
 */
struct val {
	enum val_type		 type;
	int			 b;
	double			 n;
	const char		*s;
	size_t			 len;
	char			*own;
	struct json_object	*o;
};

enum method_id {
	M_INCLUDES, M_STARTSWITH, M_ENDSWITH, M_TRIM, M_TOLOWER, M_TOUPPER,
};

struct method {
	const char	*name;
	enum method_id	 id;
	size_t		 nargs;
};

static const struct method methods[] = {
	{ "includes",		M_INCLUDES,	1 },
	{ "startsWith",		M_STARTSWITH,	1 },
	{ "endsWith",		M_ENDSWITH,	1 },
	{ "trim",		M_TRIM,		0 },
	{ "toLowerCase",	M_TOLOWER,	0 },
	{ "toUpperCase",	M_TOUPPER,	0 },
};

/*
 * Left-associative chains (a || b || c, a.b[c].d()) are one node with an
 * array of kids rather than a left-deep tree, so evaluating and freeing
 * recurse only as deep as the parenthesised nesting, which is bounded by
 * COND_DEPTH_MAX, never as deep as the source is long.
 */
enum node_kind {
	N_LITERAL,	/* lit */
	N_IDENT,	/* str */
	N_NOT,		/* kids[0] */
	N_NEG,		/* kids[0] */
	N_OR,		/* kids */
	N_AND,		/* kids */
	N_COMPARE,	/* kids, ops[i] joins kids[i - 1] and kids[i] */
	N_POSTFIX,	/* kids[0] the base, then N_MEMBER/N_INDEX/N_CALL */
	N_MEMBER,	/* str */
	N_INDEX,	/* kids[0] */
	N_CALL,		/* method, kids the arguments */
};

struct node {
	enum node_kind		  kind;
	int			  pos;		/* column, for messages */
	struct val		  lit;
	char			 *str;
	size_t			  len;
	const struct method	 *method;
	struct node		**kids;
	enum tok		 *ops;
	size_t			  nkids;
};

struct cond {
	struct node	 *root;
	struct node	**nodes;	/* all, so freeing needs no recursion */
	size_t		  nnodes;
	size_t		  nalloc;
};

struct parser {
	const char		*src;
	size_t			 len;
	size_t			 off;		/* next byte to lex */
	struct token		 tok;		/* the lookahead */
	int			 depth;
	int			 failed;
	struct cond_error	*err;
	struct cond		*c;
};

struct eval {
	struct json_object	*ctx;
	char			*err;
	size_t			 errlen;
};

static void	parse_error(struct parser *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	eval_error(struct eval *, const struct node *, const char *,
		    ...) __attribute__((format(printf, 3, 4)));
static struct node *parse_expr(struct parser *);
static int	eval(struct eval *, const struct node *, struct val *);

/* Names that reach JavaScript's object machinery: refused everywhere. */
static const char *const forbidden_names[] = {
	"__proto__", "constructor", "prototype",
};

/*
 * JavaScript keywords: none has a meaning here, and refusing them by name
 * says more than "unexpected identifier" would.
 */
static const char *const reserved_words[] = {
	"await", "break", "case", "catch", "class", "const", "continue",
	"debugger", "default", "delete", "do", "else", "enum", "export",
	"extends", "finally", "for", "function", "if", "import", "in",
	"instanceof", "let", "new", "return", "static", "super", "switch",
	"this", "throw", "try", "typeof", "var", "void", "while", "with",
	"yield",
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static int
in_list(const char *const *list, size_t n, const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
			return 1;
	return 0;
}

static int
is_forbidden(const char *s, size_t len)
{
	return in_list(forbidden_names, NITEMS(forbidden_names), s, len);
}

/* Character classes by hand: <ctype.h> answers depend on the locale. */
static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

static int
is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '_' || c == '$';
}

static int
is_ident_char(char c)
{
	return is_ident_start(c) || is_digit(c);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

/* ---- Lexer ---- */

static void
parse_error(struct parser *p, size_t off, const char *fmt, ...)
{
	va_list	 ap;

	if (p->failed)
		return;		/* the first error is the one the user needs */
	p->failed = 1;
	p->tok.type = T_ERR;
	p->err->pos = (int)off + 1;
	va_start(ap, fmt);
	vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
	va_end(ap);
}

static void
bad_char(struct parser *p, size_t off)
{
	unsigned char	 c = (unsigned char)p->src[off];

	if (c == '`')
		parse_error(p, off, "template literals are not allowed");
	else if (c >= 0x20 && c < 0x7f)
		parse_error(p, off, "unexpected character '%c'", c);
	else
		parse_error(p, off, "unexpected byte 0x%02x", c);
}

static void
lex_number(struct parser *p)
{
	const char	*s = p->src;
	size_t		 i = p->off, end = p->len;
	char		 buf[COND_SOURCE_MAX + 1];

	if (s[i] == '0' && i + 1 < end && is_digit(s[i + 1])) {
		parse_error(p, i,
		    "numbers with a leading zero are not allowed");
		return;
	}
	while (i < end && is_digit(s[i]))
		i++;
	if (i < end && s[i] == '.') {
		i++;
		while (i < end && is_digit(s[i]))
			i++;
	}
	if (i < end && (s[i] == 'e' || s[i] == 'E')) {
		size_t	 j = i + 1;

		if (j < end && (s[j] == '+' || s[j] == '-'))
			j++;
		if (j == end || !is_digit(s[j])) {
			parse_error(p, i, "malformed exponent in number");
			return;
		}
		while (j < end && is_digit(s[j]))
			j++;
		i = j;
	}
	/* 0x10, 1n, 1_000, 3in: JavaScript refuses these too. */
	if (i < end && is_ident_char(s[i])) {
		bad_char(p, i);
		return;
	}
	memcpy(buf, s + p->off, i - p->off);
	buf[i - p->off] = '\0';
	p->tok.type = T_NUMBER;
	/* The syntax is checked above; strtod only converts (C locale). */
	p->tok.num = strtod(buf, NULL);
	p->tok.len = i - p->off;
	p->off = i;
}

static size_t
utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Four hex digits after "\u" at off; -1 if they are not there. */
static long
hex4(struct parser *p, size_t off)
{
	long	 v = 0;
	size_t	 i;

	if (off + 6 > p->len || p->src[off] != '\\' || p->src[off + 1] != 'u')
		return -1;
	for (i = off + 2; i < off + 6; i++) {
		if (!is_hex(p->src[i]))
			return -1;
		v = v * 16 + hex_value(p->src[i]);
	}
	return v;
}

/*
 * A \u escape at off; writes UTF-8 and returns the source bytes used, 0
 * on error. Strings are UTF-8, so a surrogate must come in a pair.
 */
static size_t
lex_unicode(struct parser *p, size_t off, char *out, size_t *o)
{
	long	 hi, lo;

	if ((hi = hex4(p, off)) == -1) {
		parse_error(p, off, "\\u must be followed by four hex digits");
		return 0;
	}
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		parse_error(p, off, "unpaired surrogate in \\u escape");
		return 0;
	}
	if (hi < 0xd800 || hi > 0xdbff) {
		*o += utf8_put(out + *o, (uint32_t)hi);
		return 6;
	}
	lo = hex4(p, off + 6);
	if (lo < 0xdc00 || lo > 0xdfff) {
		parse_error(p, off, "unpaired surrogate in \\u escape");
		return 0;
	}
	*o += utf8_put(out + *o, 0x10000 +
	    (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00));
	return 12;
}

/* Escapes that stand for one byte: the letter, then the byte. */
static const char simple_escapes[][2] = {
	{ 'n', '\n' }, { 't', '\t' }, { 'r', '\r' }, { 'b', '\b' },
	{ 'f', '\f' }, { 'v', '\v' }, { '\\', '\\' }, { '\'', '\'' },
	{ '"', '"' },
};

static void
lex_string(struct parser *p)
{
	const char	*s = p->src;
	char		 q = s[p->off], c, *out;
	size_t		 i = p->off + 1, o = 0, used, k;

	/* Every escape decodes to fewer bytes than it takes in the source. */
	out = xmalloc(p->len - p->off + 1);
	for (;;) {
		if (i >= p->len || s[i] == '\n' || s[i] == '\r') {
			parse_error(p, p->off, "unterminated string");
			goto fail;
		}
		c = s[i];
		if (c == q)
			break;
		if (c != '\\') {
			out[o++] = c;
			i++;
			continue;
		}
		if (i + 1 >= p->len) {
			parse_error(p, p->off, "unterminated string");
			goto fail;
		}
		c = s[i + 1];
		for (k = 0; k < NITEMS(simple_escapes); k++)
			if (simple_escapes[k][0] == c)
				break;
		if (k < NITEMS(simple_escapes)) {
			out[o++] = simple_escapes[k][1];
			i += 2;
			continue;
		}
		switch (c) {
		case '0':
			if (i + 2 < p->len && is_digit(s[i + 2])) {
				parse_error(p, i,
				    "octal escapes are not allowed");
				goto fail;
			}
			out[o++] = '\0';
			i += 2;
			continue;
		case 'x':
			if (i + 3 >= p->len || !is_hex(s[i + 2]) ||
			    !is_hex(s[i + 3])) {
				parse_error(p, i,
				    "\\x must be followed by two hex digits");
				goto fail;
			}
			o += utf8_put(out + o, (uint32_t)(hex_value(s[i + 2]) *
			    16 + hex_value(s[i + 3])));
			i += 4;
			continue;
		case 'u':
			if ((used = lex_unicode(p, i, out, &o)) == 0)
				goto fail;
			i += used;
			continue;
		default:
			if (is_digit(c))
				parse_error(p, i,
				    "octal escapes are not allowed");
			else if ((unsigned char)c >= 0x20 &&
			    (unsigned char)c < 0x7f)
				parse_error(p, i, "unknown escape '\\%c'", c);
			else
				parse_error(p, i, "unknown escape");
			goto fail;
		}
	}
	out[o] = '\0';
	p->tok.type = T_STRING;
	p->tok.str = out;
	p->tok.slen = o;
	p->tok.len = i + 1 - p->off;
	p->off = i + 1;
	return;
fail:
	free(out);
}

static const struct {
	const char	*text;
	enum tok	 type;
} puncts[] = {			/* longest first */
	{ "===", T_SEQ }, { "!==", T_SNE }, { "==", T_EQ }, { "!=", T_NE },
	{ "<=", T_LE }, { ">=", T_GE }, { "||", T_OR }, { "&&", T_AND },
	{ "(", T_LPAREN }, { ")", T_RPAREN }, { "[", T_LBRACK },
	{ "]", T_RBRACK }, { ".", T_DOT }, { ",", T_COMMA }, { "!", T_NOT },
	{ "-", T_MINUS }, { "<", T_LT }, { ">", T_GT },
};

/* Read the next token into p->tok; on error it is T_ERR. */
static void
lex(struct parser *p)
{
	const char	*s = p->src;
	size_t		 i, n;

	free(p->tok.str);
	memset(&p->tok, 0, sizeof(p->tok));
	if (p->failed) {
		p->tok.type = T_ERR;
		return;
	}
	while (p->off < p->len && is_space(s[p->off]))
		p->off++;
	p->tok.off = p->off;
	if (p->off == p->len) {
		p->tok.type = T_EOF;
		return;
	}
	if (is_digit(s[p->off]) || (s[p->off] == '.' &&
	    p->off + 1 < p->len && is_digit(s[p->off + 1]))) {
		lex_number(p);
		return;
	}
	if (s[p->off] == '\'' || s[p->off] == '"') {
		lex_string(p);
		return;
	}
	if (is_ident_start(s[p->off])) {
		for (i = p->off; i < p->len && is_ident_char(s[i]); i++)
			;
		p->tok.type = T_IDENT;
		p->tok.len = i - p->off;
		p->off = i;
		return;
	}
	/* In JavaScript "--x" assigns; as two negations it would not. */
	if (s[p->off] == '-' && p->off + 1 < p->len && s[p->off + 1] == '-') {
		parse_error(p, p->off, "'--' is not allowed");
		return;
	}
	for (i = 0; i < NITEMS(puncts); i++) {
		n = strlen(puncts[i].text);
		if (p->len - p->off >= n &&
		    memcmp(s + p->off, puncts[i].text, n) == 0) {
			p->tok.type = puncts[i].type;
			p->tok.len = n;
			p->off += n;
			return;
		}
	}
	bad_char(p, p->off);
}

/* ---- Parser ---- */

/* How the lookahead reads in a message: "end of input", "')'", ... */
static const char *
tok_desc(const struct parser *p, char *buf, size_t len)
{
	size_t	 n = p->tok.len;

	if (p->tok.type == T_EOF)
		return "end of input";
	if (p->tok.type == T_STRING)
		return "a string";
	if (n > QUOTE_MAX)
		n = QUOTE_MAX;
	snprintf(buf, len, "'%.*s%s'", (int)n, p->src + p->tok.off,
	    n < p->tok.len ? "..." : "");
	return buf;
}

static void
expected(struct parser *p, const char *what)
{
	char	 buf[QUOTE_MAX + 8];

	parse_error(p, p->tok.off, "expected %s but found %s", what,
	    tok_desc(p, buf, sizeof(buf)));
}

static int
enter(struct parser *p, size_t off)
{
	if (++p->depth > COND_DEPTH_MAX) {
		parse_error(p, off,
		    "expression nested more than %d levels deep",
		    COND_DEPTH_MAX);
		return -1;
	}
	return 0;
}

static struct node *
node_new(struct parser *p, enum node_kind kind, size_t off)
{
	struct cond	*c = p->c;
	struct node	*n;

	if (c->nnodes == c->nalloc) {
		c->nalloc = c->nalloc ? c->nalloc * 2 : 16;
		c->nodes = xreallocarray(c->nodes, c->nalloc,
		    sizeof(*c->nodes));
	}
	n = xcalloc(1, sizeof(*n));
	n->kind = kind;
	n->pos = (int)off + 1;
	c->nodes[c->nnodes++] = n;
	return n;
}

static void
node_add(struct node *n, struct node *kid, enum tok op)
{
	n->kids = xreallocarray(n->kids, n->nkids + 1, sizeof(*n->kids));
	n->ops = xreallocarray(n->ops, n->nkids + 1, sizeof(*n->ops));
	n->kids[n->nkids] = kid;
	n->ops[n->nkids] = op;
	n->nkids++;
}

static const struct method *
method_find(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < NITEMS(methods); i++)
		if (strlen(methods[i].name) == len &&
		    memcmp(methods[i].name, s, len) == 0)
			return &methods[i];
	return NULL;
}

static struct node *
parse_primary(struct parser *p)
{
	struct node	*n, *e;
	const char	*s = p->src + p->tok.off;
	size_t		 len = p->tok.len, off = p->tok.off;

	switch (p->tok.type) {
	case T_NUMBER:
		n = node_new(p, N_LITERAL, off);
		n->lit.type = V_NUMBER;
		n->lit.n = p->tok.num;
		lex(p);
		return n;
	case T_STRING:
		n = node_new(p, N_LITERAL, off);
		n->str = p->tok.str;
		n->len = p->tok.slen;
		p->tok.str = NULL;
		n->lit.type = V_STRING;
		n->lit.s = n->str;
		n->lit.len = n->len;
		lex(p);
		return n;
	case T_IDENT:
		if (is_forbidden(s, len) || in_list(reserved_words,
		    NITEMS(reserved_words), s, len)) {
			parse_error(p, off, "'%.*s' is not allowed", (int)len,
			    s);
			return NULL;
		}
		n = node_new(p, N_LITERAL, off);
		if (len == 4 && memcmp(s, "true", 4) == 0) {
			n->lit.type = V_BOOL;
			n->lit.b = 1;
		} else if (len == 5 && memcmp(s, "false", 5) == 0)
			n->lit.type = V_BOOL;
		else if (len == 4 && memcmp(s, "null", 4) == 0)
			n->lit.type = V_NULL;
		else if (len == 9 && memcmp(s, "undefined", 9) == 0)
			n->lit.type = V_UNDEFINED;
		else {
			n->kind = N_IDENT;
			n->str = xstrndup(s, len);
			n->len = len;
		}
		lex(p);
		return n;
	case T_LPAREN:
		if (enter(p, off) == -1)
			return NULL;
		lex(p);
		if ((e = parse_expr(p)) == NULL)
			return NULL;
		if (p->tok.type != T_RPAREN) {
			expected(p, "')'");
			return NULL;
		}
		p->depth--;
		lex(p);
		return e;
	default:
		expected(p, "an expression");
		return NULL;
	}
}

/* The arguments of a method call; the lookahead is its '('. */
static struct node *
parse_call(struct parser *p, const struct method *m, size_t name_off)
{
	struct node	*n, *arg;

	n = node_new(p, N_CALL, name_off);
	n->method = m;
	if (enter(p, p->tok.off) == -1)
		return NULL;
	lex(p);
	if (p->tok.type != T_RPAREN) {
		for (;;) {
			if ((arg = parse_expr(p)) == NULL)
				return NULL;
			node_add(n, arg, T_EOF);
			if (p->tok.type != T_COMMA)
				break;
			lex(p);
		}
	}
	if (p->tok.type != T_RPAREN) {
		expected(p, n->nkids ? "',' or ')'" : "')'");
		return NULL;
	}
	p->depth--;
	lex(p);
	if (n->nkids != m->nargs) {
		if (m->nargs == 0)
			parse_error(p, name_off, "%s() takes no arguments",
			    m->name);
		else
			parse_error(p, name_off,
			    "%s() takes exactly one argument", m->name);
		return NULL;
	}
	return n;
}

static struct node *
parse_suffix(struct parser *p)
{
	const struct method	*m;
	struct node		*n, *e;
	const char		*name;
	size_t			 len, off = p->tok.off;

	if (p->tok.type == T_LBRACK) {
		if (enter(p, off) == -1)
			return NULL;
		lex(p);
		if ((e = parse_expr(p)) == NULL)
			return NULL;
		if (p->tok.type != T_RBRACK) {
			expected(p, "']'");
			return NULL;
		}
		p->depth--;
		lex(p);
		if (e->kind == N_LITERAL && e->lit.type == V_STRING &&
		    is_forbidden(e->lit.s, e->lit.len)) {
			parse_error(p, (size_t)e->pos - 1,
			    "member '%s' is not allowed", e->lit.s);
			return NULL;
		}
		n = node_new(p, N_INDEX, off);
		node_add(n, e, T_EOF);
		return n;
	}

	/* T_DOT */
	lex(p);
	if (p->tok.type != T_IDENT) {
		expected(p, "a member name after '.'");
		return NULL;
	}
	name = p->src + p->tok.off;
	len = p->tok.len;
	off = p->tok.off;
	if (is_forbidden(name, len)) {
		parse_error(p, off, "member '%.*s' is not allowed", (int)len,
		    name);
		return NULL;
	}
	lex(p);
	if (p->tok.type == T_LPAREN) {
		if ((m = method_find(name, len)) == NULL) {
			parse_error(p, off, "'%.*s' cannot be called: the only "
			    "methods are includes, startsWith, endsWith, trim, "
			    "toLowerCase and toUpperCase",
			    (int)(len > QUOTE_MAX ? QUOTE_MAX : len),
			    name);
			return NULL;
		}
		return parse_call(p, m, off);
	}
	n = node_new(p, N_MEMBER, off);
	n->str = xstrndup(name, len);
	n->len = len;
	return n;
}

static struct node *
parse_postfix(struct parser *p)
{
	struct node	*base, *chain = NULL, *s;

	if ((base = parse_primary(p)) == NULL)
		return NULL;
	for (;;) {
		switch (p->tok.type) {
		case T_DOT:
		case T_LBRACK:
			if ((s = parse_suffix(p)) == NULL)
				return NULL;
			if (chain == NULL) {
				chain = node_new(p, N_POSTFIX,
				    (size_t)base->pos - 1);
				node_add(chain, base, T_EOF);
			}
			node_add(chain, s, T_EOF);
			break;
		case T_LPAREN:
			parse_error(p, p->tok.off, "only the methods includes, "
			    "startsWith, endsWith, trim, toLowerCase and "
			    "toUpperCase can be called");
			return NULL;
		default:
			return chain ? chain : base;
		}
	}
}

static struct node *
parse_unary(struct parser *p)
{
	struct node	*n, *kid;
	size_t		 off = p->tok.off;

	if (p->tok.type != T_NOT && p->tok.type != T_MINUS)
		return parse_postfix(p);
	n = node_new(p, p->tok.type == T_NOT ? N_NOT : N_NEG, off);
	if (enter(p, off) == -1)
		return NULL;
	lex(p);
	if ((kid = parse_unary(p)) == NULL)
		return NULL;
	p->depth--;
	node_add(n, kid, T_EOF);
	return n;
}

/* or, and, eq, rel: one loop each, loosest first. */
enum { L_OR, L_AND, L_EQ, L_REL, L_UNARY };

static int
op_level(enum tok t)
{
	switch (t) {
	case T_OR:
		return L_OR;
	case T_AND:
		return L_AND;
	case T_SEQ:
	case T_SNE:
	case T_EQ:
	case T_NE:
		return L_EQ;
	case T_LT:
	case T_LE:
	case T_GT:
	case T_GE:
		return L_REL;
	default:
		return -1;
	}
}

static struct node *
parse_binary(struct parser *p, int level)
{
	struct node	*first, *n, *kid;
	enum tok	 op;

	if (level == L_UNARY)
		return parse_unary(p);
	if ((first = parse_binary(p, level + 1)) == NULL)
		return NULL;
	if (op_level(p->tok.type) != level)
		return first;
	n = node_new(p, level == L_OR ? N_OR : level == L_AND ? N_AND :
	    N_COMPARE, (size_t)first->pos - 1);
	node_add(n, first, T_EOF);
	while (op_level(p->tok.type) == level) {
		op = p->tok.type;
		lex(p);
		if ((kid = parse_binary(p, level + 1)) == NULL)
			return NULL;
		node_add(n, kid, op);
	}
	return n;
}

static struct node *
parse_expr(struct parser *p)
{
	return parse_binary(p, L_OR);
}

struct cond *
cond_parse(const char *src, size_t len, struct cond_error *err)
{
	struct parser		 p;
	struct cond_error	 dummy;
	struct node		*root;

	if (err == NULL)
		err = &dummy;
	err->pos = 0;
	err->msg[0] = '\0';
	if (len > COND_SOURCE_MAX) {
		snprintf(err->msg, sizeof(err->msg),
		    "expression longer than %d bytes", COND_SOURCE_MAX);
		return NULL;
	}
	memset(&p, 0, sizeof(p));
	p.src = src != NULL ? src : "";
	p.len = src != NULL ? len : 0;
	p.err = err;
	p.c = xcalloc(1, sizeof(*p.c));
	lex(&p);
	root = parse_expr(&p);
	if (root != NULL && p.tok.type != T_EOF)
		expected(&p, "an operator or end of input");
	free(p.tok.str);
	if (p.failed) {
		cond_free(p.c);
		return NULL;
	}
	p.c->root = root;
	return p.c;
}

void
cond_free(struct cond *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nnodes; i++) {
		free(c->nodes[i]->str);
		free(c->nodes[i]->kids);
		free(c->nodes[i]->ops);
		free(c->nodes[i]);
	}
	free(c->nodes);
	free(c);
}

/* ---- Values ---- */

static void
val_clear(struct val *v)
{
	free(v->own);
	memset(v, 0, sizeof(*v));
}

static void
val_from_json(struct json_object *o, struct val *v)
{
	memset(v, 0, sizeof(*v));
	switch (json_object_get_type(o)) {
	case json_type_null:
		v->type = V_NULL;
		break;
	case json_type_boolean:
		v->type = V_BOOL;
		v->b = json_object_get_boolean(o) ? 1 : 0;
		break;
	case json_type_int:
	case json_type_double:
		/* Like JavaScript, integers past 2^53 lose precision. */
		v->type = V_NUMBER;
		v->n = json_object_get_double(o);
		break;
	case json_type_string:
		v->type = V_STRING;
		v->s = json_object_get_string(o);
		v->len = (size_t)json_object_get_string_len(o);
		break;
	case json_type_object:
		v->type = V_OBJECT;
		v->o = o;
		break;
	case json_type_array:
		v->type = V_ARRAY;
		v->o = o;
		break;
	}
}

static const char *
type_desc(const struct val *v)
{
	switch (v->type) {
	case V_UNDEFINED:
		return "undefined";
	case V_NULL:
		return "null";
	case V_BOOL:
		return "a boolean";
	case V_NUMBER:
		return "a number";
	case V_STRING:
		return "a string";
	case V_OBJECT:
		return "an object";
	case V_ARRAY:
		return "an array";
	}
	return "a value";
}

static int
truthy(const struct val *v)
{
	switch (v->type) {
	case V_BOOL:
		return v->b;
	case V_NUMBER:
		return !(v->n == 0 || isnan(v->n));
	case V_STRING:
		return v->len > 0;
	case V_OBJECT:
	case V_ARRAY:
		return 1;
	default:
		return 0;
	}
}

/*
 * JavaScript's StringToNumber: surrounding whitespace ignored, "" is 0,
 * decimal with optional sign and exponent, Infinity, and unsigned 0x/0o/0b
 * integers; anything else is NaN. Only ASCII whitespace is trimmed here,
 * where JavaScript would also trim Unicode spaces.
 */
static double
str_to_number(const char *s, size_t len)
{
	size_t	 i = 0, digits = 0;
	double	 v = 0;
	char	*buf;
	int	 base;

	while (len > 0 && is_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_space(s[len - 1]))
		len--;
	if (len == 0)
		return 0;
	if (len == 8 && memcmp(s, "Infinity", 8) == 0)
		return INFINITY;
	if (len == 9 && memcmp(s, "+Infinity", 9) == 0)
		return INFINITY;
	if (len == 9 && memcmp(s, "-Infinity", 9) == 0)
		return -INFINITY;
	if (len > 2 && s[0] == '0' && strchr("xXoObB", s[1]) != NULL &&
	    s[1] != '\0') {
		base = (s[1] == 'x' || s[1] == 'X') ? 16 :
		    (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
		for (i = 2; i < len; i++) {
			if (!is_hex(s[i]) || hex_value(s[i]) >= base)
				return NAN;
			v = v * base + hex_value(s[i]);
		}
		return v;
	}
	if (s[i] == '+' || s[i] == '-')
		i++;
	for (; i < len && is_digit(s[i]); i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && is_digit(s[i]); i++)
			digits++;
	if (digits == 0)
		return NAN;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == len || !is_digit(s[i]))
			return NAN;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i != len)
		return NAN;
	buf = xstrndup(s, len);
	v = strtod(buf, NULL);
	free(buf);
	return v;
}

/*
 * JavaScript's ToNumber. Objects and arrays give NaN, where JavaScript
 * would first turn them into strings ([5] is 5 there).
 */
static double
to_number(const struct val *v)
{
	switch (v->type) {
	case V_NULL:
		return 0;
	case V_BOOL:
		return v->b;
	case V_NUMBER:
		return v->n;
	case V_STRING:
		return str_to_number(v->s, v->len);
	default:
		return NAN;
	}
}

/*
 * JavaScript's Number::toString: the shortest digits that read back as
 * the same double, laid out as ECMA-262 says (1e+21, 0.000001, 1e-7).
 */
static void
num_to_str(double n, char *buf, size_t len)
{
	char	 tmp[40], digits[20], out[48], *e;
	double	 a = n < 0 ? -n : n;
	int	 p, k = 0, i, o = 0, point;

	if (isnan(n) || isinf(n) || n == 0) {
		snprintf(buf, len, "%s", isnan(n) ? "NaN" : n == 0 ? "0" :
		    n < 0 ? "-Infinity" : "Infinity");
		return;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, a);
		if (strtod(tmp, NULL) == a)
			break;
	}
	e = strchr(tmp, 'e');
	for (i = 0; tmp + i < e; i++)
		if (is_digit(tmp[i]))
			digits[k++] = tmp[i];
	point = atoi(e + 1) + 1;	/* digits before the decimal point */
	if (n < 0)
		out[o++] = '-';
	if (k <= point && point <= 21) {
		for (i = 0; i < point; i++)
			out[o++] = i < k ? digits[i] : '0';
	} else if (0 < point && point <= 21) {
		for (i = 0; i < k; i++) {
			if (i == point)
				out[o++] = '.';
			out[o++] = digits[i];
		}
	} else if (-6 < point && point <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (i = point; i < 0; i++)
			out[o++] = '0';
		for (i = 0; i < k; i++)
			out[o++] = digits[i];
	} else {
		out[o++] = digits[0];
		if (k > 1)
			out[o++] = '.';
		for (i = 1; i < k; i++)
			out[o++] = digits[i];
		o += snprintf(out + o, sizeof(out) - o, "e%c%d",
		    point > 0 ? '+' : '-', point > 0 ? point - 1 : 1 - point);
	}
	out[o] = '\0';
	snprintf(buf, len, "%s", out);
}

/*
 * Operand of includes(), startsWith() and endsWith(): primitives become
 * strings as in JavaScript; objects and arrays are refused rather than
 * turned into "[object Object]".
 */
static int
to_string(const struct val *v, char *buf, size_t buflen, const char **s,
    size_t *len)
{
	switch (v->type) {
	case V_STRING:
		*s = v->s;
		*len = v->len;
		return 0;
	case V_NUMBER:
		num_to_str(v->n, buf, buflen);
		break;
	case V_BOOL:
		snprintf(buf, buflen, "%s", v->b ? "true" : "false");
		break;
	case V_NULL:
		snprintf(buf, buflen, "null");
		break;
	case V_UNDEFINED:
		snprintf(buf, buflen, "undefined");
		break;
	default:
		return -1;
	}
	*s = buf;
	*len = strlen(buf);
	return 0;
}

/* ===: same type and value; NaN differs from itself, 0 equals -0. */
static int
strict_eq(const struct val *a, const struct val *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case V_UNDEFINED:
	case V_NULL:
		return 1;
	case V_BOOL:
		return a->b == b->b;
	case V_NUMBER:
		return a->n == b->n;
	case V_STRING:
		return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
	case V_OBJECT:
	case V_ARRAY:
		return a->o == b->o;
	}
	return 0;
}

/*
 * ==, exactly:
 *  - same type: as ===;
 *  - null and undefined equal each other and nothing else;
 *  - an object or array equals only itself (JavaScript would turn it into
 *    a string first: [1] == 1 is true there, false here);
 *  - any other mix of boolean, number and string compares as numbers, as
 *    JavaScript does: 1 == '1', '1.0' == 1, true == 1, true == '1',
 *    0 == '' and false == '' hold; 'abc' == NaN does not.
 */
static int
loose_eq(const struct val *a, const struct val *b)
{
	int	 anil, bnil;

	if (a->type == b->type)
		return strict_eq(a, b);
	anil = a->type == V_NULL || a->type == V_UNDEFINED;
	bnil = b->type == V_NULL || b->type == V_UNDEFINED;
	if (anil || bnil)
		return anil && bnil;
	if (a->type == V_OBJECT || a->type == V_ARRAY ||
	    b->type == V_OBJECT || b->type == V_ARRAY)
		return 0;
	return to_number(a) == to_number(b);
}

/* Array.prototype.includes: like === but NaN finds NaN. */
static int
same_value_zero(const struct val *a, const struct val *b)
{
	if (a->type == V_NUMBER && b->type == V_NUMBER && isnan(a->n) &&
	    isnan(b->n))
		return 1;
	return strict_eq(a, b);
}

/*
 * < <= > >=: two strings compare bytewise, which for UTF-8 is code point
 * order (JavaScript uses UTF-16 units; they differ only between astral
 * characters and U+E000..U+FFFF). Anything else compares as numbers, and
 * NaN (from undefined, 'abc', an object) makes every comparison false.
 */
static int
relational(enum tok op, const struct val *a, const struct val *b)
{
	double	 x, y;
	int	 c;

	if (a->type == V_STRING && b->type == V_STRING) {
		c = memcmp(a->s, b->s, a->len < b->len ? a->len : b->len);
		if (c == 0)
			c = a->len < b->len ? -1 : a->len > b->len;
		x = c;
		y = 0;
	} else {
		x = to_number(a);
		y = to_number(b);
	}
	switch (op) {
	case T_LT:
		return x < y;
	case T_LE:
		return x <= y;
	case T_GT:
		return x > y;
	default:
		return x >= y;
	}
}

static int
compare(enum tok op, const struct val *a, const struct val *b)
{
	switch (op) {
	case T_SEQ:
		return strict_eq(a, b);
	case T_SNE:
		return !strict_eq(a, b);
	case T_EQ:
		return loose_eq(a, b);
	case T_NE:
		return !loose_eq(a, b);
	default:
		return relational(op, a, b);
	}
}

/*
 * Bytes in the UTF-8 sequence at s[i], and in *units how many UTF-16
 * units JavaScript would count for it. A malformed byte counts alone.
 */
static size_t
utf8_step(const char *s, size_t len, size_t i, int *units)
{
	unsigned char	 c = (unsigned char)s[i];
	size_t		 n, k;

	*units = 1;
	if (c >= 0xc0 && c < 0xe0)
		n = 2;
	else if (c >= 0xe0 && c < 0xf0)
		n = 3;
	else if (c >= 0xf0 && c < 0xf8)
		n = 4;
	else
		return 1;
	if (i + n > len)
		return 1;
	for (k = 1; k < n; k++)
		if (((unsigned char)s[i + k] & 0xc0) != 0x80)
			return 1;
	if (n == 4)
		*units = 2;
	return n;
}

/* A canonical array index ("0", "17", not "01" or "1.0"), or -1. */
static long long
array_index(const char *k, size_t len)
{
	long long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 10 || (k[0] == '0' && len > 1))
		return -1;
	for (i = 0; i < len; i++) {
		if (!is_digit(k[i]))
			return -1;
		v = v * 10 + (k[i] - '0');
	}
	return v < 4294967295LL ? v : -1;
}

/*
 * Strings count length and index in UTF-16 units as JavaScript does; as
 * ours are UTF-8, either half of a character outside the BMP gives the
 * whole character. The result borrows from base, taking its buffer.
 */
static void
string_member(struct val *base, const char *key, size_t klen, struct val *r)
{
	long long	 idx, at = 0;
	size_t		 i, n;
	int		 units;

	if (klen == 6 && memcmp(key, "length", 6) == 0) {
		for (i = 0; i < base->len; i += n) {
			n = utf8_step(base->s, base->len, i, &units);
			at += units;
		}
		r->type = V_NUMBER;
		r->n = (double)at;
		return;
	}
	if ((idx = array_index(key, klen)) == -1)
		return;
	for (i = 0; i < base->len; i += n) {
		n = utf8_step(base->s, base->len, i, &units);
		if (idx < at + units) {
			r->type = V_STRING;
			r->s = base->s + i;
			r->len = n;
			r->own = base->own;
			base->own = NULL;
			return;
		}
		at += units;
	}
}

/*
 * base[key]. A missing member, or any member of undefined, null, a
 * boolean or a number, is undefined (DESIGN.md: not an error).
 */
static int
member_get(struct eval *e, const struct node *at, struct val *base,
    const char *key, size_t klen, struct val *r)
{
	struct json_object	*o;
	long long		 idx;
	char			*k;
	int			 found;

	memset(r, 0, sizeof(*r));
	if (is_forbidden(key, klen))
		return eval_error(e, at, "member '%.*s' is not allowed",
		    (int)klen, key);
	switch (base->type) {
	case V_STRING:
		string_member(base, key, klen, r);
		break;
	case V_ARRAY:
		if (klen == 6 && memcmp(key, "length", 6) == 0) {
			r->type = V_NUMBER;
			r->n = (double)json_object_array_length(base->o);
		} else if ((idx = array_index(key, klen)) != -1 &&
		    (size_t)idx < json_object_array_length(base->o))
			val_from_json(json_object_array_get_idx(base->o,
			    (size_t)idx), r);
		break;
	case V_OBJECT:
		if (memchr(key, '\0', klen) != NULL)
			break;	/* no JSON key of ours can hold one */
		k = xstrndup(key, klen);
		found = json_object_object_get_ex(base->o, k, &o);
		free(k);
		if (found)
			val_from_json(o, r);
		break;
	default:
		break;
	}
	return 0;
}

/* base[expr]: the key becomes a string as JavaScript's ToPropertyKey. */
static int
index_get(struct eval *e, const struct node *n, struct val *base,
    struct val *r)
{
	struct val	 k;
	const char	*s;
	size_t		 len;
	char		 buf[48];
	int		 rc;

	if (eval(e, n->kids[0], &k) == -1)
		return -1;
	if (to_string(&k, buf, sizeof(buf), &s, &len) == -1) {
		rc = eval_error(e, n, "%s cannot be used as a member name",
		    type_desc(&k));
		val_clear(&k);
		return rc;
	}
	rc = member_get(e, n, base, s, len, r);
	val_clear(&k);
	return rc;
}

static int
method_call(struct eval *e, const struct node *n, struct val *v,
    struct val *r)
{
	const struct method	*m = n->method;
	struct val		 arg, el;
	const char		*s;
	char			 buf[48], *out;
	size_t			 len, i;
	int			 rc = 0;

	memset(r, 0, sizeof(*r));
	if (v->type != V_STRING && !(v->type == V_ARRAY &&
	    m->id == M_INCLUDES))
		return eval_error(e, n, "%s() called on %s", m->name,
		    type_desc(v));
	switch (m->id) {
	case M_INCLUDES:
	case M_STARTSWITH:
	case M_ENDSWITH:
		if (eval(e, n->kids[0], &arg) == -1)
			return -1;
		r->type = V_BOOL;
		if (v->type == V_ARRAY) {
			for (i = 0; i < json_object_array_length(v->o); i++) {
				val_from_json(json_object_array_get_idx(v->o,
				    i), &el);
				if (same_value_zero(&el, &arg)) {
					r->b = 1;
					break;
				}
			}
		} else if (to_string(&arg, buf, sizeof(buf), &s, &len) == -1)
			rc = eval_error(e, n, "%s() argument cannot be %s",
			    m->name, type_desc(&arg));
		else if (len > v->len)
			r->b = 0;
		else if (m->id == M_INCLUDES)
			r->b = len == 0 || memmem(v->s, v->len, s, len) != NULL;
		else if (m->id == M_STARTSWITH)
			r->b = memcmp(v->s, s, len) == 0;
		else
			r->b = memcmp(v->s + v->len - len, s, len) == 0;
		val_clear(&arg);
		return rc;
	case M_TRIM:
		/* ASCII whitespace only; JavaScript trims Unicode spaces. */
		*r = *v;
		while (r->len > 0 && is_space(r->s[0])) {
			r->s++;
			r->len--;
		}
		while (r->len > 0 && is_space(r->s[r->len - 1]))
			r->len--;
		v->own = NULL;
		return 0;
	case M_TOLOWER:
	case M_TOUPPER:
		/* Only ASCII letters change case: no locale, no tables. */
		if (v->len > COND_STRING_MAX)
			return eval_error(e, n, "%s() result longer than %d "
			    "bytes", m->name, COND_STRING_MAX);
		out = xmalloc(v->len + 1);
		for (i = 0; i < v->len; i++) {
			out[i] = v->s[i];
			if (m->id == M_TOLOWER && out[i] >= 'A' &&
			    out[i] <= 'Z')
				out[i] += 'a' - 'A';
			else if (m->id == M_TOUPPER && out[i] >= 'a' &&
			    out[i] <= 'z')
				out[i] -= 'a' - 'A';
		}
		out[v->len] = '\0';
		r->type = V_STRING;
		r->s = r->own = out;
		r->len = v->len;
		return 0;
	}
	return eval_error(e, n, "unknown method %s()", m->name);
}

/* ---- Interpreter ---- */

static int
eval_error(struct eval *e, const struct node *n, const char *fmt, ...)
{
	va_list	 ap;
	int	 off;

	if (e->err == NULL || e->errlen == 0)
		return -1;
	off = snprintf(e->err, e->errlen, "at column %d: ", n->pos);
	if (off > 0 && (size_t)off < e->errlen) {
		va_start(ap, fmt);
		vsnprintf(e->err + off, e->errlen - (size_t)off, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
eval_postfix(struct eval *e, const struct node *n, struct val *out)
{
	const struct node	*s;
	struct val		 r;
	size_t			 i;
	int			 rc;

	if (eval(e, n->kids[0], out) == -1)
		return -1;
	for (i = 1; i < n->nkids; i++) {
		s = n->kids[i];
		memset(&r, 0, sizeof(r));
		if (s->kind == N_MEMBER)
			rc = member_get(e, s, out, s->str, s->len, &r);
		else if (s->kind == N_INDEX)
			rc = index_get(e, s, out, &r);
		else
			rc = method_call(e, s, out, &r);
		val_clear(out);
		if (rc == -1) {
			val_clear(&r);
			return -1;
		}
		*out = r;
	}
	return 0;
}

static int
eval(struct eval *e, const struct node *n, struct val *out)
{
	struct json_object	*o;
	struct val		 rhs;
	size_t			 i;
	int			 b;

	memset(out, 0, sizeof(*out));
	switch (n->kind) {
	case N_LITERAL:
		*out = n->lit;
		return 0;
	case N_IDENT:
		if (!json_object_object_get_ex(e->ctx, n->str, &o))
			return eval_error(e, n, "unknown identifier '%s'",
			    n->str);
		val_from_json(o, out);
		return 0;
	case N_NOT:
	case N_NEG:
		if (eval(e, n->kids[0], &rhs) == -1)
			return -1;
		if (n->kind == N_NOT) {
			out->type = V_BOOL;
			out->b = !truthy(&rhs);
		} else {
			out->type = V_NUMBER;
			out->n = -to_number(&rhs);
		}
		val_clear(&rhs);
		return 0;
	case N_OR:
	case N_AND:
		/* The deciding operand is the value, as in JavaScript. */
		for (i = 0; i < n->nkids; i++) {
			if (eval(e, n->kids[i], out) == -1)
				return -1;
			b = truthy(out);
			if (i + 1 == n->nkids || (n->kind == N_OR ? b : !b))
				return 0;
			val_clear(out);
		}
		return 0;
	case N_COMPARE:
		if (eval(e, n->kids[0], out) == -1)
			return -1;
		for (i = 1; i < n->nkids; i++) {
			if (eval(e, n->kids[i], &rhs) == -1) {
				val_clear(out);
				return -1;
			}
			b = compare(n->ops[i], out, &rhs);
			val_clear(out);
			val_clear(&rhs);
			out->type = V_BOOL;
			out->b = b;
		}
		return 0;
	case N_POSTFIX:
		return eval_postfix(e, n, out);
	default:
		return eval_error(e, n, "cannot evaluate this on its own");
	}
}

int
cond_eval(const struct cond *c, struct json_object *ctx, int *result,
    char *err, size_t errlen)
{
	struct eval	 e;
	struct val	 v;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (c == NULL || c->root == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "no condition");
		return -1;
	}
	e.ctx = ctx;
	e.err = err;
	e.errlen = errlen;
	if (eval(&e, c->root, &v) == -1)
		return -1;
	*result = truthy(&v);
	val_clear(&v);
	return 0;
}
