/*
 * Unit tests for the runner (worker/runner*.c) in a real lws loop, with real
 * processes: output cap with the true size, timeouts that kill the whole
 * group (a background child, and one that ignores SIGTERM), FIFO queueing
 * under MAX_CONCURRENT_TASKS, cancel, binary output, what a child
 * inherits, and the command's text off every command line.
 */
#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "worker.h"
#include "xmalloc.h"
#include "test.h"

#define MAXDONE	16
/* Waits end here only for a hung test: a result's time is never checked. */
#define DEADLINE_MS	120000
#define EID_T	"6f1c2a8e-5b3d-4e7f-9a01-23456789abcd"
#define CID_T	"0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3"

struct done {
	char		 tag[32];
	char		 cid[ID_LEN + 1], eid[ID_LEN + 1];
	struct result	 r;
	char		*out[2];
	long long	 at_ms;
};

static struct lws_context	*ctx;
static struct runner		*runner;
static struct done		 done[MAXDONE];
static int			 ndone, nrunning, maxrunning, refuse;
/* What the keeper had recorded when a kept task finished. */
static struct result		 kept;
static char			 kept_exec[ID_LEN + 1], *kept_bufs[2];
static int			 kept_rc = -2;
static char			 order[64];
static lws_sorted_usec_list_t	 sul_tick;

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
hook_prestart(struct task *t, void *arg)
{
	(void)t;
	(void)arg;
	return refuse ? -1 : 0;
}

static void
hook_started(struct task *t, void *arg)
{
	(void)arg;
	strncat(order, (const char *)task_owner(t), 1);
	if (++nrunning > maxrunning)
		maxrunning = nrunning;
}

static void
hook_finished(struct task *t, const struct result *r, void *arg)
{
	struct done	*d = &done[ndone++ % MAXDONE];
	int		 i;

	(void)arg;
	if (task_pid(t) != 0)
		nrunning--;
	snprintf(d->tag, sizeof(d->tag), "%s", (const char *)task_owner(t));
	d->r = *r;
	snprintf(d->cid, sizeof(d->cid), "%s", r->command_id);
	snprintf(d->eid, sizeof(d->eid), "%s", r->execution_id);
	d->r.command_id = d->cid;
	d->r.execution_id = d->eid;
	for (i = 0; i < 2; i++) {
		d->out[i] = xmalloc(r->out[i].len + 1);
		if (r->out[i].len > 0)
			memcpy(d->out[i], r->out[i].buf, r->out[i].len);
		d->out[i][r->out[i].len] = '\0';
		d->r.out[i].buf = d->out[i];
	}
	d->r.message = NULL;
	d->at_ms = now_ms();
	/* The files are forgotten once this returns: read them now. */
	if (strcmp(d->tag, "keep") == 0 || strcmp(d->tag, "keepto") == 0) {
		free(kept_bufs[0]);
		free(kept_bufs[1]);
		kept_rc = runner_kept(runner, r->command_id, &kept, kept_exec,
		    kept_bufs);
	}
}

static void
tick(lws_sorted_usec_list_t *sul)
{
	lws_sul_schedule(ctx, 0, sul, tick, 20 * LWS_US_PER_MS);
}

/* Run the loop until n tasks have finished, or ms have passed. */
static int
run_until(int n, long long ms)
{
	long long	 end = now_ms() + ms;

	while (ndone < n && now_ms() < end)
		lws_service(ctx, 0);
	return ndone >= n;
}

static struct done *
find(const char *tag)
{
	int	 i;

	for (i = 0; i < ndone && i < MAXDONE; i++)
		if (strcmp(done[i].tag, tag) == 0)
			return &done[i];
	return NULL;
}

static void
reset(void)
{
	int	 i;

	for (i = 0; i < ndone && i < MAXDONE; i++) {
		free(done[i].out[0]);
		free(done[i].out[1]);
	}
	memset(done, 0, sizeof(done));
	ndone = nrunning = maxrunning = 0;
	order[0] = '\0';
}

/* A command's output as TAP comments: every line after "# ". */
static void
diag(const char *s)
{
	const char	*nl;

	while (*s != '\0') {
		nl = strchr(s, '\n');
		printf("# %.*s\n", nl != NULL ? (int)(nl - s) :
		    (int)strlen(s), s);
		s = nl != NULL ? nl + 1 : s + strlen(s);
	}
}

