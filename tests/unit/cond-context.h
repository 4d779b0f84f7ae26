/*
 * The context a condition is evaluated in by tests/unit/test-cond.c and
 * tests/fuzz/fuzz_cond.c: what the engine hands over, plus a few members
 * of every JSON type. One copy, so the fuzzer explores what the unit tests
 * pin down.
 */
#ifndef PULSE_COND_CONTEXT_H
#define PULSE_COND_CONTEXT_H

static const char ctx_json[] =
    "{ \"promptResponse\": \"Yes\","
    "  \"state\": {"
    "    \"promptResponse\": \"Yes\","
    "    \"responses\": { \"User approval\": \"Yes\","
    "      \"Cleanup decision\": \"No\" },"
    "    \"steps\": ["
    "      { \"name\": \"Update package list\", \"type\": \"execute\","
    "        \"status\": \"succeeded\", \"exitCode\": 0,"
    "        \"stdout\": \"Hit:1 http://deb\\nOK\\n\", \"stderr\": \"\","
    "        \"results\": {"
    "          \"web-1\": { \"exitCode\": 0, \"stdout\": \"OK\\n\" },"
    "          \"db-1\": { \"exitCode\": 1, \"stderr\": \"E: lock\" } } },"
    "      { \"name\": \"User approval\", \"type\": \"prompt\","
    "        \"status\": \"succeeded\" },"
    "      { \"name\": \"Upgrade\", \"type\": \"execute\","
    "        \"status\": \"failed\", \"exitCode\": 100,"
    "        \"stdout\": \"  Mixed Case \\t\", \"stderr\": null } ],"
    "    \"execution\": { \"id\": \"6f1c7c1e-1111-4222-8333-444455556666\","
    "      \"started_by\": \"alice\" } },"
    "  \"n\": null, \"dbl\": 1.5, \"big\": 9007199254740993,"
    "  \"nanv\": NaN, \"pk\": \"__proto__\", \"ck\": \"constructor\","
    "  \"arr\": [1, \"2\", null, true, { \"a\": 1 }, NaN],"
    "  \"emptyArr\": [], \"emptyObj\": {},"
    "  \"obj\": { \"length\": 3, \"a\": { \"b\": \"c\" }, \"0\": \"zero\","
    "    \"\": \"empty\", \"new\": \"kw\" },"
    "  \"keys\": { \"1.5\": \"a\", \"1e+21\": \"b\", \"1e-7\": \"c\","
    "    \"0.000001\": \"d\", \"-1\": \"e\", \"100\": \"f\", \"NaN\": \"g\","
    "    \"Infinity\": \"h\", \"-Infinity\": \"i\", \"0\": \"j\","
    "    \"123456789012345680000\": \"k\", \"0.1\": \"l\", \"true\": \"m\","
    "    \"null\": \"n\", \"undefined\": \"o\", \"1.7976931348623157e+308\":"
    "    \"p\", \"5e-324\": \"q\", \"-0.5\": \"r\" } }";

#endif
