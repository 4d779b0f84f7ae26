/*
 * Configuration: one table of every key any PULSE program reads, with its
 * type, default and bounds. The same .env file may be shared by the server
 * and a worker (as the seed's were), so a key is known if any program
 * knows it; a typo is still caught.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xmalloc.h"

#define CONFIG_LINE_MAX		4096
#define CONFIG_VALUE_MAX	1024
/* A DB_HOST list: every entry at its longest ("[name]:65535, "). */
#define CONFIG_DB_HOST_MAX	(CONFIG_DB_HOSTS_MAX * \
				    (CONFIG_DB_HOSTNAME_MAX + 10))

enum key_type { K_STR, K_INT, K_LONG, K_BOOL, K_ENUM };

struct key {
	const char	*name;
	enum key_type	 type;
	size_t		 off;
	const char	*dflt;
	long		 min, max;	/* K_INT/K_LONG range; K_STR max length */
	const char	*choices;	/* K_ENUM: "a|b" */
};

#define S(n, f, d)	{ n, K_STR, offsetof(struct config, f), d, 0, \
			    CONFIG_VALUE_MAX, NULL }
#define I(n, f, d, lo, hi) { n, K_INT, offsetof(struct config, f), d, lo, hi, \
			    NULL }

static const struct key keys[] = {
	I("PORT", port, "3000", 1, 65535),
	S("HOST", host, "127.0.0.1"),
	S("SECRET_KEY", secret_key, ""),
	{ "DB_HOST", K_STR, offsetof(struct config, db_host), "127.0.0.1", 0,
	    CONFIG_DB_HOST_MAX, NULL },
	I("DB_PORT", db_port, "3306", 1, 65535),
	S("DB_NAME", db_name, "pulse"),
	S("DB_USER", db_user, "pulse"),
	S("DB_PASSWORD", db_password, ""),
	S("WORKER_API_KEY", worker_api_key, ""),
	{ "NODE_ENV", K_ENUM, offsetof(struct config, node_env), "production",
	    0, 0, "production|development|test" },

	S("DB_SOCKET", db_socket, ""),
	I("DB_TIMEOUT", db_timeout, "5", 1, 300),
	/* 1: a read waits until this node has applied every write the
	 * cluster certified before it (MariaDB's own range is 0-15). */
	I("DB_WSREP_SYNC_WAIT", db_wsrep_sync_wait, "1", 0, 15),
	S("PULSE_API_SOCKET", api_socket, "/run/pulse/api.sock"),
	S("PULSE_SOCKET_GROUP", socket_group, ""),
	I("PULSE_API_CHILDREN", api_children, "6", 1, 256),
	S("PULSE_ADMIN_GROUP", admin_group, "admin"),
	S("PULSE_EMPLOYEE_GROUP", employee_group, "employee"),
	S("PULSE_PUSHD_WORKER_SOCKET", pushd_worker_socket,
	    "/run/pulse/pushd-worker.sock"),
	S("PULSE_PUSHD_BROWSER_SOCKET", pushd_browser_socket,
	    "/run/pulse/pushd-browser.sock"),
	I("PULSE_POLL_INTERVAL_MS", poll_interval_ms, "50", 5, 10000),
	I("PULSE_POLL_BUSY_MS", poll_busy_ms, "10", 1, 10000),
	{ "PULSE_NODE_ID", K_STR, offsetof(struct config, node_id), "", 0, 64,
	    NULL },
	I("PULSE_DISPATCH_GRACE_MS", dispatch_grace_ms, "30000", 0, 3600000),
	I("PULSE_WORKER_PING_S", worker_ping_s, "25", 1, 3600),
	I("PULSE_WORKER_STALE_S", worker_stale_s, "90", 5, 86400),
	I("RETENTION_DAYS", retention_days, "30", 1, 3650),
	I("WORKER_PRUNE_DAYS", worker_prune_days, "0", 0, 3650),
	I("PULSE_RETENTION_INTERVAL_S", retention_interval_s, "60", 1, 86400),
	S("PULSE_PUSHD_METRICS_SOCKET", pushd_metrics_socket, ""),
	I("PULSE_USER_EXECUTIONS_MAX", user_executions_max, "50", 0, 100000),
	I("PULSE_USER_SOCKETS_MAX", user_sockets_max, "100", 0, 1000000),
	/* pulse-api refuses starts while a pushd is this far behind (issue
	 * 20; fcgi-api/admit.c); 0: never. */
	I("PULSE_ADMIT_LAG_MS", admit_lag_ms, "200", 0, 600000),
	{ "PULSE_DEBUG", K_BOOL, offsetof(struct config, log_debug), "0",
	    0, 0, NULL },
	/* Version-1 trust: a worker with the shared key is accepted at once
	 * with the groups it asks for (SPEC section 12; weaker). */
	{ "WORKER_AUTO_ACCEPT", K_BOOL, offsetof(struct config,
	    worker_auto_accept), "false", 0, 0, NULL },
	S("PULSE_PUBLIC_URL", public_url, "http://127.0.0.1:8080"),
	S("SMTP_URL", smtp_url, ""),
	S("PULSE_MAIL_FROM", mail_from, "pulse@localhost"),
	/* Tests shorten both; the defaults are the contract's. */
	I("PULSE_NOTIFY_BACKOFF_MS", notify_backoff_ms, "10000", 10, 3600000),
	/* Below NOTIFY_RECLAIM_S (60): a transfer still running would be
	 * taken back and sent a second time. */
	I("PULSE_NOTIFY_TIMEOUT_S", notify_timeout_s, "15", 1, 45),

	S("PULSE_SERVER", pulse_server, "http://127.0.0.1:8080"),
	S("PULSE_WS", pulse_ws, ""),
	S("WORKER_NAME", worker_name, ""),
	I("HEARTBEAT_INTERVAL", heartbeat_interval, "30", 1, 3600),
	I("MAX_CONCURRENT_TASKS", max_concurrent_tasks, "5", 1, 256),
	S("WORKER_GROUPS", worker_groups, ""),
	S("WORKER_STATE_DIR", worker_state_dir, "/var/lib/pulse-worker"),
	{ "WORKER_OUTPUT_CAP", K_LONG, offsetof(struct config, output_cap),
	    "1048576", 1024, 64L * 1024 * 1024, NULL },
	S("WORKER_ALLOW_FILE", worker_allow_file, ""),
	S("PULSE_ENROLL_TOKEN", enroll_token, ""),
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct key *
key_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int
parse_long(const char *s, long *out)
{
	char	*end;
	long	 v;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
choice_ok(const char *choices, const char *v)
{
	size_t	 n = strlen(v);
	const char *p = choices;

	while (*p != '\0') {
		const char *bar = strchr(p, '|');
		size_t	 len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return 1;
		if (bar == NULL)
			break;
		p = bar + 1;
	}
	return 0;
}

/* Store one value into cfg, checked against its key's type and bounds. */
static int
key_set(struct config *cfg, const struct key *k, const char *v, char *err,
    size_t errlen)
{
	char	*base = (char *)cfg + k->off;
	long	 n;

	switch (k->type) {
	case K_STR:
	case K_ENUM:
		if (strlen(v) > (size_t)k->max && k->type == K_STR) {
			seterr(err, errlen, "%s: value longer than %ld bytes",
			    k->name, k->max);
			return -1;
		}
		if (k->type == K_ENUM && !choice_ok(k->choices, v)) {
			seterr(err, errlen, "%s: '%s' is not one of %s",
			    k->name, v, k->choices);
			return -1;
		}
		free(*(char **)base);
		*(char **)base = xstrdup(v);
		return 0;
	case K_INT:
	case K_LONG:
		if (parse_long(v, &n) == -1 || n < k->min || n > k->max) {
			seterr(err, errlen, "%s: '%s' is not an integer "
			    "between %ld and %ld", k->name, v, k->min, k->max);
			return -1;
		}
		if (k->type == K_INT)
			*(int *)base = (int)n;
		else
			*(long *)base = n;
		return 0;
	case K_BOOL:
		if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
		    strcmp(v, "yes") == 0)
			*(int *)base = 1;
		else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
		    strcmp(v, "no") == 0 || *v == '\0')
			*(int *)base = 0;
		else {
			seterr(err, errlen, "%s: '%s' is not a boolean "
			    "(1/0, true/false, yes/no)", k->name, v);
			return -1;
		}
		return 0;
	}
	return -1;
}

