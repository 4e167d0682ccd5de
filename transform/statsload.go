package transform

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// statsInput is everything impact_stats is computed from: one value per
// deal, incident, assessment and exception, and pre-aggregated groups of
// deployments, tickets and findings. loadStats fills it from the analyst
// tables; computeStats (figures.go) turns it into rows without touching
// the database, so tests can run the same computation on organisations
// simulated in memory.
type statsInput struct {
	Deals       []dealRow
	Deployments []deployGroup
	SecurityFix []fixLead
	Tickets     []ticketGroup
	Findings    []findingGroup
	Incidents   []incidentRow
	CostOfRisk  []costRow
	Vendors     []vendorRow
	Exceptions  []exceptionRow
}

// month is a calendar month as YYYYMM (toYYYYMM, UTC).
type month uint32

type dealRow struct {
	Account, Segment string
	Bucket           string // landmark_bucket
	ReviewBucket     string // review_bucket (completion-time buckets)
	Outcome, Loss    string
	Won              bool
	HasTurnaround    bool    // review_turnaround_days is not null
	Turnaround       float64 // review_turnaround_days, when HasTurnaround
	Cycle, Amount    float64
	Month            month // closed_at
	ReviewRequired   bool
}

type deployGroup struct {
	Service, Department, Team, Environment, Status string
	Blocked, Waived                                bool
	Month                                          month // started_at
	N                                              int
	Lead                                           []float64 // hours, non-negative
}

type fixLead struct {
	Month month // the fixing deployment's finished_at
	Hours float64
}

type ticketGroup struct {
	Account                              string // "" unless AffectedAcct
	Month                                month  // created_at
	After, Security, Rated, AffectedAcct bool
	CSAT                                 uint8
	N                                    int
}

type findingGroup struct {
	Team, Department, Severity, Status string
	Within                             uint8 // 0, 1; 2: no SLA outcome
	Debt                               bool
	Detected, Cohort                   month // Cohort 0: not in an SLA cohort
	N                                  int
	Days                               []float64 // time to fix, or to censoring
}

type incidentRow struct {
	ID          string
	Month       month // detected_at
	Departments []string
	Cost        *float64 // nil: not known yet
}

type costRow struct {
	Department string
	USD        float64
	Incidents  int
}

type vendorRow struct {
	Department             string
	Month                  month // requested_at
	Assessment, Monitoring float64
	Cycle                  *float64 // days; nil while open
}

type exceptionRow struct {
	Department string
	Days       float64
	Resolved   bool
}

// statsPart names one part of a statsInput, filled by one read.
type statsPart int

const (
	partDeals statsPart = iota
	partDeployments
	partSecurityFix
	partTickets
	partFindings
	partIncidents
	partCostOfRisk
	partVendors
	partExceptions
	numParts
)

// partTables are the analyst tables each part's read reads (the typed
// tables it also reads are not written by a refresh). A refresh starts
// the read when they are built (tablesBuilt). statsModel.reads holds
// them all.
var partTables = [numParts][]string{
	partDeals:       {"deal_facts"},
	partDeployments: {"deployment_facts"},
	partSecurityFix: {"dora_changes"},
	partTickets:     {"ticket_facts"},
	partFindings:    {"finding_groups"},
	partCostOfRisk:  {"department_scorecard"},
}

// tablesBuilt blocks until the named tables are built in the running
// refresh (noWait: they are).
type tablesBuilt func(ctx context.Context, tables ...string) error

func noWait(context.Context, ...string) error { return nil }

