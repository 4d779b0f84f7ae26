/*
 * One FastCGI responder: accept a request, route it, answer it, forget it.
 * Only the database handle (and auth.c's upsert cache) outlives a request.
 * The child waits for connections itself so that SIGTERM is noticed at
 * once when idle and only between requests when busy.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "engine.h"
#include "log.h"
#include "xmalloc.h"

/* Heap a child keeps between requests rather than return and refault. */
#define CHILD_HEAP_KEEP		(2 * 1024 * 1024)

static volatile sig_atomic_t	 child_quit;

static void
child_sigterm(int sig)
{
	(void)sig;
	child_quit = 1;
}

struct db *
child_db_new(const struct config *cfg)
{
	return db_new_config(cfg);
}

/*
 * Signals: SIGTERM stays blocked except while waiting for a connection,
 * where epoll_pwait/ppoll unblock it atomically. So an idle child wakes
 * with EINTR and leaves, and a busy one finishes its request first: the
 * pending signal arrives at the next wait. No race between checking the
 * flag and sleeping. SIGINT and SIGHUP belong to the master (a terminal's
 * ^C reaches the whole process group). libfcgi installs handlers only
 * where none is set, so ours stay; it keeps SIGUSR1.
 */
static void
child_signals(sigset_t *waitmask)
{
	struct sigaction	 sa;
	sigset_t		 block;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = child_sigterm;	/* no SA_RESTART: waits must EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Writes to a vanished nginx connection fail with EPIPE instead. */
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_SETMASK, &block, NULL);
	sigemptyset(waitmask);
}

/*
 * Sleep until a connection may be waiting (or, with fastcgi_keep_conn, the
 * next request on the kept one) or SIGTERM came. EPOLLEXCLUSIVE wakes one
 * child per connection, not the whole pool.
 */
static void
child_wait(int ep, int ipcfd, const sigset_t *waitmask)
{
	struct epoll_event	 ev;
	struct pollfd		 pfd;

	if (ipcfd >= 0) {
		pfd.fd = ipcfd;
		pfd.events = POLLIN;
		ppoll(&pfd, 1, NULL, waitmask);
	} else
		epoll_pwait(ep, &ev, 1, -1, waitmask);
}

static long long
child_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Method, path and query: the parts of a request every route needs. */
static int
child_parse(struct request *req)
{
	const char	*method, *path;
	size_t		 len;

	method = request_header(req, "REQUEST_METHOD");
	req->method = method != NULL ? method : "";
	req->query = request_header(req, "QUERY_STRING");
	if (req->query == NULL)
		req->query = "";

	/*
	 * nginx's $document_uri (= $uri), which is the path nginx matched its
	 * locations against: percent-decoded once and normalised already.
	 * Decoding it again would let "%2541" mean "A" here and "%41" to
	 * nginx, so it is used as it is.
	 */
	path = request_header(req, "DOCUMENT_URI");
	if (path == NULL || *path == '\0')
		path = request_header(req, "SCRIPT_NAME");
	if (path == NULL || *path != '/') {
		strlcpy_p(req->path, "-", sizeof(req->path));
		reply_error(req, 400, "no request path");
		return -1;
	}
	len = strlen(path);
	if (len > API_PATH_MAX) {
		strlcpy_p(req->path, "-", sizeof(req->path));
		reply_error(req, 414, "path longer than %d bytes",
		    API_PATH_MAX);
		return -1;
	}
	memcpy(req->path, path, len + 1);
	if (strlen(req->query) > API_QUERY_MAX) {
		reply_error(req, 414, "query string longer than %d bytes",
		    API_QUERY_MAX);
		return -1;
	}
	return 0;
}

/*
 * Whether nginx has sent all of the request and we have read it: then the
 * connection can simply be closed. Otherwise libfcgi's close stays: it
 * shuts our side down and reads on until nginx closes (up to 2 s), so
 * that nginx, still sending a body we refused, reads our answer rather
 * than a broken pipe. That wait was also paid on every GET: the child
 * sat idle until nginx got round to closing, on a busy machine a good
 * part of a short read's time.
 */
