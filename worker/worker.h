/*
 * pulse-worker: the agent on every server. One libwebsockets loop holds
 * the websocket to pulse-pushd, the heartbeat HTTP client, the pipes of
 * running commands and the signal descriptors; nothing blocks but disk.
 */
#ifndef PULSE_WORKER_H
#define PULSE_WORKER_H

#include <sys/types.h>
#include <sys/queue.h>

#include <dirent.h>
#include <stddef.h>

#include <libwebsockets.h>
#include <json-c/json.h>

#include "id.h"
#include "pulse-limits.h"

/* Every ceiling on what the server sends us, and on what we send. */
#define WORKER_MSG_MAX		(4 * 1024 * 1024) /* one websocket message */
#define WORKER_JSON_DEPTH	8		/* nesting of a server message */
#define WORKER_TYPE_MAX		64		/* bytes of a "type" value */
#define WORKER_GROUPS_MAX	64		/* WORKER_GROUPS entries */
#define WORKER_CHUNK_MAX	(16 * 1024)	/* bytes of one command_output */
#define WORKER_CHUNK_MS		100		/* output batching delay */
#define WORKER_KILL_GRACE_MS	5000		/* SIGTERM, then SIGKILL */
#define WORKER_LINGER_MS	2000		/* pipes kept after sh exits */
#define WORKER_SILENCE_MS	(3 * 25 * 1000)	/* 3 server ping intervals */
#define WORKER_STOP_MS		9000		/* SIGTERM to exit, at most */
#define WORKER_HTTP_TIMEOUT_S	10		/* one heartbeat request */
#define WORKER_ATTEMPT_MAX	1000000		/* execute_command "attempt" */
#define REDIRECT_SHOW		200		/* bytes of a Location logged */
#define ALLOW_LINE_MAX		4096		/* WORKER_ALLOW_FILE: a line */
#define ALLOW_RULES_MAX		1000		/* its rules */
#define ALLOW_FILE_MAX		(1024 * 1024)	/* its bytes */
#define PROTO_KEY_LEN		43	/* a worker key: 32 bytes, base64url */
#define PROTO_KEY_ID_MAX	32	/* bytes of a rotate_key "key_id" */
#define PROTO_STATE_MAX		16	/* bytes of a worker_state "state" */
#define ENROLL_ANSWER_MAX	4096	/* bytes of an enrollment answer */
#define URLS_MAX		8	/* PULSE_SERVER / PULSE_WS entries */
#define URL_ENTRY_MAX		1024	/* bytes of one (a whole value's cap) */
#define WORKER_HELLO_MS		10000	/* connect to the server's answer */

/* The stream indexes of a command's output. */
#define STREAM_STDOUT	0
#define STREAM_STDERR	1

/* A parsed ws://, wss://, http:// or https:// URL. */
struct url {
	int	 tls;
	char	*host;		/* without brackets for IPv6 */
	int	 port;
	char	*path;		/* always starts with '/' */
	char	*hosthdr;	/* Host header: host[:port] */
};

/* PULSE_SERVER's or PULSE_WS's URLs, in the order given. */
struct urls {
	struct url	 u[URLS_MAX];
	size_t		 n;		/* at least 1 once parsed */
};

/* One step of an execute_workflow message, checked. */
struct wf_step {
	char		*name;
	int		 type;		/* WF_STEP_* */
	char		*command;
	long long	 timeout_ms;
	long long	 duration_ms;
};
#define WF_STEP_EXECUTE	1
#define WF_STEP_WAIT	2
#define WF_STEP_PROMPT	3

/* A message from the server, decoded and checked by proto_decode. */
enum msg_type {
	MSG_UNKNOWN = 0,
	MSG_PING,
	MSG_EXECUTE_COMMAND,
	MSG_CANCEL_COMMAND,
	MSG_RESULT_ACK,
	MSG_EXECUTE_WORKFLOW,
	MSG_ROTATE_KEY,
	MSG_WORKER_STATE
};

