/*
 * The server's URLs (PULSE_SERVER, PULSE_WS): a ws://, wss://, http://
 * or https:// URL parsed and checked into a struct url, and the
 * websocket and API addresses made from it, once at start-up. Apart from
 * the protocol (proto.c, proto-build.c): no message carries a URL.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"
#include "xmalloc.h"

static int
host_char(int c)
{
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

/* scheme://host[:port][/path]: only what a worker needs, checked. */
int
url_parse(const char *s, struct url *u, char *err, size_t errlen)
{
	static const struct {
		const char	*scheme;
		int		 tls, port;
	} schemes[] = {
		{ "ws://", 0, 80 }, { "wss://", 1, 443 },
		{ "http://", 0, 80 }, { "https://", 1, 443 },
	};
	const char	*p = NULL, *h, *he, *q;
	size_t		 i;
	long		 port;

	memset(u, 0, sizeof(*u));
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(s, schemes[i].scheme,
		    strlen(schemes[i].scheme)) == 0) {
			p = s + strlen(schemes[i].scheme);
			u->tls = schemes[i].tls;
			u->port = schemes[i].port;
			break;
		}
	if (p == NULL) {
		snprintf(err, errlen, "'%s' is not a ws://, wss://, http:// or "
		    "https:// URL", s);
		return -1;
	}
	if (*p == '[') {
		h = p + 1;
		if ((he = strchr(h, ']')) == NULL || he == h) {
			snprintf(err, errlen, "'%s': bad IPv6 address", s);
			return -1;
		}
		for (q = h; q < he; q++)
			if (!isxdigit((unsigned char)*q) && *q != ':' &&
			    *q != '.') {
				snprintf(err, errlen, "'%s': bad IPv6 address",
				    s);
				return -1;
			}
		q = he + 1;
	} else {
		h = p;
		for (he = h; host_char((unsigned char)*he); he++)
			;
		if (he == h) {
			snprintf(err, errlen, "'%s': no host name", s);
			return -1;
		}
		q = he;
	}
	if (*q == ':') {
		char	*end;

		q++;
		if (!isdigit((unsigned char)*q)) {
			snprintf(err, errlen, "'%s': bad port", s);
			return -1;
		}
		port = strtol(q, &end, 10);
		if (port < 1 || port > 65535 || end - q > 5) {
			snprintf(err, errlen, "'%s': bad port", s);
			return -1;
		}
		u->port = (int)port;
		q = end;
	}
	if (*q != '\0' && *q != '/') {
		snprintf(err, errlen, "'%s': unexpected '%c' after the host",
		    s, *q);
		return -1;
	}
	for (i = 0; q[i] != '\0'; i++)
		if ((unsigned char)q[i] <= ' ' || q[i] == '#' ||
		    (unsigned char)q[i] >= 0x7f) {
			snprintf(err, errlen, "'%s': bad character in the "
			    "path", s);
			return -1;
		}
	u->host = xstrndup(h, (size_t)(he - h));
	u->path = xstrdup(*q == '\0' ? "/" : q);
	if (u->port == (u->tls ? 443 : 80))
		xasprintf(&u->hosthdr, *p == '[' ? "[%s]" : "%s", u->host);
	else
		xasprintf(&u->hosthdr, *p == '[' ? "[%s]:%d" : "%s:%d",
		    u->host, u->port);
	return 0;
}

void
url_clear(struct url *u)
{
	free(u->host);
	free(u->path);
	free(u->hosthdr);
	memset(u, 0, sizeof(*u));
}

/* The server URL's path without its trailing slashes, then suffix. */
static void
url_append(struct url *u, const char *suffix)
{
	size_t	 n = strlen(u->path);
	char	*p;

	while (n > 0 && u->path[n - 1] == '/')
		n--;
	xasprintf(&p, "%.*s%s", (int)n, u->path, suffix);
	free(u->path);
	u->path = p;
}

/*
 * The websocket URL: PULSE_WS as given ("/worker" when it has no path),
 * else PULSE_SERVER with http(s) turned into ws(s) and "/worker" after
 * its path, so that a server under a prefix keeps it.
 */
int
url_worker(const char *server, const char *ws, struct url *u, char *err,
    size_t errlen)
{
	char	 sub[512];

	if (ws != NULL && *ws != '\0') {
		if (strncmp(ws, "ws://", 5) != 0 &&
		    strncmp(ws, "wss://", 6) != 0) {
			snprintf(err, errlen, "PULSE_WS: '%s' is not a ws:// "
			    "or wss:// URL", ws);
			return -1;
		}
		if (url_parse(ws, u, sub, sizeof(sub)) == -1) {
			snprintf(err, errlen, "PULSE_WS: %s", sub);
			return -1;
		}
		if (strcmp(u->path, "/") == 0)
			url_append(u, "/worker");
		return 0;
	}
	if (url_server(server, "/worker", u, err, errlen) == -1)
		return -1;
	return 0;
}

/* PULSE_SERVER (http:// or https://) with suffix after its path. */
int
url_server(const char *server, const char *suffix, struct url *u, char *err,
    size_t errlen)
{
	char	 sub[512];

	if (strncmp(server, "http://", 7) != 0 &&
	    strncmp(server, "https://", 8) != 0) {
		snprintf(err, errlen, "PULSE_SERVER: '%s' is not an http:// "
		    "or https:// URL", server);
		return -1;
	}
	if (url_parse(server, u, sub, sizeof(sub)) == -1) {
		snprintf(err, errlen, "PULSE_SERVER: %s", sub);
		return -1;
	}
	if (strchr(u->path, '?') != NULL) {
		snprintf(err, errlen, "PULSE_SERVER: '%s' has a query string",
		    server);
		url_clear(u);
		return -1;
	}
	url_append(u, suffix);
	return 0;
}
