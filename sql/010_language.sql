-- The workflow language of SPEC section 14: parameters, on_failure steps,
-- parallel groups, sub-workflows, retries and batches. Only additions:
-- every new column is NULL or has a default that says what a version-1
-- row always meant (one phase, no parent, no retries, no batches), so
-- executions of before read exactly as they did. Safe to run twice.

ALTER TABLE executions
	-- The resolved parameters (defaults filled, values normalised): what
	-- templates, conditions and the command env read. NULL: none declared.
	ADD COLUMN IF NOT EXISTS params JSON NULL,
	-- A sub-workflow (step type `workflow`) is an execution of its own;
	-- these name the execution and step that started it, so the parent
	-- can wait on it and the child can be shown under it.
	ADD COLUMN IF NOT EXISTS parent_execution_id VARCHAR(36) NULL,
	ADD COLUMN IF NOT EXISTS parent_step INT NULL,
	-- Nesting depth (0 = started by a person), bounded so a workflow
	-- that starts itself cannot recurse without end.
	ADD COLUMN IF NOT EXISTS depth TINYINT NOT NULL DEFAULT 0,
	-- 'main' while the steps run, 'on_failure' once a failure turned to
	-- the workflow's on_failure steps; a restart resumes in its phase.
	ADD COLUMN IF NOT EXISTS phase VARCHAR(16) NOT NULL DEFAULT 'main',
	-- Steps that failed with on_failure "continue": the execution still
	-- ends failed, but only after its remaining steps ran.
	ADD COLUMN IF NOT EXISTS failed_steps INT NOT NULL DEFAULT 0,
	-- The first failure, kept while the on_failure steps run (their own
	-- outcome must not hide why the execution failed).
	ADD COLUMN IF NOT EXISTS failure TEXT NULL,
	-- The parent finds its children (and a delete finds them) by this.
	ADD INDEX IF NOT EXISTS idx_executions_parent (parent_execution_id);

ALTER TABLE execution_steps
	-- Step indexes are flat: a parallel group's children follow the
	-- group, naming its step_index here (NULL: a top-level step).
	ADD COLUMN IF NOT EXISTS parent_index INT NULL,
	-- 'on_failure' for the workflow's on_failure steps, listed after the
	-- main ones.
	ADD COLUMN IF NOT EXISTS phase VARCHAR(16) NOT NULL DEFAULT 'main',
	-- The targets resolved when the step began ([{id, name}]): batches
	-- walk this list, so workers joining later do not change a batch.
	ADD COLUMN IF NOT EXISTS targets JSON NULL,
	-- Which batch runs now and how many there are (NULL: no batch).
	ADD COLUMN IF NOT EXISTS batch_index INT NULL,
	ADD COLUMN IF NOT EXISTS batch_count INT NULL,
	-- Targets that failed so far, compared with batch max_failures.
	ADD COLUMN IF NOT EXISTS failures INT NOT NULL DEFAULT 0,
	-- The execution a `workflow` step started.
	ADD COLUMN IF NOT EXISTS child_execution_id VARCHAR(36) NULL;

ALTER TABLE dispatches
	-- A retry is a new dispatch that must not be sent before its delay:
	-- pushd sends a queued dispatch only once not_before has passed
	-- (NULL: at once, as every dispatch did before).
	ADD COLUMN IF NOT EXISTS not_before TIMESTAMP(3) NULL,
	-- The batch this dispatch belongs to (NULL: the step has no batch).
	ADD COLUMN IF NOT EXISTS batch INT NULL,
	-- The PULSE_PARAM_* variables sent with the command (an object of
	-- strings), kept so a resend after a reconnect sends the same.
	ADD COLUMN IF NOT EXISTS env JSON NULL,
	-- pushd looks for queued dispatches that are due.
	ADD INDEX IF NOT EXISTS idx_dispatches_due (status, not_before);
