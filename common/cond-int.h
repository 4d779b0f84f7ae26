/*
 * What the parts of the condition language share (common/cond-lex.c,
 * cond-parse.c, cond-val.c, cond-eval.c): the token, the tree and the
 * value, and the few functions one part calls in another. Not for use
 * outside them: cond.h is the API.
 */
#ifndef PULSE_COND_INT_H
#define PULSE_COND_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cond.h"
#include "pulse-limits.h"

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
	struct json_object	*no_params;	/* {} when ctx has no params */
	char			*err;
	size_t			 errlen;
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

static inline int
in_list(const char *const *list, size_t n, const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
			return 1;
	return 0;
}


/* Character classes by hand: <ctype.h> answers depend on the locale. */
static inline int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static inline int
hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c - 'A' + 10;
}

static inline int
is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '_' || c == '$';
}

static inline int
is_ident_char(char c)
{
	return is_ident_start(c) || is_digit(c);
}

static inline int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

/* cond-lex.c */
int		 cond_forbidden(const char *, size_t);
void		 cond_parse_error(struct parser *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 cond_lex(struct parser *);

/* cond-val.c */
void		 cond_val_clear(struct val *);
void		 cond_val_from_json(struct json_object *, struct val *);
const char	*cond_type_desc(const struct val *);
int		 cond_truthy(const struct val *);
double		 cond_to_number(const struct val *);
int		 cond_to_string(const struct val *, char *, size_t,
		    const char **, size_t *);
int		 cond_same_value_zero(const struct val *, const struct val *);
int		 cond_compare(enum tok, const struct val *, const struct val *);
size_t		 cond_utf8_step(const char *, size_t, size_t, int *);
long long	 cond_array_index(const char *, size_t);

#endif
