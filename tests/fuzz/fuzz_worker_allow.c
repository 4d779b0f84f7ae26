/*
 * libFuzzer target: WORKER_ALLOW_FILE (worker/allow.c). The input is an
 * allow-list file, then the bytes \1\1, then a command. Beyond crashes
 * it checks what a host's owner relies on: parsing is deterministic and
 * an error names the file; a command with a line break never matches;
 * a matched command's every shell control character (; & | ` $ ( ) < >)
 * is written in the rule that matched it, since no wildcard may match
 * one; and for rules of plain characters, `*` and `?` only, the answer
 * is that of an exhaustive matcher written here independently.
 */
#include <string.h>

#include "fuzz.h"
#include "worker.h"
#include "xmalloc.h"

#define NEVER	"\n\r;&|`$()<>#\\'\""
#define REF_CELLS	(1 << 20)	/* the reference matcher's table */

/* Line n (1-based) of the file, trimmed as allow.c trims it. */
static const char *
line_of(const char *file, size_t len, int n, size_t *out)
{
	const char	*p = file, *end = file + len, *nl;
	size_t		 k;

	while (--n > 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		fuzz_assert(nl != NULL);
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	k = (size_t)((nl ? nl : end) - p);
	while (k > 0 && strchr(" \t\r", p[k - 1]) != NULL)
		k--;
	while (k > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		k--;
	}
	*out = k;
	return p;
}

/* A rule of literal bytes, `*` and `?` only (no quotes, escapes, classes). */
static int
plain(const char *r, size_t n)
{
	size_t	 i;

	if (n == 0 || r[0] == '#')
		return 0;
	for (i = 0; i < n; i++)
		if (strchr("'\"\\[", r[i]) != NULL ||
		    (unsigned char)r[i] < 0x20 || r[i] == 0x7f)
			return 0;
	return 1;
}

/*
 * Exhaustive: ok[i][j] = does r[i..] match t[j..]. A `*` takes any run
 * and a `?` any byte, except the bytes of NEVER. -1 when too big.
 */
static int
ref_match(const char *r, size_t rn, const char *t, size_t tn)
{
	unsigned char	*ok;
	size_t		 i, j, w = tn + 1;
	int		 m;

	if ((rn + 1) * w > REF_CELLS)
		return -1;
	ok = xcalloc((rn + 1) * w, 1);
	ok[rn * w + tn] = 1;
	for (i = rn; i-- > 0;)
		for (j = tn + 1; j-- > 0;) {
			if (r[i] == '*')
				m = ok[(i + 1) * w + j] || (j < tn &&
				    strchr(NEVER, t[j]) == NULL &&
				    ok[i * w + j + 1]);
			else if (j == tn)
				m = 0;
			else if (r[i] == '?')
				m = strchr(NEVER, t[j]) == NULL &&
				    ok[(i + 1) * w + j + 1];
			else
				m = r[i] == t[j] && ok[(i + 1) * w + j + 1];
			ok[i * w + j] = (unsigned char)m;
		}
	m = ok[0];
	free(ok);
	return m;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*in = (const char *)data, *sep, *r;
	struct allow	*a, *b;
	char		 err[512], err2[512], *cmd;
	size_t		 flen, rn, clen;
	int		 line, ref, n;

	sep = memmem(in, size, "\1\1", 2);
	flen = sep ? (size_t)(sep - in) : size;
	clen = sep ? size - flen - 2 : 0;
	cmd = xmalloc(clen + 1);
	memcpy(cmd, sep ? sep + 2 : "", clen);
	cmd[clen] = '\0';
	clen = strlen(cmd);	/* a command is a C string */

	err[0] = err2[0] = '\0';
	a = allow_parse(in, flen, "/etc/f", err, sizeof(err));
	b = allow_parse(in, flen, "/etc/f", err2, sizeof(err2));
	fuzz_assert((a == NULL) == (b == NULL));
	if (a == NULL) {
		fuzz_assert(strcmp(err, err2) == 0);
		fuzz_assert(strncmp(err, "/etc/f line ", 12) == 0);
		free(cmd);
		return 0;
	}
	fuzz_assert(allow_rules(a) <= ALLOW_RULES_MAX);
	line = allow_match(a, cmd);
	fuzz_assert(line == allow_match(b, cmd));
	if (line != 0) {
		fuzz_assert(strpbrk(cmd, "\r\n") == NULL);
		r = line_of(in, flen, line, &rn);
		for (sep = cmd; *sep != '\0'; sep++)
			if (strchr(NEVER, *sep) != NULL)
				fuzz_assert(memchr(r, *sep, rn) != NULL);
	}
	/* Every plain rule: the reference says whether it matches. */
	for (n = 1, r = in; r < in + flen; n++) {
		const char	*nl = memchr(r, '\n', (size_t)(in + flen - r));
		const char	*t;

		t = line_of(in, flen, n, &rn);
		if (plain(t, rn) && memchr(t, '\0', rn) == NULL) {
			ref = ref_match(t, rn, cmd, clen);
			if (ref == 1)
				fuzz_assert(line != 0 && line <= n);
			if (ref == 0)
				fuzz_assert(line != n);
		}
		if (nl == NULL)
			break;
		r = nl + 1;
	}
	allow_free(a);
	allow_free(b);
	free(cmd);
	return 0;
}
