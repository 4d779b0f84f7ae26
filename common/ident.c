/*
 * The small comparisons that decide access. They live in one place so the
 * REST API and the websocket listeners can never disagree on who gets in.
 */
#include <ctype.h>
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

/*
 * An authority as Host and Origin carry it: a name (letters, digits, '.',
 * '-', '_') or a bracketed IPv6 address, then at most one ":port" of 1 to
 * 5 digits up to 65535 without a leading zero. Anything else (a second port, userinfo, a path, a
 * space) is no authority at all: "http://host:8080:80" once passed as
 * host:8080 because only a trailing ":80" was looked at (issue 12).
 * Sets the name's extent and the port (the scheme's default if none).
 */
static int
authority(const char *a, size_t len, int dflt, size_t *namelen, long *port)
{
	size_t	 i = 0, n;
	long	 p = 0;

	if (len > 0 && a[0] == '[') {
		for (i = 1; i < len && a[i] != ']' &&
		    strchr("0123456789abcdefABCDEF:.", a[i]) != NULL; i++)
			;
		i++;
		if (i > len || a[i - 1] != ']' || i < 3)
			return -1;
	} else
		while (i < len && (isalnum((unsigned char)a[i]) ||
		    a[i] == '.' || a[i] == '-' || a[i] == '_'))
			i++;
	if (i == 0)
		return -1;
	*namelen = i;
	if (i == len) {
		*port = dflt;
		return dflt > 0 ? 0 : -1;
	}
	/* A port as browsers write it: no sign, no leading zero. */
	if (a[i] != ':' || i + 1 >= len || a[i + 1] == '0')
		return -1;
	for (n = ++i; i < len && i - n < 5 && isdigit((unsigned char)a[i]);
	    i++)
		p = p * 10 + (a[i] - '0');
	if (i != len || i == n || p < 1 || p > 65535)
		return -1;
	*port = p;
	return 0;
}

int
ident_origin_ok(const char *origin, const char *scheme, const char *host)
{
	size_t		 slen = strlen(scheme), on, hn;
	long		 op, hp;
	int		 dflt;
	const char	*o;

	if (strcasecmp(scheme, "https") == 0)
		dflt = 443;
	else if (strcasecmp(scheme, "http") == 0)
		dflt = 80;
	else
		return 0;
	if (*host == '\0' || *origin == '\0' ||
	    strncasecmp(origin, scheme, slen) != 0 ||
	    strncmp(origin + slen, "://", 3) != 0)
		return 0;
	o = origin + slen + 3;
	if (authority(o, strlen(o), dflt, &on, &op) == -1 ||
	    authority(host, strlen(host), dflt, &hn, &hp) == -1)
		return 0;
	return on == hn && op == hp && strncasecmp(o, host, on) == 0;
}
