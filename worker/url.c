/*
 * The server's URLs (PULSE_SERVER, PULSE_WS): a ws://, wss://, http://
 * or https:// URL parsed and checked into a struct url, and the
 * websocket and API addresses made from it, once at start-up. Either
 * variable may list up to URLS_MAX control hosts, comma-separated (one
 * struct urls each); the agent fails over between them (conn.c). Apart from
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
 * One PULSE_WS entry: as given ("/worker" when it has no path). err is
 * said without the variable's name.
 */
static int
url_ws_entry(const char *ws, struct url *u, char *err, size_t errlen)
{
	if (strncmp(ws, "ws://", 5) != 0 && strncmp(ws, "wss://", 6) != 0) {
		snprintf(err, errlen, "'%s' is not a ws:// or wss:// URL", ws);
		return -1;
	}
	if (url_parse(ws, u, err, errlen) == -1)
		return -1;
	if (strcmp(u->path, "/") == 0)
		url_append(u, "/worker");
	return 0;
}

/* One PULSE_SERVER entry (http:// or https://) with suffix after its path. */
static int
url_server_entry(const char *server, const char *suffix, struct url *u,
    char *err, size_t errlen)
{
	if (strncmp(server, "http://", 7) != 0 &&
	    strncmp(server, "https://", 8) != 0) {
		snprintf(err, errlen, "'%s' is not an http:// or https:// URL",
		    server);
		return -1;
	}
	if (url_parse(server, u, err, errlen) == -1)
		return -1;
	if (strchr(u->path, '?') != NULL) {
		snprintf(err, errlen, "'%s' has a query string", server);
		url_clear(u);
		return -1;
	}
	url_append(u, suffix);
	return 0;
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
		if (url_ws_entry(ws, u, sub, sizeof(sub)) == -1) {
			snprintf(err, errlen, "PULSE_WS: %s", sub);
			return -1;
		}
		return 0;
	}
	return url_server(server, "/worker", u, err, errlen);
}

/* PULSE_SERVER (http:// or https://) with suffix after its path. */
int
url_server(const char *server, const char *suffix, struct url *u, char *err,
    size_t errlen)
{
	char	 sub[512];

	if (url_server_entry(server, suffix, u, sub, sizeof(sub)) == -1) {
		snprintf(err, errlen, "PULSE_SERVER: %s", sub);
		return -1;
	}
	return 0;
}

void
urls_clear(struct urls *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		url_clear(&l->u[i]);
	l->n = 0;
}

/*
 * A comma-separated list of at most URLS_MAX entries (blanks around each
 * trimmed), each made into a URL by one() (ws: PULSE_WS's rules, else
 * PULSE_SERVER's with suffix). An error names var and, in a list of
 * more than one, the entry: "PULSE_WS: entry 2 'ftp://x' is not ...".
 * One entry is today's single URL, its errors unchanged.
 */
static int
urls_split(const char *var, const char *list, int ws, const char *suffix,
    struct urls *l, char *err, size_t errlen)
{
	char		 entry[URL_ENTRY_MAX + 1], sub[512], label[32];
	const char	*p, *e, *end;
	size_t		 n = 1, len;
	int		 rc;

	memset(l, 0, sizeof(*l));
	for (p = list; *p != '\0'; p++)
		n += *p == ',';
	if (n > URLS_MAX) {
		snprintf(err, errlen, "%s: %zu URLs; at most %d", var, n,
		    URLS_MAX);
		return -1;
	}
	for (p = list; l->n < n; p = end + 1) {
		if ((end = strchr(p, ',')) == NULL)
			end = p + strlen(p);
		for (e = end; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		len = (size_t)(e - p);
		label[0] = '\0';
		if (n > 1)
			snprintf(label, sizeof(label), "entry %zu ", l->n + 1);
		if (len > URL_ENTRY_MAX || (len == 0 && n > 1)) {
			snprintf(err, errlen, "%s: %s%s", var, label, len == 0 ?
			    "is empty" : "is too long");
			urls_clear(l);
			return -1;
		}
		memcpy(entry, p, len);
		entry[len] = '\0';
		rc = ws ? url_ws_entry(entry, &l->u[l->n], sub, sizeof(sub)) :
		    url_server_entry(entry, suffix, &l->u[l->n], sub,
		    sizeof(sub));
		if (rc == -1) {
			snprintf(err, errlen, "%s: %s%s", var, label, sub);
			urls_clear(l);
			return -1;
		}
		l->n++;
	}
	return 0;
}

/* PULSE_SERVER's list, each entry with suffix after its path. */
int
urls_server(const char *server, const char *suffix, struct urls *l,
    char *err, size_t errlen)
{
	return urls_split("PULSE_SERVER", server, 0, suffix, l, err, errlen);
}

/*
 * The websocket URLs: PULSE_WS's list, else one per PULSE_SERVER entry,
 * in its order (url_worker's rules, entry by entry).
 */
int
urls_worker(const char *server, const char *ws, struct urls *l, char *err,
    size_t errlen)
{
	if (ws != NULL && *ws != '\0')
		return urls_split("PULSE_WS", ws, 1, NULL, l, err, errlen);
	return urls_split("PULSE_SERVER", server, 0, "/worker", l, err, errlen);
}

/* 1 when any of the list's URLs needs TLS. */
int
urls_tls(const struct urls *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (l->u[i].tls)
			return 1;
	return 0;
}