struct msg {
	enum msg_type	 type;
	char		 type_name[WORKER_TYPE_MAX + 1];
	char		 command_id[ID_LEN + 1];
	char		 execution_id[ID_LEN + 1];
	char		 worker_id[ID_LEN + 1];	/* "" when absent */
	char		*command;
	long long	 step_index;
	long long	 attempt;	/* 0 when the server did not say */
	long long	 timeout_ms;
	char		**env;		/* "PULSE_PARAM_X=value"..., NULL-ended */
	size_t		 nenv;
	char		*env_error;	/* a bad env: why (the command is
					 * answered failed, never run) */
	char		*workflow_name;
	struct wf_step	*steps;
	size_t		 nsteps;
	char		 key[PROTO_KEY_LEN + 1];	/* rotate_key; wiped */
	char		 key_id[PROTO_KEY_ID_MAX + 1];
	char		 state[PROTO_STATE_MAX + 1];	/* worker_state */
};

/*
 * Who the agent is to the server. Every request reads it when it goes
 * out, so a rotated key is used from the next connection on.
 */
struct identity {
	char		 worker_id[ID_LEN + 1];	/* "" before enrollment */
	char		*key;		/* secret_copy(), or NULL: none */
	int		 own;		/* key is this worker's: X-Worker-Id too */
	unsigned	 gen;		/* bumped at every rotation */
};

/* What POST /api/workers/enroll answered (201), checked. */
struct enroll_answer {
	char	 worker_id[ID_LEN + 1];
	char	 key[PROTO_KEY_LEN + 1];	/* a secret: wipe it */
	char	 state[PROTO_STATE_MAX + 1];
};

/* What a finished command reports (the command_result message). */
struct result {
	const char	*command_id;
	const char	*execution_id;
	const char	*worker_id;
	int		 exited;	/* exit_code is meaningful */
	int		 exit_code;
	int		 signal;	/* 0 when none */
	int		 timed_out;
	int		 cancelled;
	int		 refused;	/* by WORKER_ALLOW_FILE: never run */
	int		 rejected;	/* a bad message (env): never run */
	const char	*message;	/* why the worker stopped it, or NULL */
	struct {
		const char	*buf;
		size_t		 len;	/* bytes kept (at most the cap) */
		unsigned long long total; /* bytes the command wrote */
		int		 truncated;
	}		 out[2];
	long long	 duration_ms;
	long long	 finished_ms;	/* wall clock, for "timestamp" */
};

/* allow.c */
struct allow;
struct allow	*allow_load(const char *, uid_t, char *, size_t);
struct allow	*allow_parse(const char *, size_t, const char *, char *,
		     size_t);
void		 allow_free(struct allow *);
size_t		 allow_rules(const struct allow *);
const char	*allow_path(const struct allow *);
const char	*allow_reason(const struct allow *);
int		 allow_match(const struct allow *, const char *);

/* proto.c */
int		 proto_decode(const char *, size_t, struct msg *, char *,
		     size_t);
void		 proto_msg_clear(struct msg *);
int		 proto_key_valid(const char *);
int		 proto_enroll_answer(const char *, size_t,
		     struct enroll_answer *, char *, size_t);
void		 proto_error_text(const char *, size_t, char *, size_t);

/* proto-build.c */
int		 proto_result_success(const struct result *);
char		*proto_result(const struct result *, size_t max, size_t *);
char		*proto_output(const char *, const char *, unsigned long long,
		     const char *, size_t, size_t *);
char		*proto_connect(const char *, const char *, char *const *,
		     size_t, const char *, char *const *, size_t, size_t *);
char		*proto_started(const char *, const char *, size_t *);
char		*proto_pong(const char *, size_t *);
char		*proto_workflow_result(const char *, const char *, int,
		     const char *, size_t *);
void		 proto_timestamp(long long, char *, size_t);
int		 proto_groups(const char *, char ***, size_t *, char *,
		     size_t);
void		 proto_groups_free(char **, size_t);
char		*proto_key_ack(const char *, const char *, size_t *);
char		*proto_enroll_request(const char *, char *const *, size_t,
		     const char *, const char *, const char *, size_t *);

