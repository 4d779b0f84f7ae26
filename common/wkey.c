/*
 * Worker keys and enrollment tokens. The random bytes come from the
 * kernel (getrandom), the hash from OpenSSL; a key is never kept by the
 * server in any form but its hash, so a leaked table hands out nothing.
 */
#include <sys/random.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "wkey.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
wkey_new(char out[WKEY_LEN + 1])
{
	unsigned char	 b[WKEY_BYTES + 1];	/* a zero byte pads the end */
	size_t		 got = 0, i, o = 0;
	ssize_t		 n;
	unsigned	 v;

	while (got < WKEY_BYTES) {
		n = getrandom(b + got, WKEY_BYTES - got, 0);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	b[WKEY_BYTES] = 0;
	/* 32 bytes: ten whole groups of three, then two bytes (3 chars). */
	for (i = 0; i < WKEY_BYTES; i += 3) {
		v = (unsigned)b[i] << 16 | (unsigned)b[i + 1] << 8 |
		    (i + 2 < WKEY_BYTES ? b[i + 2] : 0);
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		out[o++] = b64url[(v >> 6) & 63];
		if (i + 2 < WKEY_BYTES)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
	explicit_bzero(b, sizeof(b));
	return o == WKEY_LEN ? 0 : -1;
}

int
wkey_valid(const char *s)
{
	size_t	 n = strspn(s, b64url);

	return n == WKEY_LEN && s[n] == '\0';
}

void
wkey_hash(const char *key, char out[WKEY_HASH_LEN + 1])
{
	unsigned char	 md[SHA256_DIGEST_LENGTH];
	size_t		 i;

	SHA256((const unsigned char *)key, strlen(key), md);
	for (i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
wkey_hash_equal(const char *a, const char *b)
{
	volatile unsigned char	 diff = 0;
	size_t			 i;

	if (strlen(a) != WKEY_HASH_LEN || strlen(b) != WKEY_HASH_LEN)
		return 0;
	for (i = 0; i < WKEY_HASH_LEN; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}
