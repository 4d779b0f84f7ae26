-- More than one control host on MariaDB Galera (SPEC section 18). On a
-- Galera cluster SELECT ... FOR UPDATE locks a row on the local node
-- only: two engine calls on two nodes that both locked one execution
-- would both go on. Each engine call therefore also writes the row it
-- locked (lock_rev + 1, common/engine.c): certification then aborts the
-- later committer (1213 at COMMIT) and db_txn runs it again, now seeing
-- the winner's change. On one MariaDB the lock alone already serialises
-- them; the write costs one UPDATE. Every statement is safe to run twice
-- and a version-1 database takes it as is (a column with a default).

ALTER TABLE executions
	ADD COLUMN IF NOT EXISTS lock_rev BIGINT UNSIGNED NOT NULL DEFAULT 0;