/* url.c */
int		 url_parse(const char *, struct url *, char *, size_t);
void		 url_clear(struct url *);
int		 url_worker(const char *, const char *, struct url *, char *,
		     size_t);
int		 url_server(const char *, const char *, struct url *, char *,
		     size_t);
int		 urls_worker(const char *, const char *, struct urls *, char *,
		     size_t);
int		 urls_server(const char *, const char *, struct urls *, char *,
		     size_t);
void		 urls_clear(struct urls *);
int		 urls_tls(const struct urls *);

/* redirect.c */
void		 redirect_client_info(struct lws_client_connect_info *,
		     struct lws_context *, const struct url *, const char *,
		     struct lws **, void *);
void		 redirect_why(struct lws *, const char *, int, char *, size_t);

/* secret.c */
int		 secret_entry(const char *);
void		 secret_scrub_environ(void);
char		*secret_copy(const char *);
void		 secret_free(char *);
void		 secret_wipe_freed(void);

/* spool.c */
struct spool;
struct spool	*spool_open(const char *, char *, size_t);
void		 spool_free(struct spool *);
const char	*spool_dir(const struct spool *);
int		 spool_worker_id(struct spool *, char [ID_LEN + 1]);
int		 spool_worker_id_load(struct spool *, char [ID_LEN + 1]);
int		 spool_worker_id_store(struct spool *, const char *);
int		 spool_key_load(struct spool *, char [PROTO_KEY_LEN + 1]);
int		 spool_key_store(struct spool *, const char *);
int		 spool_started(struct spool *, const char *);
int		 spool_start(struct spool *, const char *);
int		 spool_put(struct spool *, const char *, const char *, size_t);
int		 spool_put_lazy(struct spool *, const char *, const char *,
		     size_t);
int		 spool_sync(struct spool *, char (*)[ID_LEN + 1], size_t);
int		 spool_has(struct spool *, const char *);
char		*spool_get(struct spool *, const char *, size_t *);
int		 spool_remove(struct spool *, const char *);
int		 spool_list(struct spool *, char ***, size_t *);
void		 dir_ids(DIR *, const char *, char ***, size_t *);
void		 spool_list_free(char **, size_t);
int		 spool_compact(struct spool *, long long);

/* runner.c */
struct runner;
struct task;

/* What the runner tells its owner; every hook is called from the loop. */
struct runner_hooks {
	/* Before fork: -1 refuses to start the task (it finishes failed). */
	int	(*prestart)(struct task *, void *);
	void	(*started)(struct task *, void *);
	void	(*output)(struct task *, void *);
	/* The task is over; the runner frees it when this returns. */
	void	(*finished)(struct task *, const struct result *, void *);
	void	 *arg;
};

struct runner	*runner_new(struct lws_context *, struct lws_vhost *, int,
		     size_t,
		     const struct runner_hooks *);
void		 runner_free(struct runner *);
struct task	*runner_submit(struct runner *, const char *, const char *,
		     const char *, long long, char *const *, void *);
struct task	*runner_find(struct runner *, const char *);
int		 runner_cancel(struct runner *, const char *);
void		 runner_stop_all(struct runner *, const char *);
size_t		 runner_count(struct runner *);
size_t		 runner_running(struct runner *);
int		 runner_idle(struct runner *);
size_t		 runner_ids(struct runner *, char ***);
struct task	*runner_next(struct runner *, struct task *);
const char	*task_command_id(const struct task *);
const char	*task_execution_id(const struct task *);
void		*task_owner(const struct task *);
const char	*task_output(const struct task *, int, size_t *);
size_t		 task_sent(const struct task *, int);
void		 task_set_sent(struct task *, int, size_t);
pid_t		 task_pid(const struct task *);

/* runner-keep.c */
int		 runner_keep(struct runner *, const char *);
void		 runner_keep_forget(struct runner *, const char *);
int		 runner_kept_ids(struct runner *, char ***, size_t *);
int		 runner_kept(struct runner *, const char *, struct result *,
		     char [ID_LEN + 1], char *[2]);

/* runner-output.c */
int		 runner_callback(struct lws *, enum lws_callback_reasons,
		     void *, void *, size_t);

