-- An enrollment whose 201 answer was lost (a reset, a proxy timeout) is
-- asked again by the agent with the same worker_id and token. token_id
-- names the token that made a key; used_at is set at the key's first
-- connect or heartbeat. A key of this token never used yet may be replaced
-- by such a retry without using the token again; once used, the worker is
-- enrolled and a retry is refused. Safe to run twice.
ALTER TABLE worker_keys
	ADD COLUMN IF NOT EXISTS token_id VARCHAR(36) NULL,
	ADD COLUMN IF NOT EXISTS used_at TIMESTAMP(3) NULL;
