-- Notifications (SPEC section 16, DESIGN sections 10-11): the channels an
-- administrator sets up and the outbox pushd's delivery thread empties.
-- A notifications row is written in the transaction of the event that
-- causes it (common/notify.c), so a committed event always has its
-- message waiting, and pushd/notifier.c is the only thing that moves it
-- on. Only additions; safe to run twice.

CREATE TABLE IF NOT EXISTS channels (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	-- 'slack' | 'discord' | 'webhook' | 'email'
	type VARCHAR(16) NOT NULL,
	-- The receiver's URL as given (it holds the credentials of a Slack or
	-- Discord hook): never returned whole, only scheme://host/...; an
	-- email channel's smtp(s):// relay, or NULL for SMTP_URL.
	url TEXT NULL,
	-- A webhook's HMAC-SHA256 key (shown once, when created).
	secret TEXT NULL,
	-- An email channel's recipients, comma-separated.
	email_to TEXT NULL,
	enabled TINYINT(1) NOT NULL DEFAULT 1,
	created_by VARCHAR(255) NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	UNIQUE KEY uq_channels_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS notifications (
	id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
	channel_id VARCHAR(36) NOT NULL,
	-- 'failed' | 'completed' | 'prompt' | 'approval' | 'test'
	event VARCHAR(32) NOT NULL,
	execution_id VARCHAR(36) NULL,
	-- What happened, as written with the event (the message is built
	-- from it when sent, so a channel's URL may change meanwhile).
	payload JSON NOT NULL,
	-- 'pending' | 'delivering' | 'delivered' | 'failed' | 'dead'
	status VARCHAR(16) NOT NULL DEFAULT 'pending',
	attempts INT NOT NULL DEFAULT 0,
	next_try_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	last_error TEXT NULL,
	-- Sent as X-Pulse-Delivery: the same on every attempt, so a receiver
	-- that saw an attempt whose answer was lost can drop the repeat.
	delivery_id VARCHAR(36) NOT NULL,
	created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	-- Retried until then (24 h after it was written, or after an
	-- administrator's retry), then 'dead' with the last error.
	expires_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	delivered_at TIMESTAMP(3) NULL,
	-- The pushd (PULSE_NODE_ID or host) sending it while 'delivering';
	-- locked_at lets another take it back when that one died.
	locked_by VARCHAR(64) NULL,
	locked_at TIMESTAMP(3) NULL,
	UNIQUE KEY uq_notifications_delivery (delivery_id),
	INDEX idx_notifications_due (status, next_try_at),
	INDEX idx_notifications_execution (execution_id),
	INDEX idx_notifications_channel (channel_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
