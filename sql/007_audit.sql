-- The audit trail and workflow versions (SPEC section 13, DESIGN.md
-- section 10). common/audit.c is the only writer of audit_log and
-- audit_head; the retention sweep never touches either. Every statement
-- is safe to run twice.

-- One row per change or decision, chained: hash = SHA-256(prev_hash ||
-- the canonical row) (common/audit.c says what is canonical). Ids are
-- given by audit.c under the head's lock, one after another without gaps,
-- so a missing id is a deleted row.
CREATE TABLE IF NOT EXISTS audit_log (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	at TIMESTAMP(3) NOT NULL,
	-- "worker:" and a 255-character name fit.
	actor VARCHAR(320) NOT NULL,
	actor_groups JSON NULL,
	client_addr VARCHAR(64) NULL,
	action VARCHAR(64) CHARACTER SET ascii NOT NULL,
	target_type VARCHAR(32) CHARACTER SET ascii NULL,
	target_id VARCHAR(255) NULL,
	details JSON NULL,
	prev_hash CHAR(64) CHARACTER SET ascii NOT NULL,
	hash CHAR(64) CHARACTER SET ascii NOT NULL,
	-- GET /api/audit filters on one of these and pages by id.
	INDEX idx_audit_actor (actor, id),
	INDEX idx_audit_action (action, id),
	INDEX idx_audit_target (target_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The chain's head: the last row's id and hash. audit_append() locks it
-- FOR UPDATE in the writer's transaction, so concurrent writers take
-- turns and extend one chain; verify compares the last row with it, so
-- deleting the newest rows shows too.
CREATE TABLE IF NOT EXISTS audit_head (
	id TINYINT NOT NULL PRIMARY KEY,
	last_id BIGINT NOT NULL,
	last_hash CHAR(64) CHARACTER SET ascii NOT NULL,
	CONSTRAINT chk_audit_head_one CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT IGNORE INTO audit_head (id, last_id, last_hash)
	VALUES (1, 0, REPEAT('0', 64));

-- Every save of a workflow is a numbered version; workflows.version is
-- the current one (the next save writes version + 1). Versions of a
-- deleted workflow are kept (no foreign key): the audit trail names them
-- and an execution that ran one can still show it.
CREATE TABLE IF NOT EXISTS workflow_versions (
	workflow_id VARCHAR(36) NOT NULL,
	version INT NOT NULL,
	name VARCHAR(255) NOT NULL,
	description TEXT NULL,
	definition JSON NOT NULL,
	created_by VARCHAR(255) NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	PRIMARY KEY (workflow_id, version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE workflows
	ADD COLUMN IF NOT EXISTS version INT NOT NULL DEFAULT 1;

-- NULL: started before versions existed (or a direct command).
ALTER TABLE executions
	ADD COLUMN IF NOT EXISTS workflow_version INT NULL;

-- A version-1 database: each workflow's current definition is its
-- version 1.
INSERT IGNORE INTO workflow_versions (workflow_id, version, name,
	description, definition, created_by, created_at)
	SELECT id, version, name, description, definition, created_by,
	    COALESCE(updated_at, created_at, CURRENT_TIMESTAMP(3))
	FROM workflows;