/* conn.c */
struct conn;
struct conn_hooks {
	void	(*connected)(void *);
	void	(*message)(const char *, size_t, void *);
	void	(*room)(void *);	/* the send queue drained */
	void	 *arg;
};
#define CONN_KEEP	0x1	/* queued across a reconnect */
#define CONN_FRONT	0x2	/* before everything queued */

struct conn	*conn_new(struct lws_context *, const struct urls *,
		     const struct identity *, const struct conn_hooks *);
void		 conn_free(struct conn *);
void		 conn_start(struct conn *);
void		 conn_stop(struct conn *);
int		 conn_up(const struct conn *);
size_t		 conn_index(const struct conn *);
int		 conn_closed(const struct conn *);
int		 conn_send(struct conn *, const char *, size_t, int);
size_t		 conn_queued(const struct conn *);
int		 conn_callback(struct lws *, enum lws_callback_reasons,
		     void *, void *, size_t);

/* http.c */
struct http;
/* How a request ended: an HTTP status and the answer, or an error. */
struct http_answer {
	int		 status;	/* 0 when error is set */
	const char	*body;		/* NUL-terminated, at most max bytes */
	size_t		 len;
	const char	*error;		/* no answer: why, or NULL */
	unsigned	 gen;		/* the identity's gen it was sent with */
};
struct http	*http_new(struct lws_context *, const struct url *, size_t);
void		 http_free(struct http *);
void		 http_url(struct http *, const struct url *);
int		 http_busy(const struct http *);
int		 http_post(struct http *, const char *, size_t,
		     const struct identity *,
		     void (*)(const struct http_answer *, void *), void *);
int		 http_callback(struct lws *, enum lws_callback_reasons,
		     void *, void *, size_t);

/* heartbeat.c */
struct heartbeat;
struct heartbeat *heartbeat_new(struct lws_context *, const struct urls *,
		     const struct identity *, int,
		     char *(*)(void *, size_t *), int (*)(void *), void *);
void		 heartbeat_free(struct heartbeat *);
void		 heartbeat_start(struct heartbeat *);

/* enroll.c */
#define ENROLL_EXIT_REFUSED	78	/* EX_CONFIG: the server said no */
#define ENROLL_OK		1	/* enroll_done(): id and key stored */
#define ENROLL_REFUSED		2	/* the server said no (logged) */
#define ENROLL_FAILED		3	/* the key could not be stored */
struct enroll_request {
	const char	*name;
	char *const	*groups;
	size_t		 ngroups;
	const char	*token;		/* PULSE_ENROLL_TOKEN, or "" */
	const char	*shared_key;	/* WORKER_API_KEY, or "" */
};
struct enroll;
struct config;
int		 enroll_identity(struct spool *, const struct config *,
		     struct identity *);
struct enroll	*enroll_new(struct lws_context *, const struct urls *,
		     struct spool *, const struct enroll_request *,
		     struct identity *);
void		 enroll_free(struct enroll *);
int		 enroll_done(const struct enroll *);

/* metrics.c */
struct metrics;
struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);
struct json_object *metrics_collect(struct metrics *);

/* agent.c */
struct agent;
struct agent_config {
	const char	*worker_id;
	const char	*name;
	char *const	*groups;
	size_t		 ngroups;
	int		 max_tasks;
	size_t		 output_cap;
	const struct urls *ws_urls;	/* the websocket's, in order */
	const struct urls *hb_urls;	/* PULSE_SERVER's, for heartbeats */
	struct identity	*ident;		/* rotate_key changes its key */
	int		 heartbeat_s;
	const struct allow *allow;	/* WORKER_ALLOW_FILE, or NULL */
};
struct agent	*agent_new(struct lws_context *, struct lws_vhost *,
		     const struct agent_config *, struct spool *);
void		 agent_free(struct agent *);
void		 agent_start(struct agent *);
void		 agent_stop(struct agent *);
int		 agent_done(struct agent *);
char		*agent_heartbeat_body(void *, size_t *);
void		 agent_close(struct agent *);
int		 agent_closed(struct agent *);

#endif
