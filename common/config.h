/*
 * Configuration from the environment and a .env file (SPEC.md section 8),
 * read once at start-up into a struct that is const from then on. A bad
 * value, or a key no PULSE program knows, stops the program naming it.
 */
#ifndef PULSE_CONFIG_H
#define PULSE_CONFIG_H

#include <stddef.h>

struct config {
	/* Server (seed names). */
	int	 port;
	char	*host;
	char	*secret_key;
	char	*db_host;
	int	 db_port;
	char	*db_name;
	char	*db_user;
	char	*db_password;
	char	*worker_api_key;
	char	*node_env;

	/* Server (PULSE additions). */
	char	*db_socket;
	int	 db_timeout;		/* seconds */
	int	 db_wsrep_sync_wait;	/* Galera session wsrep_sync_wait */
	char	*api_socket;
	char	*socket_group;		/* group owning the unix sockets */
	int	 api_children;
	char	*admin_group;
	char	*employee_group;
	char	*pushd_worker_socket;
	char	*pushd_browser_socket;
	int	 poll_interval_ms;
	int	 poll_busy_ms;		/* while work is coming */
	char	*node_id;		/* this pushd, on workers.pushd_node */
	int	 dispatch_grace_ms;	/* past a command's timeout: lost */
	int	 worker_ping_s;		/* pushd pings workers this often */
	int	 worker_stale_s;	/* silent this long: offline */
	int	 retention_days;	/* finished executions, events */
	int	 worker_prune_days;	/* offline workers; 0: kept */
	int	 retention_interval_s;	/* pushd's retention sweep */
	char	*pushd_metrics_socket;	/* "": beside the browser one */
	int	 user_executions_max;	/* running per user; 0: no cap */
	int	 user_sockets_max;	/* browser sockets per user; 0: none */
	int	 admit_lag_ms;		/* pushd lag that refuses starts; 0: off */
	int	 log_debug;
	int	 worker_auto_accept;	/* shared key: accepted at once */
	/* Notifications (pushd's delivery thread). */
	char	*public_url;		/* links in messages */
	char	*smtp_url;		/* email channels without a relay */
	char	*mail_from;
	int	 notify_backoff_ms;	/* first retry after this */
	int	 notify_timeout_s;	/* whole delivery attempt */

	/* Worker (seed names). */
	char	*pulse_server;
	char	*pulse_ws;
	char	*worker_name;
	int	 heartbeat_interval;	/* seconds */
	int	 max_concurrent_tasks;

	/* Worker (PULSE additions). */
	char	*worker_groups;
	char	*worker_state_dir;
	long	 output_cap;		/* bytes per stream */
	char	*worker_allow_file;	/* "": every command may run */
	char	*enroll_token;		/* PULSE_ENROLL_TOKEN: a secret */
};

/*
 * Fill cfg from defaults, then envfile (if not NULL and it exists, or
 * must_exist), then the environment, which wins. 0 on success; -1 with a
 * message naming the key (or file and line) in err.
 */
int	config_load(struct config *, const char *envfile, int must_exist,
	    char *err, size_t errlen);
void	config_free(struct config *);

/*
 * The rule every program follows for its .env file: the one named on the
 * command line (envfile, may be NULL) must exist; else $PULSE_ENV_FILE
 * must, if set; else ./.env is read if it exists.
 */
int	config_load_default(struct config *, const char *envfile, char *err,
	    size_t errlen);

/*
 * DB_HOST is a comma-separated list of up to CONFIG_DB_HOSTS_MAX entries,
 * each "host", "host:port" or "[v6addr]:port" (a bare IPv6 address without
 * brackets is one host without a port, as a single DB_HOST always was).
 * An entry without a port gets dflt_port. config_load() checks the list,
 * so a program with a bad one does not start.
 */
#define CONFIG_DB_HOSTS_MAX	8
#define CONFIG_DB_HOSTNAME_MAX	253	/* a DNS name's ceiling */

struct config_db_host {
	char		 name[CONFIG_DB_HOSTNAME_MAX + 1];	/* no brackets */
	unsigned	 port;
};

/* 0 with out[0..*n-1] filled; -1 with a message naming DB_HOST and the
 * entry in err. */
int	config_db_hosts(const char *list, unsigned dflt_port,
	    struct config_db_host out[CONFIG_DB_HOSTS_MAX], size_t *n,
	    char *err, size_t errlen);

/* Parse one .env file into name/value pairs via a callback (for tests). */
int	config_parse_env(const char *path,
	    int (*cb)(const char *key, const char *value, void *), void *arg,
	    char *err, size_t errlen);

#endif
