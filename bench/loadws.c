/*
 * loadws: many websockets from one single-threaded libwebsockets client,
 * for the benchmarks (bench/README.md).
 *
 *   loadws worker  -H HOST -P PORT | -U SOCKET  -k KEY | -K FILE  -n N
 *                  -p PREFIX [-g GROUP]
 *       N simulated pulse-workers: worker_connect, then every
 *       execute_command answered at once with a successful command_result,
 *       every ping with a pong. With -k every socket presents the shared
 *       key under a random id (a version-1 worker); with -K socket i is
 *       the enrolled worker of line i of FILE ("id key name", as
 *       benchlib.enroll writes it) and presents its own key and id.
 *       -m groups: the result depends on the socket's number n (1-based:
 *       its line of -K's FILE, whose names benchlib.enroll numbers so),
 *       for grouped output (SPEC section 17):
 *       every 25th exits 2 printing "partial\n" and on stderr "disk
 *       almost full\n", every other 10th exits 1 printing "error: service
 *       down\n", the rest exit 0 printing "ok\n". -m unique: every one
 *       exits 0 printing "worker n\n" (all outputs differ).
 *       -s PER: every PER sockets connect from a loopback source address
 *       of their own (127.20.0.1, 127.20.0.2, ...; all of 127.0.0.0/8 is
 *       local), so nginx's per-address limit on /worker (pulse-http.conf:
 *       50/s, burst 2,000) meets a fleet of hosts, not one (scale.py's
 *       10,000). Not with -U.
 *       -R TRIES: a socket whose connection fails (refused, a 429 or 502
 *       from nginx) is tried again a second later, up to TRIES times
 *       (default 0: a failure is final, as the tests of refusals want).
 *   loadws browser -H HOST -P PORT -a USER:PASS -n N [-e EXECUTION] -o FILE
 *       N dashboards on /ws (pulse-browser), each subscribed to EXECUTION;
 *       the wall-clock arrival time (us) of every event on every socket is
 *       written to FILE at exit ("event_id type socket usec").
 *
 * Prints "stat established=E ready=R results=X acks=A closed=C errors=F"
 * once a second on stdout; stops on SIGTERM/SIGINT or when stdin closes.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <libwebsockets.h>

#define RX_MAX		(1024 * 1024)
#define CONNECTING_MAX	64	/* handshakes in flight at once */

struct qmsg {
	struct qmsg	*next;
	size_t		 len;
	unsigned char	 buf[];	/* LWS_PRE, then the message */
};

struct sock {
	int		 idx;
	struct lws	*wsi;
	int		 state;	/* 0 idle, 1 connecting, 2 up, 3 dead */
	char		 id[37];
	char		 name[64];
	char		 key[64];	/* its own key (-K), or "" */
	char		 source[24];	/* -s: the address it binds to, or "" */
	int		 tries;		/* -R: connection failures so far */
	long long	 retry_at;	/* usec; 0: no retry due */
	struct qmsg	*qhead, *qtail;
	char		*rx;
	size_t		 rxlen, rxcap;
};

struct arrival {
	long long	 event_id;
	long long	 usec;
	int		 sock;
	char		 type[24];
};

static int		 browser_mode;
static const char	*host = "127.0.0.1", *usock, *key, *auth_b64;
static const char	*prefix = "load", *group = "bench", *execution;
static const char	*keyfile;
static const char	*outfile;
static int		 port, nsocks, per_source, retries;
static long		 n_retry_due;	/* sockets waiting to try again */
static int		 result_mode;	/* -m: 0 ok, 1 groups, 2 unique */
static struct sock	*socks;
static struct lws_context *ctx;
static volatile sig_atomic_t stop_flag;
static long		 n_established, n_ready, n_results, n_acks, n_closed,
			 n_errors, n_connecting, next_connect;
static struct arrival	*arrivals;
static size_t		 narrivals, arrivals_cap;
static char		 hostport[300], originbuf[320], unixaddr[300];
static lws_sorted_usec_list_t sul_tick;

