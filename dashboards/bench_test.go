package dashboards

import (
	"context"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/simulate"
)

// BenchmarkDashboardLoad measures what opening each dashboard costs
// ClickHouse 18.16: every panel query of the dashboard, run one after the
// other, over a simulated organisation (240 days at scale 0.5, about 60k
// events). Reports ms per dashboard load.
//
//	go test ./dashboards -run '^$' -bench DashboardLoad -benchtime 5x
func BenchmarkDashboardLoad(b *testing.B) {
	conn, _, truth := pipelineDB(b, 0.5)
	ctx := context.Background()
	for _, d := range All() {
		r := Request{From: truth.Start.AddDate(-3, 0, 0), To: truth.End}
		if d.UID == UIDPipeline {
			now := time.Now().UTC()
			r = Request{From: now.Add(-time.Hour), To: now}
		}
		sel := map[string]Selection{"department": Select(simulate.Departments[0]), "team": SelectAll}
		var sqls []string
		for _, p := range d.Panels {
			raw, err := p.Query()
			if err != nil {
				b.Fatal(err)
			}
			sql, err := d.Render(raw, sel, r)
			if err != nil {
				b.Fatal(err)
			}
			sqls = append(sqls, sql)
		}
		b.Run(d.UID, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				for _, sql := range sqls {
					rows, err := conn.Query(ctx, sql)
					if err != nil {
						b.Fatal(err)
					}
					for rows.Next() {
					}
					if err := rows.Err(); err != nil {
						b.Fatal(err)
					}
					rows.Close()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
			b.ReportMetric(float64(len(sqls)), "queries")
		})
	}
}
