/*
 * Base64, because command output is bytes and a websocket text frame must
 * be UTF-8: the worker encodes, pushd decodes and stores the exact bytes.
 * The decoder is strict (padding required, no whitespace): it reads
 * network input.
 */
#include <stdint.h>

#include "base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t
base64_encode(const void *in, size_t n, char *out)
{
	const unsigned char	*p = in;
	size_t			 i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int
value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *in, size_t n, void *out, size_t *outlen)
{
	unsigned char	*q = out;
	size_t		 i, o = 0;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		int	 a = value(in[i]), b = value(in[i + 1]);
		int	 c = value(in[i + 2]), d = value(in[i + 3]);
		int	 last = i + 4 == n;

		if (a < 0 || b < 0)
			return -1;
		if (last && in[i + 2] == '=' && in[i + 3] == '=') {
			q[o++] = (unsigned char)(a << 2 | b >> 4);
			break;
		}
		if (c < 0)
			return -1;
		if (last && in[i + 3] == '=') {
			q[o++] = (unsigned char)(a << 2 | b >> 4);
			q[o++] = (unsigned char)(b << 4 | c >> 2);
			break;
		}
		if (d < 0)
			return -1;
		q[o++] = (unsigned char)(a << 2 | b >> 4);
		q[o++] = (unsigned char)(b << 4 | c >> 2);
		q[o++] = (unsigned char)(c << 6 | d);
	}
	*outlen = o;
	return 0;
}
