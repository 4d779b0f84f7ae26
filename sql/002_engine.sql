-- What the C engine adds (DESIGN.md section 3): per-step state, per-target
-- dispatches, the event feed pushd tails, worker groups. Every statement
-- is safe to run twice, so an interrupted migration can simply be re-run.

-- Millisecond times: paging and timers order by them.
ALTER TABLE executions
	MODIFY started_at TIMESTAMP(3) NULL,
	MODIFY completed_at TIMESTAMP(3) NULL;

-- A direct command (POST /api/workers/:id/command) is an execution of
-- kind 'command' with no stored workflow; every workflow execution still
-- names its workflow.
ALTER TABLE executions
	MODIFY workflow_id VARCHAR(36) NULL,
	ADD COLUMN IF NOT EXISTS kind VARCHAR(16) NOT NULL DEFAULT 'workflow',
	ADD COLUMN IF NOT EXISTS workflow_name VARCHAR(255) NULL,
	ADD COLUMN IF NOT EXISTS definition JSON NULL,
	ADD COLUMN IF NOT EXISTS current_step INT NOT NULL DEFAULT 0,
	ADD COLUMN IF NOT EXISTS prompt_response VARCHAR(255) NULL,
	ADD COLUMN IF NOT EXISTS error TEXT NULL,
	ADD COLUMN IF NOT EXISTS updated_at TIMESTAMP(3) NOT NULL
	    DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
	ADD INDEX IF NOT EXISTS idx_executions_page (started_at, id);

ALTER TABLE executions
	ADD CONSTRAINT IF NOT EXISTS chk_executions_kind
	CHECK (kind = 'command' OR workflow_id IS NOT NULL);

ALTER TABLE workers
	ADD COLUMN IF NOT EXISTS created_at TIMESTAMP(3) NOT NULL
	    DEFAULT CURRENT_TIMESTAMP(3),
	ADD COLUMN IF NOT EXISTS pushd_node VARCHAR(64) NULL;

CREATE TABLE IF NOT EXISTS worker_groups (
	worker_id VARCHAR(36) NOT NULL,
	group_name VARCHAR(255) NOT NULL,
	PRIMARY KEY (worker_id, group_name),
	INDEX idx_worker_groups_name (group_name),
	CONSTRAINT fk_worker_groups_worker FOREIGN KEY (worker_id)
	    REFERENCES workers (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS execution_steps (
	execution_id VARCHAR(36) NOT NULL,
	step_index INT NOT NULL,
	name VARCHAR(255) NOT NULL,
	type VARCHAR(16) NOT NULL,
	status VARCHAR(16) NOT NULL DEFAULT 'pending',
	reason TEXT NULL,
	prompt JSON NULL,
	response VARCHAR(255) NULL,
	responded_by VARCHAR(255) NULL,
	responded_at TIMESTAMP(3) NULL,
	wake_at TIMESTAMP(3) NULL,
	started_at TIMESTAMP(3) NULL,
	finished_at TIMESTAMP(3) NULL,
	PRIMARY KEY (execution_id, step_index),
	INDEX idx_steps_wake (wake_at),
	CONSTRAINT fk_steps_execution FOREIGN KEY (execution_id)
	    REFERENCES executions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS dispatches (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	execution_id VARCHAR(36) NOT NULL,
	step_index INT NOT NULL,
	worker_id VARCHAR(36) NOT NULL,
	worker_name VARCHAR(255) NOT NULL,
	attempt INT NOT NULL DEFAULT 1,
	command MEDIUMTEXT NOT NULL,
	timeout_ms BIGINT NOT NULL,
	status VARCHAR(16) NOT NULL DEFAULT 'queued',
	cancel_requested TINYINT(1) NOT NULL DEFAULT 0,
	exit_code INT NULL,
	`signal` INT NULL,
	stdout MEDIUMBLOB NULL,
	stdout_bytes BIGINT NOT NULL DEFAULT 0,
	stdout_truncated TINYINT(1) NOT NULL DEFAULT 0,
	stderr MEDIUMBLOB NULL,
	stderr_bytes BIGINT NOT NULL DEFAULT 0,
	stderr_truncated TINYINT(1) NOT NULL DEFAULT 0,
	error TEXT NULL,
	queued_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	sent_at TIMESTAMP(3) NULL,
	started_at TIMESTAMP(3) NULL,
	finished_at TIMESTAMP(3) NULL,
	deadline_at TIMESTAMP(3) NULL,
	duration_ms BIGINT NULL,
	UNIQUE KEY uq_dispatch_target (execution_id, step_index, worker_id,
	    attempt),
	INDEX idx_dispatches_worker (worker_id, status),
	INDEX idx_dispatches_deadline (status, deadline_at),
	CONSTRAINT fk_dispatches_execution FOREIGN KEY (execution_id)
	    REFERENCES executions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS events (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	type VARCHAR(64) NOT NULL,
	execution_id VARCHAR(36) NULL,
	worker_id VARCHAR(36) NULL,
	payload JSON NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	INDEX idx_events_created (created_at),
	INDEX idx_events_execution (execution_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
