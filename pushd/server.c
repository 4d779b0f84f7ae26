/*
 * The loop: one lws context with three vhosts on unix sockets that only
 * nginx reaches (workers, browsers, metrics), the one place the db
 * thread's messages come in (handed on to workers.c or browsers.c), the
 * once-a-second tick, and the orderly stop on SIGTERM. The top of pushd:
 * it knows each protocol; the sockets themselves are conn.c's.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "browsers.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "notifier.h"
#include "queue.h"
#include "replay.h"
#include "server.h"
#include "usock.h"
#include "workers.h"
#include "xmalloc.h"

static struct {
	const struct config	*cfg;
	struct lws_context	*ctx;
	int			 stopping;
	int			 db_done;
	long long		 stop_at_ms;
	int			 quit;
} server;

/* The socket files we made, to remove only ours when we stop. */
struct server_sock {
	const char	*key;
	const char	*path;
	struct stat	 sb;
	int		 have;
};

static struct server_sock	 server_socks[3];
static lws_sorted_usec_list_t	 server_tick_sul;
static int			 server_stop_flag;	/* by main's thread */

static void	server_check_stop(void);
static int			 server_closing;
static long long		 server_close_at;

/* Browsers: lws pings them and hangs up on the silent (nginx proxies the
 * frames). Workers get our own application-level ping (workers.c). */
static const lws_retry_bo_t server_browser_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 75,
};

/* ---------------------------------------------------------------- sockets */

/*
 * A listener: created 0600 (umask) so nobody connects before its group is
 * set, then 0660 for nginx's group. Whoever can connect to the browser
 * socket can claim any identity.
 */
static void
server_vhost(struct server_sock *s, const char *name,
    const struct lws_protocols *protocols, const lws_retry_bo_t *policy)
{
	struct lws_context_creation_info info;
	struct lws_vhost	*vh;
	mode_t			 mask;
	gid_t			 gid = 0;
	char			 err[256];
	int			 removed, setgroup;

	if (usock_clear(s->path, &removed, err, sizeof(err)) == -1)
		fatalx("%s: %s", s->key, err);
	if (removed)
		log_info("removed stale socket %s", s->path);
	memset(&info, 0, sizeof(info));
	info.vhost_name = name;
	info.iface = s->path;
	info.port = 0;
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_UNIX_SOCK |
	    LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.retry_and_idle_policy = policy;
	mask = umask(0177);
	vh = lws_create_vhost(server.ctx, &info);
	umask(mask);
	if (vh == NULL)
		fatalx("%s: cannot listen on %s", s->key, s->path);
	if ((setgroup = usock_group(server.cfg->socket_group, &gid, err,
	    sizeof(err))) == -1 ||
	    usock_protect(s->path, setgroup, gid, err, sizeof(err)) == -1)
		fatalx("%s: PULSE_SOCKET_GROUP: %s", s->key, err);
	if (stat(s->path, &s->sb) == -1)
		fatal("stat %s", s->path);
	s->have = 1;
}

/* New connections fail at once from now on; the ones we have stay. */
static void
server_unlink_sockets(void)
{
	struct stat	 sb;
	size_t		 i;

	for (i = 0; i < 3; i++) {
		struct server_sock *s = &server_socks[i];

		if (!s->have)
			continue;
		s->have = 0;
		/* Unless a newer pushd has put its own there already. */
		if (stat(s->path, &sb) == 0 && sb.st_dev == s->sb.st_dev &&
		    sb.st_ino == s->sb.st_ino && unlink(s->path) == -1)
			log_warn("unlink %s", s->path);
	}
}

/* ------------------------------------------------------------- the loop */

static void
server_begin_stop(void)
{
	long long	 now = pushd_now_ms();

	server.stopping = 1;
	server.stop_at_ms = now + PUSHD_STOP_MS;
	conn_stop();
	server_unlink_sockets();
	/* The db thread records what it has (results: then acked) and quits. */
	jobs_stop();
	log_info("stopping: finishing the database work queued so far");
}

static void
server_check_stop(void)
{
	long long	 now = pushd_now_ms();

	if (!server_closing && (server.db_done || now >= server.stop_at_ms)) {
		if (!server.db_done)
			log_warnx("the database work did not finish within "
			    "%d s: stopping anyway (unacknowledged results "
			    "will be sent again)", PUSHD_STOP_MS / 1000);
		server_closing = 1;
		server_close_at = now + PUSHD_CLOSE_MS;
		workers_close_all();
		browsers_close_all();
	}
	if (server_closing && (conn_count() == 0 || now >= server_close_at))
		server.quit = 1;
}

/* Everything the db thread sent since last time. */
static void
server_drain(void)
{
	struct outq_list	 l = TAILQ_HEAD_INITIALIZER(l);
	struct out		*o;

	outs_take(&l);
	while ((o = TAILQ_FIRST(&l)) != NULL) {
		TAILQ_REMOVE(&l, o, entry);
		switch (o->type) {
		case OUT_DB_DONE:
			server.db_done = 1;
			break;
		case OUT_CURSOR:
		case OUT_EVENT:
		case OUT_REPLAY:
		case OUT_REPLAY_END:
			browsers_out(o);
			break;
		case OUT_SEND:
		case OUT_CLOSE:
		case OUT_REGISTERED:
			workers_out(o);
			break;
		}
		out_free(o);
	}
	if (__atomic_load_n(&server_stop_flag, __ATOMIC_SEQ_CST) &&
	    !server.stopping)
		server_begin_stop();
	if (server.stopping)
		server_check_stop();
}

