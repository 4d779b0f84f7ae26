/*
 * Redirects are refused, never followed: lws would send X-API-Key again
 * to whatever address a 3xx answer names, another host included. The
 * heartbeat and the websocket both take a 3xx as an error and say why
 * with this (kept apart from proto.c and url.c, which link without lws).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "worker.h"
#include "xmalloc.h"

/*
 * A client connection to url that never follows a redirect: the
 * websocket, the heartbeat and enrollment all start theirs here.
 */
void
redirect_client_info(struct lws_client_connect_info *i,
    struct lws_context *ctx, const struct url *url, const char *protocol,
    struct lws **pwsi, void *opaque)
{
	memset(i, 0, sizeof(*i));
	i->context = ctx;
	i->address = url->host;
	i->port = url->port;
	i->path = url->path;
	i->host = url->hosthdr;
	i->ssl_connection = (url->tls ? LCCSCF_USE_SSL : 0) |
	    LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	i->protocol = protocol;
	i->local_protocol_name = protocol;
	i->alpn = "http/1.1";
	i->pwsi = pwsi;
	i->opaque_user_data = opaque;
}

/*
 * Why a 3xx answer from the server is refused, for the log: the status
 * and where it pointed (location, or the answer's Location header; made
 * printable and cut short).
 */
void
redirect_why(struct lws *wsi, const char *location, int status,
    char *buf, size_t len)
{
	char	 loc[REDIRECT_SHOW + 1], hdr[1024];
	size_t	 i;
	int	 n;

	if (location == NULL && wsi != NULL) {
		/* lws copies a header whole or not at all. */
		n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_LOCATION);
		if (n > 0 && n < (int)sizeof(hdr) && lws_hdr_copy(wsi, hdr,
		    (int)sizeof(hdr), WSI_TOKEN_HTTP_LOCATION) >= 0)
			location = hdr;
		else if (n > 0) {
			snprintf(hdr, sizeof(hdr), "(a Location of %d bytes)",
			    n);
			location = hdr;
		}
	}
	strlcpy_p(loc, location != NULL ? location : "", sizeof(loc));
	for (i = 0; loc[i] != '\0'; i++)
		if (!isprint((unsigned char)loc[i]))
			loc[i] = '?';
	snprintf(buf, len, "HTTP %d redirect to %s: not followed (the key "
	    "goes only to the configured server)", status,
	    loc[0] != '\0' ? loc : "(no Location)");
}
