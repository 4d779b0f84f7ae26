-- Tags for the reads pulse-api keeps between requests (issue 20): a
-- child keeps the answer of GET /api/workflows with the tag it was read
-- under and serves it again while the tag is unchanged
-- (fcgi-api/wfcache.c). So that no write can leave a kept answer stale,
-- the tag is changed by the database itself, in the transaction of the
-- write, whoever writes (pulse-api, an operator, a test's SQL): the
-- triggers below give it a new UUID() for every row inserted, updated or
-- deleted. A new value each time, never a count: a count could come back
-- to a value a child holds (a restored backup) with other rows behind it.
-- Galera replicates the tag's row with the change (row events; triggers
-- do not run again on the other nodes). Workflows are written rarely, so
-- the one row is no point of contention.
--
-- Triggers are created with the TRIGGER privilege (GRANT ALL ON pulse.*);
-- a server with binary logging on also wants SUPER or
-- log_bin_trust_function_creators=1 (safe with binlog_format=ROW, which
-- Galera requires anyway). Every statement is safe to run twice.

CREATE TABLE IF NOT EXISTS read_versions (
	name		VARCHAR(32) NOT NULL PRIMARY KEY,
	tag		CHAR(36) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=ascii;

INSERT IGNORE INTO read_versions (name, tag) VALUES ('workflows', UUID());

CREATE TRIGGER IF NOT EXISTS workflows_read_tag_insert
	AFTER INSERT ON workflows FOR EACH ROW
	UPDATE read_versions SET tag = UUID() WHERE name = 'workflows';

CREATE TRIGGER IF NOT EXISTS workflows_read_tag_update
	AFTER UPDATE ON workflows FOR EACH ROW
	UPDATE read_versions SET tag = UUID() WHERE name = 'workflows';

CREATE TRIGGER IF NOT EXISTS workflows_read_tag_delete
	AFTER DELETE ON workflows FOR EACH ROW
	UPDATE read_versions SET tag = UUID() WHERE name = 'workflows';
