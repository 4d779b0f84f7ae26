-- Inbound triggers (SPEC section 16): a signed POST to /hooks/<id> starts
-- one workflow. The secret must stay usable to verify an HMAC, so unlike a
-- worker key it cannot be stored hashed: it is kept as generated (64 hex
-- characters) and never returned after the answer that made it; GET shows
-- its last four characters only. A trigger goes with its workflow.
CREATE TABLE IF NOT EXISTS triggers (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	workflow_id VARCHAR(36) NOT NULL,
	secret VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	-- {"param": "dotted.path"}: checked at save (fcgi-api/api-triggers.c)
	params_map JSON NULL,
	enabled TINYINT(1) NOT NULL DEFAULT 1,
	created_by VARCHAR(255) NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	rotated_at TIMESTAMP(3) NULL,
	UNIQUE KEY uq_triggers_name (name),
	INDEX idx_triggers_workflow (workflow_id),
	CONSTRAINT fk_triggers_workflow FOREIGN KEY (workflow_id)
	    REFERENCES workflows (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every call of a hook, refused ones too (common/trigger-log.c writes
-- them and keeps the last TRIGGER_LOG_KEEP of each trigger). status is
-- the HTTP answer. The replay guard is not this table but the engine's
-- idempotency key (user "trigger:<name>", key the delivery id), claimed
-- in the transaction that creates the execution: a delivery that was
-- refused does not use up its id, and a redelivery after a fix starts.
-- No foreign key to triggers: a deleted trigger's rows are deleted by
-- its owner; an execution deleted by retention leaves its id as text.
CREATE TABLE IF NOT EXISTS trigger_deliveries (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	trigger_id VARCHAR(36) NOT NULL,
	delivery_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL,
	at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	status INT NOT NULL,
	outcome VARCHAR(16) NOT NULL,
	reason TEXT NULL,
	execution_id VARCHAR(36) NULL,
	INDEX idx_trigger_deliveries_trigger (trigger_id, id),
	INDEX idx_trigger_deliveries_delivery (trigger_id, delivery_id),
	INDEX idx_trigger_deliveries_at (at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
