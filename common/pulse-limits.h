/*
 * Every ceiling on untrusted input, in one place (curl's DYN_*, redis's
 * REDIS_INLINE_MAX_SIZE). A reader that meets one stops and reports it.
 */
#ifndef PULSE_LIMITS_H
#define PULSE_LIMITS_H

/*
 * Names stored in VARCHAR(255) columns of utf8mb4 tables (workflow, step,
 * worker, group and user names, prompt options and answers): MariaDB
 * counts characters there, so these limits count characters too (code
 * points, *_CHARS), checked by pjson_check_name(). *_MAX is the same limit
 * in bytes, UTF8_BYTES(*_CHARS) (4 bytes a character at most), for
 * buffers and for the bound checked before counting.
 */
#define UTF8_BYTES(chars)	(4 * (chars))
#define NAME_CHARS		255		/* VARCHAR(255) */

/* HTTP requests reaching pulse-api. */
#define API_BODY_MAX		(1024 * 1024)	/* bytes; 413 past it */
#define API_JSON_DEPTH		32		/* nesting of any request body */
#define API_PATH_MAX		2048		/* REQUEST_URI bytes */
#define API_QUERY_MAX		1024		/* QUERY_STRING bytes */
#define API_HEADER_MAX		4096		/* any single header value */

/* Identity as set by nginx from the SSO answer. */
#define USER_NAME_CHARS		NAME_CHARS
#define USER_NAME_MAX		UTF8_BYTES(USER_NAME_CHARS)
#define USER_DISPLAY_CHARS	NAME_CHARS
#define USER_DISPLAY_MAX	UTF8_BYTES(USER_DISPLAY_CHARS)
#define USER_EMAIL_CHARS	NAME_CHARS
#define USER_EMAIL_MAX		UTF8_BYTES(USER_EMAIL_CHARS)
#define USER_GROUPS_MAX		4096
#define USER_GROUPS_COUNT	64

/* Workflows. */
#define WF_NAME_CHARS		NAME_CHARS
#define WF_NAME_MAX		UTF8_BYTES(WF_NAME_CHARS)
#define WF_DESCRIPTION_MAX	(16 * 1024)
#define WF_DEFINITION_MAX	(512 * 1024)	/* serialized JSON bytes */
#define WF_STEPS_MAX		256
#define PULSE_PARALLEL_STEPS_MAX 16	/* steps in one parallel group */
/*
 * Step indexes are flat (a group's steps after it, the on_failure steps
 * after the main ones): the highest index a plan can have, plus one.
 */
#define WF_PLAN_MAX		(2 * WF_STEPS_MAX * (PULSE_PARALLEL_STEPS_MAX + 1))
#define WF_STEP_NAME_CHARS	NAME_CHARS
#define WF_STEP_NAME_MAX	UTF8_BYTES(WF_STEP_NAME_CHARS)
#define WF_COMMAND_MAX		(64 * 1024)
#define WF_TARGETS_MAX		256
#define WF_TARGET_CHARS		NAME_CHARS	/* worker or group name */
#define WF_TARGET_MAX		UTF8_BYTES(WF_TARGET_CHARS)
#define WF_MESSAGE_MAX		(4 * 1024)
#define WF_OPTIONS_MAX		32
#define WF_OPTION_CHARS		NAME_CHARS	/* stored as response */
#define WF_OPTION_MAX		UTF8_BYTES(WF_OPTION_CHARS)
#define WF_TIMEOUT_DEFAULT	300000		/* ms */
#define WF_TIMEOUT_MAX		(7 * 24 * 3600 * 1000LL)	/* ms */
#define WF_DURATION_MAX		(7 * 24 * 3600 * 1000LL)	/* ms */

/* The condition language (DESIGN.md section 5). */
#define COND_SOURCE_MAX		4096
#define COND_DEPTH_MAX		64
#define COND_STRING_MAX		(64 * 1024)

/* Executions and prompts. */
#define EXEC_RESPONSE_CHARS	WF_OPTION_CHARS
#define EXEC_RESPONSE_MAX	WF_OPTION_MAX
#define EXEC_IDEM_KEY_MAX	255		/* Idempotency-Key bytes */
#define EXEC_PAGE_DEFAULT	50
#define EXEC_PAGE_MAX		200

/*
 * Inbound triggers (SPEC section 16): the secret (32 random bytes as hex),
 * and the dotted paths that take parameters from a hook's body: bytes,
 * segments, digits of an array index, how many parameters, name length.
 */
#define TRIGGER_SECRET_LEN	64
/* Its executions are started by "trigger:<name>", which must fit the
 * VARCHAR(255) of started_by and of an idempotency key's user. */
#define TRIGGER_NAME_CHARS	(NAME_CHARS - 8)
#define TRIGGER_PATH_MAX	256
#define TRIGGER_PATH_DEPTH	16
#define TRIGGER_INDEX_DIGITS	6
#define TRIGGER_PARAMS_MAX	64
#define TRIGGER_PARAM_NAME_MAX	128

