/*
 * conn.c: the connection layer. Every websocket is a struct conn: lws's
 * callbacks, the handshake's common part, the reassembly of a message from
 * its fragments, the bounded send queue, the close with a code and reason,
 * and the table of sockets by serial. It knows no protocol: workers.c and
 * browsers.c each describe theirs with a struct conn_kind and build their
 * lws_protocols from conn_http_cb and conn_ws_cb, with the kind as user.
 */
#ifndef CONN_H
#define CONN_H

#include <stddef.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "pushd.h"
#include "queue.h"

struct conn;

/*
 * One protocol. Its per-session data begins with a struct conn (lws
 * zeroes it); the hooks get that conn and may cast it to their own.
 */
struct conn_kind {
	const char	*noun;		/* "worker": in log lines */
	size_t		 msg_max;	/* a message, reassembled */
	size_t		 q_msgs;	/* waiting to be written: past */
	size_t		 q_bytes;	/* either, the socket is dropped */
	int		 warn;		/* refusals logged as warnings */

	/*
	 * The handshake (path, subprotocol, credentials): 0 to accept, or
	 * the HTTP status with why. c is NULL at the upgrade request, then
	 * the connection (FILTER_PROTOCOL_CONNECTION), which may keep what
	 * the headers say.
	 */
	int		 (*admit)(struct lws *, struct conn *c, const char **why);
	/* Established and registered: 0, or -1 to close it. */
	int		 (*open)(struct conn *);
	/* A whole message (NUL-terminated): 0, or a close status and why. */
	int		 (*message)(struct conn *, const char *, size_t,
			    const char **why);
	/* A message was written (NULL: nothing to do then). */
	void		 (*written)(struct conn *);
	/* It closed (registered ones only): forget it. */
	void		 (*close)(struct conn *);
	/* Its name in log lines. */
	const char	*(*name)(const struct conn *);
};

struct conn {
	struct lws		*wsi;
	const struct conn_kind	*kind;
	uint64_t		 serial;	/* names it across threads */
	struct outq		 q;
	int			 closing;	/* close once flushed */
	int			 close_flush;
	int			 close_code;
	char			 close_reason[PUSHD_WHY_MAX];
	unsigned char		*rx;		/* message coming in */
	size_t			 rxlen, rxcap;
	long long		 last_rx_ms;	/* monotonic */
	long long		 since_ms;
};

/*
 * wake runs on the loop when another thread called lws_cancel_service
 * (once, on wake_kind's HTTP protocol: the wake-up reaches every protocol
 * of every vhost); gone after a connection was forgotten.
 */
void		 conn_init(const struct conn_kind *wake_kind, void (*wake)(void),
		    void (*gone)(void));
void		 conn_free(void);
/* From now on handshakes are refused: 503, server stopping. */
void		 conn_stop(void);
int		 conn_stopping(void);
size_t		 conn_count(void);
struct conn	*conn_find(uint64_t serial);
int		 conn_send(struct conn *, struct msg *);
void		 conn_close(struct conn *, int code, const char *reason,
		    int flush);
int		 conn_header(struct lws *, const char *name, char *, size_t);

int		 conn_http_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);
int		 conn_ws_cb(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);

#endif
