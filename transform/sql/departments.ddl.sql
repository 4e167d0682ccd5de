-- The departments whose slice of the analyst tables transform keeps in a
-- database of their own (created if missing, never dropped). impact access
-- registers a department when it creates the department's reader.
CREATE TABLE IF NOT EXISTS department_databases (
    department String COMMENT 'Department name, exactly as the analyst tables carry it.',
    database String COMMENT 'Database holding the department''s slice (package internal/department names it).',
    registered_at DateTime COMMENT 'When the department was last registered.'
) ENGINE = ReplacingMergeTree(registered_at) ORDER BY department
