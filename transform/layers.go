package transform

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// A layered model (findings, ticket_facts) is published as a view over two
// tables (layer_view.sql): a base, built in full or by a fold, and a delta
// that holds the entities recomputed since the base was written. An
// incremental refresh writes a new delta (the entities it recomputes and
// the earlier delta's others) and swaps the view; it does not copy the
// unchanged rows of the base. At 10M events findings' copy was its open
// partition and three months (744,000 rows) in every refresh, though 1-2%
// of them had changed: the open findings a refresh touches are spread over
// every month, so no partitioning of the table keeps them together
// (docs/transform.md); ticket_facts rewrote 111,000 unchanged rows for
// 11,000 touched tickets. Once the delta would hold more than
// Options.DeltaShare of the base's rows, the refresh folds it: a new base
// from the old one's partitions, rebuilt where a recomputed or delta
// entity was (copy.sql) and attached by hard links elsewhere, and no delta.
//
// Each layer table lives in one of two slots (<model>_base_a, _base_b,
// <model>_delta_a, _delta_b): a refresh writes the slot the live view does
// not read, so no table a reader may be reading is ever renamed or
// changed; the view is the one name that is swapped, with RENAME, which
// waits for the queries reading it. The tables the new view does not read
// are dropped after the swap.

// DefaultDeltaShare is Options.DeltaShare when it is zero.
const DefaultDeltaShare = 0.1

func (o Options) deltaShare() float64 {
	if o.DeltaShare <= 0 {
		return DefaultDeltaShare
	}
	return o.DeltaShare
}

// layout names the tables a layered model's view reads: base always,
// delta after incremental refreshes (empty after a full build or a fold).
type layout struct{ base, delta string }

// layerTable names a layer table of m: kind is base or delta, slot a or b.
func (m model) layerTable(kind, slot string) string { return m.name + "_" + kind + "_" + slot }

// otherSlot returns the layer table of m's kind that current is not (slot
// a when there is none).
func (m model) otherSlot(kind, current string) string {
	if current == m.layerTable(kind, "a") {
		return m.layerTable(kind, "b")
	}
	return m.layerTable(kind, "a")
}

// layerOf returns the layered model whose layer table is table.
func layerOf(table string) (model, bool) {
	for _, m := range sqlModels {
		if !m.layered {
			continue
		}
		if slices.Contains(m.layerTables(), table) {
			return m, true
		}
	}
	return model{}, false
}

// layerTables lists every layer table of m.
func (m model) layerTables() []string {
	return []string{m.layerTable("base", "a"), m.layerTable("base", "b"), m.layerTable("delta", "a"), m.layerTable("delta", "b")}
}

// layoutOf reads the tables the view DDL of m reads. ok is false when ddl
// is not a layered view of m (a plain table, as a release before layering
// built it).
func (m model) layoutOf(ddl string) (l layout, ok bool) {
	if !strings.HasPrefix(strings.TrimSpace(ddl), "CREATE VIEW") {
		return layout{}, false
	}
	re := regexp.MustCompile(`(?:^|[^A-Za-z0-9_])(` + regexp.QuoteMeta(m.name) + `_(base|delta)_[ab])(?:[^A-Za-z0-9_]|$)`)
	for _, mm := range re.FindAllStringSubmatch(ddl, -1) {
		if mm[2] == "base" {
			l.base = mm[1]
		} else {
			l.delta = mm[1]
		}
	}
	return l, l.base != ""
}

// liveLayout reads the layout of m's live view (SHOW CREATE TABLE: it does
// not read system.tables, which 18.16 fails while another table of the
// database is renamed). The table must exist.
func liveLayout(ctx context.Context, conn driver.Conn, m model) (layout, bool, error) {
	var ddl string
	if err := conn.QueryRow(ctx, "SHOW CREATE TABLE "+m.name).Scan(&ddl); err != nil {
		return layout{}, false, fmt.Errorf("read the definition of %s: %w", m.name, err)
	}
	l, ok := m.layoutOf(ddl)
	return l, ok, nil
}

// placeSteps give <name>_next, just filled, the name of the layer table
// target (a slot the live view does not read; a leftover of an interrupted
// refresh may hold it).
func placeSteps(m model, target string) []string {
	return []string{"DROP TABLE IF EXISTS " + target, fmt.Sprintf("RENAME TABLE %s_next TO %s", m.name, target)}
}

// publishSteps create the view of layout next as <name>_next, swap it in
// for the live table (a view, or the plain table of a release before
// layering) and drop every layer table next does not read.
func publishSteps(m model, next layout, exists bool) ([]string, error) {
	cols, err := m.columns()
	if err != nil {
		return nil, err
	}
	view, err := fileStatements("layer_view.sql", tmplData{Table: m.name + "_next", Base: next.base, Delta: next.delta,
		Columns: strings.Join(cols, ", ")})
	if err != nil {
		return nil, err
	}
	out := append([]string{"DROP TABLE IF EXISTS " + m.name + "_next"}, view...)
	out = append(out, swapSteps(m.name, exists)...)
	for _, t := range m.layerTables() {
		if t != next.base && t != next.delta {
			out = append(out, "DROP TABLE IF EXISTS "+t)
		}
	}
	return out, nil
}

