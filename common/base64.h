/* Base64 (RFC 4648, with padding) for command output on the worker socket. */
#ifndef PULSE_BASE64_H
#define PULSE_BASE64_H

#include <stddef.h>

/* Encoded length of n bytes, without the NUL. */
size_t	base64_len(size_t n);
/* Encode n bytes into out (base64_len(n) + 1 bytes); returns the length. */
size_t	base64_encode(const void *in, size_t n, char *out);
/* Decode; out needs n / 4 * 3 bytes. -1 on malformed input. */
int	base64_decode(const char *in, size_t n, void *out, size_t *outlen);

#endif