// loadStats reads the analyst tables of conn's database into in. The
// reads are independent and run concurrently (conn is a pool), so the
// server scans one table while the client decodes another. Each starts
// when wait says its tables are built, and loaded is called (from its
// goroutine) when it has filled its part.
func loadStats(ctx context.Context, conn driver.Conn, asOf time.Time, in *statsInput, wait tablesBuilt, u *statsReuse, loaded func(statsPart)) error {
	if u != nil && u.old == nil {
		u = nil // no cache to use or fill: the partitioned reads keep nothing
	}
	steps := [numParts]func(context.Context) error{
		partDeals: func(ctx context.Context) (err error) {
			in.Deals, err = loadDeals(ctx, conn, u)
			return err
		},
		partDeployments: func(ctx context.Context) (err error) {
			in.Deployments, err = loadDeployments(ctx, conn, u)
			return err
		},
		partSecurityFix: func(ctx context.Context) (err error) {
			in.SecurityFix, err = loadSecurityFix(ctx, conn, u)
			return err
		},
		partTickets: func(ctx context.Context) (err error) {
			in.Tickets, err = loadTickets(ctx, conn, u)
			return err
		},
		partFindings: func(ctx context.Context) error {
			var g findingGroup
			var debt uint8
			var dm, cm uint32
			var n uint64
			var days string
			var counted int64
			dest := []any{&g.Team, &g.Department, &g.Severity, &g.Status, &g.Within, &debt, &dm, &cm, &n, &days, &counted}
			return scanRows(ctx, conn, qFindingGroups, "findings", func(r driver.Rows) (err error) {
				if err := r.Scan(dest...); err != nil {
					return err
				}
				// The open findings' ages and the debt flag are as of the
				// refresh that counted the groups.
				if counted != asOf.Unix() {
					return fmt.Errorf("finding_groups is as of %s, not %s: refresh the tables as of that time first",
						time.Unix(counted, 0).UTC().Format(time.RFC3339), asOf.UTC().Format(time.RFC3339))
				}
				if g.Days, err = floatBytes(days, n); err != nil {
					return err
				}
				g.Debt, g.Detected, g.Cohort, g.N = debt == 1, month(dm), month(cm), int(n)
				in.Findings = append(in.Findings, g)
				return nil
			})
		},
		partIncidents: func(ctx context.Context) error {
			return scanRows(ctx, conn, qIncidents, "incidents", func(r driver.Rows) error {
				var i incidentRow
				var m uint32
				if err := r.Scan(&i.ID, &m, &i.Departments, &i.Cost); err != nil {
					return err
				}
				i.Month = month(m)
				in.Incidents = append(in.Incidents, i)
				return nil
			})
		},
		partCostOfRisk: func(ctx context.Context) error {
			return scanRows(ctx, conn, qCostOfRisk, "department_scorecard", func(r driver.Rows) error {
				var c costRow
				var n uint64
				if err := r.Scan(&c.Department, &c.USD, &n); err != nil {
					return err
				}
				c.Incidents = int(n)
				in.CostOfRisk = append(in.CostOfRisk, c)
				return nil
			})
		},
		partVendors: func(ctx context.Context) error {
			return scanRows(ctx, conn, qVendors, "vendor assessments", func(r driver.Rows) error {
				var v vendorRow
				var m uint32
				if err := r.Scan(&v.Department, &m, &v.Assessment, &v.Monitoring, &v.Cycle); err != nil {
					return err
				}
				v.Month = month(m)
				in.Vendors = append(in.Vendors, v)
				return nil
			})
		},
		partExceptions: func(ctx context.Context) error {
			return scanRows(ctx, conn, bindAsOf(qExceptions, asOf), "policy exceptions", func(r driver.Rows) error {
				var e exceptionRow
				var resolved uint8
				if err := r.Scan(&e.Department, &e.Days, &resolved); err != nil {
					return err
				}
				e.Resolved = resolved == 1
				in.Exceptions = append(in.Exceptions, e)
				return nil
			})
		},
	}
	errs := make([]error, len(steps))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Go(func() {
			errs[i] = wait(ctx, partTables[i]...)
			if errs[i] == nil {
				errs[i] = step(ctx)
			}
			if errs[i] != nil {
				cancel()
				return
			}
			loaded(statsPart(i))
		})
	}
	wg.Wait()
	return firstError(errs)
}

