/*
 * The condition language's parser: a recursive descent over the tokens of
 * cond-lex.c that builds the small tree cond-eval.c walks, once, when a
 * workflow is saved.
 */
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond-int.h"
#include "xmalloc.h"

static const struct method methods[] = {
	{ "includes",		M_INCLUDES,	1 },
	{ "startsWith",		M_STARTSWITH,	1 },
	{ "endsWith",		M_ENDSWITH,	1 },
	{ "trim",		M_TRIM,		0 },
	{ "toLowerCase",	M_TOLOWER,	0 },
	{ "toUpperCase",	M_TOUPPER,	0 },
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
static struct node *parse_expr(struct parser *);

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

	cond_parse_error(p, p->tok.off, "expected %s but found %s", what,
	    tok_desc(p, buf, sizeof(buf)));
}

static int
enter(struct parser *p, size_t off)
{
	if (++p->depth > COND_DEPTH_MAX) {
		cond_parse_error(p, off,
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
		cond_lex(p);
		return n;
	case T_STRING:
		n = node_new(p, N_LITERAL, off);
		n->str = p->tok.str;
		n->len = p->tok.slen;
		p->tok.str = NULL;
		n->lit.type = V_STRING;
		n->lit.s = n->str;
		n->lit.len = n->len;
		cond_lex(p);
		return n;
	case T_IDENT:
		if (cond_forbidden(s, len) || in_list(reserved_words,
		    NITEMS(reserved_words), s, len)) {
			cond_parse_error(p, off, "'%.*s' is not allowed", (int)len,
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
		cond_lex(p);
		return n;
	case T_LPAREN:
		if (enter(p, off) == -1)
			return NULL;
		cond_lex(p);
		if ((e = parse_expr(p)) == NULL)
			return NULL;
		if (p->tok.type != T_RPAREN) {
			expected(p, "')'");
			return NULL;
		}
		p->depth--;
		cond_lex(p);
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
	cond_lex(p);
	if (p->tok.type != T_RPAREN) {
		for (;;) {
			if ((arg = parse_expr(p)) == NULL)
				return NULL;
			node_add(n, arg, T_EOF);
			if (p->tok.type != T_COMMA)
				break;
			cond_lex(p);
		}
	}
	if (p->tok.type != T_RPAREN) {
		expected(p, n->nkids ? "',' or ')'" : "')'");
		return NULL;
	}
	p->depth--;
	cond_lex(p);
	if (n->nkids != m->nargs) {
		if (m->nargs == 0)
			cond_parse_error(p, name_off, "%s() takes no arguments",
			    m->name);
		else
			cond_parse_error(p, name_off,
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
		cond_lex(p);
		if ((e = parse_expr(p)) == NULL)
			return NULL;
		if (p->tok.type != T_RBRACK) {
			expected(p, "']'");
			return NULL;
		}
		p->depth--;
		cond_lex(p);
		if (e->kind == N_LITERAL && e->lit.type == V_STRING &&
		    cond_forbidden(e->lit.s, e->lit.len)) {
			cond_parse_error(p, (size_t)e->pos - 1,
			    "member '%s' is not allowed", e->lit.s);
			return NULL;
		}
		n = node_new(p, N_INDEX, off);
		node_add(n, e, T_EOF);
		return n;
	}

	/* T_DOT */
	cond_lex(p);
	if (p->tok.type != T_IDENT) {
		expected(p, "a member name after '.'");
		return NULL;
	}
	name = p->src + p->tok.off;
	len = p->tok.len;
	off = p->tok.off;
	if (cond_forbidden(name, len)) {
		cond_parse_error(p, off, "member '%.*s' is not allowed", (int)len,
		    name);
		return NULL;
	}
	cond_lex(p);
	if (p->tok.type == T_LPAREN) {
		if ((m = method_find(name, len)) == NULL) {
			cond_parse_error(p, off, "'%.*s' cannot be called: the only "
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
			cond_parse_error(p, p->tok.off, "only the methods includes, "
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
	cond_lex(p);
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
		cond_lex(p);
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
	cond_lex(&p);
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

int
cond_check_params(const struct cond *c, int (*known)(const char *, size_t,
    void *), void *arg, struct cond_error *err)
{
	const struct node	*n, *base, *m;
	size_t			 i;

	if (err != NULL) {
		err->pos = 0;
		err->msg[0] = '\0';
	}
	if (c == NULL)
		return 0;
	/* In parse order, so the first unknown name is the leftmost. */
	for (i = 0; i < c->nnodes; i++) {
		n = c->nodes[i];
		if (n->kind != N_POSTFIX || n->nkids < 2)
			continue;
		base = n->kids[0];
		m = n->kids[1];
		if (base->kind != N_IDENT || strcmp(base->str, COND_PARAMS) != 0 ||
		    m->kind != N_MEMBER || known(m->str, m->len, arg))
			continue;
		if (err != NULL) {
			err->pos = m->pos;
			snprintf(err->msg, sizeof(err->msg),
			    "unknown parameter '%.*s'", QUOTE_MAX, m->str);
		}
		return -1;
	}
	return 0;
}
