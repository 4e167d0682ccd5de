package brief_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
)

// The default period of a brief is the last full calendar quarter.
func ExampleLastFullQuarter() {
	p := brief.LastFullQuarter(time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC))
	fmt.Println(p)
	// Output: 2026-07-01..2026-09-30
}

// Render writes one self-contained HTML page; figures can come from Load
// or be built by hand.
func ExampleRender() {
	var buf bytes.Buffer
	err := brief.Render(&buf, brief.Data{
		From: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		To:   time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
		MinN: 30,
		Headlines: []brief.Figure{{
			Title: "Win-rate difference, fast vs slow security reviews", Estimate: 15.5, Low: 10.3, High: 20.7,
			N: 1813, Unit: "pp", Method: "Mantel-Haenszel", Evidence: "adjusted",
			Wording: "Fast reviews are associated with a higher win rate within segments.",
		}},
		WinRateByBucket: []brief.Bar{{Label: "fast", Value: 45, Low: 41, High: 49, N: 600, HasRange: true}, {Label: "slow", Value: 25, Low: 21, High: 29, N: 500, HasRange: true}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Count(buf.String(), `class="chart"`), "chart,", strings.Contains(buf.String(), "95% CI 10.3 to 20.7 pp"))
	// Output: 1 chart, true
}

// Load reads the analyst tables for a period; `impact report` does this.
func ExampleLoad() {
	ctx := context.Background()
	conn, err := chconn.Open(ctx, config.FromEnv().ClickHouse)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	p, err := brief.DefaultPeriod(ctx, conn, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	d, err := brief.Load(ctx, conn, p, brief.LoadOptions{Organisation: "Example Corp"})
	if err != nil {
		log.Fatal(err)
	}
	var buf bytes.Buffer
	if err := brief.Render(&buf, d); err != nil {
		log.Fatal(err)
	}
}
