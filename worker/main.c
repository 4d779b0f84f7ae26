/*
 * pulse-worker start-up: read the configuration once, open the state
 * directory, build one lws loop (a client vhost with four protocols)
 * and run it. SIGTERM/SIGINT stop the running commands, spool their
 * results and exit within 10 s; SIGHUP is ignored.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "pjson.h"
#include "worker.h"
#include "xmalloc.h"

#define MAIN_STOP_POLL_MS	100	/* while stopping only */

/* What the loop and the signal descriptor share. */
struct main_state {
	struct lws_context	*ctx;
	struct agent		*agent;
	struct lws		*sigwsi;
	int			 sigfd;
	int			 stopping, closing, quit;
	lws_sorted_usec_list_t	 sul_poll, sul_deadline;
};

static int	main_signal_callback(struct lws *, enum lws_callback_reasons,
		    void *, void *, size_t);

static const struct lws_protocols protocols[] = {
	{ "pulse-worker", conn_callback, 0, 0, 0, NULL, 0 },
	{ "pulse-http", http_callback, 0, 0, 0, NULL, 0 },
	{ "pulse-pipe", runner_callback, 0, 0, 0, NULL, 0 },
	{ "pulse-signal", main_signal_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: pulse-worker [-d] [-e envfile]\n");
	exit(2);
}

/*
 * lws repeats itself on every reconnect attempt; our own messages say
 * when a failure starts, so a line seen just before goes to debug.
 */
static void
main_lws_log(int level, const char *line)
{
	static char	 last[256];
	int		 n = (int)strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if ((level & (LLL_ERR | LLL_WARN)) && strncmp(last, line,
	    sizeof(last) - 1) != 0)
		log_warnx("lws: %.*s", n, line);
	else
		log_debug("lws: %.*s", n, line);
	if (level & (LLL_ERR | LLL_WARN))
		strlcpy_p(last, line, sizeof(last));
}

/* A child gets our 0-2; a closed one would be reused by a pipe. */
static void
main_stdio(void)
{
	int	 fd;

	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1 && fd <= 2)
		fcntl(fd, F_SETFD, 0);
	if (fd > 2)
		close(fd);
}

static void
main_poll(lws_sorted_usec_list_t *sul)
{
	struct main_state *ms = lws_container_of(sul, struct main_state,
	    sul_poll);

	if (!ms->closing && agent_done(ms->agent)) {
		ms->closing = 1;
		agent_close(ms->agent);
	}
	if (ms->closing && agent_closed(ms->agent)) {
		ms->quit = 1;
		lws_cancel_service(ms->ctx);
		return;
	}
	lws_sul_schedule(ms->ctx, 0, &ms->sul_poll, main_poll,
	    MAIN_STOP_POLL_MS * LWS_US_PER_MS);
}

static void
main_deadline(lws_sorted_usec_list_t *sul)
{
	struct main_state *ms = lws_container_of(sul, struct main_state,
	    sul_deadline);

	log_warnx("still busy after %d s; exiting anyway", WORKER_STOP_MS /
	    1000);
	ms->quit = 1;
	lws_cancel_service(ms->ctx);
}

