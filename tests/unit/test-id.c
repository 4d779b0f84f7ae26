/* Unit tests for common/id.c. */
#include <string.h>

#include "id.h"
#include "test.h"

int
main(void)
{
	char	 a[ID_LEN + 1], b[ID_LEN + 1];

	id_new(a);
	id_new(b);
	test_cond("36 characters", strlen(a) == ID_LEN);
	test_cond("a new id is valid", id_valid(a));
	test_cond("two ids differ", strcmp(a, b) != 0);
	test_cond("version 4", a[14] == '4');
	test_cond("upper case accepted",
	    id_valid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
	test_cond("a new id is canonical", id_canonical(a));
	test_cond("upper case not canonical",
	    !id_canonical("0F8FAD5B-D9CB-469F-A165-70867728950E"));
	test_cond("one upper-case letter not canonical",
	    !id_canonical("0f8fad5b-d9cb-469f-a165-70867728950E"));
	test_cond("canonical needs valid", !id_canonical("0f8fad5b"));
	test_cond("NULL rejected", !id_valid(NULL));
	test_cond("empty rejected", !id_valid(""));
	test_cond("short rejected",
	    !id_valid("0f8fad5b-d9cb-469f-a165-70867728950"));
	test_cond("long rejected",
	    !id_valid("0f8fad5b-d9cb-469f-a165-70867728950ee"));
	test_cond("misplaced dash rejected",
	    !id_valid("0f8fad5bd-9cb-469f-a165-70867728950e"));
	test_cond("non-hex rejected",
	    !id_valid("0f8fad5b-d9cb-469f-a165-7086772895zz"));
	test_cond("SQL in an id rejected",
	    !id_valid("' OR 1=1 --                         "));
	test_report();
}
