-- Per-worker identity (SPEC section 12): each worker's own key, the
-- enrollment tokens that hand keys out, the pending/accepted/revoked
-- state, and the small log pushd follows to act on a revocation within a
-- second. Every statement is safe to run twice.

-- state: a worker known before this migration was trusted with the
-- shared key, so it stays accepted; code that inserts sets it. Its
-- worker_groups rows stay too: they are now the groups it was GRANTED,
-- and requested_groups is only what its agent asks for. replaces: a
-- replacement candidate (a new worker presenting an existing worker's
-- name) names that worker until an admin accepts it.
-- rotation_requested_at: an admin asked for a new key; it stays set until
-- the worker acknowledges one, so a worker offline at that moment gets
-- the offer when it next connects.
ALTER TABLE workers
	ADD COLUMN IF NOT EXISTS state VARCHAR(16) NOT NULL DEFAULT 'accepted',
	ADD COLUMN IF NOT EXISTS requested_groups JSON NULL,
	ADD COLUMN IF NOT EXISTS replaces VARCHAR(36) NULL,
	ADD COLUMN IF NOT EXISTS rotation_requested_at TIMESTAMP(3) NULL,
	ADD INDEX IF NOT EXISTS idx_workers_state (state);

-- Keys are stored only as the lowercase hex SHA-256 of the key.
-- activated_at NULL: offered by a rotation and not acknowledged yet.
CREATE TABLE IF NOT EXISTS worker_keys (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	worker_id VARCHAR(36) NOT NULL,
	key_hash CHAR(64) NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	activated_at TIMESTAMP(3) NULL,
	revoked_at TIMESTAMP(3) NULL,
	UNIQUE KEY uq_worker_keys_hash (key_hash),
	INDEX idx_worker_keys_worker (worker_id),
	CONSTRAINT fk_worker_keys_worker FOREIGN KEY (worker_id)
	    REFERENCES workers (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A token's uses are counted down by one conditional UPDATE in the
-- enrollment's own transaction, so two workers racing for the last use
-- cannot both get it.
CREATE TABLE IF NOT EXISTS enrollment_tokens (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	token_hash CHAR(64) NOT NULL,
	`groups` JSON NOT NULL,
	uses_left INT NOT NULL,
	expires_at TIMESTAMP(3) NOT NULL,
	created_by VARCHAR(255) NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	revoked_at TIMESTAMP(3) NULL,
	UNIQUE KEY uq_enrollment_tokens_hash (token_hash),
	INDEX idx_enrollment_tokens_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Append-only: what every pushd must act on for a worker it may hold
-- (revoke, delete, enroll of a keyless worker: close its socket; rotate:
-- offer a key; accept: tell it; groups). Each pushd reads the rows after the last id it saw. No foreign
-- key: a delete outlives its worker.
CREATE TABLE IF NOT EXISTS worker_trust_events (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	worker_id VARCHAR(36) NOT NULL,
	kind VARCHAR(16) NOT NULL,
	at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	INDEX idx_worker_trust_events_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
