/* Unit tests for common/wkey.c: key shape, hash, comparison. */
#include <string.h>

#include "test.h"
#include "wkey.h"

int
main(void)
{
	char	 a[WKEY_LEN + 1], b[WKEY_LEN + 1];
	char	 ha[WKEY_HASH_LEN + 1], hb[WKEY_HASH_LEN + 1];

	test_cond("new key", wkey_new(a) == 0 && wkey_new(b) == 0);
	test_cond("43 characters", strlen(a) == WKEY_LEN);
	test_cond("base64url, no padding", wkey_valid(a) && wkey_valid(b) &&
	    strchr(a, '=') == NULL);
	test_cond("two keys differ", strcmp(a, b) != 0);
	test_cond("shape: short refused", !wkey_valid("abc"));
	test_cond("shape: '+' refused",
	    !wkey_valid("+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	test_cond("shape: 44 refused",
	    !wkey_valid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	wkey_hash("abc", ha);
	test_cond("SHA-256 hex of 'abc'", strcmp(ha, "ba7816bf8f01cfea414140de"
	    "5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	wkey_hash(a, ha);
	wkey_hash(a, hb);
	test_cond("same key, same hash", wkey_hash_equal(ha, hb));
	wkey_hash(b, hb);
	test_cond("other key, other hash", !wkey_hash_equal(ha, hb));
	test_cond("short hash never equal", !wkey_hash_equal("ab", "ab"));
	test_report();
}
