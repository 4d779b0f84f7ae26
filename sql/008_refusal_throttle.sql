-- A refused key writes worker.key_refused only for a worker on record,
-- and at most once per worker every ten minutes (common/registry.c,
-- registry_refused): anyone can present a well-formed key and id, and
-- the audit trail is never pruned. key_refused_at is when the last such
-- row was written; one conditional UPDATE of the worker's row decides,
-- so two refusals racing cannot both write. Safe to run twice.
ALTER TABLE workers
	ADD COLUMN IF NOT EXISTS key_refused_at TIMESTAMP(3) NULL;