/*
 * Strip one level of quotes: "x" keeps backslash escapes \n \" \\, 'x' is
 * literal, bare values end at an unquoted ' #' comment (dotenv rules).
 */
static int
unquote(char *v, char *err, size_t errlen)
{
	size_t	 n = strlen(v), i, o;

	if (n > 0 && (v[0] == '"' || v[0] == '\'')) {
		char	 q = v[0];

		for (i = 1, o = 0; i < n && v[i] != q; i++) {
			if (q == '"' && v[i] == '\\' && i + 1 < n) {
				i++;
				v[o++] = v[i] == 'n' ? '\n' : v[i];
			} else
				v[o++] = v[i];
		}
		if (i >= n) {
			seterr(err, errlen, "unterminated quoted value");
			return -1;
		}
		for (i++; v[i] == ' ' || v[i] == '\t'; i++)
			;
		if (v[i] != '\0' && v[i] != '#') {
			seterr(err, errlen, "text after closing quote");
			return -1;
		}
		v[o] = '\0';
		return 0;
	}
	for (i = 0; i < n; i++)
		if (v[i] == '#' && (i == 0 || v[i - 1] == ' ' ||
		    v[i - 1] == '\t')) {
			v[i] = '\0';
			break;
		}
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		v[--n] = '\0';
	return 0;
}

