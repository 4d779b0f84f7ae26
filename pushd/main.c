/*
 * pulse-pushd start-up: read the configuration once, start the database
 * thread and a thread that only waits for signals, then run the loop until
 * SIGTERM/SIGINT has been turned into an orderly stop.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mysql.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "dbthread.h"
#include "notifier.h"
#include "queue.h"
#include "replay.h"
#include "server.h"
#include "xmalloc.h"

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: pulse-pushd [-d] [-e envfile]\n");
	exit(2);
}

/*
 * Signals are blocked in every thread and taken here, so no handler runs
 * inside lws or the database client. A second SIGTERM/SIGINT while the
 * first is still being honoured ends the process at once.
 */
static void *
main_signals(void *arg)
{
	sigset_t	*set = arg;
	int		 sig, seen = 0;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			continue;
		if (seen++) {
			log_warnx("%s again: exiting now", strsignal(sig));
			_exit(1);
		}
		log_info("%s: stopping", strsignal(sig));
		server_request_stop();
	}
	return NULL;
}

/* This pushd's name on workers.pushd_node: PULSE_NODE_ID or the host. */
static void
main_node(const struct config *cfg, char *node, size_t len)
{
	if (cfg->node_id[0] != '\0') {
		strlcpy_p(node, cfg->node_id, len);
		return;
	}
	if (gethostname(node, len) == -1)
		fatal("gethostname (set PULSE_NODE_ID)");
	node[len - 1] = '\0';
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
	struct config	 cfg;
	sigset_t	 set;
	pthread_t	 sigthread;
	const char	*envfile = NULL;
	char		 err[512], node[65];
	int		 ch, debug = 0, rc;

	/* Before anything else, while there is only one thread. */
	if (mysql_library_init(0, NULL, NULL) != 0) {
		fprintf(stderr, "pulse-pushd: mysql_library_init failed\n");
		return 1;
	}
	/* libcurl's too: not thread-safe, so before the notifier starts. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "pulse-pushd: curl_global_init failed\n");
		return 1;
	}
	log_init("pulse-pushd", 0);
	db_set_node_hook(main_db_node);

	while ((ch = getopt(argc, argv, "de:h")) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			break;
		case 'e':
			envfile = optarg;
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
	main_node(&cfg, node, sizeof(node));
	if (cfg.worker_api_key[0] == '\0')
		log_warnx("WORKER_API_KEY is empty: every worker will be "
		    "refused");

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		fatalx("pthread_sigmask");
	/* A peer that hangs up must not kill us. */
	signal(SIGPIPE, SIG_IGN);

	if (server_init(&cfg) == -1)
		fatalx("cannot start the websocket loop");
	if (dbthread_start(&cfg, node) == -1)
		fatalx("cannot start the database thread");
	if (replay_start(&cfg) == -1)
		fatalx("cannot start the replay thread");
	if (notifier_start(&cfg, node) == -1)
		fatalx("cannot start the notification thread");
	rc = pthread_create(&sigthread, NULL, main_signals, &set);
	if (rc != 0) {
		errno = rc;
		fatal("pthread_create");
	}
	log_info("node %s ready", node);

	server_run();

	/* In case the loop ended on its own: the db thread stops too. */
	jobs_stop();
	pthread_cancel(sigthread);
	pthread_join(sigthread, NULL);
	queue_detach();
	rc = dbthread_join(1000);
	if (rc == -1)
		log_warnx("the database thread is still busy: exiting anyway");
	if (replay_join(1000) == -1) {
		log_warnx("the replay thread is still busy: exiting anyway");
		rc = -1;	/* it may still push: keep the queue */
	}
	/* Deliveries cut here stay 'delivering' and are taken back. */
	if (notifier_join(1000) == -1) {
		log_warnx("the notification thread is still busy: exiting "
		    "anyway");
		rc = -1;
	}
	server_free();
	if (rc == 0) {
		queue_free();
		config_free(&cfg);
		curl_global_cleanup();
		mysql_library_end();
	}
	log_info("stopped");
	return 0;
}