static int
child_read_all(struct request *req)
{
	const char	*cl = request_header(req, "CONTENT_LENGTH");
	char		 buf[256];

	if (req->body == NULL && cl != NULL && *cl != '\0' &&
	    strcmp(cl, "0") != 0)
		return 0;
	/* The end of FCGI_STDIN (an empty record), sent with the rest. */
	while (FCGX_GetStr(buf, sizeof(buf), req->fcgx->in) > 0)
		;
	return FCGX_HasSeenEOF(req->fcgx->in) == EOF;
}

static void
child_handle(struct request *req, FCGX_Request *fcgx,
    const struct config *cfg, struct db *db)
{
	long long	 start = child_us(), us;

	memset(req, 0, sizeof(*req));
	req->fcgx = fcgx;
	req->cfg = cfg;
	req->db = db;
	if (child_parse(req) == 0)
		router_dispatch(req);
	if (!req->replied) {
		log_warnx("%s %s: no response from the handler", req->method,
		    req->path);
		reply_error(req, 500, "internal error");
	}
	us = child_us() - start;
	api_metrics_count(req, us);
	log_debug("%s %s %d %s %lld ms", req->method, req->path, req->status,
	    req->user.name[0] != '\0' ? req->user.name : "-", us / 1000);
	if (child_read_all(req))
		FCGX_Detach(fcgx);

	free(req->body);
	free(req->actor_groups);
	json_object_put(req->json);
	req->body = NULL;
	req->json = NULL;
}

void
child_main(const struct config *cfg, int listen_fd)
{
	struct request		 req;
	struct epoll_event	 ev;
	FCGX_Request		 fcgx;
	struct db		*db;
	sigset_t		 waitmask;
	pid_t			 master = getppid();
	int			 ep, rc, fl;

	child_signals(&waitmask);
	/*
	 * Every request builds its reply on the heap and frees it all: with
	 * glibc's defaults (trim above 128 KiB) a list reply grew the heap
	 * with brk and gave it back on each request, and those page faults
	 * and TLB flushes were a third of GET /api/workflows. Keep up to
	 * CHILD_HEAP_KEEP between requests instead.
	 */
	mallopt(M_TOP_PAD, CHILD_HEAP_KEEP / 4);
	mallopt(M_TRIM_THRESHOLD, CHILD_HEAP_KEEP);
	mallopt(M_MMAP_THRESHOLD, CHILD_HEAP_KEEP);
	/* Do not outlive a master that was SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != master)
		exit(0);

	/*
	 * The listening socket is shared and non-blocking: after a wake-up
	 * another child may have taken the connection, and libfcgi's accept
	 * then returns EAGAIN instead of sleeping with SIGTERM blocked.
	 * (Accepted sockets do not inherit O_NONBLOCK on Linux.)
	 */
	fl = fcntl(listen_fd, F_GETFL);
	if (fl == -1 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("fcntl(O_NONBLOCK) on the FastCGI socket");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep == -1)
		fatal("epoll_create1");
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLEXCLUSIVE;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) == -1)
		fatal("epoll_ctl");

	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (FCGX_InitRequest(&fcgx, listen_fd, 0) != 0)
		fatalx("FCGX_InitRequest failed");
	db = child_db_new(cfg);
	engine_set_user_max(cfg->user_executions_max);
	log_debug("child ready");

	while (!child_quit) {
		child_wait(ep, fcgx.ipcFd, &waitmask);
		if (child_quit)
			break;
		rc = FCGX_Accept_r(&fcgx);
		if (rc < 0) {
			if (rc == -EAGAIN || rc == -EWOULDBLOCK ||
			    rc == -EINTR)
				continue;
			/* The master logs the exit and starts another. */
			log_warnx("FastCGI accept: %s", strerror(-rc));
			break;
		}
		child_handle(&req, &fcgx, cfg, db);
		FCGX_Finish_r(&fcgx);
	}

	if (fcgx.ipcFd >= 0)
		FCGX_Free(&fcgx, 1);
	db_free(db);
	close(ep);
	exit(child_quit ? 0 : 1);
}
