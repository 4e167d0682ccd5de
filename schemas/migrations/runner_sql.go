package migrations

// The runner's own queries on its bookkeeping tables (created by
// bootstrapStatements), in one place so that a test can run them on a
// current ClickHouse too (TestRunnerStatementsChDB). Arguments are bound
// client-side by clickhouse-go (?), which works on 18.16 and current
// servers alike.
const (
	sqlCurrentDatabase    = "SELECT currentDatabase()"
	sqlHasMigrationsTable = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'"
	// args: database, database, table, database, database, table, column
	// (database "": the connection's): whether the table is there, and the
	// column in it
	sqlColumnState = `SELECT
    (SELECT count() FROM system.tables WHERE database = if(? = '', currentDatabase(), ?) AND name = ?),
    (SELECT count() FROM system.columns WHERE database = if(? = '', currentDatabase(), ?) AND table = ? AND name = ?)`
	// args: cluster. host_name is the host as the cluster's configuration
	// names it (what the servers themselves connect to, what a TLS
	// certificate names); host_address is only the address it resolved to.
	sqlClusterHosts = "SELECT shard_num, host_name, host_address, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num"
	// args: database, table
	sqlColumnsOf   = "SELECT concat(name, ' ', type, ' ', default_kind, ' ', default_expression, ' ', comment) FROM system.columns WHERE database = ? AND table = ? ORDER BY name"
	sqlReadApplied = "SELECT version, name, checksum FROM schema_migrations FINAL ORDER BY version"
	// args: version, name, checksum
	sqlRecordApplied = "INSERT INTO schema_migrations (version, name, checksum, applied_at) SELECT ?, ?, ?, now()"

	// args: owner
	sqlTakeLock = "INSERT INTO schema_migrations_lock (owner, acquired_at, heartbeat_at, released) SELECT ?, now(), now(), 0"
	// args: lease in seconds, lock name + "/"
	sqlLockHolder = `SELECT owner, acquired_at FROM schema_migrations_lock FINAL
WHERE released = 0 AND heartbeat_at >= now() - ? AND startsWith(owner, ?)
ORDER BY acquired_at, owner LIMIT 1`
	// args: owner
	sqlRenewLock = `INSERT INTO schema_migrations_lock (owner, acquired_at, heartbeat_at, released)
SELECT owner, acquired_at, now(), 0 FROM schema_migrations_lock FINAL WHERE owner = ? AND released = 0`
	// args: owner. heartbeat_at is pushed one second past the last
	// heartbeat so ReplacingMergeTree keeps this row.
	sqlReleaseLock = `INSERT INTO schema_migrations_lock (owner, acquired_at, heartbeat_at, released)
SELECT owner, acquired_at, max(heartbeat_at) + 1, 1 FROM schema_migrations_lock WHERE owner = ? GROUP BY owner, acquired_at`
)
