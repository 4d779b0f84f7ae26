/*
 * The condition language's interpreter: walks the tree of cond-parse.c
 * over the JSON context when a step is reached. It calls out to nothing:
 * no JS engine, no shell, no clock.
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

static int	eval_error(struct eval *, const struct node *, const char *,
		    ...) __attribute__((format(printf, 3, 4)));
static int	eval(struct eval *, const struct node *, struct val *);

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
			n = cond_utf8_step(base->s, base->len, i, &units);
			at += units;
		}
		r->type = V_NUMBER;
		r->n = (double)at;
		return;
	}
	if ((idx = cond_array_index(key, klen)) == -1)
		return;
	for (i = 0; i < base->len; i += n) {
		n = cond_utf8_step(base->s, base->len, i, &units);
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
	if (cond_forbidden(key, klen))
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
		} else if ((idx = cond_array_index(key, klen)) != -1 &&
		    (size_t)idx < json_object_array_length(base->o))
			cond_val_from_json(json_object_array_get_idx(base->o,
			    (size_t)idx), r);
		break;
	case V_OBJECT:
		if (memchr(key, '\0', klen) != NULL)
			break;	/* no JSON key of ours can hold one */
		k = xstrndup(key, klen);
		found = json_object_object_get_ex(base->o, k, &o);
		free(k);
		if (found)
			cond_val_from_json(o, r);
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
	if (cond_to_string(&k, buf, sizeof(buf), &s, &len) == -1) {
		rc = eval_error(e, n, "%s cannot be used as a member name",
		    cond_type_desc(&k));
		cond_val_clear(&k);
		return rc;
	}
	rc = member_get(e, n, base, s, len, r);
	cond_val_clear(&k);
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
		    cond_type_desc(v));
	switch (m->id) {
	case M_INCLUDES:
	case M_STARTSWITH:
	case M_ENDSWITH:
		if (eval(e, n->kids[0], &arg) == -1)
			return -1;
		r->type = V_BOOL;
		if (v->type == V_ARRAY) {
			for (i = 0; i < json_object_array_length(v->o); i++) {
				cond_val_from_json(json_object_array_get_idx(v->o,
				    i), &el);
				if (cond_same_value_zero(&el, &arg)) {
					r->b = 1;
					break;
				}
			}
		} else if (cond_to_string(&arg, buf, sizeof(buf), &s, &len) == -1)
			rc = eval_error(e, n, "%s() argument cannot be %s",
			    m->name, cond_type_desc(&arg));
		else if (len > v->len)
			r->b = 0;
		else if (m->id == M_INCLUDES)
			r->b = len == 0 || memmem(v->s, v->len, s, len) != NULL;
		else if (m->id == M_STARTSWITH)
			r->b = memcmp(v->s, s, len) == 0;
		else
			r->b = memcmp(v->s + v->len - len, s, len) == 0;
		cond_val_clear(&arg);
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
		cond_val_clear(out);
		if (rc == -1) {
			cond_val_clear(&r);
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
	int			 b, found;

	memset(out, 0, sizeof(*out));
	switch (n->kind) {
	case N_LITERAL:
		*out = n->lit;
		return 0;
	case N_IDENT:
		found = json_object_object_get_ex(e->ctx, n->str, &o);
		if (!found && strcmp(n->str, COND_PARAMS) == 0) {
			/* A workflow without params: params.x is undefined. */
			if (e->no_params == NULL)
				e->no_params = json_object_new_object();
			o = e->no_params;
			found = 1;
		}
		if (!found)
			return eval_error(e, n, "unknown identifier '%s'",
			    n->str);
		cond_val_from_json(o, out);
		return 0;
	case N_NOT:
	case N_NEG:
		if (eval(e, n->kids[0], &rhs) == -1)
			return -1;
		if (n->kind == N_NOT) {
			out->type = V_BOOL;
			out->b = !cond_truthy(&rhs);
		} else {
			out->type = V_NUMBER;
			out->n = -cond_to_number(&rhs);
		}
		cond_val_clear(&rhs);
		return 0;
	case N_OR:
	case N_AND:
		/* The deciding operand is the value, as in JavaScript. */
		for (i = 0; i < n->nkids; i++) {
			if (eval(e, n->kids[i], out) == -1)
				return -1;
			b = cond_truthy(out);
			if (i + 1 == n->nkids || (n->kind == N_OR ? b : !b))
				return 0;
			cond_val_clear(out);
		}
		return 0;
	case N_COMPARE:
		if (eval(e, n->kids[0], out) == -1)
			return -1;
		for (i = 1; i < n->nkids; i++) {
			if (eval(e, n->kids[i], &rhs) == -1) {
				cond_val_clear(out);
				return -1;
			}
			b = cond_compare(n->ops[i], out, &rhs);
			cond_val_clear(out);
			cond_val_clear(&rhs);
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
	e.no_params = NULL;
	e.err = err;
	e.errlen = errlen;
	if (eval(&e, c->root, &v) == -1) {
		json_object_put(e.no_params);
		return -1;
	}
	*result = cond_truthy(&v);
	cond_val_clear(&v);
	json_object_put(e.no_params);
	return 0;
}

void
cond_set_params(struct json_object *ctx, struct json_object *params)
{
	if (ctx == NULL || !json_object_is_type(ctx, json_type_object))
		return;
	if (params == NULL)
		json_object_object_del(ctx, COND_PARAMS);
	else
		json_object_object_add(ctx, COND_PARAMS,
		    json_object_get(params));
}
