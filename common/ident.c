/*
 * The small comparisons that decide access. They live in one place so the
 * REST API and the websocket listeners can never disagree on who gets in.
 */
#include <string.h>
#include <strings.h>

#include "ident.h"

/*
 * Time depends only on the configured key's length, never on how much of
 * it a guess got right. An empty configured key matches nothing.
 */
int
ident_key_equal(const char *got, const char *want)
{
	size_t			 glen = strlen(got), wlen = strlen(want), i;
	volatile unsigned char	 diff = 0;

	for (i = 0; i < wlen; i++)
		diff |= (unsigned char)want[i] ^
		    (unsigned char)(i < glen ? got[i] : 0);
	return wlen > 0 && diff == 0 && glen == wlen;
}

int
ident_in_group(const char *list, const char *group)
{
	size_t		 glen = strlen(group), n;
	const char	*p = list, *end;

	if (glen == 0)
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		end = p + strcspn(p, ",");
		n = (size_t)(end - p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == glen && strncmp(p, group, n) == 0)
			return 1;
		p = end;
	}
	return 0;
}

/* Length of host without the scheme's default port, which Origin omits. */
static size_t
host_len(const char *host, const char *scheme)
{
	const char	*dflt = NULL;
	size_t		 n = strlen(host), d;

	if (strcasecmp(scheme, "https") == 0)
		dflt = ":443";
	else if (strcasecmp(scheme, "http") == 0)
		dflt = ":80";
	if (dflt != NULL) {
		d = strlen(dflt);
		if (n > d && strcmp(host + n - d, dflt) == 0)
			n -= d;
	}
	return n;
}

int
ident_origin_ok(const char *origin, const char *scheme, const char *host)
{
	size_t		 slen = strlen(scheme), olen, hlen;
	const char	*o;

	if (slen == 0 || *host == '\0' || *origin == '\0' ||
	    strncasecmp(origin, scheme, slen) != 0 ||
	    strncmp(origin + slen, "://", 3) != 0)
		return 0;
	o = origin + slen + 3;
	olen = host_len(o, scheme);
	hlen = host_len(host, scheme);
	return olen != 0 && olen == hlen && strncasecmp(o, host, olen) == 0;
}
