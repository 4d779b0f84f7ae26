/*
 * Reading a FastCGI request and writing its one JSON response. Every
 * ceiling on what a client sends is checked here, so handlers see bounded,
 * NUL-terminated input, and every answer leaves through reply_json().
 */
#include <sys/uio.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "api.h"
#include "db.h"
#include "log.h"
#include "xmalloc.h"

#define REPLY_ERROR_MAX	1024	/* bytes of a formatted error message */

static const char *
request_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 423: return "Locked";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	}
	return "Unknown";
}

const char *
request_header(struct request *req, const char *cgi_name)
{
	return FCGX_GetParam(cgi_name, req->fcgx->envp);
}

/* How many times nginx passed cgi_name (a repeated client header). */
int
request_header_count(struct request *req, const char *cgi_name)
{
	size_t	 n = strlen(cgi_name);
	char	**e;
	int	 count = 0;

	for (e = req->fcgx->envp; e != NULL && *e != NULL; e++)
		if (strncmp(*e, cgi_name, n) == 0 && (*e)[n] == '=')
			count++;
	return count;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode n bytes of s into out (NUL-terminated), '+' as a space
 * when plus is set. A bad escape, a decoded NUL or an output longer than
 * outlen - 1 is an error: the caller cannot tell a truncated value from a
 * real one, so there is no truncation.
 */
static int
request_unescape(const char *s, size_t n, char *out, size_t outlen, int plus)
{
	size_t	 i, o = 0;
	int	 c, hi, lo;

	if (outlen == 0)
		return -1;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			hi = i + 2 < n ? hexval((unsigned char)s[i + 1]) : -1;
			lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
			if (hi == -1 || lo == -1 || hi + lo == 0)
				goto fail;
			c = hi * 16 + lo;
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (o + 1 >= outlen)
			goto fail;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
fail:
	/* Never hand on half a value. */
	out[0] = '\0';
	return -1;
}

/*
 * The value of the first name=value pair of the query string whose decoded
 * name is name: 1 found, 0 absent, -1 undecodable or longer than len - 1.
 * Pairs whose name cannot be decoded are skipped: they are not the one
 * asked for.
 */
int
request_query(struct request *req, const char *name, char *buf, size_t len)
{
	const char	*p = req->query, *amp, *eq, *end;
	char		 key[API_QUERY_MAX + 1];

	if (p == NULL)
		return 0;
	while (*p != '\0') {
		amp = strchr(p, '&');
		end = amp != NULL ? amp : p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (request_unescape(p, (size_t)((eq != NULL ? eq : end) - p),
		    key, sizeof(key), 1) == 0 && strcmp(key, name) == 0) {
			if (eq == NULL) {
				if (len == 0)
					return -1;
				buf[0] = '\0';
				return 1;
			}
			if (request_unescape(eq + 1, (size_t)(end - eq - 1),
			    buf, len, 1) == -1)
				return -1;
			return 1;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return 0;
}

/*
 * Read the body into req->body (NUL-terminated, length req->bodylen).
 * 0 on success (an absent or empty body gives bodylen 0); -1 once an
 * error response has been written. A body over API_BODY_MAX is refused
 * before any of it is read: the connection ends with the request anyway.
 */
int
request_read_body(struct request *req)
{
	const char	*cl;
	size_t		 n = 0, got = 0;
	int		 r;

	if (req->body != NULL)
		return 0;
	cl = request_header(req, "CONTENT_LENGTH");
	if (cl != NULL && *cl != '\0') {
		const char *p;

		for (p = cl; *p != '\0'; p++) {
			if (*p < '0' || *p > '9') {
				reply_error(req, 400, "invalid Content-Length");
				return -1;
			}
			/* Past the limit the exact value no longer matters. */
			if (n <= API_BODY_MAX)
				n = n * 10 + (size_t)(*p - '0');
		}
	}
	if (n > API_BODY_MAX) {
		reply_error(req, 413, "request body too large (limit %d bytes)",
		    API_BODY_MAX);
		return -1;
	}
	req->body = xmalloc(n + 1);
	while (got < n) {
		r = FCGX_GetStr(req->body + got, (int)(n - got),
		    req->fcgx->in);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	req->body[got] = '\0';
	req->bodylen = got;
	if (got < n) {
		reply_error(req, 400, "request body shorter than "
		    "Content-Length (%zu of %zu bytes)", got, n);
		return -1;
	}
	return 0;
}

#define REPLY_RECORD_MAX	65535	/* a FastCGI record's content */
#define REPLY_DIRECT_MIN	8192	/* libfcgi's own buffer */

/*
 * A large body as FastCGI STDOUT records of up to 64 KB written straight
 * to the connection, after what libfcgi holds: libfcgi cuts a response
 * into 8 KB records, one write(2) each (five for the 40 KB of GET
 * /api/workflows). libfcgi ends the stream and the request as usual.
 */
static int
reply_direct(struct request *req, const char *body, size_t len)
{
	FCGX_Request	*f = req->fcgx;
	unsigned char	 hdr[8];
	struct iovec	 iov[2];
	size_t		 n, off;
	ssize_t		 w;

	if (FCGX_FFlush(f->out) == -1)
		return -1;
	while (len > 0) {
		n = len < REPLY_RECORD_MAX ? len : REPLY_RECORD_MAX;
		hdr[0] = 1;			/* FCGI_VERSION_1 */
		hdr[1] = 6;			/* FCGI_STDOUT */
		hdr[2] = (unsigned char)((f->requestId >> 8) & 0xff);
		hdr[3] = (unsigned char)(f->requestId & 0xff);
		hdr[4] = (unsigned char)((n >> 8) & 0xff);
		hdr[5] = (unsigned char)(n & 0xff);
		hdr[6] = 0;			/* no padding */
		hdr[7] = 0;
		off = 0;
		while (off < sizeof(hdr) + n) {
			int	 cnt = 0;

			if (off < sizeof(hdr)) {
				iov[cnt].iov_base = hdr + off;
				iov[cnt++].iov_len = sizeof(hdr) - off;
				iov[cnt].iov_base = (char *)body;
				iov[cnt++].iov_len = n;
			} else {
				iov[cnt].iov_base = (char *)body +
				    (off - sizeof(hdr));
				iov[cnt++].iov_len = n - (off - sizeof(hdr));
			}
			w = writev(f->ipcFd, iov, cnt);
			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0)
				return -1;
			off += (size_t)w;
		}
		body += n;
		len -= n;
	}
	return 0;
}

/*
 * The status line, our headers and the body: extra is zero or more
 * complete "Name: value\r\n" lines built by our own code, never from
 * client input; body NULL for a 204.
 */
static void
reply_write(struct request *req, int status, const char *extra,
    const char *body, size_t len)
{
	FCGX_Stream	*out = req->fcgx->out;
	char		 head[256];

	req->replied = 1;
	req->status = status;

	/*
	 * snprintf, not FCGX_FPrintF: libfcgi's own printf lacks %zu. No
	 * security headers here: nginx adds them to every response
	 * (nginx/security-headers.conf), and a copy from us was sent twice.
	 */
	snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Cache-Control: no-store\r\n",
	    status, request_reason(status));
	FCGX_PutS(head, out);
	if (extra != NULL)
		FCGX_PutS(extra, out);
	if (body == NULL) {
		/* A 204 has no body by definition (RFC 9110 15.3.5). */
		FCGX_PutS("\r\n", out);
		return;
	}
	snprintf(head, sizeof(head),
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", len);
	FCGX_PutS(head, out);
	if (len < REPLY_DIRECT_MIN)
		FCGX_PutStr(body, (int)len, out);
	else if (reply_direct(req, body, len) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		/* Not nginx closing (its client went away): say so. */
		log_warnx("%s %s: writing the answer: %s", req->method,
		    req->path, strerror(errno));
}

/* Write the response: obj as JSON, then freed. */
void
reply_json_headers(struct request *req, int status, const char *extra,
    struct json_object *obj)
{
	const char	*body = NULL;

	if (req->replied) {
		log_warnx("%s %s: second response (%d after %d) dropped",
		    req->method, req->path, status, req->status);
		json_object_put(obj);
		return;
	}
	if (status < 200 || status > 599 || obj == NULL) {
		log_warnx("%s %s: bad response (status %d%s)", req->method,
		    req->path, status, obj == NULL ? ", no body" : "");
		json_object_put(obj);
		status = 500;
		extra = NULL;
		obj = json_object_new_object();
		json_object_object_add(obj, "error",
		    json_object_new_string("internal error"));
	}
	if (status != 204)
		body = json_object_to_json_string_ext(obj,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	reply_write(req, status, extra, body,
	    body != NULL ? strlen(body) : 0);
	json_object_put(obj);
}

/*
 * A 200 whose JSON text the handler made itself (a cached list): the
 * same headers as reply_json(). text must be valid JSON.
 */
void
reply_json_text(struct request *req, const char *text, size_t len)
{
	if (req->replied) {
		log_warnx("%s %s: second response (200 after %d) dropped",
		    req->method, req->path, req->status);
		return;
	}
	reply_write(req, 200, NULL, text, len);
}

void
reply_json(struct request *req, int status, struct json_object *obj)
{
	reply_json_headers(req, status, NULL, obj);
}

void
reply_error(struct request *req, int status, const char *fmt, ...)
{
	struct json_object	*obj;
	char			 msg[REPLY_ERROR_MAX];
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	obj = json_object_new_object();
	json_object_object_add(obj, "error", json_object_new_string(msg));
	reply_json(req, status, obj);
}

void
reply_error_obj(struct request *req, int status, struct json_object *err)
{
	/* Clients read .error on every failure; a reply without it is a bug. */
	if (!json_object_object_get_ex(err, "error", NULL))
		log_warnx("%s %s: error reply without \"error\"", req->method,
		    req->path);
	reply_json(req, status, err);
}

/*
 * A failed database call: the client learns whether to retry (503) or
 * not (500), never the SQL error, which goes to the log.
 */
void
reply_db_error(struct request *req)
{
	struct json_object	*o;

	if (db_down(req->db)) {
		log_warnx("%s %s: database unavailable: %s", req->method,
		    req->path, db_errmsg(req->db));
		reply_error(req, 503, "database unavailable");
	} else if (db_transient(req->db)) {
		/*
		 * Deadlocks or Galera conflicts past db_txn's reruns, or a
		 * lock wait time-out: rolled back, nothing done, and a
		 * moment later it will likely go through.
		 */
		log_warnx("%s %s: database busy: %u: %s", req->method,
		    req->path, db_errcode(req->db), db_errmsg(req->db));
		o = json_object_new_object();
		json_object_object_add(o, "error", json_object_new_string(
		    "database busy (conflicting writes): nothing was done; "
		    "retry"));
		reply_json_headers(req, 503, "Retry-After: 1\r\n", o);
	} else {
		log_warnx("%s %s: database error %u: %s", req->method,
		    req->path, db_errcode(req->db), db_errmsg(req->db));
		reply_error(req, 500, "internal error");
	}
}

/*
 * ?name=N as an integer in [min, max], dflt when absent: 0, or -1 after a
 * 400 naming the parameter.
 */
int
request_query_int(struct request *req, const char *name, long long min,
    long long max, long long dflt, long long *out)
{
	char	 buf[24], *end;
	int	 rc;

	*out = dflt;
	rc = request_query(req, name, buf, sizeof(buf));
	if (rc == 0)
		return 0;
	if (rc == 1) {
		errno = 0;
		*out = strtoll(buf, &end, 10);
		if (buf[0] != '\0' && *end == '\0' && errno == 0 &&
		    *out >= min && *out <= max)
			return 0;
	}
	reply_error_field(req, 400, name, "%s must be an integer between "
	    "%lld and %lld", name, min, max);
	return -1;
}
