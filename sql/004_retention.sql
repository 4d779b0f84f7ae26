-- What retention needs (README "Operations"): pushd deletes finished
-- executions by completed_at and offline workers by last_heartbeat, a
-- batch at a time; each batch finds its rows by an index, not a scan.
-- Every statement is safe to run twice.

ALTER TABLE executions
	ADD INDEX IF NOT EXISTS idx_executions_done (status, completed_at);

-- pushd's metrics read the latency of the commands finished since their
-- last look, every few seconds.
ALTER TABLE dispatches
	ADD INDEX IF NOT EXISTS idx_dispatches_finished (finished_at);
