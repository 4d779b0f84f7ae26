-- What pulse-pushd needs (DESIGN.md sections 3, 4 and 7): live output
-- chunks, the cancel hand-off, and an index for each of its polls. Every
-- statement is safe to run twice.

-- Output as it streams in, before the result carries the whole of it. The
-- key is the worker's own (stream, offset), so a chunk sent again after a
-- reconnect lands on its first copy and changes nothing. Rows go when the
-- dispatch's result is stored.
CREATE TABLE IF NOT EXISTS dispatch_output (
	dispatch_id VARCHAR(36) NOT NULL,
	stream TINYINT NOT NULL,
	byte_offset BIGINT NOT NULL,
	data MEDIUMBLOB NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	PRIMARY KEY (dispatch_id, stream, byte_offset),
	CONSTRAINT fk_output_dispatch FOREIGN KEY (dispatch_id)
	    REFERENCES dispatches (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- engine_cancel() raises cancel_requested; pushd stamps cancel_sent_at when
-- it hands cancel_command to the worker, so each is sent once per
-- connection.
ALTER TABLE dispatches
	ADD COLUMN IF NOT EXISTS cancel_sent_at TIMESTAMP(3) NULL,
	ADD INDEX IF NOT EXISTS idx_dispatches_cancel
	    (cancel_requested, cancel_sent_at),
	ADD INDEX IF NOT EXISTS idx_dispatches_queued (status, queued_at);

-- A pushd claims the queued dispatches of the workers it holds:
-- workers by node, then dispatches by (worker_id, status). Stale workers
-- are found by (status, last_heartbeat).
ALTER TABLE workers
	ADD INDEX IF NOT EXISTS idx_workers_node (pushd_node, status),
	ADD INDEX IF NOT EXISTS idx_workers_stale (status, last_heartbeat);

-- Due wait steps: only running ones, so finished steps' old wake_at
-- values are never scanned.
ALTER TABLE execution_steps
	ADD INDEX IF NOT EXISTS idx_steps_due (status, wake_at);