/*
 * Output that one view of an execution carries (issue 12): each stream
 * at most *_STREAM bytes and all of them together *_TOTAL, the rest left
 * to GET /api/executions/:id/output/:command_id, which reads at most
 * EXEC_OUTPUT_READ_MAX bytes a call. The copy frozen into executions.logs
 * is smaller: it must always fit in one write (max_allowed_packet, 16 MiB
 * by default), or an execution could never end.
 */
#define EXEC_VIEW_STREAM	(256 * 1024)
#define EXEC_VIEW_TOTAL		(4 * 1024 * 1024)
#define EXEC_LOG_STREAM		(64 * 1024)
#define EXEC_LOG_TOTAL		(2 * 1024 * 1024)
#define EXEC_OUTPUT_READ_MAX	(1024 * 1024)

/*
 * Grouped output (SPEC section 17, report-groups.c): a step lists at most
 * PULSE_GROUPS_MAX groups (the rest counted in groups_omitted), samples
 * the output of the first PULSE_GROUP_SAMPLES_MAX, and one view reads at
 * most PULSE_GROUP_ROWS_MAX dispatches' (small) grouping columns.
 */
#define PULSE_GROUPS_MAX	100
#define PULSE_GROUP_SAMPLES_MAX	20
#define PULSE_GROUP_ROWS_MAX	100000

/* Workers. */
#define WORKER_NAME_CHARS	NAME_CHARS
#define WORKER_NAME_MAX		UTF8_BYTES(WORKER_NAME_CHARS)
#define WORKER_METADATA_MAX	(64 * 1024)	/* serialized JSON bytes */
#define WORKER_GROUPS_COUNT	64		/* asked for or granted */
#define WORKER_KEY_MAX		255
#define OUTPUT_CAP_DEFAULT	(1024 * 1024)	/* bytes kept per stream */

/*
 * The execute_command message's "env" (issue 14, SPEC section 14): the
 * parameters a command gets as PULSE_PARAM_<NAME>. At most PULSE_ENV_MAX
 * entries, each name the prefix and 1 to PULSE_ENV_NAME_MAX of [A-Z0-9_],
 * each value at most PULSE_ENV_VALUE_MAX bytes (the longest string
 * parameter; Linux execve() takes no single NAME=value over 128 KiB,
 * MAX_ARG_STRLEN), and the names and values together (bytes of NAME plus
 * bytes of value, summed) at most PULSE_ENV_TOTAL_MAX: far below what
 * execve() takes in all (ARG_MAX, 2 MiB, shared with the command).
 */
#define PULSE_ENV_PREFIX	"PULSE_PARAM_"
#define PULSE_ENV_MAX		64
#define PULSE_ENV_NAME_MAX	64		/* characters after the prefix */
#define PULSE_ENV_VALUE_MAX	(64 * 1024)
#define PULSE_ENV_TOTAL_MAX	(256 * 1024)

/*
 * The workflow language of issue 14 (SPEC.md section 14): parameters,
 * templates, retries and batches (common/params.c, template.c, retry.c,
 * batch.c).
 */
#define PULSE_PARAMS_MAX		32	/* declared by one workflow */
#define PULSE_PARAM_NAME_MAX		64	/* [A-Za-z_][A-Za-z0-9_]{0,63} */
#define PULSE_PARAM_DESCRIPTION_MAX	(4 * 1024)	/* bytes */
#define PULSE_PARAM_STRING_DEFAULT	1024	/* max_length when not given */
#define PULSE_PARAM_STRING_MAX		65536	/* ceiling of max_length */
#define PULSE_PARAM_PATTERN_MAX		1024	/* bytes of a pattern */
#define PULSE_PARAM_OPTIONS_MAX		64	/* a choice's options */
#define PULSE_PARAM_OPTION_MAX		1024	/* bytes of one option */
/* A template's {{ ... }}: longer is an error, not a search. */
#define PULSE_TEMPLATE_EXPR_MAX		128
/* Sub-workflows: how deep executions nest (a top-level one is depth 0). */
#define PULSE_SUBWORKFLOW_DEPTH_MAX	5
/* Sub-workflows one move of the engine may start, the whole tree counted. */
#define PULSE_SUBWORKFLOW_START_MAX	100
/* Workflow versions an approval's plan walks to pin its whole tree. */
#define PULSE_PLAN_WORKFLOWS_MAX	100
#define PULSE_RETRY_ATTEMPTS_MAX	10	/* extra tries after the first */
#define PULSE_RETRY_DELAY_DEFAULT_MS	1000
#define PULSE_RETRY_DELAY_MAX_MS	3600000
#define PULSE_RETRY_BACKOFF_MAX		10	/* multiplier, 1..10 */
#define PULSE_RETRY_JITTER_PCT		10	/* +- around each delay */
#define PULSE_BATCH_SIZE_MAX		100000	/* a batch's N, a failure count */
#define PULSE_BATCH_LIST_MAX		16	/* sizes in a list */
#define PULSE_BATCH_PAUSE_MAX_MS	86400000
/* Approvals (SPEC section 15): a workflow's `approval` and a decision. */
#define PULSE_APPROVAL_REQUIRED_MAX	10	/* distinct approvers needed */
#define PULSE_APPROVAL_REQUIRED_DEFAULT	1
#define PULSE_APPROVAL_APPROVERS_MAX	64	/* groups named */
#define PULSE_APPROVAL_EXPIRES_MIN	1000LL	/* ms */
#define PULSE_APPROVAL_EXPIRES_MAX	2592000000LL	/* 30 days, ms */
#define PULSE_APPROVAL_EXPIRES_DEFAULT	86400000LL	/* 24 h, ms */
#define PULSE_APPROVAL_COMMENT_CHARS	1000	/* a decision's comment */
#define PULSE_APPROVAL_COMMENT_MAX	UTF8_BYTES(PULSE_APPROVAL_COMMENT_CHARS)
/* Executions whose approval expired, ended per timer round. */
#define PULSE_APPROVAL_EXPIRE_BATCH	100