// loadDeals reads deal_facts, one row per closed deal: the partitions u
// lets it reuse from Options.Cache, the others from the table (u nil:
// all). With u it keeps each partition's deals for the next refresh. The
// deals come in the order every figure over them is summed in: by
// partition (the month they closed), then by id (one row per opportunity:
// no two share an id). A partition kept from the last refresh is in that
// order already; only the partitions read are sorted.
func loadDeals(ctx context.Context, conn driver.Conn, u *statsReuse) ([]dealRow, error) {
	reuse := cachedParts(u, "deal_facts", func(c *Cache) map[string][]dealRow { return c.deals })
	q, err := partitionRead(qDeals, "deal_facts", slices.Sorted(maps.Keys(reuse)))
	if err != nil {
		return nil, err
	}
	var count uint64
	if err := conn.QueryRow(ctx, qDealCount).Scan(&count); err != nil {
		return nil, fmt.Errorf("count deal_facts: %w", err)
	}
	// The rows read and their ids, per partition.
	type readPart struct {
		rows []dealRow
		ids  []string
	}
	read := map[string]readPart{}
	// One set of scan destinations for every row: declared per row, each
	// would escape to the heap, several allocations per deal.
	var d dealRow
	var id string
	var won, req uint8
	var m uint32
	var part uint64
	var turn *float64
	dest := []any{&id, &d.Account, &d.Segment, &d.Bucket, &d.ReviewBucket, &d.Outcome, &d.Loss, &won, &turn, &d.Cycle, &d.Amount, &m, &req, &part}
	// The cache keeps the deals from one refresh to the next, and the
	// collector marks what it keeps in every cycle: with a string of its
	// own per field and row (the driver allocates each) and a float for
	// each turnaround, the deals were 1.8 million of the client's 2.1
	// million live objects at 10M events. The accounts and the few values
	// of the other fields are kept once (intern), the turnaround in the row.
	in := interner{}
	pid, lastPart := "", uint64(math.MaxUint64)
	err = scanRows(ctx, conn, q, "deal_facts", func(r driver.Rows) error {
		if err := r.Scan(dest...); err != nil {
			return err
		}
		d.Account, d.Segment, d.Bucket = in.get(d.Account), in.get(d.Segment), in.get(d.Bucket)
		d.ReviewBucket, d.Outcome, d.Loss = in.get(d.ReviewBucket), in.get(d.Outcome), in.get(d.Loss)
		d.HasTurnaround, d.Turnaround = turn != nil, 0
		if turn != nil {
			d.Turnaround = *turn
		}
		d.Won, d.ReviewRequired, d.Month = won == 1, req == 1, month(m)
		if part != lastPart {
			pid, lastPart = partitionID(part), part
		}
		rp := read[pid]
		rp.rows, rp.ids = append(rp.rows, d), append(rp.ids, id)
		read[pid] = rp
		return nil
	})
	if err != nil {
		return nil, err
	}
	parts := make(map[string][]dealRow, len(read)+len(reuse))
	for pid, rp := range read {
		parts[pid] = sortDeals(rp.rows, rp.ids)
	}
	if u != nil {
		keepParts(u, func(u *statsReuse) map[string][]dealRow { return u.deals }, parts, reuse)
	}
	maps.Copy(parts, reuse)
	deals := make([]dealRow, 0, count)
	for _, pid := range slices.SortedFunc(maps.Keys(parts), comparePartitionIDs) {
		deals = append(deals, parts[pid]...)
	}
	return deals, nil
}

// ticketBase is a table of tickets counted per account and key
// (qTicketRows): the accounts, numbered in the order first read, and the
// counts of each account number and key (acct<<32 | key), by that pair.
// Options.Cache keeps the one of the base of ticket_facts' view.
type ticketBase struct {
	table    string // the base table read
	accounts []string
	num      map[string]int32
	keys     []uint64
	counts   []int64
}