static void
server_tick(lws_sorted_usec_list_t *sul)
{
	long long	 now = pushd_now_ms();

	workers_tick(now);
	if (server.stopping)
		server_check_stop();
	lws_sul_schedule(server.ctx, 0, sul, server_tick, LWS_US_PER_SEC);
}

/* A socket went: the last one may be what a stop waits for. */
static void
server_gone(void)
{
	if (server.stopping)
		server_check_stop();
}

/* What only the loop knows, for the metrics page. */
static void
server_gauges(struct metrics_loop *m)
{
	struct notifier_counts	 n;

	browsers_counts(&m->browsers, &m->browser_q);
	workers_counts(&m->workers, &m->worker_q);
	m->jobs = jobs_depth();
	replay_counts(&m->replays_waiting, &m->replays);
	notifier_counts(&n);
	m->notify_delivered = n.delivered;
	m->notify_retried = n.retried;
	m->notify_failed = n.failed;
	m->notify_inflight = n.inflight;
}

/* Called from main's signal thread: the one cross-thread lws call. */
void
server_request_stop(void)
{
	__atomic_store_n(&server_stop_flag, 1, __ATOMIC_SEQ_CST);
	lws_cancel_service(server.ctx);
}

static void
server_lws_log(int level, const char *line)
{
	size_t	 n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		log_warnx("lws: %.*s", (int)n, line);
	else
		log_debug("lws: %.*s", (int)n, line);
}

/*
 * PULSE_PUSHD_METRICS_SOCKET, by default pushd-metrics.sock beside the
 * browser socket: an existing .env gets the listener without a new key.
 */
static const char *
server_metrics_path(const struct config *cfg)
{
	static char	 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char	*slash;
	int		 n;

	if (cfg->pushd_metrics_socket[0] != '\0')
		return cfg->pushd_metrics_socket;
	slash = strrchr(cfg->pushd_browser_socket, '/');
	n = snprintf(path, sizeof(path), "%.*spushd-metrics.sock",
	    slash == NULL ? 0 : (int)(slash - cfg->pushd_browser_socket + 1),
	    cfg->pushd_browser_socket);
	if (n < 0 || (size_t)n >= sizeof(path))
		fatalx("PULSE_PUSHD_METRICS_SOCKET: the default path beside "
		    "%s is too long: set it", cfg->pushd_browser_socket);
	return path;
}

int
server_init(const struct config *cfg)
{
	struct lws_context_creation_info info;

	memset(&server, 0, sizeof(server));
	server.cfg = cfg;
	/* The db thread's wake-ups reach every protocol of every vhost:
	 * they are handled once, on the worker vhost's HTTP protocol. */
	conn_init(&workers_kind, server_drain, server_gone);
	workers_init(cfg);
	browsers_init(cfg);
	lws_set_log_level(cfg->log_debug ? LLL_ERR | LLL_WARN | LLL_NOTICE :
	    LLL_ERR, server_lws_log);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	/* Remote-Groups may be long; the handshake must fit in here. */
	info.max_http_header_data = 16384;
	info.max_http_header_pool = 256;
	info.timeout_secs = 10;
	server.ctx = lws_create_context(&info);
	if (server.ctx == NULL) {
		log_warnx("cannot create the websocket context");
		return -1;
	}
	server_socks[0].key = "PULSE_PUSHD_WORKER_SOCKET";
	server_socks[0].path = cfg->pushd_worker_socket;
	server_socks[1].key = "PULSE_PUSHD_BROWSER_SOCKET";
	server_socks[1].path = cfg->pushd_browser_socket;
	server_vhost(&server_socks[0], "workers", workers_protocols, NULL);
	server_vhost(&server_socks[1], "browsers", browsers_protocols,
	    &server_browser_policy);
	server_socks[2].key = "PULSE_PUSHD_METRICS_SOCKET";
	server_socks[2].path = server_metrics_path(cfg);
	server_vhost(&server_socks[2], "metrics", metrics_protocols, NULL);
	metrics_init(server_gauges);
	lws_sul_schedule(server.ctx, 0, &server_tick_sul, server_tick,
	    LWS_US_PER_SEC);
	log_info("listening for workers on %s, browsers on %s, metrics on %s",
	    cfg->pushd_worker_socket, cfg->pushd_browser_socket,
	    server_socks[2].path);
	queue_init(server.ctx);
	return 0;
}

void
server_run(void)
{
	while (!server.quit)
		if (lws_service(server.ctx, 0) < 0)
			break;
}

void
server_free(void)
{
	lws_sul_cancel(&server_tick_sul);
	server_unlink_sockets();
	if (server.ctx != NULL)
		lws_context_destroy(server.ctx);
	server.ctx = NULL;
	workers_free();
	conn_free();
}
