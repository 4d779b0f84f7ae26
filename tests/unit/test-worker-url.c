/*
 * Unit test for worker/url.c's lists: PULSE_SERVER and PULSE_WS as
 * comma-separated lists of control hosts (README "Several control
 * hosts"). Each entry is checked as a single URL is; an error names the
 * variable and, in a list, the entry; one entry is today's single URL,
 * its errors unchanged; the websocket list is derived from PULSE_SERVER
 * entry by entry when PULSE_WS is unset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker.h"
#include "xmalloc.h"
#include "test.h"

/* rc and err of a parse: refused with exactly want, nothing kept. */
static int
refused(int rc, struct urls *l, const char *err, const char *want)
{
	if (rc == 0) {
		urls_clear(l);
		printf("# accepted, wanted '%s'\n", want);
		return 0;
	}
	if (strcmp(err, want) != 0) {
		printf("# got '%s'\n# want '%s'\n", err, want);
		return 0;
	}
	return l->n == 0;
}

static int
refused_ws(const char *server, const char *ws, const char *want)
{
	struct urls	 l;
	char		 err[512];
	int		 rc;

	memset(&l, 0x5a, sizeof(l));
	rc = urls_worker(server, ws, &l, err, sizeof(err));
	return refused(rc, &l, err, want);
}

static int
refused_server(const char *server, const char *want)
{
	struct urls	 l;
	char		 err[512];
	int		 rc;

	memset(&l, 0x5a, sizeof(l));
	rc = urls_server(server, "/api/workers/heartbeat", &l, err,
	    sizeof(err));
	return refused(rc, &l, err, want);
}

static int
is(const struct url *u, int tls, const char *host, int port,
    const char *path)
{
	if (u->tls == tls && strcmp(u->host, host) == 0 && u->port == port &&
	    strcmp(u->path, path) == 0)
		return 1;
	printf("# got tls %d host '%s' port %d path '%s'\n", u->tls, u->host,
	    u->port, u->path);
	return 0;
}

static void
test_single(void)
{
	struct urls	 l;
	struct url	 one;
	char		 err[512], err1[512];

	test_cond("one PULSE_SERVER: one websocket URL, as url_worker makes it",
	    urls_worker("http://127.0.0.1:8080", "", &l, err,
	    sizeof(err)) == 0 && l.n == 1 &&
	    url_worker("http://127.0.0.1:8080", "", &one, err,
	    sizeof(err)) == 0 && is(&l.u[0], 0, "127.0.0.1", 8080, "/worker") &&
	    strcmp(one.hosthdr, l.u[0].hosthdr) == 0 &&
	    strcmp(one.path, l.u[0].path) == 0);
	url_clear(&one);
	urls_clear(&l);
	test_cond("urls_clear empties the list", l.n == 0);
	test_cond("one PULSE_WS without a path gets /worker",
	    urls_worker("http://x", "wss://h", &l, err, sizeof(err)) == 0 &&
	    l.n == 1 && is(&l.u[0], 1, "h", 443, "/worker") && urls_tls(&l));
	urls_clear(&l);

	/* A single bad URL: the very message of url_worker/url_server. */
	url_worker("http://x", "ftp://x", &one, err1, sizeof(err1));
	test_cond("one bad PULSE_WS: today's message, no entry number",
	    refused_ws("http://x", "ftp://x", err1) &&
	    strcmp(err1, "PULSE_WS: 'ftp://x' is not a ws:// or wss:// URL") ==
	    0);
	url_server("ftp://h", "/x", &one, err1, sizeof(err1));
	test_cond("one bad PULSE_SERVER: today's message",
	    refused_server("ftp://h", err1) && strstr(err1, "entry") == NULL);
	test_cond("an empty PULSE_SERVER is refused as today",
	    refused_server("", "PULSE_SERVER: '' is not an http:// or "
	    "https:// URL"));
}

