/*
 * libFuzzer target: templates (common/template.c). The input is a value,
 * then a NUL byte and a template source (no NUL: the whole input is the
 * value). The value is expanded into fixed commands such as
 * `printf %s {{ params.v }}` and the output split into words by a tiny
 * sh-like reader here (single quotes, backslash, blanks; no shell run):
 * the words must be exactly the command's and the value, whole, as one
 * word. The fuzzed source is checked and expanded too: the checker and
 * the expander agree, the size limit holds, and text without "{{" comes
 * out unchanged.
 */
#include <json-c/json.h>
#include <string.h>

#include "fuzz.h"
#include "params.h"
#include "pulse-limits.h"
#include "template.h"

#define WORDS_MAX	8

struct words {
	char	*w[WORDS_MAX];
	size_t	 len[WORDS_MAX];
	size_t	 n;
};

/*
 * Split s as sh would split a simple command made only of plain words
 * and single-quoted strings: blanks separate, '...' is literal, \x is x.
 * Anything sh would treat specially unquoted ($ ` " ; | & < > ( ) * ? [
 * ~ # { }) fails: our output must never leave such a byte unquoted.
 * 0, or -1.
 */
static int
sh_words(const char *s, size_t len, struct words *w)
{
	size_t	 i = 0;
	int	 inword = 0;
	char	*cur = NULL;
	size_t	 cl = 0;

	memset(w, 0, sizeof(*w));
	while (i < len) {
		char c = s[i];

		if (c == ' ' || c == '\t' || c == '\n') {
			if (inword) {
				w->len[w->n++] = cl;
				inword = 0;
			}
			i++;
			continue;
		}
		if (!inword) {
			if (w->n == WORDS_MAX)
				return -1;
			cur = w->w[w->n] = malloc(len + 1);
			cl = 0;
			inword = 1;
		}
		if (c == '\'') {
			for (i++; i < len && s[i] != '\''; i++)
				cur[cl++] = s[i];
			if (i == len)
				return -1;	/* unterminated quote */
			i++;
		} else if (c == '\\') {
			if (i + 1 == len || s[i + 1] == '\n')
				return -1;
			cur[cl++] = s[i + 1];
			i += 2;
		} else if (strchr("$`\";|&<>()*?[~#{}!", c) != NULL || c == '\0')
			return -1;
		else
			cur[cl++] = s[i++];
	}
	if (inword)
		w->len[w->n++] = cl;
	return 0;
}

static void
words_free(struct words *w)
{
	size_t	 i;

	for (i = 0; i < WORDS_MAX; i++)
		free(w->w[i]);
}

static int
word_is(const struct words *w, size_t i, const char *s, size_t len)
{
	return i < w->n && w->len[i] == len && memcmp(w->w[i], s, len) == 0;
}

/* Expand src with v = value; the words must be want[] with "V" the value. */
static void
expect_words(struct json_object *r, const char *src, const char *value,
    size_t vlen, const char *const *want, size_t nwant)
{
	struct template_err	 err;
	struct words		 w;
	char			*out;
	size_t			 len, i, plen;

	fuzz_assert(template_expand(src, strlen(src), r, "id-1", "alice",
	    PULSE_PARAM_STRING_MAX * 5, &out, &len, &err) == 0);
	fuzz_assert(strlen(out) <= len && out[len] == '\0');
	fuzz_assert(sh_words(out, len, &w) == 0);
	fuzz_assert(w.n == nwant);
	for (i = 0; i < nwant; i++) {
		if (strcmp(want[i], "V") == 0)
			fuzz_assert(word_is(&w, i, value, vlen));
		else if (strcmp(want[i], "xVyV") == 0) {
			fuzz_assert(w.len[i] == 2 * vlen + 2);
			fuzz_assert(w.w[i][0] == 'x' && w.w[i][vlen + 1] == 'y');
			fuzz_assert(memcmp(w.w[i] + 1, value, vlen) == 0);
			fuzz_assert(memcmp(w.w[i] + vlen + 2, value, vlen) == 0);
		} else {
			plen = strlen(want[i]);
			fuzz_assert(word_is(&w, i, want[i], plen));
		}
	}
	words_free(&w);
	free(out);
}

