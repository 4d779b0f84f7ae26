/*
 * Checks on who is calling, shared by pulse-api (HTTP) and pulse-pushd
 * (websocket handshakes): the worker key, SSO groups and the Origin rule.
 */
#ifndef PULSE_IDENT_H
#define PULSE_IDENT_H

/* Constant-time comparison of a presented key with the configured one. */
int	ident_key_equal(const char *got, const char *want);
/* Is group one of the comma-separated names in list (trimmed)? */
int	ident_in_group(const char *list, const char *group);
/* Is origin exactly scheme://host (default ports ignored on both)? */
int	ident_origin_ok(const char *origin, const char *scheme,
	    const char *host);

#endif