// keyHashSteps add the key hash column to table, a layer table of m being
// created from m's DDL (layer_key.sql).
func (m model) keyHashSteps(table string) ([]string, error) {
	return fileStatements("layer_key.sql", tmplData{Table: table, Key: m.key})
}

// hashCollisions counts the rows of base that a view over base and delta
// would hide though delta has no row of their key (layer_collisions.sql).
func hashCollisions(ctx context.Context, conn driver.Conn, m model, base, delta string) (uint64, error) {
	q, err := m.collisionsQuery(base, delta)
	if err != nil {
		return 0, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("look for key hash collisions of %s: %w", m.name, err)
	}
	return n, nil
}

// collisionsQuery renders layer_collisions.sql for base and delta.
func (m model) collisionsQuery(base, delta string) (string, error) {
	q, err := fileStatements("layer_collisions.sql", tmplData{Key: m.key, Base: base, Delta: delta})
	if err != nil {
		return "", err
	}
	return q[0], nil
}

// layerSteps render one of the layer files (layer_delta.sql,
// layer_fold.sql) for m, reading the delta table delta.
func layerSteps(m model, file, delta string) ([]string, error) {
	cols, err := m.columns()
	if err != nil {
		return nil, err
	}
	return fileStatements(file, tmplData{Table: m.name + "_next", Model: m.name, Key: m.key, Delta: delta,
		Columns: strings.Join(cols, ", ")})
}

// buildLayered refreshes the layered model m: its rows into <name>_next
// (in full, or the touched entities), then (incremental) the earlier
// delta's other entities, and either that is the new delta, or, once it
// would exceed share of the base's rows, the delta is folded into a new
// base; then the view is swapped. cur is the live layout (zero in a full
// build from a plain or no table). It returns the drops of the tables the
// new view does not read (afterSwap), for the caller to run.
func buildLayered(ctx context.Context, conn driver.Conn, m model, mode string, exists bool, cur layout, p params, cluster bool,
	share float64, tr *TableReport) ([]string, error) {
	stmts, err := modelSteps(m, mode, p, cluster, cur)
	if err != nil {
		return nil, err
	}
	if err := execAll(ctx, conn, stmts, "refresh "+m.name); err != nil {
		return nil, err
	}
	next := layout{base: m.otherSlot("base", cur.base)}
	if mode == Incremental {
		if tr.Touched, err = countTouched(ctx, conn, m); err != nil {
			return nil, err
		}
		recomputed, err := countRows(ctx, conn, m.name+"_next")
		if err != nil {
			return nil, err
		}
		if cur.delta != "" {
			steps, err := layerSteps(m, "layer_delta.sql", cur.delta)
			if err != nil {
				return nil, err
			}
			if err := execAll(ctx, conn, steps, "carry over the delta of "+m.name); err != nil {
				return nil, err
			}
		}
		// The new delta as it would be: the recomputed rows and the earlier
		// delta's others.
		deltaRows, err := countRows(ctx, conn, m.name+"_next")
		if err != nil {
			return nil, err
		}
		baseRows, err := countRows(ctx, conn, cur.base)
		if err != nil {
			return nil, err
		}
		// The view takes out of the base only the entities the delta has a
		// row for: a touched entity without a row (none has: a touched
		// finding or ticket has events) is taken out by a fold. It takes
		// them out by their key hashes: a base row of another key with one
		// of those hashes would be hidden too, so that folds as well.
		keep := recomputed == tr.Touched && float64(deltaRows) <= share*float64(baseRows)
		if keep {
			collided, err := hashCollisions(ctx, conn, m, cur.base, m.name+"_next")
			if err != nil {
				return nil, err
			}
			keep = collided == 0
		}
		if keep {
			next = layout{base: cur.base, delta: m.otherSlot("delta", cur.delta)}
			tr.Written = deltaRows
		} else if err := foldLayers(ctx, conn, m, cur, tr); err != nil {
			return nil, err
		}
	} else if tr.Written, err = countRows(ctx, conn, m.name+"_next"); err != nil {
		return nil, err
	}
	place := next.base
	if next.delta != "" {
		place, tr.Delta = next.delta, tr.Written
	}
	publish, err := publishSteps(m, next, exists)
	if err != nil {
		return nil, err
	}
	now, later := afterSwap(append(placeSteps(m, place), publish...))
	return later, execAll(ctx, conn, now, "swap "+m.name)
}

// foldLayers completes <name>_next as the new base: the base's partitions
// that held or now hold a recomputed or delta entity are rebuilt (their
// other rows copied), the others attached from the base as they are.
func foldLayers(ctx context.Context, conn driver.Conn, m model, cur layout, tr *TableReport) error {
	fold, err := layerSteps(m, "layer_fold.sql", cur.delta)
	if err != nil {
		return err
	}
	if err := execAll(ctx, conn, fold, "fold "+m.name); err != nil {
		return err
	}
	keys := m.name + "/fold"
	rebuild, err := queryStrings(ctx, conn, "partitions of "+m.name, m.partitionsQuery(cur.base, keys))
	if err != nil {
		return err
	}
	live, err := livePartitions(ctx, conn, cur.base)
	if err != nil {
		return err
	}
	if tr.Written, err = carryOver(ctx, conn, m, cur.base, keys, rebuild, live); err != nil {
		return err
	}
	tr.Rebuilt, tr.Kept, tr.Folded = len(rebuild), len(without(live, rebuild)), true
	return nil
}
