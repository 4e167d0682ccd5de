package transform

import (
	"fmt"
	"slices"
	"time"
)

// Plan returns the statements a refresh sends for the SQL models (the
// impact_stats rows are computed in Go and inserted as a batch), with
// every parameter inlined: in Full mode as the first refresh of an empty
// database, in Incremental mode as a later refresh whose watermark is
// opts.AsOf - opts.Overlap and that started at opts.AsOf. Tests keep it as a golden file and run it
// through a current ClickHouse (chdb); `impact transform --plan` prints it.
func Plan(opts Options, mode string) ([]string, error) {
	if mode != Full && mode != Incremental {
		return nil, fmt.Errorf("plan mode %q: want %s or %s", mode, Full, Incremental)
	}
	if err := opts.validate(false); err != nil {
		return nil, err
	}
	if opts.SLA == (SLAPolicy{}) {
		opts.SLA = DefaultSLAPolicy
	}
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultOverlap
	}
	asOf := opts.AsOf
	if asOf.IsZero() {
		asOf = time.Now()
	}
	p := runParams(opts, asOf, asOf.Add(-opts.Overlap), asOf)
	state, _ := sqlFS.ReadFile("sql/state.ddl.sql")
	out, err := statements("state.ddl.sql", string(state), tmplData{})
	if err != nil {
		return nil, err
	}
	out = append(out, "TRUNCATE TABLE transform_keys") // once per refresh, before the models
	levels, err := buildOrder()
	if err != nil {
		return nil, err
	}
	for _, m := range slices.Concat(levels...) {
		if m.name == StatsTable {
			continue // computed in Go
		}
		mm := mode
		if m.key == "" {
			mm = Full
		}
		exists := mode == Incremental
		var live layout // the incremental plan's layered views read base a and delta a (below)
		if m.layered && mm == Incremental {
			live = layout{base: m.layerTable("base", "a"), delta: m.layerTable("delta", "a")}
		}
		steps, err := modelSteps(m, mm, p, opts.Cluster != "", live)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", m.name, err)
		}
		out = append(out, steps...)
		if m.layered {
			// A full plan builds base a; the incremental one stands for a
			// refresh after incremental ones: the view reads base a and
			// delta a, and the delta stays under Options.DeltaShare. A
			// fold (layer_fold.sql, then the partition copy and attach of
			// the other models, from the base) is not in the plan;
			// TestFoldOnCurrentClickHouse runs one in chdb.
			next := layout{base: m.layerTable("base", "a")}
			if mm == Incremental {
				next.delta = m.layerTable("delta", "b")
				carry, err := layerSteps(m, "layer_delta.sql", live.delta)
				if err != nil {
					return nil, fmt.Errorf("plan %s: %w", m.name, err)
				}
				out = append(out, carry...)
			}
			place := next.base
			if next.delta != "" {
				place = next.delta
			}
			publish, err := publishSteps(m, next, exists)
			if err != nil {
				return nil, fmt.Errorf("plan %s: %w", m.name, err)
			}
			out = append(append(out, placeSteps(m, place)...), publish...)
			continue
		}
		if mm == Incremental {
			// The partitions come from the server at run time; these
			// stand for an open (0) and a month partition being rebuilt
			// and an earlier month attached as it is.
			carry, err := carrySteps(m, m.name, m.name, []string{"0", planMonth(asOf)}, []string{planMonth(asOf.AddDate(0, -1, 0))})
			if err != nil {
				return nil, fmt.Errorf("plan %s: %w", m.name, err)
			}
			out = append(out, m.partitionsQuery(m.name, m.name))
			out = append(out, carry...)
		}
		out = append(out, swapSteps(m.name, exists)...)
	}
	return out, nil
}

func planMonth(t time.Time) string { return t.UTC().Format("200601") }
