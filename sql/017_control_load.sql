-- How far behind each pushd is (issue 20: refusing starts under overload).
-- Each pushd's database thread writes its own row, keyed by its
-- PULSE_NODE_ID, every 250 ms while it is behind and every second
-- otherwise (pushd/dbt-load.c, the one writer); pulse-api reads the
-- highest lag of the rows written in the last few seconds before it takes
-- a start (fcgi-api/admit.c). A row that stopped being written (a pushd
-- that died or was renamed) is stale and counts for nothing. Galera: one
-- writer per row, so no two nodes ever certify against each other here.
-- Safe to run twice.
CREATE TABLE IF NOT EXISTS control_load (
	node_id VARCHAR(64) NOT NULL,
	lag_ms INT UNSIGNED NOT NULL DEFAULT 0,
	updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
	PRIMARY KEY (node_id),
	INDEX idx_control_load_updated (updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