/*
 * The execution diff (GET /api/executions/:a/diff/:b, SPEC section 17).
 * One output pair is diffed only within LINES_MAX lines a side and
 * EDIT_MAX lines removed plus added; a step compares at most WORKERS_MAX
 * workers. One request reads at most BYTES_MAX bytes of output, takes at
 * most WORK_MAX steps of the diff search and shows at most
 * SHOWN_LINES_MAX lines of hunks: past any of them the rest answer
 * too_large with the reason, so no pair of executions can hold a
 * pulse-api child for long (a stream is up to DISPATCH_OUTPUT_MAX).
 */
#define PULSE_DIFF_LINES_MAX		20000
#define PULSE_DIFF_EDIT_MAX		2000
#define PULSE_DIFF_WORKERS_MAX		1000
#define PULSE_DIFF_CONTEXT		3
#define PULSE_DIFF_BYTES_MAX		(64 * 1024 * 1024)
#define PULSE_DIFF_WORK_MAX		200000000ULL
#define PULSE_DIFF_SHOWN_LINES_MAX	100000
/* Worker pairs one request lists (over all steps): 40 steps of 1,000
 * workers each took 24.8 s and answered 16.9 MB before this ceiling. */
#define PULSE_DIFF_PAIRS_MAX		5000

/*
 * Notifications (SPEC section 16). A workflow has at most NOTIFY_RULES_MAX
 * `notify` rules; a channel's URL, secret and recipients are bounded so a
 * row stays small; pushd sends at most NOTIFY_INFLIGHT_MAX at once, reads
 * at most NOTIFY_ANSWER_MAX bytes of a receiver's answer and keeps at most
 * NOTIFY_ERROR_MAX of it as last_error. A delivery is retried from
 * NOTIFY_BACKOFF_MS (PULSE_NOTIFY_BACKOFF_MS), doubling up to
 * NOTIFY_BACKOFF_CAP_MS, for NOTIFY_GIVE_UP_S; a row left delivering by a
 * pushd that died is taken back after NOTIFY_RECLAIM_S.
 */
#define NOTIFY_RULES_MAX	16
#define NOTIFY_URL_MAX		2048
#define NOTIFY_SECRET_MAX	256
#define NOTIFY_EMAIL_TO_MAX	1024
#define NOTIFY_INFLIGHT_MAX	32
#define NOTIFY_CHANNEL_INFLIGHT_MAX 16	/* of one channel, in NOTIFY_INFLIGHT_MAX */
#define NOTIFY_ANSWER_MAX	4096
#define NOTIFY_ERROR_MAX	512
#define NOTIFY_BACKOFF_MS	10000
#define NOTIFY_BACKOFF_CAP_MS	3600000
#define NOTIFY_GIVE_UP_S	86400
#define NOTIFY_RECLAIM_S	60
#define NOTIFY_CONNECT_TIMEOUT_S 5
#define NOTIFY_TIMEOUT_S	15
#define NOTIFY_LIST_MAX		500

/*
 * Schedules (SPEC section 16). A fire later than MISFIRE_GRACE_S, or one
 * with a later fire time also due, is a misfire (the schedule's misfire
 * policy decides). One catch-up writes at most MISSED_ROWS_MAX `missed`
 * rows a schedule, the last one counting the rest; it looks at most
 * CATCHUP_MAX fire times (a year of minutes is 525,600).
 */
#define PULSE_SCHEDULE_MISFIRE_GRACE_S	60
#define PULSE_SCHEDULE_MISSED_ROWS_MAX	1000
#define PULSE_SCHEDULE_CATCHUP_MAX	600000
#define PULSE_SCHEDULE_PREVIEW_MAX	1000
#define PULSE_SCHEDULE_LIST_MAX		10000	/* GET /api/schedules */
#define PULSE_SCHEDULE_FIRES_SHOWN	20	/* GET /api/schedules/:id */

/*
 * Schedules (SPEC section 16): a cron expression's bytes (VARCHAR(256)),
 * an IANA zone name's bytes (VARCHAR(64)) and the largest TZif file read
 * (the biggest in tzdata is under 4 KiB: the cap only bounds the read).
 */
#define PULSE_CRON_EXPR_MAX		256
#define PULSE_TZ_NAME_MAX		64
#define PULSE_TZ_FILE_MAX		(1024 * 1024)

#endif
