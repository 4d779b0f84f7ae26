-- Idempotency-Key on POST /api/executions (fcgi-api/openapi.json): a
-- client that lost the answer to a start sends the same request with the
-- same key again and gets the execution the first one created, never a
-- second one. The key row is written in the transaction that creates the
-- execution, so both exist or neither does. Keys are per user; retention
-- forgets them after 24 hours, and an execution's deletion takes its key
-- with it. Every statement is safe to run twice.

CREATE TABLE IF NOT EXISTS idempotency_keys (
	username VARCHAR(255) NOT NULL,
	idem_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	-- What the key was first used for (the workflow id): the same key
	-- with another request is refused, not replayed.
	request VARCHAR(255) NOT NULL,
	execution_id VARCHAR(36) NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	PRIMARY KEY (username, idem_key),
	INDEX idx_idempotency_created (created_at),
	CONSTRAINT fk_idempotency_execution FOREIGN KEY (execution_id)
	    REFERENCES executions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
