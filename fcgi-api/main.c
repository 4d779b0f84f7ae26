/*
 * pulse-api start-up: read the configuration once, then either bring the
 * schema up to date (--migrate) or bind the FastCGI socket that only nginx
 * may reach and hand over to the pre-fork master.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <fastcgi.h>
#include <mysql.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "usock.h"
#include "xmalloc.h"

#define MAIN_BACKLOG	1024	/* nginx queues here while children are busy */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: pulse-api [-d] [-e envfile] [--migrate sqldir] "
	    "[--check-config]\n");
	exit(2);
}

/* The socket's group: 1 and *gid if one is configured, 0 if none. */
static int
main_socket_group(const struct config *cfg, gid_t *gid)
{
	char	 err[256];
	int	 rc;

	if ((rc = usock_group(cfg->socket_group, gid, err, sizeof(err))) == -1)
		fatalx("PULSE_SOCKET_GROUP: %s", err);
	return rc;
}

static void
main_sockaddr(const struct config *cfg, struct sockaddr_un *sun)
{
	char	 err[256];

	if (usock_addr(cfg->api_socket, sun, err, sizeof(err)) == -1)
		fatalx("PULSE_API_SOCKET: %s", err);
}

/*
 * Bind the FastCGI socket, mode 0660 and group PULSE_SOCKET_GROUP (for
 * nginx's workers): whoever can connect can claim any identity. It is
 * created 0600 so nobody connects before its group is right, then moved
 * to FCGI_LISTENSOCK_FILENO, where FastCGI applications find it.
 */
static void
main_listen(const struct config *cfg)
{
	struct sockaddr_un	 sun;
	mode_t			 mask;
	gid_t			 gid = 0;
	char			 err[256];
	int			 fd, rc, setgroup, removed;

	main_sockaddr(cfg, &sun);
	setgroup = main_socket_group(cfg, &gid);
	if (usock_clear(sun.sun_path, &removed, err, sizeof(err)) == -1)
		fatalx("PULSE_API_SOCKET: %s", err);
	if (removed)
		log_info("removed stale socket %s", sun.sun_path);

	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd == -1)
		fatal("socket");
	mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(mask);
	if (rc == -1)
		fatal("PULSE_API_SOCKET: bind %s", sun.sun_path);
	if (usock_protect(sun.sun_path, setgroup, gid, err, sizeof(err)) == -1)
		fatalx("PULSE_SOCKET_GROUP: %s", err);
	if (listen(fd, MAIN_BACKLOG) == -1)
		fatal("listen %s", sun.sun_path);
	if (fd != FCGI_LISTENSOCK_FILENO) {
		if (dup2(fd, FCGI_LISTENSOCK_FILENO) == -1)
			fatal("dup2");
		close(fd);
	}
}

static int
main_migrate(const struct config *cfg, const char *dir)
{
	struct db	*db = child_db_new(cfg);
	char		 err[1024];
	int		 rc = 1;

	err[0] = '\0';
	if (db_connect(db) == -1) {
		log_warnx("migrate: cannot connect to the database: %s",
		    db_errmsg(db));
		goto fail;
	}
	/* migrate_run() logs each file it applies and the outcome. */
	if (migrate_run(db, dir, err, sizeof(err)) == -1) {
		log_warnx("migrate: %s", err);
		goto fail;
	}
	rc = 0;
fail:
	db_free(db);
	return rc;
}

/* common/db.c does not log: a switch of database node is said here. */
static void
main_db_node(const char *node)
{
	log_info("db: connected to %s", node);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "check-config",	no_argument,		NULL, 'C' },
		{ "migrate",		required_argument,	NULL, 'M' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	struct config	 cfg;
	struct sockaddr_un sun;
	const char	*envfile = NULL, *sqldir = NULL;
	char		 err[512];
	gid_t		 gid;
	int		 ch, debug = 0, check = 0, rc;

	/* Before anything else, while there is only one thread. */
	if (mysql_library_init(0, NULL, NULL) != 0) {
		fprintf(stderr, "pulse-api: mysql_library_init failed\n");
		return 1;
	}
	log_init("pulse-api", 0);
	db_set_node_hook(main_db_node);

	while ((ch = getopt_long(argc, argv, "de:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'e':
			envfile = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'M':
			sqldir = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_setdebug(debug);

	if (config_load_default(&cfg, envfile, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_setdebug(debug || cfg.log_debug);

	if (check) {
		main_sockaddr(&cfg, &sun);
		main_socket_group(&cfg, &gid);
		printf("pulse-api: configuration OK\n");
		config_free(&cfg);
		return 0;
	}
	if (sqldir != NULL) {
		rc = main_migrate(&cfg, sqldir);
		config_free(&cfg);
		mysql_library_end();
		return rc;
	}

	if (cfg.worker_api_key[0] == '\0')
		log_warnx("WORKER_API_KEY is empty: every worker heartbeat "
		    "will be refused");
	/* A client that hangs up must not kill the master or a child. */
	signal(SIGPIPE, SIG_IGN);
	main_listen(&cfg);
	rc = master_run(&cfg, cfg.api_children);
	config_free(&cfg);
	mysql_library_end();
	return rc == 0 ? 0 : 1;
}
