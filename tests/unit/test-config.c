/* Unit tests for common/config.c: defaults, .env syntax, every check. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "test.h"

static char	 path[4096];
static char	 err[512];

static const char *
data(const char *name)
{
	const char *top = getenv("top_srcdir");

	snprintf(path, sizeof(path), "%s/tests/unit/testdata/%s",
	    top ? top : ".", name);
	return path;
}

static int
load_fails(const char *file, const char *needle)
{
	struct config	 c;
	int		 rc;

	rc = config_load(&c, data(file), 1, err, sizeof(err));
	config_free(&c);
	return rc == -1 && strstr(err, needle) != NULL;
}

static struct config_db_host	 hosts[CONFIG_DB_HOSTS_MAX];
static size_t			 nhosts;

/* The list parses to n entries; the i-th is name:port. */
static int
hosts_ok(const char *list, size_t n)
{
	return config_db_hosts(list, 3306, hosts, &nhosts, err,
	    sizeof(err)) == 0 && nhosts == n;
}

static int
host_is(size_t i, const char *name, unsigned port)
{
	return i < nhosts && strcmp(hosts[i].name, name) == 0 &&
	    hosts[i].port == port;
}

/* The list is refused with a message that names DB_HOST and needle. */
static int
hosts_bad(const char *list, const char *needle)
{
	return config_db_hosts(list, 3306, hosts, &nhosts, err,
	    sizeof(err)) == -1 && strstr(err, "DB_HOST") != NULL &&
	    strstr(err, needle) != NULL;
}

/* Lists that parse: n entries, the last of them name:port. */
static const struct {
	const char	*descr, *list;
	size_t		 n;
	const char	*name;
	unsigned	 port;
} good[] = {
	{ "one host, today's form, gets DB_PORT", "127.0.0.1", 1,
	    "127.0.0.1", 3306 },
	{ "a name", "db-1.example_x", 1, "db-1.example_x", 3306 },
	{ "host:port", "db1:3307", 1, "db1", 3307 },
	{ "a bare IPv6 address is one host without a port", "::1", 1,
	    "::1", 3306 },
	{ "[v6]:port", "[fe80::1]:4000", 1, "fe80::1", 4000 },
	{ "[v6] without a port", "[::1]", 1, "::1", 3306 },
	{ "spaces around commas", "127.0.0.1:3311, db2 ,[::1]:3313", 3,
	    "::1", 3313 },
	{ "eight entries", "a,b,c,d,e,f,g,h:9", 8, "h", 9 },
};

/* Lists refused, the message naming DB_HOST and the needle. */
static const struct {
	const char	*descr, *list, *needle;
} bad[] = {
	{ "nine entries are refused", "a,b,c,d,e,f,g,h,i", "more than 8" },
	{ "empty list", "", "entry 1 is empty" },
	{ "empty entry in the middle", "a,,b", "entry 2 is empty" },
	{ "trailing comma", "a,b,", "entry 3 is empty" },
	{ "port 0", "db1:0", "'db1:0'" },
	{ "port 65536", "db1:65536", "'db1:65536'" },
	{ "port not a number", "a,db1:x1", "'db1:x1'" },
	{ "empty port", "db1:", "'db1:'" },
	{ "empty host before a port", ":3306", "':3306'" },
	{ "a bad character in the name", "good,b@d", "'b@d'" },
	{ "unclosed bracket", "[::1:3306", "'[::1:3306'" },
	{ "text after the bracket", "[::1]x3306", "'[::1]x3306'" },
	{ "a name in brackets", "[dbx]:3306", "'[dbx]" },
};