// readTicketBase reads table's tickets (qTicketRows) and counts them.
func readTicketBase(ctx context.Context, conn driver.Conn, table string) (*ticketBase, error) {
	b := &ticketBase{table: table, num: map[string]int32{}}
	var acct string
	var k uint32
	var keys []uint64
	err := scanRows(ctx, conn, ticketRead(qTicketRows, table, ""), "ticket_facts", func(r driver.Rows) error {
		if err := r.Scan(&acct, &k); err != nil {
			return err
		}
		keys = append(keys, uint64(b.number(acct))<<32|uint64(k))
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	for i, key := range keys {
		if i == 0 || key != keys[i-1] {
			b.keys, b.counts = append(b.keys, key), append(b.counts, 0)
		}
		b.counts[len(b.counts)-1]++
	}
	return b, nil
}

// number returns acct's number, numbering it if it is new.
func (b *ticketBase) number(acct string) int32 {
	n, ok := b.num[acct]
	if !ok {
		n = int32(len(b.accounts))
		b.num[acct], b.accounts = n, append(b.accounts, acct)
	}
	return n
}

// loadTickets reads ticket_facts counted per creation month, incident
// window, security flag, CSAT score and affected flag, and per account for
// the affected accounts (those of qAffectedAccounts); the other accounts'
// tickets are counted together (account "").
//
// ticket_facts is a view over a base table and a delta (layers.go). The
// base does not change while it is live, and an incremental refresh
// writes only a new delta, so with Options.Cache the base's counts are
// read once and kept (u); each refresh reads the delta's tickets and the
// base's tickets the delta replaces (the view's filter, inverted) and
// adds and takes them away (without Options.Cache it reads the view, in
// one statement). At 10M events the view's 800,000 tickets cost
// the server 0.3 s of CPU to group each refresh; the delta's 11,000-25,000
// and their counterparts in the base 0.04 s. A base's counts are used only
// when the cache is valid (cache.go) and the view still reads the same
// base table: a refresh that folds the delta writes the base into the
// other slot, and no refresh but the cache's own ran since.
func loadTickets(ctx context.Context, conn driver.Conn, u *statsReuse) ([]ticketGroup, error) {
	affected, err := queryStrings(ctx, conn, "the accounts incidents affected", qAffectedAccounts)
	if err != nil {
		return nil, err
	}
	// Without a cache, one read of the view: outside a refresh, a refresh
	// may swap the view between two reads of its tables.
	// A plain table (not a view over layers) is rebuilt by every refresh:
	// its counts are neither reused nor kept.
	l := layout{base: "ticket_facts"}
	var base *ticketBase
	keep := false
	if u != nil {
		live, layered, err := liveLayout(ctx, conn, *modelNamed("ticket_facts"))
		if err != nil {
			return nil, err
		}
		if layered {
			l, keep = live, true
		}
		if keep && u.valid {
			u.old.mu.Lock()
			if c := u.old.tickets; c != nil && c.table == l.base {
				base = c
			}
			u.old.mu.Unlock()
		}
	}
	reused := base != nil
	if !reused {
		if base, err = readTicketBase(ctx, conn, l.base); err != nil {
			return nil, err
		}
	}
	if keep {
		u.mu.Lock()
		u.tickets = base
		if reused {
			u.reused++
		} else {
			u.read++
		}
		u.mu.Unlock()
	}
	// The delta's counts added, those of the base's rows it replaces taken
	// away; new accounts numbered after the base's.
	adj := map[uint64]int64{}
	extra := map[string]int32{}
	var more []string
	number := func(acct string) int32 {
		if n, ok := base.num[acct]; ok {
			return n
		}
		n, ok := extra[acct]
		if !ok {
			n = int32(len(base.accounts) + len(more))
			extra[acct], more = n, append(more, acct)
		}
		return n
	}
	if l.delta != "" {
		for _, read := range []struct {
			q    string
			sign int64
		}{
			{ticketRead(qTicketCounts, l.base, "layer_key_hash IN (SELECT layer_key_hash FROM "+l.delta+")"), -1},
			{ticketRead(qTicketCounts, l.delta, ""), 1},
		} {
			var acct string
			var k uint32
			var n uint64
			err := scanRows(ctx, conn, read.q, "ticket_facts", func(r driver.Rows) error {
				if err := r.Scan(&acct, &k, &n); err != nil {
					return err
				}
				adj[uint64(number(acct))<<32|uint64(k)] += read.sign * int64(n)
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	isAffected := make([]bool, len(base.accounts)+len(more))
	for _, a := range affected {
		if n, ok := base.num[a]; ok {
			isAffected[n] = true
		} else if n, ok := extra[a]; ok {
			isAffected[n] = true
		}
	}
	name := func(n int32) string {
		if int(n) < len(base.accounts) {
			return base.accounts[n]
		}
		return more[int(n)-len(base.accounts)]
	}
	var out []ticketGroup
	others := map[uint32]int64{} // the tickets of unaffected accounts, per key
	add := func(key uint64, n int64) error {
		switch {
		case n < 0:
			return fmt.Errorf("read ticket_facts: the delta replaces %d more tickets than the base holds (key %#x)", -n, key)
		case n == 0:
			return nil
		}
		acct, k := int32(key>>32), uint32(key)
		if !isAffected[acct] {
			others[k] += n
			return nil
		}
		out = append(out, ticketFromKey(name(acct), k, true, n))
		return nil
	}
	for i, key := range base.keys {
		n := base.counts[i]
		if d, ok := adj[key]; ok {
			n += d
			delete(adj, key)
		}
		if err := add(key, n); err != nil {
			return nil, err
		}
	}
	for _, key := range slices.Sorted(maps.Keys(adj)) {
		if err := add(key, adj[key]); err != nil {
			return nil, err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(others)) {
		out = append(out, ticketFromKey("", k, false, others[k]))
	}
	return out, nil
}

// ticketFromKey is the group of n tickets of key k (qTicketRows).
func ticketFromKey(acct string, k uint32, affected bool, n int64) ticketGroup {
	return ticketGroup{Account: acct, Month: month(k >> 12), After: k>>10&1 == 1, Security: k>>9&1 == 1,
		Rated: k>>8&1 == 1, CSAT: uint8(k), AffectedAcct: affected, N: int(n)}
}

// comparePartitionIDs orders partition ids (decimal integers, as
// partitionID writes them) by their value.
func comparePartitionIDs(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// loadDeployments reads deployment_facts grouped (qDeploymentGroups), as
// loadDeals reads the deals.
func loadDeployments(ctx context.Context, conn driver.Conn, u *statsReuse) ([]deployGroup, error) {
	reuse := cachedParts(u, "deployment_facts", func(c *Cache) map[string][]deployGroup { return c.deploy })
	var g deployGroup
	var b, w uint8
	var m uint32
	var n, nLead uint64
	var lead string
	return loadPartitioned(ctx, conn, u, qDeploymentGroups, "deployment_facts", reuse,
		func(u *statsReuse) map[string][]deployGroup { return u.dep },
		[]any{&g.Service, &g.Department, &g.Team, &g.Environment, &g.Status, &b, &w, &m, &n, &nLead, &lead},
		func() (deployGroup, error) {
			var err error
			if g.Lead, err = floatBytes(lead, nLead); err != nil {
				return g, err
			}
			g.Blocked, g.Waived, g.Month, g.N = b == 1, w == 1, month(m), int(n)
			return g, nil
		})
}

// loadSecurityFix reads the security-fix lead times (qSecurityFix), as
// loadDeals reads the deals.
func loadSecurityFix(ctx context.Context, conn driver.Conn, u *statsReuse) ([]fixLead, error) {
	reuse := cachedParts(u, "dora_changes", func(c *Cache) map[string][]fixLead { return c.fixes })
	var f fixLead
	var m uint32
	return loadPartitioned(ctx, conn, u, qSecurityFix, "dora_changes", reuse,
		func(u *statsReuse) map[string][]fixLead { return u.fixes },
		[]any{&m, &f.Hours},
		func() (fixLead, error) {
			f.Month = month(m)
			return f, nil
		})
}

// loadPartitioned reads q (a read of table whose last column is each
// row's partition, partitionRead) but for the partitions reuse holds,
// scanning each row into dest (the other columns) and taking the item
// row gives; the items of reuse follow. With u it records the partitions
// read and reused (in u's field pick gives) for the next refresh. The
// figures of these items do not depend on their order.
func loadPartitioned[T any](ctx context.Context, conn driver.Conn, u *statsReuse, q, table string, reuse map[string][]T,
	pick func(*statsReuse) map[string][]T, dest []any, row func() (T, error)) ([]T, error) {
	q, err := partitionRead(q, table, slices.Sorted(maps.Keys(reuse)))
	if err != nil {
		return nil, err
	}
	var out []T
	read := map[string][]T{}
	var part uint64
	dest = append(dest, &part)
	err = scanRows(ctx, conn, q, table, func(r driver.Rows) error {
		if err := r.Scan(dest...); err != nil {
			return err
		}
		it, err := row()
		if err != nil {
			return err
		}
		out = append(out, it)
		if u != nil {
			pid := partitionID(part)
			read[pid] = append(read[pid], it)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if u != nil {
		keepParts(u, pick, read, reuse)
		for _, items := range reuse {
			out = append(out, items...)
		}
	}
	return out, nil
}

// interner keeps one copy of each distinct string it is given.
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	in[s] = s
	return s
}

// sortDeals returns the deals (of one partition) in the order of their
// ids.
func sortDeals(deals []dealRow, ids []string) []dealRow {
	idx := make([]int32, len(deals))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(ids[a], ids[b]) })
	out := make([]dealRow, len(deals))
	for i, j := range idx {
		out[i] = deals[j]
	}
	return out
}

// floatBytes decodes an array of n float64s the query sent as one string
// of their IEEE 754 bytes, little endian (arrayStringConcat of
// reinterpretAsString): one string per group instead of clickhouse-go's
// Array scan, which reflects and boxes every element (about a third of the
// load's CPU at ten million events), and no text to format on the server
// and parse here. reinterpretAsString drops a value's trailing zero bytes,
// which are its sign and exponent: only a zero (sent as -0, whose sign
// byte is set, and read back as 0) and magnitudes below 2^-1008, which
// no duration in days or hours reaches, lose any; a string of another
// length than 8n is an error.
func floatBytes(s string, n uint64) ([]float64, error) {
	if uint64(len(s)) != 8*n {
		return nil, fmt.Errorf("an array of %d float64s sent as %d bytes", n, len(s))
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]float64, n)
	for i := range out {
		var bits uint64
		for k := 8*i + 7; k >= 8*i; k-- {
			bits = bits<<8 | uint64(s[k])
		}
		v := math.Float64frombits(bits)
		if v == 0 {
			v = 0 // -0 was a zero
		}
		out[i] = v
	}
	return out, nil
}

// scanRows runs q and calls scan for every row; errors say what was read.
func scanRows(ctx context.Context, conn driver.Conn, q, what string, scan func(driver.Rows) error) error {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("read %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", what, err)
	}
	return nil
}