static long long
now_usec(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void
random_uuid(char out[37])
{
	unsigned char	 b[16];
	int		 fd = open("/dev/urandom", O_RDONLY);

	if (fd == -1 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
		perror("urandom");
		exit(1);
	}
	close(fd);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void
sock_send(struct sock *s, const char *text)
{
	size_t		 len = strlen(text);
	struct qmsg	*m = malloc(sizeof(*m) + LWS_PRE + len);

	if (m == NULL)
		abort();
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	if (s->qtail != NULL)
		s->qtail->next = m;
	else
		s->qhead = m;
	s->qtail = m;
	if (s->wsi != NULL)
		lws_callback_on_writable(s->wsi);
}

static void
sock_drop_queue(struct sock *s)
{
	struct qmsg	*m, *next;

	for (m = s->qhead; m != NULL; m = next) {
		next = m->next;
		free(m);
	}
	s->qhead = s->qtail = NULL;
	free(s->rx);
	s->rx = NULL;
	s->rxlen = s->rxcap = 0;
}

static void
sock_connect(struct sock *s)
{
	struct lws_client_connect_info	 i;

	memset(&i, 0, sizeof(i));
	i.context = ctx;
	if (usock != NULL) {
		i.address = unixaddr;
		i.port = 0;
	} else {
		i.address = host;
		i.port = port;
	}
	i.path = browser_mode ? "/ws" : "/worker";
	i.host = hostport;
	i.origin = browser_mode ? originbuf : NULL;
	i.protocol = browser_mode ? "pulse-browser" : "pulse-worker";
	i.local_protocol_name = "load";
	if (s->source[0] != '\0')
		i.iface = s->source;
	i.pwsi = &s->wsi;
	i.opaque_user_data = s;
	s->state = 1;
	n_connecting++;
	if (lws_client_connect_via_info(&i) == NULL) {
		s->state = 3;
		s->wsi = NULL;
		n_connecting--;
		n_errors++;
	}
}

static void
arrival_add(int idx, long long event_id, const char *type, long long usec)
{
	struct arrival	*a;

	if (narrivals == arrivals_cap) {
		arrivals_cap = arrivals_cap ? arrivals_cap * 2 : 65536;
		arrivals = realloc(arrivals, arrivals_cap * sizeof(*arrivals));
		if (arrivals == NULL)
			abort();
	}
	a = &arrivals[narrivals++];
	a->event_id = event_id;
	a->usec = usec;
	a->sock = idx;
	snprintf(a->type, sizeof(a->type), "%s", type);
}

static const char *
jstr(struct json_object *o, const char *k)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static size_t
strcount(const char *p, char c)
{
	size_t	 n = 0;

	for (; *p != '\0'; p++)
		n += *p == c;
	return n;
}

/*
 * Socket n's result under -m (JSON-escaped: each "\n" is one byte, which
 * strcount takes off the lengths).
 */
static void
result_of(int n, int *code, char *out, size_t outlen, const char **err)
{
	*code = 0;
	*err = "";
	snprintf(out, outlen, "ok\\n");
	if (result_mode == 2)
		snprintf(out, outlen, "worker %d\\n", n);
	else if (result_mode == 1 && n % 25 == 0) {
		*code = 2;
		snprintf(out, outlen, "partial\\n");
		*err = "disk almost full\\n";
	} else if (result_mode == 1 && n % 10 == 0) {
		*code = 1;
		snprintf(out, outlen, "error: service down\\n");
	}
}

static void
worker_message(struct sock *s, struct json_object *o, const char *type)
{
	char		 buf[1024], out[64];
	const char	*cid, *eid, *err;
	int		 code;

	if (strcmp(type, "execute_command") == 0) {
		cid = jstr(o, "command_id");
		eid = jstr(o, "execution_id");
		if (cid == NULL)
			return;
		result_of(s->idx + 1, &code, out, sizeof(out), &err);
		snprintf(buf, sizeof(buf), "{\"type\":\"command_result\","
		    "\"command_id\":\"%s\",\"execution_id\":\"%s\","
		    "\"worker_id\":\"%s\",\"success\":%s,\"exit_code\":%d,"
		    "\"signal\":null,\"timed_out\":false,\"stdout\":\"%s\","
		    "\"stderr\":\"%s\",\"stdout_bytes\":%zu,"
		    "\"stderr_bytes\":%zu,"
		    "\"stdout_truncated\":false,\"stderr_truncated\":false,"
		    "\"duration\":0,\"timestamp\":\"%lld\"}", cid,
		    eid != NULL ? eid : "", s->id, code == 0 ? "true" : "false",
		    code, out, err, strlen(out) - strcount(out, '\\'),
		    strlen(err) - strcount(err, '\\'), now_usec() / 1000);
		if (eid == NULL) {
			/* Never null in practice; an empty id is refused. */
			snprintf(buf, sizeof(buf), "{\"type\":\"command_result\","
			    "\"command_id\":\"%s\",\"worker_id\":\"%s\","
			    "\"success\":true,\"exit_code\":0,\"stdout\":\"ok\\n\","
			    "\"stderr\":\"\",\"duration\":0}", cid, s->id);
		}
		sock_send(s, buf);
		n_results++;
	} else if (strcmp(type, "ping") == 0) {
		snprintf(buf, sizeof(buf), "{\"type\":\"pong\","
		    "\"worker_id\":\"%s\"}", s->id);
		sock_send(s, buf);
	} else if (strcmp(type, "result_ack") == 0)
		n_acks++;
}

static void
browser_message(struct sock *s, struct json_object *o, const char *type,
    long long usec)
{
	struct json_object	*v;
	char			 buf[160];

	if (strcmp(type, "hello") == 0) {
		n_ready++;
		if (execution != NULL) {
			snprintf(buf, sizeof(buf), "{\"type\":\"subscribe\","
			    "\"execution_id\":\"%s\"}", execution);
			sock_send(s, buf);
		}
		return;
	}
	if (json_object_object_get_ex(o, "event_id", &v))
		arrival_add(s->idx, json_object_get_int64(v), type, usec);
	else if (strcmp(type, "command_output") == 0)
		arrival_add(s->idx, -1, type, usec);
}

static void
sock_message(struct sock *s)
{
	struct json_object	*o;
	const char		*type;
	long long		 usec = now_usec();

	o = json_tokener_parse(s->rx);
	if (o == NULL)
		return;
	type = jstr(o, "type");
	if (type != NULL) {
		if (browser_mode)
			browser_message(s, o, type, usec);
		else
			worker_message(s, o, type);
	}
	json_object_put(o);
}

static int
sock_receive(struct sock *s, struct lws *wsi, const void *in, size_t len)
{
	if (lws_is_first_fragment(wsi))
		s->rxlen = 0;
	if (s->rxlen + len + 1 > RX_MAX)
		return -1;
	if (s->rxlen + len + 1 > s->rxcap) {
		while (s->rxlen + len + 1 > s->rxcap)
			s->rxcap = s->rxcap ? s->rxcap * 2 : 4096;
		s->rx = realloc(s->rx, s->rxcap);
		if (s->rx == NULL)
			abort();
	}
	memcpy(s->rx + s->rxlen, in, len);
	s->rxlen += len;
	if (!lws_is_final_fragment(wsi))
		return 0;
	s->rx[s->rxlen] = '\0';
	sock_message(s);
	s->rxlen = 0;
	return 0;
}

static int
sock_writeable(struct sock *s, struct lws *wsi)
{
	struct qmsg	*m = s->qhead;

	if (m == NULL)
		return 0;
	if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) <
	    (int)m->len)
		return -1;
	s->qhead = m->next;
	if (s->qhead == NULL)
		s->qtail = NULL;
	free(m);
	if (s->qhead != NULL)
		lws_callback_on_writable(wsi);
	return 0;
}