static void
test_db_hosts(void)
{
	struct config	 c;
	char		 big[4096];
	size_t		 i;
	int		 rc;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		test_cond(good[i].descr, hosts_ok(good[i].list, good[i].n) &&
		    host_is(good[i].n - 1, good[i].name, good[i].port));
	test_cond("a list keeps its order",
	    hosts_ok("127.0.0.1:3311, db2 ,[::1]:3313", 3) &&
	    host_is(0, "127.0.0.1", 3311) && host_is(1, "db2", 3306));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_cond(bad[i].descr, hosts_bad(bad[i].list, bad[i].needle));
	memset(big, 'a', 300);
	big[300] = '\0';
	test_cond("a name past 253 bytes", hosts_bad(big, "bad host name"));
	memset(big, 'a', 253);
	big[253] = '\0';
	test_cond("a name of 253 bytes", hosts_ok(big, 1) &&
	    strlen(hosts[0].name) == 253);

	/* Through config_load: DB_PORT reaches the entries, whatever order
	 * the keys came in, and a bad list stops the load. */
	setenv("DB_HOST", "db1.example.org,db2.example.org:3310", 1);
	setenv("DB_PORT", "3399", 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("a list loads", rc == 0 &&
	    config_db_hosts(c.db_host, (unsigned)c.db_port, hosts, &nhosts,
	    err, sizeof(err)) == 0 && host_is(0, "db1.example.org", 3399) &&
	    host_is(1, "db2.example.org", 3310));
	config_free(&c);
	/* The longest valid list fits the key's limit. */
	big[0] = '\0';
	for (i = 0; i < CONFIG_DB_HOSTS_MAX; i++) {
		size_t	 o = strlen(big);

		if (i > 0)
			big[o++] = ',';
		memset(big + o, 'b', CONFIG_DB_HOSTNAME_MAX);
		snprintf(big + o + CONFIG_DB_HOSTNAME_MAX, 8, ":65535");
	}
	setenv("DB_HOST", big, 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("eight longest entries load", rc == 0);
	config_free(&c);
	setenv("DB_HOST", "db1:3306,db2:99999", 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("a bad list stops the load naming DB_HOST and the entry",
	    rc == -1 && strstr(err, "DB_HOST") != NULL &&
	    strstr(err, "db2:99999") != NULL);
	config_free(&c);
	unsetenv("DB_HOST");
	unsetenv("DB_PORT");

	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("DB_WSREP_SYNC_WAIT defaults to 1", rc == 0 &&
	    c.db_wsrep_sync_wait == 1);
	config_free(&c);
	setenv("DB_WSREP_SYNC_WAIT", "16", 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("DB_WSREP_SYNC_WAIT past 15 is refused", rc == -1 &&
	    strstr(err, "DB_WSREP_SYNC_WAIT") != NULL);
	config_free(&c);
	unsetenv("DB_WSREP_SYNC_WAIT");
}

int
main(void)
{
	struct config	 c;
	int		 rc;

	unsetenv("PORT");
	unsetenv("DB_NAME");
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("defaults load", rc == 0);
	test_cond("default PORT 3000", c.port == 3000);
	test_cond("default HEARTBEAT_INTERVAL 30", c.heartbeat_interval == 30);
	test_cond("default MAX_CONCURRENT_TASKS 5",
	    c.max_concurrent_tasks == 5);
	test_cond("default NODE_ENV production",
	    strcmp(c.node_env, "production") == 0);
	test_cond("default poll interval 50 ms", c.poll_interval_ms == 50);
	test_cond("default RETENTION_DAYS 30, WORKER_PRUNE_DAYS 0 (off)",
	    c.retention_days == 30 && c.worker_prune_days == 0);
	test_cond("default retention sweep every 60 s",
	    c.retention_interval_s == 60);
	config_free(&c);

	rc = config_load(&c, data("good.env"), 1, err, sizeof(err));
	test_cond("good.env loads", rc == 0);
	test_cond("PORT from file", c.port == 8081);
	test_cond("export prefix and spaces around =",
	    strcmp(c.host, "0.0.0.0") == 0);
	test_cond("double quotes stripped, comment after",
	    strcmp(c.db_name, "pulse_test") == 0);
	test_cond("single quotes are literal",
	    strcmp(c.db_user, "literal#user") == 0);
	test_cond("bare value keeps inner # and spaces",
	    strcmp(c.db_password, "pa ss#word") == 0);
	test_cond("\\n escape in double quotes",
	    strcmp(c.secret_key, "line\nbreak") == 0);
	test_cond("enum value", strcmp(c.node_env, "development") == 0);
	test_cond("bool yes", c.log_debug == 1);
	config_free(&c);

	setenv("PORT", "9090", 1);
	rc = config_load(&c, data("good.env"), 1, err, sizeof(err));
	test_cond("environment wins over file", rc == 0 && c.port == 9090);
	config_free(&c);
	setenv("PORT", "0", 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("bad env value names the key",
	    rc == -1 && strstr(err, "PORT") != NULL);
	config_free(&c);
	unsetenv("PORT");
	setenv("RETENTION_DAYS", "0", 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("RETENTION_DAYS 0 is refused (1..3650)",
	    rc == -1 && strstr(err, "RETENTION_DAYS") != NULL);
	config_free(&c);
	setenv("RETENTION_DAYS", "3650", 1);
	setenv("WORKER_PRUNE_DAYS", "3651", 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("WORKER_PRUNE_DAYS 3651 is refused (0..3650)",
	    rc == -1 && strstr(err, "WORKER_PRUNE_DAYS") != NULL);
	config_free(&c);
	unsetenv("RETENTION_DAYS");
	unsetenv("WORKER_PRUNE_DAYS");
	/* A transfer longer than the 60 s reclaim would be sent twice. */
	setenv("PULSE_NOTIFY_TIMEOUT_S", "46", 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("PULSE_NOTIFY_TIMEOUT_S 46 is refused (below the reclaim)",
	    rc == -1 && strstr(err, "PULSE_NOTIFY_TIMEOUT_S") != NULL);
	config_free(&c);
	setenv("PULSE_NOTIFY_TIMEOUT_S", "45", 1);
	rc = config_load(&c, NULL, 0, err, sizeof(err));
	test_cond("PULSE_NOTIFY_TIMEOUT_S 45 loads",
	    rc == 0 && c.notify_timeout_s == 45);
	config_free(&c);
	unsetenv("PULSE_NOTIFY_TIMEOUT_S");

	test_cond("unknown key is named",
	    load_fails("unknown.env", "unknown key DB_PASWORD"));
	test_cond("port out of range", load_fails("badport.env", "PORT"));
	test_cond("trailing garbage in integer",
	    load_fails("badint.env", "'80x' is not an integer"));
	test_cond("enum outside its choices",
	    load_fails("badenum.env", "NODE_ENV: 'staging'"));
	test_cond("unterminated quote",
	    load_fails("unterminated.env", "unterminated"));
	test_cond("line without =", load_fails("noequals.env", ":1:"));
	test_cond("bad boolean", load_fails("badbool.env", "PULSE_DEBUG"));
	test_cond("missing file when required",
	    load_fails("does-not-exist.env", "does-not-exist.env"));
	rc = config_load(&c, data("does-not-exist.env"), 0, err, sizeof(err));
	test_cond("missing optional file is fine", rc == 0);
	config_free(&c);
	setenv("PULSE_ENV_FILE", data("does-not-exist.env"), 1);
	rc = config_load_default(&c, NULL, err, sizeof(err));
	test_cond("default rule: a missing $PULSE_ENV_FILE is an error",
	    rc == -1 && strstr(err, "does-not-exist.env") != NULL);
	config_free(&c);
	setenv("PULSE_ENV_FILE", data("good.env"), 1);
	rc = config_load_default(&c, NULL, err, sizeof(err));
	test_cond("default rule: $PULSE_ENV_FILE is read", rc == 0 &&
	    c.port == 8081);
	config_free(&c);
	rc = config_load_default(&c, data("badport.env"), err, sizeof(err));
	test_cond("default rule: the named file wins over $PULSE_ENV_FILE",
	    rc == -1 && strstr(err, "PORT") != NULL);
	config_free(&c);
	unsetenv("PULSE_ENV_FILE");
	test_db_hosts();
	test_report();
}
