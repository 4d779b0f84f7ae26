-- Schedules (SPEC section 16): a workflow started by the clock, from a
-- 5-field cron expression in an IANA zone or once at an instant. pushd's
-- database thread fires them (pushd/dbt-schedules.c); the API writes the
-- definitions (fcgi-api/api-schedules.c). Additive, safe to run twice.

CREATE TABLE IF NOT EXISTS schedules (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	-- No foreign key: a deleted workflow leaves its schedules, disabled
	-- with disabled_reason saying so, rather than deleting them unseen.
	workflow_id VARCHAR(36) NOT NULL,
	name VARCHAR(255) NOT NULL,
	-- Exactly one of cron and at (checked by the API).
	cron VARCHAR(256) NULL,
	at TIMESTAMP(3) NULL,
	timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
	params JSON NULL,
	enabled TINYINT NOT NULL DEFAULT 1,
	overlap VARCHAR(8) NOT NULL DEFAULT 'skip',
	misfire VARCHAR(8) NOT NULL DEFAULT 'run_once',
	-- The next fire time (UTC), NULL when there is none (disabled, an
	-- `at` already fired, a cron with no time in the next 8 years).
	next_run_at TIMESTAMP(3) NULL,
	last_run_at TIMESTAMP(3) NULL,
	last_execution_id VARCHAR(36) NULL,
	-- The last fire's outcome (schedule_fires.outcome).
	last_status VARCHAR(16) NULL,
	disabled_reason TEXT NULL,
	-- The pushd node that fired it last (who to ask, not a lock: the
	-- unique key of schedule_fires is what makes a fire happen once).
	locked_by VARCHAR(255) NULL,
	created_by VARCHAR(255) NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	UNIQUE KEY uq_schedules_name (name),
	KEY idx_schedules_due (enabled, next_run_at),
	KEY idx_schedules_workflow (workflow_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per (schedule, fire time), written in the transaction that
-- starts its execution: a second firer's insert fails on the key and it
-- starts nothing. A fire that started nothing says why (outcome, reason).
CREATE TABLE IF NOT EXISTS schedule_fires (
	schedule_id VARCHAR(36) NOT NULL,
	fire_time TIMESTAMP(3) NOT NULL,
	execution_id VARCHAR(36) NULL,
	-- started | queued | skipped | missed | failed
	outcome VARCHAR(16) NOT NULL,
	reason TEXT NULL,
	-- The pushd node (PULSE_NODE_ID or host) whose transaction wrote it.
	fired_by VARCHAR(255) NULL,
	at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	PRIMARY KEY (schedule_id, fire_time),
	KEY idx_schedule_fires_outcome (outcome),
	-- pushd deletes fires older than RETENTION_DAYS by this.
	KEY idx_schedule_fires_time (fire_time),
	KEY idx_schedule_fires_execution (execution_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
