-- basic/0002 without its view: ClickHouse 18.16 runs the view's SELECT of
-- an ON CLUSTER CREATE VIEW in the other servers' default database (it
-- qualifies only the view's own name), so unqualified tables in a view
-- body are not found there; current releases qualify them.
ALTER TABLE events ADD COLUMN subject String DEFAULT '';

INSERT INTO notes (note_id, body) SELECT 'seed', 'inserted by a migration';
