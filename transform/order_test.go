package transform

import (
	"context"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/secimpact/impact/internal/chconn"
)

// TestBuildOrder: the declared models have a build order, and order
// refuses a model reading a table nothing provides and models that read
// each other's tables.
func TestBuildOrder(t *testing.T) {
	levels, err := buildOrder()
	if err != nil {
		t.Fatalf("the declared models: %v", err)
	}
	var names [][]string
	for _, l := range levels {
		var n []string
		for _, m := range l {
			n = append(n, m.name)
		}
		names = append(names, n)
	}
	want := [][]string{{"findings", "deal_facts", "deployment_facts", "ticket_facts"}, {"finding_groups", "dora_changes"}, {"department_scorecard"}, {StatsTable}}
	if !slices.EqualFunc(names, want, slices.Equal) {
		t.Errorf("build levels %v, want %v", names, want)
	}
	if got := Tables(); !slices.Equal(got, slices.Concat(want...)) {
		t.Errorf("Tables() = %v, want the build order %v", got, slices.Concat(want...))
	}

	provided := []string{"a_events", "b_events"}
	for _, c := range []struct {
		name   string
		models []model
		want   string // error text; "" for an order
		levels string
	}{
		{"chain and a side model", []model{
			{name: "c", reads: []string{"b"}},
			{name: "a", reads: []string{"a_events", "a"}},
			{name: "b", reads: []string{"a", "b_events"}},
			{name: "d", reads: []string{"b_events"}},
		}, "", "a d | b | c"},
		{"unknown table", []model{{name: "a", reads: []string{"a_events", "missing_events"}}},
			"model a reads table missing_events, which no model or migration provides", ""},
		{"cycle", []model{
			{name: "a", reads: []string{"c"}},
			{name: "b", reads: []string{"a_events"}},
			{name: "c", reads: []string{"a"}},
		}, "models a, c read each other's tables (a cycle)", ""},
		{"declared twice", []model{{name: "a"}, {name: "a"}}, "model a is declared twice", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			levels, err := order(c.models, provided)
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err %v, want %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ls []string
			for _, l := range levels {
				var n []string
				for _, m := range l {
					n = append(n, m.name)
				}
				ls = append(ls, strings.Join(n, " "))
			}
			if got := strings.Join(ls, " | "); got != c.levels {
				t.Errorf("levels %q, want %q", got, c.levels)
			}
		})
	}
}

var (
	readRE    = regexp.MustCompile(`\b(ARRAY\s+)?(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_.]*)`)
	commentRE = regexp.MustCompile(`(?m)^\s*(--|//).*$`)
)

// readsOf lists the tables SQL text reads: the names after FROM and JOIN
// (upper case, the house style; comment lines skipped), bar ARRAY JOIN, database-qualified names (system tables) and those
// listed in skip.
func readsOf(text string, skip ...string) []string {
	var out []string
	for _, m := range readRE.FindAllStringSubmatch(commentRE.ReplaceAllString(text, ""), -1) {
		if m[1] != "" || strings.Contains(m[2], ".") || slices.Contains(skip, m[2]) || slices.Contains(out, m[2]) {
			continue
		}
		out = append(out, m[2])
	}
	slices.Sort(out)
	return out
}

// TestModelReads: each model's declared reads are the tables its SQL (for
// impact_stats, the queries of queries.go) reads, so the build order
// derived from them is the one the SQL needs.
func TestModelReads(t *testing.T) {
	for _, m := range append(slices.Clone(sqlModels), statsModel) {
		t.Run(m.name, func(t *testing.T) {
			var text string
			if m.name == StatsTable {
				b, err := os.ReadFile("queries.go")
				if err != nil {
					t.Fatal(err)
				}
				text = string(b)
			} else {
				for _, suffix := range []string{".sql", ".touch.sql"} {
					s, _ := m.file(suffix)
					text += s + "\n"
				}
			}
			// The model's own live table (read by an incremental refresh)
			// and the refresh's bookkeeping are not dependencies.
			got := readsOf(text, m.name, "transform_keys")
			want := slices.Sorted(slices.Values(m.reads))
			if !slices.Equal(got, want) {
				t.Errorf("%s reads %v, declared %v: update its reads in model.go", m.name, got, want)
			}
		})
	}
}

