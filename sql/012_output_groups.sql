-- Grouped output (SPEC section 17): each dispatch's SHA-256 of the stdout
-- and stderr bytes stored, written with its result, so a step's workers
-- group by (status, exit code, stdout hash, stderr hash) without reading
-- their outputs. NULL: recorded before this column (a version-1 row) or
-- ended without a result (lost, cancelled); readers hash the stored bytes
-- in SQL then, SHA2(COALESCE(stdout, ''), 256). Safe to run twice.

ALTER TABLE dispatches
	ADD COLUMN IF NOT EXISTS stdout_sha256 CHAR(64) NULL,
	ADD COLUMN IF NOT EXISTS stderr_sha256 CHAR(64) NULL;