static void
test_lists(void)
{
	struct urls	 l;
	char		 err[512];

	test_cond("PULSE_SERVER of two: two websocket URLs in that order",
	    urls_worker("http://127.0.0.1:9, https://b.example/base/", NULL, &l,
	    err, sizeof(err)) == 0 && l.n == 2 &&
	    is(&l.u[0], 0, "127.0.0.1", 9, "/worker") &&
	    is(&l.u[1], 1, "b.example", 443, "/base/worker") && urls_tls(&l));
	urls_clear(&l);
	test_cond("... and two heartbeat URLs, the same hosts",
	    urls_server("http://127.0.0.1:9,https://b.example/base/",
	    "/api/workers/heartbeat", &l, err, sizeof(err)) == 0 && l.n == 2 &&
	    is(&l.u[0], 0, "127.0.0.1", 9, "/api/workers/heartbeat") &&
	    is(&l.u[1], 1, "b.example", 443, "/base/api/workers/heartbeat"));
	urls_clear(&l);
	test_cond("PULSE_WS's list wins over PULSE_SERVER's, blanks trimmed",
	    urls_worker("http://a,http://b,http://c", " ws://x:1 ,\tws://y/p ",
	    &l, err, sizeof(err)) == 0 && l.n == 2 &&
	    is(&l.u[0], 0, "x", 1, "/worker") && is(&l.u[1], 0, "y", 80, "/p") &&
	    !urls_tls(&l));
	urls_clear(&l);
	test_cond("eight entries",
	    urls_worker("http://a,http://b,http://c,http://d,http://e,"
	    "http://f,http://g,http://[::1]:8", "", &l, err,
	    sizeof(err)) == 0 && l.n == 8 &&
	    is(&l.u[7], 0, "::1", 8, "/worker") &&
	    strcmp(l.u[7].hosthdr, "[::1]:8") == 0);
	urls_clear(&l);

	test_cond("nine entries are refused",
	    refused_ws("http://a,http://b,http://c,http://d,http://e,http://f,"
	    "http://g,http://h,http://i", "",
	    "PULSE_SERVER: 9 URLs; at most 8"));
	test_cond("a bad PULSE_WS entry is named",
	    refused_ws("http://a", "ws://ok,ftp://x",
	    "PULSE_WS: entry 2 'ftp://x' is not a ws:// or wss:// URL"));
	test_cond("an http:// URL in PULSE_WS is refused",
	    refused_ws("http://a", "ws://ok,ws://ok2,http://h",
	    "PULSE_WS: entry 3 'http://h' is not a ws:// or wss:// URL"));
	test_cond("a bad PULSE_SERVER entry is named (websocket list)",
	    refused_ws("ws://a,http://b", "",
	    "PULSE_SERVER: entry 1 'ws://a' is not an http:// or https:// "
	    "URL"));
	test_cond("a bad port in an entry",
	    refused_server("http://a,http://b:99999",
	    "PULSE_SERVER: entry 2 'http://b:99999': bad port"));
	test_cond("user info in an entry (no credentials in a URL)",
	    refused_server("http://a,http://u:p@b",
	    "PULSE_SERVER: entry 2 'http://u:p@b': bad port"));
	test_cond("a query string in an entry",
	    refused_server("http://a/?x=1,http://b",
	    "PULSE_SERVER: entry 1 'http://a/?x=1' has a query string"));
	test_cond("an empty entry in the middle",
	    refused_server("http://a,,http://b",
	    "PULSE_SERVER: entry 2 is empty"));
	test_cond("a trailing comma",
	    refused_ws("http://a", "ws://a,",
	    "PULSE_WS: entry 2 is empty"));
	test_cond("a blank entry",
	    refused_ws("http://a, \t,http://b", "",
	    "PULSE_SERVER: entry 2 is empty"));
	test_cond("a lone comma",
	    refused_server(",", "PULSE_SERVER: entry 1 is empty"));
}

/* No entry can overrun the copy: the value's own cap, and more. */
static void
test_long(void)
{
	struct urls	 l;
	char		*big, err[512];
	size_t		 n = URL_ENTRY_MAX + 100;

	big = xmalloc(n + 32);
	snprintf(big, n + 32, "http://a,http://");
	memset(big + strlen(big), 'h', n);
	big[n] = '\0';
	test_cond("an entry longer than a value may be is refused",
	    urls_server(big, "/x", &l, err, sizeof(err)) == -1 &&
	    strcmp(err, "PULSE_SERVER: entry 2 is too long") == 0 && l.n == 0);
	free(big);
}

int
main(void)
{
	test_single();
	test_lists();
	test_long();
	test_report();
}