// TestStatsPartReads: each read of impact_stats waits for exactly the
// analyst tables its query reads (partTables), so in an incremental
// refresh, where impact_stats starts before the other models are built,
// no read sees a table of the previous run.
func TestStatsPartReads(t *testing.T) {
	models := map[string]bool{}
	for _, m := range sqlModels {
		models[m.name] = true
	}
	for p, q := range partQueries {
		var got []string
		for _, table := range readsOf(q) {
			if models[table] {
				got = append(got, table)
			}
			if !slices.Contains(statsModel.reads, table) {
				t.Errorf("part %d reads %s, which statsModel.reads lacks", p, table)
			}
		}
		want := slices.Sorted(slices.Values(partTables[p]))
		if !slices.Equal(got, want) {
			t.Errorf("part %d reads the analyst tables %v, waits for %v: update partTables", p, got, want)
		}
	}
}

// TestConcurrentQueriesFitThePool: a refresh runs at most two queries per
// SQL model (carryOver), one per part of impact_stats' input and its
// lease's renewal at once, and chconn.Open's pool has a connection for
// each (a query waiting longer than DialTimeout for one fails).
func TestConcurrentQueriesFitThePool(t *testing.T) {
	if n := 2*len(sqlModels) + int(numParts) + 1; n > MaxConcurrentQueries {
		t.Errorf("a refresh runs up to %d queries at once, MaxConcurrentQueries is %d", n, MaxConcurrentQueries)
	}
	if chconn.DefaultMaxOpenConns < MaxConcurrentQueries {
		t.Errorf("chconn.DefaultMaxOpenConns %d < MaxConcurrentQueries %d", chconn.DefaultMaxOpenConns, MaxConcurrentQueries)
	}
}

// TestWithSettingsMerges: a statement's own settings (the partition copy's
// block sizes) are added to the refresh's (the partition limit lifted on
// current releases), not put in their place as clickhouse.WithSettings
// alone would.
func TestWithSettingsMerges(t *testing.T) {
	ctx := withSettings(context.Background(), clickhouse.Settings{"max_partitions_per_insert_block": 0})
	ctx = withSettings(ctx, copySettings)
	got, _ := ctx.Value(settingsKey{}).(clickhouse.Settings)
	want := clickhouse.Settings{"max_partitions_per_insert_block": 0}
	maps.Copy(want, copySettings)
	if !maps.Equal(got, want) {
		t.Errorf("settings %v, want %v", got, want)
	}
}

// TestLaunchOrder: the models heading the longest chains of models that
// wait on them are offered a build place first, ties in listed order.
func TestLaunchOrder(t *testing.T) {
	levels, err := buildOrder()
	if err != nil {
		t.Fatal(err)
	}
	ms := slices.Concat(levels...)
	_, deps := modelDeps(ms)
	var got []string
	for _, i := range launchOrder(deps) {
		got = append(got, ms[i].name)
	}
	// findings -> finding_groups -> department_scorecard -> impact_stats;
	// deployment_facts -> dora_changes (or the scorecard) -> impact_stats.
	want := []string{"findings", "deployment_facts", "finding_groups", "deal_facts", "ticket_facts", "dora_changes", "department_scorecard", StatsTable}
	if !slices.Equal(got, want) {
		t.Errorf("launch order %v, want %v", got, want)
	}

	for _, c := range []struct {
		name string
		deps [][]int
		want []int
	}{
		{"none", nil, []int{}},
		{"independent keep their order", [][]int{{}, {}, {}}, []int{0, 1, 2}},
		// 2 heads the chain 2 -> 1 -> 0 (1 reads 2, 0 reads 1); 3 stands alone.
		{"a later model heading a chain first", [][]int{{1}, {2}, {}, {}}, []int{2, 1, 0, 3}},
		// 0 and 1 both feed 2; 3 feeds 1 too.
		{"diamond", [][]int{{}, {3}, {0, 1}, {}}, []int{3, 0, 1, 2}},
	} {
		if got := launchOrder(c.deps); !slices.Equal(got, c.want) {
			t.Errorf("%s: launchOrder(%v) = %v, want %v", c.name, c.deps, got, c.want)
		}
	}
}
