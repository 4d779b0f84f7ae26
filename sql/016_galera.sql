-- More than one control host on MariaDB Galera (SPEC section 18). On a
-- Galera cluster SELECT ... FOR UPDATE locks a row on the local node
-- only, and only rows written are certified: of two transactions on two
-- nodes that wrote the same row, the later to commit is aborted (1213 at
-- COMMIT) and db_txn runs it again, now seeing the winner's change. So a
-- claim that relied on a lock alone now also writes the row it locked:
-- a counter, always a change (an UPDATE that changes nothing writes
-- nothing, and is certified against nothing). On one MariaDB the lock
-- alone already serialises them; each write costs one UPDATE. Every
-- statement is safe to run twice, and a version-1 database takes it as
-- is (columns with a default).

-- Each engine call (common/engine.c, engine_exec_lock).
ALTER TABLE executions
	ADD COLUMN IF NOT EXISTS lock_rev BIGINT UNSIGNED NOT NULL DEFAULT 0;

-- Each dispatch claim, per worker still attached to the claiming pushd
-- (common/dispatch.c, sql_claim_worker): a reattach elsewhere writes
-- workers.pushd_node, so the two cannot both go on.
ALTER TABLE workers
	ADD COLUMN IF NOT EXISTS claim_rev BIGINT UNSIGNED NOT NULL DEFAULT 0;
