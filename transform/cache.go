package transform

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cache keeps, from one refresh to the next of the same process (the loop
// of `impact transform`, the benchmark), what impact_stats read from each
// partition of deal_facts (the deals), deployment_facts (the groups of
// deployments) and dora_changes (the security-fix lead times), so that a
// refresh reads again only the partitions it rebuilt: an incremental
// refresh rebuilds the partitions its changed entities were and are in
// (at 10M events 1 of 12, 2 of 36 and 1 of 35) and attaches the others,
// unchanged, from the table the last refresh built. Those reads were a
// fixed cost of every refresh: 0.6 s of server CPU and the decoding of
// 430,000 deals at 10M events. It also keeps the tickets of the base of
// ticket_facts' view counted (loadTickets), which an incremental refresh
// leaves as it is (it writes a new delta). And it keeps the figures of
// the deals and deployments of each period (figureMemo) under a
// fingerprint of their input, so a period whose deals or deployments did
// not change is not computed again; being keyed by content, those are
// valid whatever happened to the tables, and the conditions below do not
// apply to them.
//
// A partition's cached rows are used only when all of this holds, else it
// is read (a refresh with an invalid cache reads everything, as one
// without a cache does):
//   - this refresh attached the partition from the live table (the
//     incremental refresh's kept partitions, TableReport.Kept), or, for
//     the tickets, the view still reads the same base table;
//   - the live table is the one the cache's refresh built and read: the
//     refresh that filled the cache completed, and no refresh started
//     since. Every refresh writes a marker (transform_state row "*started",
//     its run id, the server's clock) under the transform lease before it
//     changes any table, so a refresh of another process in between,
//     complete or failed, is seen; and the watermark the cache's refresh
//     recorded is still the last one, so a completed refresh of a release
//     that writes no marker is seen too.
//
// A failed refresh empties the cache. The zero value is an empty cache;
// one Cache must not be shared by refreshes of different databases at
// the same time (Refresh's lease serialises those of one database).
type Cache struct {
	mu sync.Mutex
	// The refresh whose reads the cache holds ("" none), the server
	// clock when it wrote its marker, and the watermark it recorded.
	run      string
	markedAt time.Time
	wm       time.Time
	deals    map[string][]dealRow // each partition's in the order of their ids
	deploy   map[string][]deployGroup
	fixes    map[string][]fixLead
	tickets  *ticketBase // the base of ticket_facts' view (loadTickets)
	// The figures of each period by a fingerprint of their input
	// (figureMemo): kept by content, so valid whatever the tables.
	figures *figureMemo
}

// statsReuse is what a refresh lets impact_stats reuse: the partitions
// each cached table's build kept (kept reports them once the table is
// built), the cache's reads if they are valid, and the reads of this run,
// which become the cache if the run completes.
type statsReuse struct {
	valid bool
	kept  func(table string) []string
	old   *Cache // Options.Cache (nil: none); its reads used only when valid
	mu    sync.Mutex
	deals map[string][]dealRow
	dep   map[string][]deployGroup
	fixes map[string][]fixLead
	// The tickets of the base of ticket_facts' view (read or reused).
	tickets *ticketBase
	// The figures of this run, reusing the last run's periods (nil
	// without a Cache).
	figures *figureMemo
	// Partitions reused from the cache and read from the tables
	// (impact_stats' TableReport.Kept and Rebuilt; the tickets' base
	// counts as one).
	reused, read int
}

// cachedParts returns the cached reads (of the Cache field pick gives)
// of the partitions of table this run may reuse: kept by the table's
// build in this run, and in a valid cache. None without one.
func cachedParts[T any](u *statsReuse, table string, pick func(*Cache) map[string]T) map[string]T {
	if u == nil || u.old == nil || !u.valid {
		return nil
	}
	u.old.mu.Lock()
	defer u.old.mu.Unlock()
	all := pick(u.old)
	out := map[string]T{}
	for _, id := range u.kept(table) {
		if v, ok := all[id]; ok {
			out[id] = v
		}
	}
	return out
}

// keepParts records this run's reads of a table's partitions (the field
// of u pick gives): those read and those reused, for the cache the run
// leaves.
func keepParts[T any](u *statsReuse, pick func(*statsReuse) map[string]T, read, reused map[string]T) {
	u.mu.Lock()
	defer u.mu.Unlock()
	maps.Copy(pick(u), read)
	maps.Copy(pick(u), reused)
	u.read, u.reused = u.read+len(read), u.reused+len(reused)
}

const markerModel = "*started"

// openCache checks whether c's reads are valid for the run starting now
// (state is transform_state as read by this run, under the lease) and
// writes this run's marker. It is called before the run changes any
// table.
func openCache(ctx context.Context, conn driver.Conn, c *Cache, runID string, state map[string]stateRow) (*statsReuse, time.Time, error) {
	var now time.Time
	if err := conn.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return nil, now, fmt.Errorf("read the server clock: %w", err)
	}
	u := &statsReuse{old: c, deals: map[string][]dealRow{}, dep: map[string][]deployGroup{}, fixes: map[string][]fixLead{}}
	if c != nil {
		c.mu.Lock()
		run, markedAt, wm := c.run, c.markedAt, c.wm
		u.figures = nextMemo(c.figures)
		c.mu.Unlock()
		if run != "" && state["*"].watermark.Equal(wm) {
			// Every marker since the cache's must be the cache's own (a
			// later refresh's marker is stamped by the same server clock,
			// at or after it; one of the same second counts as another
			// refresh, which only costs a read).
			runs, err := queryStrings(ctx, conn, "refresh markers",
				"SELECT DISTINCT version FROM transform_state WHERE model = @model AND updated_at >= @since",
				clickhouse.Named("model", markerModel), clickhouse.Named("since", markedAt))
			if err != nil {
				return nil, now, err
			}
			u.valid = slices.Equal(runs, []string{run})
		}
	}
	if err := writeState(ctx, conn, []stateRow{{model: markerModel, version: runID, updatedAt: now}}); err != nil {
		return nil, now, fmt.Errorf("mark the refresh started: %w", err)
	}
	return u, now, nil
}

// commit makes the reads of a completed run the cache.
func (c *Cache) commit(u *statsReuse, runID string, markedAt, wm time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run, c.markedAt, c.wm = runID, markedAt, wm
	c.deals, c.deploy, c.fixes, c.tickets, c.figures = u.deals, u.dep, u.fixes, u.tickets, u.figures
}

// reset empties c (a failed refresh: the tables may have changed).
func (c *Cache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run, c.markedAt, c.wm, c.deals, c.deploy, c.fixes, c.tickets, c.figures = "", time.Time{}, time.Time{}, nil, nil, nil, nil, nil
}

// skipPartitions is the condition that leaves the partitions ids of a
// table partitioned by expr out of a read ("" when there are none). The
// ids come from system.parts and are checked to be integers (every model
// partitions by an integer expression), so they cannot change the
// statement.
func skipPartitions(expr string, ids []string) (string, error) {
	if len(ids) == 0 {
		return "", nil
	}
	for _, id := range ids {
		if !partitionValue.MatchString(id) {
			return "", fmt.Errorf("partition %q is not an integer", id)
		}
	}
	return expr + " NOT IN (" + strings.Join(ids, ", ") + ")", nil
}

// partitionID formats a partition value as system.parts names it.
func partitionID(v uint64) string { return strconv.FormatUint(v, 10) }
