/*
 * Canonical JSON: one text for one value, so that a SHA-256 of it names
 * the value (an approval's frozen plan, SPEC section 15; the audit
 * chain's rows, SPEC section 13). Object keys sorted bytewise, no
 * whitespace, strings escaped only where JSON must.
 */
#ifndef PULSE_CANON_H
#define PULSE_CANON_H

#include <stddef.h>

struct sbuf;
struct json_object;

#define CANON_DEPTH_MAX		64	/* nested arrays/objects, as pjson_parse */
#define CANON_SHA256_HEX_LEN	64

/* Numbers as json-c writes them (a parsed one as it was written, "2.50"):
 * the audit chain's bytes, stored before this module existed. */
#define CANON_NUMBERS_AS_PARSED	0x1

/*
 * Canonical JSON of v appended to out: object keys sorted by bytes
 * (strcmp), no whitespace, strings with only '"', '\\' and bytes < 0x20
 * escaped (as \" \\ and \u00XX; other bytes as they are), integers as
 * %lld (a uint64 past INT64_MAX as %llu), doubles as the shortest
 * "%.{15,16,17}g" that reads back equal, with ".0" added when that has no
 * '.' or 'e' (so a double never reads back as an integer). NULL is null.
 * NaN/Inf or depth > CANON_DEPTH_MAX: -1 with why, out holding a partial
 * text the caller drops. Same value => same bytes.
 */
int	canon_json(struct sbuf *out, struct json_object *v, char *why,
	    size_t whylen);
/* The same with CANON_* flags. */
int	canon_json_flags(struct sbuf *out, struct json_object *v, int flags,
	    char *why, size_t whylen);
/* One JSON string of len bytes (NULs allowed), escaped as above. */
void	canon_string(struct sbuf *out, const char *s, size_t len);
/* Lowercase hex SHA-256 (EVP) of buf. */
void	canon_sha256_hex(const void *buf, size_t len,
	    char hex[CANON_SHA256_HEX_LEN + 1]);

#endif