int
config_parse_env(const char *path,
    int (*cb)(const char *, const char *, void *), void *arg, char *err,
    size_t errlen)
{
	FILE	*f;
	char	 line[CONFIG_LINE_MAX + 2], sub[256];
	int	 lineno = 0, rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char	*p = line, *eq, *key, *val;
		size_t	 n = strlen(line);

		lineno++;
		if (n > CONFIG_LINE_MAX) {
			seterr(err, errlen, "%s:%d: line too long", path,
			    lineno);
			goto fail;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			p += 7;
		if ((eq = strchr(p, '=')) == NULL) {
			seterr(err, errlen, "%s:%d: expected KEY=value", path,
			    lineno);
			goto fail;
		}
		*eq = '\0';
		key = p;
		n = strlen(key);
		while (n > 0 && (key[n - 1] == ' ' || key[n - 1] == '\t'))
			key[--n] = '\0';
		val = eq + 1;
		while (*val == ' ' || *val == '\t')
			val++;
		if (unquote(val, sub, sizeof(sub)) == -1) {
			seterr(err, errlen, "%s:%d: %s: %s", path, lineno, key,
			    sub);
			goto fail;
		}
		if (cb(key, val, arg) == -1) {
			/* cb filled err via arg; prefix the location. */
			goto fail;
		}
	}
	if (ferror(f)) {
		seterr(err, errlen, "%s: read error", path);
		goto fail;
	}
	rc = 0;
fail:
	fclose(f);
	return rc;
}

/* Characters of a host name or IPv4 address; of an IPv6 address. */
static int
host_char(int c, int v6)
{
	if (v6)
		return isxdigit(c) || c == ':' || c == '.';
	return isalnum(c) || c == '.' || c == '-' || c == '_';
}

static int
host_name_ok(const char *s, size_t len, int v6)
{
	size_t	 i;

	if (len == 0 || len > CONFIG_DB_HOSTNAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!host_char((unsigned char)s[i], v6))
			return 0;
	return 1;
}

/* "1".."65535", digits only. */
static int
port_parse(const char *s, size_t len, unsigned *out)
{
	unsigned long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 5)
		return -1;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* One entry of e..e+len, already trimmed; the reason in *why. */
static int
db_host_entry(const char *e, size_t len, unsigned dflt_port,
    struct config_db_host *h, const char **why)
{
	const char	*name = e, *colon = NULL, *port = NULL;
	size_t		 nlen = len, i, ncolons = 0;
	int		 v6 = 0;

