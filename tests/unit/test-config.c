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
	test_report();
}