/* The state letter of /proc/PID/stat, or 0. */
static char
pid_state(pid_t pid)
{
	char	 path[64], buf[512], *p;
	FILE	*f;
	size_t	 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses. */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return 0;
	return p[2];
}

static int
pid_gone(pid_t pid, long long ms)
{
	long long	 end = now_ms() + ms;

	while (now_ms() < end) {
		if (kill(pid, 0) == -1 && errno == ESRCH)
			return 1;
		/*
		 * Dead but not yet reaped: the orphan's new parent is this
		 * machine's init, which reaps when it gets to it (seconds,
		 * under load). A zombie has been killed all the same.
		 */
		if (pid_state(pid) == 'Z')
			return 1;
		usleep(20000);
	}
	return 0;
}

/* The owner pointer carries a tag naming the task. */
static struct task *
submit(const char *id, const char *exec, const char *cmd, long long ms,
    const char *tag)
{
	return runner_submit(runner, id, exec, cmd, ms, NULL,
	    (void *)(uintptr_t)tag);
}

static const struct lws_protocols protocols[] = {
	{ "pulse-pipe", runner_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

int
main(void)
{
	struct lws_context_creation_info info;
	struct runner_hooks	 hooks = { hook_prestart, hook_started, NULL,
	    hook_finished, NULL };
	struct lws_vhost	*vh;
	struct done		*d;
	char			 pidfile[64], buf[256], *json, *p;
	size_t			 len;
	pid_t			 bg;
	int			 pids[3];
	FILE			*f;
	long long		 t0;

	setenv("WORKER_API_KEY", "s3cret", 1);
	/* Parameters the worker was started with: never the command's. */
	setenv("PULSE_PARAM_OLD", "from-the-worker", 1);
	setenv("PULSE_PARAM_STRAY", "from-the-worker", 1);
	lws_set_log_level(LLL_ERR, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.fd_limit_per_thread = 128;
	if ((ctx = lws_create_context(&info)) == NULL)
		return 1;
	vh = lws_get_vhost_by_name(ctx, "default");
	lws_sul_schedule(ctx, 0, &sul_tick, tick, 1);
	runner = runner_new(ctx, vh, 2, 1024, &hooks);

	/* Basic run: exit code, both streams, stdin is /dev/null. */
	submit(NULL, NULL, "cat; echo out; echo err >&2; exit 3",
	    5000, "a");
	test_cond("a command finishes", run_until(1, DEADLINE_MS));
	d = find("a");
	test_cond("exit code, stdout, stderr", d != NULL && d->r.exited &&
	    d->r.exit_code == 3 && strcmp(d->out[0], "out\n") == 0 &&
	    strcmp(d->out[1], "err\n") == 0 && !d->r.timed_out &&
	    d->r.signal == 0 && !proto_result_success(&d->r));
	reset();

	/* Output over the cap: kept up to it, counted to the end. */
	submit(NULL, NULL, "head -c 3000000 /dev/zero; "
	    "echo done >&2", 10000, "cap");
	test_cond("a command writing 3 MB past a 1 KiB cap is not blocked",
	    run_until(1, DEADLINE_MS));
	d = find("cap");
	test_cond("kept = cap, true size counted, truncated", d != NULL &&
	    d->r.out[0].len == 1024 && d->r.out[0].total == 3000000 &&
	    d->r.out[0].truncated && d->r.exited && d->r.exit_code == 0 &&
	    strcmp(d->out[1], "done\n") == 0 && !d->r.out[1].truncated);
	reset();

	/* Timeout: the whole group goes, the background child included. */
	snprintf(pidfile, sizeof(pidfile), "/tmp/test-worker-runner.%d",
	    (int)getpid());
	snprintf(buf, sizeof(buf), "sleep 100 & echo $! > %s; sleep 100",
	    pidfile);
	t0 = now_ms();
	/* 1.5 s: long enough for the shell to note its child's pid even
	 * on a loaded machine (300 ms was not, once, under distcheck). */
	submit(NULL, NULL, buf, 1500, "to");
	test_cond("timeout ends the command", run_until(1, DEADLINE_MS));
	d = find("to");
	test_cond("timed out: no exit code, SIGTERM, failure", d != NULL &&
	    d->r.timed_out && !d->r.exited && d->r.signal == SIGTERM &&
	    !proto_result_success(&d->r) && d->at_ms - t0 >= 1500);
	bg = 0;
	if ((f = fopen(pidfile, "r")) != NULL) {
		if (fscanf(f, "%d", &bg) != 1)
			bg = 0;
		fclose(f);
	}
	unlink(pidfile);
	test_cond("the background sleep was killed too", bg > 0 &&
	    pid_gone(bg, DEADLINE_MS));
	reset();

	/* A group that ignores SIGTERM gets SIGKILL 5 s later. */
	snprintf(buf, sizeof(buf), "trap '' TERM; sleep 100 & echo $! > %s; "
	    "sleep 100", pidfile);
	t0 = now_ms();
	submit(NULL, NULL, buf, 200, "kill");
	test_cond("SIGTERM ignored: still ends", run_until(1, DEADLINE_MS));
	d = find("kill");
	test_cond("by SIGKILL after the grace period", d != NULL &&
	    d->r.timed_out && d->r.signal == SIGKILL &&
	    d->at_ms - t0 >= 200 + WORKER_KILL_GRACE_MS - 100);
	bg = 0;
	if ((f = fopen(pidfile, "r")) != NULL) {
		if (fscanf(f, "%d", &bg) != 1)
			bg = 0;
		fclose(f);
	}
	unlink(pidfile);
	test_cond("its background child too", bg > 0 &&
	    pid_gone(bg, DEADLINE_MS));
	reset();

	/* Five commands, two slots: FIFO, never more than two at once. */
	submit(NULL, NULL, "sleep 0.3", 5000, "1");
	submit(NULL, NULL, "sleep 0.3", 5000, "2");
	submit(NULL, NULL, "sleep 0.3", 5000, "3");
	submit(NULL, NULL, "sleep 0.3", 5000, "4");
	submit(NULL, NULL, "sleep 0.3", 5000, "5");
	test_cond("queued: 2 running, 3 waiting", runner_running(runner) == 2 &&
	    runner_count(runner) == 5);
	test_cond("all five finish", run_until(5, DEADLINE_MS));
	test_cond("never more than two at once", maxrunning == 2);
	test_cond("started in FIFO order", strcmp(order, "12345") == 0);
	reset();

	/* Cancel: a running one is killed, a queued one never starts. */
	submit("11111111-1111-4111-8111-000000000001", NULL,
	    "sleep 100", 60000, "c1");
	submit("11111111-1111-4111-8111-000000000002", NULL,
	    "sleep 100", 60000, "c2");
	submit("11111111-1111-4111-8111-000000000003", NULL,
	    "echo never", 60000, "c3");
	test_cond("cancel a queued command",
	    runner_cancel(runner, "11111111-1111-4111-8111-000000000003") == 0 &&
	    (d = find("c3")) != NULL && d->r.cancelled && d->out[0][0] == '\0');
	test_cond("cancel a running one",
	    runner_cancel(runner, "11111111-1111-4111-8111-000000000001") == 0 &&
	    runner_cancel(runner, "11111111-1111-4111-8111-000000000002") == 0 &&
	    run_until(3, DEADLINE_MS) && (d = find("c1")) != NULL &&
	    d->r.cancelled &&
	    d->r.signal == SIGTERM && !proto_result_success(&d->r));
	test_cond("cancel an unknown id", runner_cancel(runner,
	    "11111111-1111-4111-8111-000000000009") == -1);
	reset();

	/* Bytes that are not UTF-8 come back exactly (as *_b64). */
	submit("11111111-1111-4111-8111-000000000004",
	    "22222222-2222-4222-8222-222222222222",
	    "printf 'a\\377\\376\\000b'", 5000, "bin");
	test_cond("binary output", run_until(1, DEADLINE_MS) &&
	    (d = find("bin")) != NULL && d->r.out[0].len == 5 &&
	    memcmp(d->out[0], "a\377\376\000b", 5) == 0);
	d->r.worker_id = "33333333-3333-4333-8333-333333333333";
	json = proto_result(&d->r, WORKER_MSG_MAX, &len);
	test_cond("result has stdout_b64 of the exact bytes", json != NULL &&
	    (p = strstr(json, "\"stdout_b64\":\"")) != NULL &&
	    strncmp(p + 14, "Yf/+AGI=", 8) == 0);
	free(json);
	reset();

	/* What the child inherits: nothing but 0-2, no mask, no secrets. */
	submit(NULL, NULL, "ls /proc/self/fd | tr '\\n' ' '; "
	    "grep -E '^Sig(Blk|Ign)' /proc/self/status | tr '\\n' ' '; "
	    "echo ${WORKER_API_KEY-unset}; echo $$ $(ps -o sid= -o pgid= -p $$)",
	    5000,
	    "env");
	test_cond("child environment", run_until(1, DEADLINE_MS) &&
	    (d = find("env")) != NULL);
	diag(d->out[0]);
	test_cond("only fds 0-2 (3 is ls's own)",
	    strncmp(d->out[0], "0 1 2 3 SigBlk", 14) == 0);
	test_cond("empty signal mask, nothing ignored", strstr(d->out[0],
	    "SigBlk:\t0000000000000000 SigIgn:\t0000000000000000") != NULL);
	test_cond("WORKER_API_KEY not passed on", strstr(d->out[0],
	    " unset\n") != NULL);
	p = strstr(d->out[0], "unset\n");
	test_cond("own session and process group", p != NULL &&
	    sscanf(p + 6, "%d %d %d", &pids[0], &pids[1], &pids[2]) == 3 &&
	    pids[0] == pids[1] && pids[1] == pids[2]);
	reset();

	/*
	 * The text goes to sh on fd 3, not on its command line (readable by
	 * every local user in /proc/PID/cmdline); it behaves as under sh -c.
	 */
	submit(NULL, NULL, "tr '\\0' ' ' < /proc/$$/cmdline; echo; "
	    ": marker-7e1f; echo \"$0\"; "
	    "[ -e /dev/fd/3 ] && echo fd3-open || echo fd3-closed\n"
	    "no-such-command-9f", 5000, "argv");
	test_cond("command line ran", run_until(1, 5000) &&
	    (d = find("argv")) != NULL && d->r.exited &&
	    d->r.exit_code == 127);
	if (d != NULL)
		printf("# %s", d->out[0]);
	test_cond("the shell's cmdline holds none of the command's text",
	    d != NULL && strncmp(d->out[0], "sh -c . /dev/fd/3 \n", 19) == 0 &&
	    strstr(d->out[0], "marker") == NULL);
	test_cond("$0 is sh and line numbers are the command's own",
	    d != NULL && strstr(d->out[0], "\nsh\n") != NULL &&
	    strncmp(d->out[1], "sh: 2: ", 7) == 0);
	test_cond("fd 3 is closed before the command's first word",
	    d != NULL && strstr(d->out[0], "fd3-closed\n") != NULL);
	reset();
	submit(NULL, NULL, "echo before; if", 5000, "syntax");
	test_cond("a syntax error: exit 2, nothing run, as sh -c",
	    run_until(1, 5000) && (d = find("syntax")) != NULL &&
	    d->r.exited && d->r.exit_code == 2 && d->out[0][0] == '\0' &&
	    strstr(d->out[1], "Syntax error") != NULL);
	reset();
	{
		/* Past a pipe's 64 KiB: a memfd has no such bound. */
		size_t	 big = WF_COMMAND_MAX;
		char	*cmd = xmalloc(big + 1);

		memset(cmd, ' ', big);
		memcpy(cmd, ": ", 2);
		memcpy(cmd + big - 20, "\necho big-ok; exit 4", 20);
		cmd[big] = '\0';
		submit(NULL, NULL, cmd, 5000, "big");
		free(cmd);
	}
	test_cond("a command of WF_COMMAND_MAX bytes runs whole",
	    run_until(1, 5000) && (d = find("big")) != NULL &&
	    d->r.exited && d->r.exit_code == 4 &&
	    strcmp(d->out[0], "big-ok\n") == 0);
	reset();

	/*
	 * Who the command is: the submitter's PULSE_* variables reach it;
	 * ones in the worker's own environment never do.
	 */
	setenv("PULSE_ATTEMPT", "99", 1);
	setenv("PULSE_COMMAND_ID", "stale", 1);
	{
		char	*env[] = { (char *)"PULSE_EXECUTION_ID=" EID_T,
		    (char *)"PULSE_STEP_INDEX=7",
		    (char *)"PULSE_WORKER_NAME=w-1", NULL };

		runner_submit(runner, NULL, NULL, "echo \"$PULSE_EXECUTION_ID:"
		    "$PULSE_STEP_INDEX:${PULSE_ATTEMPT-none}:"
		    "${PULSE_COMMAND_ID-none}:$PULSE_WORKER_NAME\"", 5000, env,
		    (void *)(uintptr_t)"ident");
	}
	test_cond("identity variables reach the command",
	    run_until(1, DEADLINE_MS) && (d = find("ident")) != NULL &&
	    strcmp(d->out[0], EID_T ":7:none:none:w-1\n") == 0);
	if (d != NULL)
		diag(d->out[0]);
	unsetenv("PULSE_ATTEMPT");
	unsetenv("PULSE_COMMAND_ID");
	reset();

	/*
	 * Parameters (issue 14): the message's env, decoded as the agent
	 * decodes it, reaches the command byte for byte, whatever sh would
	 * make of the text in a command line: the value is never parsed.
	 */
	{
		static const char want[] = "it's \"$(touch /tmp/pulse-no)\" "
		    "`id` ${HOME} $((1+1)) \\n\\ 'q' ; | & * ~ #\n"
		    "second line\n\n  \ttabbed  ";
		static const char wire[] = "{\"type\":\"execute_command\","
		    "\"command_id\":\"" CID_T "\",\"execution_id\":\"" EID_T
		    "\",\"command\":\"printf %s \\\"$PULSE_PARAM_X\\\"\","
		    "\"env\":{\"PULSE_PARAM_X\":\"it's \\\"$(touch "
		    "/tmp/pulse-no)\\\" `id` ${HOME} $((1+1)) \\\\n\\\\ "
		    "'q' ; | & * ~ #\\nsecond line\\n\\n  \\ttabbed  \"}}";
		struct msg	 m;
		char		 err[256];

		unlink("/tmp/pulse-no");
		test_cond("a command message with env decodes",
		    proto_decode(wire, strlen(wire), &m, err,
		    sizeof(err)) == 0 && m.env_error == NULL && m.nenv == 1);
		runner_submit(runner, NULL, NULL, m.command, 5000, m.env,
		    (void *)(uintptr_t)"param");
		proto_msg_clear(&m);
		test_cond("printf %s \"$PULSE_PARAM_X\" prints the value "
		    "exactly: quotes, $(), backticks, newlines, spaces",
		    run_until(1, DEADLINE_MS) && (d = find("param")) != NULL &&
		    d->r.exited && d->r.exit_code == 0 &&
		    d->r.out[0].len == strlen(want) &&
		    memcmp(d->out[0], want, strlen(want)) == 0);
		if (d != NULL)
			diag(d->out[0]);
		test_cond("nothing in the value ran", access("/tmp/pulse-no",
		    F_OK) == -1);
		reset();
	}
	{
		char	*env[5] = { (char *)"PULSE_PARAM_OLD=from-the-server" };
		size_t	 i, pre = strlen("PULSE_PARAM_BIGn=");

		/* Three values of 64 KiB: the most one value may be. */
		for (i = 1; i <= 3; i++) {
			env[i] = xmalloc(pre + PULSE_ENV_VALUE_MAX + 1);
			snprintf(env[i], pre + 1, "PULSE_PARAM_BIG%zu=", i);
			memset(env[i] + pre, (int)('a' + i), PULSE_ENV_VALUE_MAX);
			env[i][pre + PULSE_ENV_VALUE_MAX] = '\0';
		}
		env[4] = NULL;
		runner_submit(runner, NULL, NULL, "env | grep -c "
		    "'^PULSE_PARAM_OLD='; printf '%s|%s|' \"$PULSE_PARAM_OLD\" "
		    "\"${PULSE_PARAM_STRAY-unset}\"; printf %s "
		    "\"$PULSE_PARAM_BIG1$PULSE_PARAM_BIG2$PULSE_PARAM_BIG3\" | "
		    "wc -c; printf %s \"$PULSE_PARAM_BIG2\" | "
		    "tr -d c | wc -c; printf %s \"$PULSE_PARAM_BIG3\" | wc -c",
		    5000, env, (void *)(uintptr_t)"override");
		for (i = 1; i <= 3; i++)
			free(env[i]);
		test_cond("the server's PULSE_PARAM_OLD replaces the worker's "
		    "(once), the worker's own PULSE_PARAM_STRAY is unset, "
		    "three 64 KiB values arrive whole",
		    run_until(1, DEADLINE_MS) &&
		    (d = find("override")) != NULL &&
		    strcmp(d->out[0], "1\nfrom-the-server|unset|196608\n0\n"
		    "65536\n")
		    == 0);
		if (d != NULL)
			diag(d->out[0]);
		reset();
	}

	/*
	 * The keeper (a command that must outlive the agent): output and
	 * exit code reach the runner as before, the same bytes and end are
	 * recorded in the keep directory, and the files go once reported.
	 */
	{
		char	 kdir[64], path[128];
		char	**ids;
		size_t	 nids;

		snprintf(kdir, sizeof(kdir), "/tmp/test-keep-%d", (int)getpid());
		test_cond("runner_keep creates its directory",
		    runner_keep(runner, kdir) == 0);
		runner_submit(runner, CID_T, EID_T, "printf 'out\\n'; "
		    "head -c 3000 /dev/zero | tr '\\0' x; echo err >&2; "
		    "echo $$ $(ps -o sid= -o pgid= -p $$) >&2; exit 3", 5000,
		    NULL, (void *)(uintptr_t)"keep");
		test_cond("kept command finished", run_until(1, DEADLINE_MS) &&
		    (d = find("keep")) != NULL);
		test_cond("its result through the keeper: exit 3, output "
		    "capped at 1024 of 3004 bytes", d != NULL && d->r.exited &&
		    d->r.exit_code == 3 && d->r.out[0].total == 3004 &&
		    d->r.out[0].len == 1024 &&
		    strncmp(d->out[0], "out\nxxx", 7) == 0 &&
		    strncmp(d->out[1], "err\n", 4) == 0);
		test_cond("the command is in the keeper's session and group",
		    d != NULL && (p = strchr(d->out[1], '\n')) != NULL &&
		    sscanf(p + 1, "%d %d %d", &pids[0], &pids[1], &pids[2]) ==
		    3 && pids[1] == pids[2] && pids[0] != pids[1]);
		test_cond("the keeper recorded the same end and bytes",
		    kept_rc == 0 && kept.exited && kept.exit_code == 3 &&
		    kept.out[0].total == 3004 && kept.out[0].len == 1024 &&
		    kept.out[0].truncated && memcmp(kept.out[0].buf,
		    d->out[0], 1024) == 0 && kept.out[1].total ==
		    d->r.out[1].total && strcmp(kept_exec, EID_T) == 0);
		snprintf(path, sizeof(path), "%s/%s.exit", kdir, CID_T);
		test_cond("its files go once the result is reported",
		    access(path, F_OK) == -1 &&
		    runner_kept_ids(runner, &ids, &nids) == 0 && nids == 0);
		spool_list_free(ids, nids);
		reset();

		/*
		 * What a kept command inherits: the keeper ignores SIGTERM
		 * and holds its files, the command must see none of that.
		 */
		runner_submit(runner, CID_T, EID_T, "ls /proc/self/fd | "
		    "tr '\\n' ' '; grep -E '^Sig(Blk|Ign)' /proc/self/status "
		    "| tr '\\n' ' '", 5000, NULL, (void *)(uintptr_t)"kenv");
		test_cond("kept command: only fds 0-2, empty mask, nothing "
		    "ignored", run_until(1, DEADLINE_MS) && (d = find("kenv")) !=
		    NULL && strncmp(d->out[0], "0 1 2 3 SigBlk:\t"
		    "0000000000000000 SigIgn:\t0000000000000000", 56) == 0);
		reset();

		/* Under a keeper too: the text is on nobody's cmdline. */
		runner_submit(runner, CID_T, EID_T, "tr '\\0' ' ' < "
		    "/proc/$$/cmdline; echo; tr '\\0' ' ' < /proc/$PPID/cmdline;"
		    " : marker-c3d2", 5000, NULL, (void *)(uintptr_t)"kargv");
		test_cond("kept command: neither the shell's nor the keeper's "
		    "cmdline holds its text", run_until(1, 5000) &&
		    (d = find("kargv")) != NULL && d->r.exited &&
		    strncmp(d->out[0], "sh -c . /dev/fd/3 \n", 19) == 0 &&
		    strstr(d->out[0], "marker") == NULL);
		reset();

		/* Stopped at its deadline: the keeper reports that too. */
		runner_submit(runner, CID_T, EID_T, "sleep 30", 300, NULL,
		    (void *)(uintptr_t)"keepto");
		test_cond("kept command timed out, killed by SIGTERM",
		    run_until(1, DEADLINE_MS) && (d = find("keepto")) != NULL &&
		    d->r.timed_out && !d->r.exited && d->r.signal == SIGTERM);
		test_cond("the keeper recorded a signal, no exit code",
		    kept_rc == 0 && !kept.exited && kept.signal == SIGTERM);
		reset();

		/* A record left by a keeper whose agent died: read back. */
		snprintf(path, sizeof(path), "%s/%s.exit", kdir, CID_T);
		f = fopen(path, "w");
		fprintf(f, "%s 1 0 0 5 0 42\n", EID_T);
		fclose(f);
		snprintf(path, sizeof(path), "%s/%s.out", kdir, CID_T);
		f = fopen(path, "w");
		fputs("hello", f);
		fclose(f);
		test_cond("a left record is listed",
		    runner_kept_ids(runner, &ids, &nids) == 0 && nids == 1 &&
		    strcmp(ids[0], CID_T) == 0);
		spool_list_free(ids, nids);
		free(kept_bufs[0]);
		free(kept_bufs[1]);
		test_cond("... and read: exit 0, its 5 bytes, its duration",
		    runner_kept(runner, CID_T, &kept, kept_exec, kept_bufs) ==
		    0 && kept.exited && kept.exit_code == 0 &&
		    kept.out[0].len == 5 && memcmp(kept.out[0].buf, "hello",
		    5) == 0 && kept.out[1].len == 0 && kept.duration_ms == 42);
		free(kept_bufs[0]);
		free(kept_bufs[1]);
		kept_bufs[0] = kept_bufs[1] = NULL;
		runner_keep_forget(runner, CID_T);
		test_cond("forgotten", runner_kept(runner, CID_T, &kept,
		    kept_exec, kept_bufs) == -1);
		rmdir(kdir);
	}

	/* A refused start (journal unwritable) is reported, never run. */
	refuse = 1;
	submit(NULL, NULL, "touch /tmp/never", 5000, "ref");
	test_cond("refused start", (d = find("ref")) != NULL &&
	    !d->r.exited && d->r.duration_ms == 0 && runner_count(runner) == 0);
	refuse = 0;
	reset();

	/* Stopping: queued ones end unstarted, running ones are killed. */
	submit(NULL, NULL, "sleep 100", 60000, "s1");
	submit(NULL, NULL, "sleep 100", 60000, "s2");
	submit(NULL, NULL, "sleep 100", 60000, "s3");
	runner_stop_all(runner, "stopping");
	test_cond("stop all ends all three", run_until(3, DEADLINE_MS) &&
	    runner_count(runner) == 0);
	/* A SIGKILL may still be due to a group whose task is over. */
	t0 = now_ms();
	while (!runner_idle(runner) && now_ms() - t0 < DEADLINE_MS)
		lws_service(ctx, 0);
	test_cond("then idle, and taking no more work", runner_idle(runner) &&
	    submit(NULL, NULL, "true", 1000, "late") == NULL);
	reset();

	runner_free(runner);
	lws_sul_cancel(&sul_tick);
	lws_context_destroy(ctx);
	test_report();
}