	*why = "not host, host:port or [IPv6]:port";
	if (len > 0 && e[0] == '[') {
		const char *rb = memchr(e, ']', len);

		if (rb == NULL)
			return -1;
		v6 = 1;
		name = e + 1;
		nlen = (size_t)(rb - name);
		if (rb + 1 < e + len) {
			if (rb[1] != ':')
				return -1;
			port = rb + 2;
		}
	} else {
		for (i = 0; i < len; i++)
			if (e[i] == ':') {
				ncolons++;
				colon = e + i;
			}
		if (ncolons == 1) {
			nlen = (size_t)(colon - e);
			port = colon + 1;
		} else if (ncolons > 1)
			v6 = 1;		/* a bare IPv6 address, no port */
	}
	if (!host_name_ok(name, nlen, v6)) {
		*why = "bad host name";
		return -1;
	}
	h->port = dflt_port;
	if (port != NULL && port_parse(port, (size_t)(e + len - port),
	    &h->port) == -1) {
		*why = "port is not a number from 1 to 65535";
		return -1;
	}
	memcpy(h->name, name, nlen);
	h->name[nlen] = '\0';
	return 0;
}

int
config_db_hosts(const char *list, unsigned dflt_port,
    struct config_db_host out[CONFIG_DB_HOSTS_MAX], size_t *n, char *err,
    size_t errlen)
{
	const char	*p = list, *why;

	*n = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		const char *end = comma != NULL ? comma : p + strlen(p);

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (*n == CONFIG_DB_HOSTS_MAX) {
			seterr(err, errlen, "DB_HOST: more than %d entries",
			    CONFIG_DB_HOSTS_MAX);
			return -1;
		}
		if (p == end) {
			seterr(err, errlen, "DB_HOST: entry %zu is empty",
			    *n + 1);
			return -1;
		}
		if (db_host_entry(p, (size_t)(end - p), dflt_port, &out[*n],
		    &why) == -1) {
			seterr(err, errlen, "DB_HOST: entry '%.*s': %s",
			    (int)(end - p), p, why);
			return -1;
		}
		(*n)++;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

struct load_ctx {
	struct config	*cfg;
	char		*err;
	size_t		 errlen;
	const char	*path;
};

static int
load_cb(const char *key, const char *val, void *arg)
{
	struct load_ctx	*c = arg;
	const struct key *k;
	char		 sub[512];

	if ((k = key_find(key)) == NULL) {
		seterr(c->err, c->errlen, "%s: unknown key %s", c->path, key);
		return -1;
	}
	/* The environment wins over the file, as with dotenv. */
	if (getenv(key) != NULL)
		return 0;
	if (key_set(c->cfg, k, val, sub, sizeof(sub)) == -1) {
		seterr(c->err, c->errlen, "%s: %s", c->path, sub);
		return -1;
	}
	return 0;
}

int
config_load(struct config *cfg, const char *envfile, int must_exist,
    char *err, size_t errlen)
{
	struct load_ctx	 c = { cfg, err, errlen, envfile };
	struct config_db_host hosts[CONFIG_DB_HOSTS_MAX];
	size_t		 i, n;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NKEYS; i++)
		if (key_set(cfg, &keys[i], keys[i].dflt, err, errlen) == -1)
			return -1;
	if (envfile != NULL) {
		FILE	*f = fopen(envfile, "r");

		if (f == NULL && (errno != ENOENT || must_exist)) {
			seterr(err, errlen, "%s: %s", envfile, strerror(errno));
			return -1;
		}
		if (f != NULL) {
			fclose(f);
			if (config_parse_env(envfile, load_cb, &c, err,
			    errlen) == -1)
				return -1;
		}
	}
	for (i = 0; i < NKEYS; i++) {
		const char *v = getenv(keys[i].name);

		if (v != NULL && key_set(cfg, &keys[i], v, err, errlen) == -1)
			return -1;
	}
	/* Last, when DB_PORT is known: the entries without a port get it. */
	return config_db_hosts(cfg->db_host, (unsigned)cfg->db_port, hosts, &n,
	    err, errlen);
}

int
config_load_default(struct config *cfg, const char *envfile, char *err,
    size_t errlen)
{
	int	 must_exist = 1;

	if (envfile == NULL)
		envfile = getenv("PULSE_ENV_FILE");
	if (envfile == NULL || *envfile == '\0') {
		envfile = ".env";
		must_exist = 0;
	}
	return config_load(cfg, envfile, must_exist, err, errlen);
}

void
config_free(struct config *cfg)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (keys[i].type == K_STR || keys[i].type == K_ENUM) {
			char	**p = (char **)((char *)cfg + keys[i].off);

			free(*p);
			*p = NULL;
		}
}