static void
sock_down(struct sock *s, int error)
{
	if (s->state == 1)
		n_connecting--;
	if (s->state == 2)
		n_closed++;
	if (error)
		n_errors++;
	s->state = 3;
	s->wsi = NULL;
	sock_drop_queue(s);
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct sock	*s = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	unsigned char	**p, *end;
	char		 buf[512];

	(void)user;
	if (s == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		p = in;
		end = *p + len;
		if (browser_mode) {
			snprintf(buf, sizeof(buf), "Basic %s", auth_b64);
			if (lws_add_http_header_by_name(wsi, (const unsigned char *)
			    "authorization:", (unsigned char *)buf,
			    (int)strlen(buf), p, end))
				return -1;
		} else if (s->key[0] != '\0') {
			if (lws_add_http_header_by_name(wsi,
			    (const unsigned char *)"x-api-key:",
			    (const unsigned char *)s->key, (int)strlen(s->key),
			    p, end) ||
			    lws_add_http_header_by_name(wsi,
			    (const unsigned char *)"x-worker-id:",
			    (const unsigned char *)s->id, (int)strlen(s->id),
			    p, end))
				return -1;
		} else if (lws_add_http_header_by_name(wsi,
		    (const unsigned char *)"x-api-key:",
		    (const unsigned char *)key, (int)strlen(key), p, end))
			return -1;
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		n_connecting--;
		n_established++;
		s->state = 2;
		if (!browser_mode) {
			snprintf(buf, sizeof(buf), "{\"type\":\"worker_connect\","
			    "\"worker_id\":\"%s\",\"worker_name\":\"%s\","
			    "\"groups\":[\"%s\"],\"version\":\"loadws\","
			    "\"running\":[]}", s->id, s->name, group);
			sock_send(s, buf);
			n_ready++;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return sock_receive(s, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return sock_writeable(s, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (n_errors < 5)
			fprintf(stderr, "loadws: socket %d: %s\n", s->idx,
			    in != NULL ? (const char *)in : "connect failed");
		sock_down(s, 1);
		if (s->tries++ < retries) {
			s->retry_at = now_usec() + 1000000;
			n_retry_due++;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		sock_down(s, 0);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	{ "load", callback, 0, 65536, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Every 10 ms: open more sockets, keeping few handshakes in flight. */
static void
tick(lws_sorted_usec_list_t *sul)
{
	static long long last_stat;
	long long	 now = now_usec();
	long		 i;

	while (next_connect < nsocks && n_connecting < CONNECTING_MAX)
		sock_connect(&socks[next_connect++]);
	for (i = 0; n_retry_due > 0 && i < next_connect &&
	    n_connecting < CONNECTING_MAX; i++) {
		struct sock	*s = &socks[i];

		if (s->retry_at == 0 || s->retry_at > now || s->state != 3)
			continue;
		s->retry_at = 0;
		n_retry_due--;
		sock_connect(s);
	}
	if (now - last_stat >= 1000000) {
		last_stat = now;
		printf("stat established=%ld ready=%ld results=%ld acks=%ld "
		    "closed=%ld errors=%ld\n", n_established, n_ready,
		    n_results, n_acks, n_closed, n_errors);
		fflush(stdout);
	}
	lws_sul_schedule(ctx, 0, sul, tick, 10 * LWS_US_PER_MS);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
dump_arrivals(void)
{
	FILE	*f;
	size_t	 i;

	if (outfile == NULL)
		return;
	if ((f = fopen(outfile, "w")) == NULL) {
		perror(outfile);
		return;
	}
	for (i = 0; i < narrivals; i++)
		fprintf(f, "%lld %s %d %lld\n", arrivals[i].event_id,
		    arrivals[i].type, arrivals[i].sock, arrivals[i].usec);
	fclose(f);
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadws worker|browser [-H host] [-P port] "
	    "[-U unix-socket] [-k key | -K keyfile] [-a user:pass] [-n count] "
	    "[-p prefix] [-g group] [-e execution] [-o file] "
	    "[-m ok|groups|unique] [-s per-source-address] [-R tries]\n");
	exit(2);
}

static char *
b64(const char *s)
{
	size_t	 len = strlen(s);
	char	*out = malloc(len * 2 + 8);

	if (out == NULL || lws_b64_encode_string(s, (int)len, out,
	    (int)(len * 2 + 8)) < 0)
		abort();
	return out;
}

/* -K: "id key name" per line, one line per socket, all of them. */
static void
read_keys(const char *path)
{
	FILE	*f = fopen(path, "r");
	char	 line[256];
	int	 i = 0;

	if (f == NULL) {
		fprintf(stderr, "loadws: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	while (i < nsocks && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%36s %63s %63s", socks[i].id, socks[i].key,
		    socks[i].name) != 3) {
			fprintf(stderr, "loadws: %s line %d: want 'id key "
			    "name'\n", path, i + 1);
			exit(1);
		}
		i++;
	}
	fclose(f);
	if (i < nsocks) {
		fprintf(stderr, "loadws: %s has %d workers, -n asks for %d\n",
		    path, i, nsocks);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	struct lws_context_creation_info info;
	struct rlimit	 rl;
	const char	*auth = NULL;
	char		 line[16];
	struct stat	 sb;
	int		 ch, i, flags, watch_stdin;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "browser") == 0)
		browser_mode = 1;
	else if (strcmp(argv[1], "worker") != 0)
		usage();
	optind = 2;
	while ((ch = getopt(argc, argv, "H:P:U:k:K:a:n:p:g:e:o:m:s:R:")) != -1) {
		switch (ch) {
		case 'H': host = optarg; break;
		case 'P': port = atoi(optarg); break;
		case 'U': usock = optarg; break;
		case 'k': key = optarg; break;
		case 'K': keyfile = optarg; break;
		case 'a': auth = optarg; break;
		case 'n': nsocks = atoi(optarg); break;
		case 'p': prefix = optarg; break;
		case 'g': group = optarg; break;
		case 'e': execution = optarg; break;
		case 'o': outfile = optarg; break;
		case 's': per_source = atoi(optarg); break;
		case 'R': retries = atoi(optarg); break;
		case 'm':
			if (strcmp(optarg, "groups") == 0)
				result_mode = 1;
			else if (strcmp(optarg, "unique") == 0)
				result_mode = 2;
			else if (strcmp(optarg, "ok") != 0)
				usage();
			break;
		default: usage();
		}
	}
	if (nsocks <= 0 || (usock == NULL && port <= 0) ||
	    (!browser_mode && key == NULL && keyfile == NULL) ||
	    (browser_mode && auth == NULL))
		usage();
	if (auth != NULL)
		auth_b64 = b64(auth);
	if (usock != NULL) {
		snprintf(unixaddr, sizeof(unixaddr), "+%s", usock);
		snprintf(hostport, sizeof(hostport), "localhost");
	} else
		snprintf(hostport, sizeof(hostport), "%s:%d", host, port);
	/* lws writes "Origin: http://" + this. */
	snprintf(originbuf, sizeof(originbuf), "%s", hostport);

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	lws_set_log_level(LLL_ERR, NULL);

	socks = calloc((size_t)nsocks, sizeof(*socks));
	if (socks == NULL)
		abort();
	for (i = 0; i < nsocks; i++) {
		socks[i].idx = i;
		random_uuid(socks[i].id);
		snprintf(socks[i].name, sizeof(socks[i].name), "%s-%05d",
		    prefix, i + 1);
	}
	if (keyfile != NULL)
		read_keys(keyfile);
	for (i = 0; per_source > 0 && usock == NULL && i < nsocks; i++) {
		int	k = i / per_source;

		snprintf(socks[i].source, sizeof(socks[i].source),
		    "127.%d.%d.%d", 20 + k / 63750, k / 250 % 255,
		    1 + k % 250);
	}

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	info.fd_limit_per_thread = (unsigned)nsocks + 64;
	info.timeout_secs = 30;
	ctx = lws_create_context(&info);
	if (ctx == NULL) {
		fprintf(stderr, "loadws: cannot create the lws context\n");
		return 1;
	}
	/* stdin closing (the harness went away) stops us too. */
	watch_stdin = fstat(0, &sb) == 0 && S_ISFIFO(sb.st_mode);
	flags = fcntl(0, F_GETFL);
	if (watch_stdin)
		fcntl(0, F_SETFL, flags | O_NONBLOCK);
	lws_sul_schedule(ctx, 0, &sul_tick, tick, 1);
	while (!stop_flag) {
		ssize_t r;

		if (lws_service(ctx, 0) < 0)
			break;
		if (!watch_stdin)
			continue;
		r = read(0, line, sizeof(line));
		if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR))
			break;
	}
	printf("stat established=%ld ready=%ld results=%ld acks=%ld "
	    "closed=%ld errors=%ld\n", n_established, n_ready, n_results,
	    n_acks, n_closed, n_errors);
	fflush(stdout);
	dump_arrivals();
	lws_context_destroy(ctx);
	return 0;
}
