/*
 * Unit tests for common/audit.c: the canonical row (keys sorted at every
 * depth, escapes, fixed field order, milliseconds in UTC), the hash, and
 * against a real MariaDB: appended rows in one transaction form a chain
 * that verifies, and a rolled-back append leaves no trace in it.
 */
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "dbtest.h"
#include "pjson.h"
#include "test.h"

static const char sql_last[] =
    "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1";

static void
test_canonical(void)
{
	struct audit_actor	 who = { "alice", "[\"ops\", \"admins\"]",
	    "127.0.0.1" };
	struct json_object	*d;
	char			 err[64], *row, hex[AUDIT_HASH_LEN + 1];
	static const char	 in[] = "{ \"z\": 1, \"a\": {\"y\": [true, null,"
	    " \"q\\\"\\n\\/\"], \"b\": 2.50}, \"\\u00e9\": \"\\u00e9\" }";

	d = pjson_parse(in, strlen(in), 32, err, sizeof(err));
	row = audit_canonical(7, 1765098000123LL, &who, "workflow.update",
	    "workflow", "w-1", d);
	test_cond("canonical row: fixed order, sorted keys, no whitespace",
	    strcmp(row, "[7,\"2025-12-07T09:00:00.123Z\",\"alice\","
	    "[\"ops\",\"admins\"],\"127.0.0.1\",\"workflow.update\","
	    "\"workflow\",\"w-1\",{\"a\":{\"b\":2.50,\"y\":[true,null,"
	    "\"q\\\"\\u000a/\"]},\"z\":1,\"\xc3\xa9\":\"\xc3\xa9\"}]") == 0);
	audit_hash("00000000000000000000000000000000"
	    "00000000000000000000000000000000", "abc", 3, hex);
	/* python3: hashlib.sha256(b'0' * 64 + b'abc').hexdigest() */
	test_cond("hash = SHA-256(prev hex || text), lowercase hex",
	    strcmp(hex, "b64374d04ef9c4f39fddb1e0d6be38a0130f6c057fc0f4ee467"
	    "ea0e18bc758f1") == 0);
	free(row);
	who.groups = NULL;
	who.client_addr = NULL;
	row = audit_canonical(1, 0, &who, "system.x", NULL, NULL, NULL);
	test_cond("NULL fields are null",
	    strcmp(row, "[1,\"1970-01-01T00:00:00.000Z\",\"alice\",null,null,"
	    "\"system.x\",null,null,null]") == 0);
	free(row);
	json_object_put(d);
}

static long long
last_id(struct db *db)
{
	struct db_res	*r;
	long long	 id;

	if (db_exec(db, sql_last, &r, "") == -1)
		return -1;
	id = db_res_int(r, 0, 0, 0);
	db_res_free(r);
	return id;
}

static void
test_chain(void)
{
	struct db		*db = dbtest_open();
	struct audit_actor	 who = { "unit", "[\"t\"]", "127.0.0.1" };
	struct audit_verify	 v;
	struct json_object	*d = json_object_new_object();
	long long		 before;
	int			 i, ok = 1;

	json_object_object_add(d, "n", json_object_new_int(1));
	before = last_id(db);
	test_cond("a chain head exists", before >= 0);
	if (db_begin(db) == -1)
		ok = 0;
	for (i = 0; ok && i < 3; i++)
		if (audit_append(db, &who, "unit.test", "unit", "x", d) == -1)
			ok = 0;
	if (!ok)
		fprintf(stderr, "# %s\n", db_errmsg(db));
	test_cond("three appends in one transaction", ok &&
	    db_commit(db) == 0);
	test_cond("ids follow one another", last_id(db) >= before + 3);

	db_begin(db);
	audit_append(db, &who, "unit.rolledback", "unit", "y", NULL);
	db_rollback(db);
	test_cond("verify runs", audit_verify(db, &v) == 0);
	if (v.first_bad_id != 0)
		printf("# %lld: %s\n", v.first_bad_id, v.reason);
	test_cond("the chain holds after a rollback", v.first_bad_id == 0 &&
	    v.rows >= 3);
	json_object_put(d);
	db_free(db);
}

int
main(void)
{
	test_canonical();
	test_chain();
	test_report();
}
