/*
 * Shared set-up for the unit tests that need a live MariaDB (test-db,
 * test-engine): ./pulse-dev test points PULSE_ENV_FILE at its stack.
 */
#ifndef PULSE_DBTEST_H
#define PULSE_DBTEST_H

#include <stdio.h>
#include <stdlib.h>

#include <mysql.h>

#include "config.h"
#include "db.h"

static struct config	 dbtest_cfg;
static int		 dbtest_loaded;

static struct db *
dbtest_open(void)
{
	struct db_params p;
	char		 err[512];
	const char	*env = getenv("PULSE_ENV_FILE");

	if (env == NULL) {
		fprintf(stderr, "PULSE_ENV_FILE is not set: run this test "
		    "through ./pulse-dev test\n");
		exit(2);
	}
	if (!dbtest_loaded) {
		if (config_load(&dbtest_cfg, env, 1, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s\n", err);
			exit(2);
		}
		mysql_library_init(0, NULL, NULL);
		dbtest_loaded = 1;
	}
	p.host = dbtest_cfg.db_host;
	p.port = (unsigned)dbtest_cfg.db_port;
	p.socket = dbtest_cfg.db_socket;
	p.user = dbtest_cfg.db_user;
	p.password = dbtest_cfg.db_password;
	p.name = dbtest_cfg.db_name;
	p.timeout = 5;
	p.wsrep_sync_wait = (unsigned)dbtest_cfg.db_wsrep_sync_wait;
	return db_new(&p);
}

#endif
