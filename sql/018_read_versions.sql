-- Tags for the reads pulse-api keeps between requests (issue 20): a
-- child keeps the answer of GET /api/workflows with the tag it was read
-- under and serves it again while the tag is unchanged
-- (fcgi-api/wfcache.c). Every transaction that writes workflows sets a
-- new random tag (api-workflows.c, the table's one writer), which commits
-- with the change, so a kept answer is never served after a change. A
-- new value each time, never a count: a count could come back to a value
-- a child holds (a restored backup) with other rows behind it. Workflows
-- are written rarely, so the one row is no point of contention (on
-- Galera two saves on two nodes conflict on it; db_txn reruns the later,
-- as it already did for their versions' unique key). No triggers: with a
-- binary log on (Galera's) creating one needs SUPER. Every statement is
-- safe to run twice.

CREATE TABLE IF NOT EXISTS read_versions (
	name		VARCHAR(32) NOT NULL PRIMARY KEY,
	tag		CHAR(36) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=ascii;

INSERT IGNORE INTO read_versions (name, tag) VALUES ('workflows', UUID());
