/* Unit tests for common/base64.c: RFC 4648 vectors and malformed input. */
#include <string.h>

#include "base64.h"
#include "test.h"

static int
round_trip(const char *in, const char *want)
{
	char	 enc[64], dec[64];
	size_t	 n;

	if (base64_encode(in, strlen(in), enc) != strlen(want) ||
	    strcmp(enc, want) != 0)
		return 0;
	if (base64_decode(enc, strlen(enc), dec, &n) == -1)
		return 0;
	return n == strlen(in) && memcmp(dec, in, n) == 0;
}

static int
rejects(const char *in)
{
	char	 dec[64];
	size_t	 n;

	return base64_decode(in, strlen(in), dec, &n) == -1;
}

int
main(void)
{
	unsigned char	 bin[256], dec[256];
	char		 enc[400];
	size_t		 i, n;

	test_cond("empty", round_trip("", ""));
	test_cond("f", round_trip("f", "Zg=="));
	test_cond("fo", round_trip("fo", "Zm8="));
	test_cond("foo", round_trip("foo", "Zm9v"));
	test_cond("foob", round_trip("foob", "Zm9vYg=="));
	test_cond("fooba", round_trip("fooba", "Zm9vYmE="));
	test_cond("foobar", round_trip("foobar", "Zm9vYmFy"));
	test_cond("length formula", base64_len(0) == 0 && base64_len(1) == 4 &&
	    base64_len(3) == 4 && base64_len(4) == 8);
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (unsigned char)i;
	n = base64_encode(bin, sizeof(bin), enc);
	test_cond("all 256 byte values round-trip", n == base64_len(256) &&
	    base64_decode(enc, n, dec, &n) == 0 && n == 256 &&
	    memcmp(dec, bin, 256) == 0);
	test_cond("length not a multiple of 4", rejects("Zm9"));
	test_cond("bad character", rejects("Zm9*"));
	test_cond("whitespace", rejects("Zm9v\nYmFy"));
	test_cond("padding in the middle", rejects("Zg==Zm9v"));
	test_cond("lone padding", rejects("===="));
	test_cond("one data char then padding", rejects("Z==="));
	test_report();
}
