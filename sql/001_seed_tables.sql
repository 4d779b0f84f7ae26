-- The four tables of the earlier Node.js PULSE, exactly as its users have
-- them (SPEC.md section 9). IF NOT EXISTS: pointing PULSE at an existing
-- seed database keeps its data; 002 adds what PULSE needs on top.

CREATE TABLE IF NOT EXISTS users (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	username VARCHAR(255) NOT NULL UNIQUE,
	display_name VARCHAR(255),
	email VARCHAR(255),
	`groups` TEXT,
	last_login TIMESTAMP NULL,
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS workers (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL UNIQUE,
	status VARCHAR(50) NOT NULL,
	last_heartbeat TIMESTAMP NULL,
	api_key VARCHAR(255),
	metadata JSON,
	INDEX idx_workers_status (status),
	INDEX idx_workers_last_heartbeat (last_heartbeat)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS workflows (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	name VARCHAR(255) NOT NULL,
	description TEXT,
	definition JSON NOT NULL,
	created_by VARCHAR(255),
	created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
	updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
	INDEX idx_workflows_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS executions (
	id VARCHAR(36) NOT NULL PRIMARY KEY,
	workflow_id VARCHAR(36) NOT NULL,
	status VARCHAR(50) NOT NULL,
	started_by VARCHAR(255),
	started_at TIMESTAMP NULL,
	completed_at TIMESTAMP NULL,
	logs JSON,
	INDEX idx_executions_workflow (workflow_id),
	INDEX idx_executions_status (status),
	INDEX idx_executions_started (started_at),
	CONSTRAINT fk_executions_workflow FOREIGN KEY (workflow_id)
	    REFERENCES workflows (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