static struct params *ps;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const w1[] = { "printf", "%s", "V" };
	static const char *const w2[] = { "echo", "xVyV", "id-1", "alice" };
	static const char *const w3[] = { "V", "V" };
	const char		*in = (const char *)data, *nul, *src;
	struct json_object	*r, *o;
	struct template_err	 err, err2;
	struct fielderr	 perr;
	char			*out, *q;
	size_t			 vlen = size, slen = 0, len, max, qlen;
	int			 rc, rc2;

	if (ps == NULL) {
		o = json_tokener_parse("[{\"name\":\"v\",\"type\":\"string\"},"
		    "{\"name\":\"n\",\"type\":\"integer\"}]");
		fuzz_assert(params_from_json(o, &ps, &perr) == 0);
		json_object_put(o);
	}
	if ((nul = memchr(in, '\0', size)) != NULL) {
		vlen = (size_t)(nul - in);
		src = nul + 1;
		slen = size - vlen - 1;
	} else
		src = "";

	/* The quoting alone: one word, the value. */
	qlen = template_quote(NULL, in, vlen);
	q = malloc(qlen + 1);
	fuzz_assert(template_quote(q, in, vlen) == qlen);
	{
		struct words	 w;

		fuzz_assert(sh_words(q, qlen, &w) == 0);
		fuzz_assert(w.n == 1 && word_is(&w, 0, in, vlen));
		words_free(&w);
	}
	free(q);

	r = json_object_new_object();
	json_object_object_add(r, "v", json_object_new_string_len(in,
	    (int)vlen));
	json_object_object_add(r, "n", json_object_new_int64((int64_t)vlen -
	    1000));
	expect_words(r, "printf %s {{ params.v }}", in, vlen, w1, 3);
	expect_words(r, "echo x{{params.v}}y{{ params.v}} {{execution.id}} "
	    "{{ execution.started_by }}", in, vlen, w2, 4);
	expect_words(r, "{{params.v}}\t{{params.v}}\n", in, vlen, w3, 2);

	/* The fuzzed source: check and expand agree. */
	memset(&err, 0x55, sizeof(err));
	rc = template_check(src, slen, ps, 0, &err);
	/* Refusing more, never less, than the plain check. */
	if (template_check(src, slen, ps, TEMPLATE_SH, &err2) == 0)
		fuzz_assert(rc == 0);
	if (rc == -1) {
		fuzz_assert(err.off < slen);
		fuzz_assert(memcmp(src + err.off, "{{", 2) == 0);
		fuzz_assert(err.msg[0] != '\0');
		fuzz_assert(fuzz_utf8_valid(err.msg, strlen(err.msg)));
	}
	max = (size_t)(vlen % 3 == 0 ? WF_COMMAND_MAX : slen + vlen % 64);
	rc2 = template_expand(src, slen, r, "id-1", "alice", max, &out, &len,
	    &err2);
	if (rc2 == 0) {
		fuzz_assert(len <= max && out[len] == '\0');
		/* Every template check accepts expands; params.v and .n are
		   declared, so only "unknown parameter" can differ. */
		if (memmem(src, slen, "{{", 2) == NULL)
			fuzz_assert(len == slen && memcmp(out, src, slen) == 0);
		free(out);
	} else {
		fuzz_assert(out == NULL);
		fuzz_assert(fuzz_utf8_valid(err2.msg, strlen(err2.msg)));
		/* A template check accepts fails only on the size. */
		if (rc == 0)
			fuzz_assert(strncmp(err2.msg, "expanded text longer", 20)
			    == 0);
	}
	/* Any other problem check finds, expand finds too (unless the
	   text before it is already too long). */
	if (rc == -1 && strncmp(err.msg, "unknown parameter", 17) != 0) {
		fuzz_assert(rc2 == -1);
		fuzz_assert((err2.off == err.off &&
		    strcmp(err.msg, err2.msg) == 0) ||
		    strncmp(err2.msg, "expanded text longer", 20) == 0);
	}
	json_object_put(r);
	return 0;
}