static int
main_signal_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len)
{
	struct main_state	*ms;
	struct signalfd_siginfo	 si;

	(void)user;
	(void)in;
	(void)len;
	if (reason != LWS_CALLBACK_RAW_RX_FILE)
		return 0;
	ms = lws_get_opaque_user_data(wsi);
	if (ms == NULL)
		return -1;
	while (read(ms->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (ms->stopping) {
			log_warnx("signal %u again: exiting now", si.ssi_signo);
			ms->quit = 1;
			continue;
		}
		log_info("signal %u: stopping (running commands are killed "
		    "and their results kept)", si.ssi_signo);
		ms->stopping = 1;
		agent_stop(ms->agent);
		lws_sul_schedule(ms->ctx, 0, &ms->sul_deadline, main_deadline,
		    (lws_usec_t)WORKER_STOP_MS * LWS_US_PER_MS);
		main_poll(&ms->sul_poll);
	}
	return 0;
}

/* The secrets the configuration read, once their holders have copies. */
static void
main_wipe(struct config *cfg)
{
	explicit_bzero(cfg->worker_api_key, strlen(cfg->worker_api_key));
	explicit_bzero(cfg->enroll_token, strlen(cfg->enroll_token));
	explicit_bzero(cfg->secret_key, strlen(cfg->secret_key));
	explicit_bzero(cfg->db_password, strlen(cfg->db_password));
}

/*
 * One lws context; OpenSSL only for wss:// or https:// (it costs
 * megabytes). The enrollment's is destroyed once it is over: lws's
 * buffers held the answer, the key in it, and are wiped as they are
 * freed (secret_wipe_freed).
 */
static struct lws_context *
main_context(const struct config *cfg, int tls)
{
	struct lws_context_creation_info info;
	struct lws_context	*ctx;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	/* lws sizes its tables by ulimit -n otherwise: 320 KB at 20000. */
	info.fd_limit_per_thread = 128 + 4 * (unsigned)cfg->max_concurrent_tasks;
	if (tls)
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		    LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	ctx = lws_create_context(&info);
	if (ctx == NULL)
		fatalx("cannot create the libwebsockets context");
	return ctx;
}

/* While enrolling, the signal descriptor is looked at 10 times a second. */
static void
main_enroll_signal(lws_sorted_usec_list_t *sul)
{
	struct main_state	*ms = lws_container_of(sul, struct main_state,
	    sul_poll);
	struct signalfd_siginfo	 si;

	while (read(ms->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		log_info("signal %u: stopping", si.ssi_signo);
		ms->quit = 1;
	}
	if (!ms->quit)
		lws_sul_schedule(ms->ctx, 0, &ms->sul_poll,
		    main_enroll_signal, MAIN_STOP_POLL_MS * LWS_US_PER_MS);
}

/*
 * Enroll in a context of its own until enrolled (0), stopped by a signal
 * (-1); exits on a refusal.
 */
static int
main_enroll(struct main_state *ms, struct spool *spool, struct config *cfg,
    char **groups, size_t ngroups, struct identity *who)
{
	struct enroll_request	 r;
	struct enroll		*e;
	struct urls		 u;
	char			 err[512];
	int			 state = 0;

	if (urls_server(cfg->pulse_server, "/api/workers/enroll", &u, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	ms->ctx = main_context(cfg, urls_tls(&u));
	main_enroll_signal(&ms->sul_poll);
	memset(&r, 0, sizeof(r));
	r.name = cfg->worker_name;
	r.groups = groups;
	r.ngroups = ngroups;
	r.token = cfg->enroll_token;
	r.shared_key = cfg->worker_api_key;
	e = enroll_new(ms->ctx, &u, spool, &r, who);
	main_wipe(cfg);
	while (!ms->quit && (state = enroll_done(e)) == 0)
		if (lws_service(ms->ctx, 0) < 0)
			break;
	enroll_free(e);
	lws_sul_cancel(&ms->sul_poll);
	lws_context_destroy(ms->ctx);
	ms->ctx = NULL;
	urls_clear(&u);
	if (state == ENROLL_REFUSED)
		exit(ENROLL_EXIT_REFUSED);
	if (state == ENROLL_FAILED)
		exit(1);
	return state == ENROLL_OK ? 0 : -1;
}

static void
main_config(const char *envfile, struct config *cfg)
{
	char	 err[512];

	if (config_load_default(cfg, envfile, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

/*
 * WORKER_ALLOW_FILE, when set, is read now and for good: anything wrong
 * with it stops the agent (README "Allow-list"), never "allow all".
 */
static struct allow *
main_allow(const char *path)
{
	struct allow	*allow;
	char		 err[512];

	if (path[0] == '\0')
		return NULL;
	allow = allow_load(path, geteuid(), err, sizeof(err));
	if (allow == NULL)
		fatalx("WORKER_ALLOW_FILE: %s", err);
	if (allow_rules(allow) == 0)
		log_warnx("WORKER_ALLOW_FILE %s has no rules: every command "
		    "will be refused", path);
	else
		log_info("WORKER_ALLOW_FILE %s: %zu rule(s); a command that "
		    "matches none is refused", path, allow_rules(allow));
	return allow;
}

int
main(int argc, char *argv[])
{
	struct agent_config	 ac;
	struct main_state	 ms;
	struct config		 cfg;
	struct urls		 ws, hb;
	struct identity		 who;
	struct spool		*spool;
	struct allow		*allow;
	struct lws_vhost	*vh;
	lws_sock_file_fd_type	 u;
	sigset_t		 set;
	const char		*envfile = NULL;
	char			 err[512], host[256], why[64];
	char			**groups;
	size_t			 ngroups;
	int			 ch, debug = 0, enrol;

	main_stdio();
	log_init("pulse-worker", 0);
	secret_wipe_freed();
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
	main_config(envfile, &cfg);
	log_setdebug(debug || cfg.log_debug);
	/* cfg has its copies: commands must not find the originals. */
	secret_scrub_environ();

	if (cfg.worker_name[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			fatal("WORKER_NAME is empty and gethostname failed");
		host[sizeof(host) - 1] = '\0';
		free(cfg.worker_name);
		cfg.worker_name = xstrdup(host);
	}
	/* What the server takes: a name for workers.name, VARCHAR(255). */
	if (pjson_check_name(cfg.worker_name, strlen(cfg.worker_name),
	    WORKER_NAME_CHARS, why, sizeof(why)) == -1)
		fatalx("WORKER_NAME: %s", why);
	if (strlen(cfg.worker_api_key) > WORKER_KEY_MAX ||
	    strpbrk(cfg.worker_api_key, "\r\n") != NULL)
		fatalx("WORKER_API_KEY: not a usable header value");
	if (proto_groups(cfg.worker_groups, &groups, &ngroups, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	if (urls_worker(cfg.pulse_server, cfg.pulse_ws, &ws, err,
	    sizeof(err)) == -1 ||
	    urls_server(cfg.pulse_server, "/api/workers/heartbeat", &hb, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);

	allow = main_allow(cfg.worker_allow_file);
	spool = spool_open(cfg.worker_state_dir, err, sizeof(err));
	if (spool == NULL)
		fatalx("%s", err);
	enrol = enroll_identity(spool, &cfg, &who);

	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	memset(&ms, 0, sizeof(ms));
	ms.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (ms.sigfd == -1)
		fatal("signalfd");

	/*
	 * Keep the heap from ratcheting up after a big result: glibc would
	 * otherwise raise its mmap threshold to the largest block freed.
	 */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);

	lws_set_log_level(LLL_ERR | LLL_WARN | (debug ? LLL_NOTICE : 0),
	    main_lws_log);
	if (enrol && main_enroll(&ms, spool, &cfg, groups, ngroups,
	    &who) == -1)
		goto done;
	ms.ctx = main_context(&cfg, urls_tls(&ws) || urls_tls(&hb));
	vh = lws_get_vhost_by_name(ms.ctx, "default");
	if (vh == NULL)
		fatalx("no libwebsockets vhost");
	u.filefd = ms.sigfd;
	ms.sigwsi = lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, u,
	    "pulse-signal", NULL);
	if (ms.sigwsi == NULL)
		fatalx("cannot add the signal descriptor to the loop");
	lws_set_opaque_user_data(ms.sigwsi, &ms);
	/* The identity holds what is needed now; no more copies. */
	main_wipe(&cfg);

	memset(&ac, 0, sizeof(ac));
	ac.worker_id = who.worker_id;
	ac.name = cfg.worker_name;
	ac.groups = groups;
	ac.ngroups = ngroups;
	ac.max_tasks = cfg.max_concurrent_tasks;
	ac.output_cap = (size_t)cfg.output_cap;
	ac.ws_urls = &ws;
	ac.hb_urls = &hb;
	ac.ident = &who;
	ac.heartbeat_s = cfg.heartbeat_interval;
	ac.allow = allow;
	ms.agent = agent_new(ms.ctx, vh, &ac, spool);
	log_info("worker %s (%s) starting: %s://%s%s%s, %d task(s) at once, "
	    "state in %s", cfg.worker_name, who.worker_id,
	    ws.u[0].tls ? "wss" : "ws", ws.u[0].hosthdr, ws.u[0].path,
	    ws.n > 1 ? " first of a list (failover)" : "",
	    cfg.max_concurrent_tasks, cfg.worker_state_dir);
	agent_start(ms.agent);

	while (!ms.quit)
		if (lws_service(ms.ctx, 0) < 0)
			break;

	lws_sul_cancel(&ms.sul_poll);
	lws_sul_cancel(&ms.sul_deadline);
	lws_set_opaque_user_data(ms.sigwsi, NULL);
	agent_free(ms.agent);
	lws_context_destroy(ms.ctx);
done:
	secret_free(who.key);
	spool_free(spool);
	allow_free(allow);
	proto_groups_free(groups, ngroups);
	urls_clear(&ws);
	urls_clear(&hb);
	config_free(&cfg);
	log_info("stopped");
	return 0;
}
