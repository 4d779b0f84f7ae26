/*
 * The condition language's lexer (DESIGN.md section 5): bytes of source
 * into tokens, string literals decoded, the first error kept with its
 * column. The parser (cond-parse.c) pulls one token at a time.
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

/* Names that reach JavaScript's object machinery: refused everywhere. */
static const char *const forbidden_names[] = {
	"__proto__", "constructor", "prototype",
};

int
cond_forbidden(const char *s, size_t len)
{
	return in_list(forbidden_names, NITEMS(forbidden_names), s, len);
}

/* ---- Lexer ---- */

void
cond_parse_error(struct parser *p, size_t off, const char *fmt, ...)
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
		cond_parse_error(p, off, "template literals are not allowed");
	else if (c >= 0x20 && c < 0x7f)
		cond_parse_error(p, off, "unexpected character '%c'", c);
	else
		cond_parse_error(p, off, "unexpected byte 0x%02x", c);
}

static void
lex_number(struct parser *p)
{
	const char	*s = p->src;
	size_t		 i = p->off, end = p->len;
	char		 buf[COND_SOURCE_MAX + 1];

	if (s[i] == '0' && i + 1 < end && is_digit(s[i + 1])) {
		cond_parse_error(p, i,
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
			cond_parse_error(p, i, "malformed exponent in number");
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
		cond_parse_error(p, off, "\\u must be followed by four hex digits");
		return 0;
	}
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		cond_parse_error(p, off, "unpaired surrogate in \\u escape");
		return 0;
	}
	if (hi < 0xd800 || hi > 0xdbff) {
		*o += utf8_put(out + *o, (uint32_t)hi);
		return 6;
	}
	lo = hex4(p, off + 6);
	if (lo < 0xdc00 || lo > 0xdfff) {
		cond_parse_error(p, off, "unpaired surrogate in \\u escape");
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
			cond_parse_error(p, p->off, "unterminated string");
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
			cond_parse_error(p, p->off, "unterminated string");
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
				cond_parse_error(p, i,
				    "octal escapes are not allowed");
				goto fail;
			}
			out[o++] = '\0';
			i += 2;
			continue;
		case 'x':
			if (i + 3 >= p->len || !is_hex(s[i + 2]) ||
			    !is_hex(s[i + 3])) {
				cond_parse_error(p, i,
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
				cond_parse_error(p, i,
				    "octal escapes are not allowed");
			else if ((unsigned char)c >= 0x20 &&
			    (unsigned char)c < 0x7f)
				cond_parse_error(p, i, "unknown escape '\\%c'", c);
			else
				cond_parse_error(p, i, "unknown escape");
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
void
cond_lex(struct parser *p)
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
		cond_parse_error(p, p->off, "'--' is not allowed");
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
