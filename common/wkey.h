/*
 * Worker keys and enrollment tokens (SPEC section 12): 32 random bytes as
 * base64url without padding, stored by the server only as the lowercase
 * hex SHA-256, compared in constant time. Shared by pulse-api and pushd.
 */
#ifndef PULSE_WKEY_H
#define PULSE_WKEY_H

#define WKEY_BYTES	32
#define WKEY_LEN	43	/* base64url of 32 bytes, no padding */
#define WKEY_HASH_LEN	64	/* hex SHA-256 */

/* A new key or token; 0, or -1 if the system has no randomness to give. */
int	wkey_new(char out[WKEY_LEN + 1]);
/* Is s shaped like a key: exactly WKEY_LEN characters [A-Za-z0-9_-]? */
int	wkey_valid(const char *s);
/* The stored form of a key or token: hex SHA-256 of its text. */
void	wkey_hash(const char *key, char out[WKEY_HASH_LEN + 1]);
/* Two stored hashes equal? Time does not depend on where they differ. */
int	wkey_hash_equal(const char *a, const char *b);

#endif
