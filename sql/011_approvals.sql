-- Approvals on a frozen plan (SPEC section 15). Only additions: every new
-- column is NULL, so executions of before read exactly as they did (no
-- plan, no approval). Safe to run twice.

ALTER TABLE executions
	-- The plan frozen at start, the canonical JSON bytes exactly
	-- (common/canon.c), and their SHA-256: what approvers sign.
	ADD COLUMN IF NOT EXISTS plan LONGTEXT NULL,
	ADD COLUMN IF NOT EXISTS plan_hash CHAR(64) CHARACTER SET ascii NULL,
	-- The workflow's `approval` as resolved (defaults filled): how many,
	-- which groups, how long.
	ADD COLUMN IF NOT EXISTS approval JSON NULL,
	-- An approved tree's pin map {workflow_id: version}: every workflow
	-- its workflow steps reach, at the version frozen in the plan
	-- (common/engine-plan.c); each child execution inherits it.
	ADD COLUMN IF NOT EXISTS pins JSON NULL,
	-- When an awaiting_approval execution ends expired.
	ADD COLUMN IF NOT EXISTS approval_expires_at TIMESTAMP(3) NULL,
	-- pushd looks for approvals past their deadline.
	ADD INDEX IF NOT EXISTS idx_executions_approval
	    (status, approval_expires_at);

-- One decision per person and execution (the primary key: approving
-- twice is a duplicate, not a second vote). Written only by
-- common/engine-approve.c; deleted with the execution.
CREATE TABLE IF NOT EXISTS approvals (
	execution_id VARCHAR(36) NOT NULL,
	approver VARCHAR(255) NOT NULL,
	decision VARCHAR(8) CHARACTER SET ascii NOT NULL,
	comment TEXT NULL,
	at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	-- The approver's groups as the SSO said when they decided.
	approver_groups JSON NULL,
	PRIMARY KEY (execution_id, approver),
	CONSTRAINT fk_approvals_execution FOREIGN KEY (execution_id)
	    REFERENCES executions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
