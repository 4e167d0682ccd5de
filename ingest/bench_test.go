package ingest_test

import (
	"context"
	"testing"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/testenv"
)

// BenchmarkInsertDirect measures the ClickHouse side alone: rows of
// generated events inserted in batches, no Kafka.
func BenchmarkInsertDirect(b *testing.B) {
	cc := testenv.ClickHouse(b)
	ins, err := chconn.NewInserter(cc)
	if err != nil {
		b.Fatal(err)
	}
	defer ins.Close()
	msgs := eventgen.Generate(50000, config.DefaultTopics(), eventgen.Options{})
	b.ResetTimer()
	for b.Loop() {
		if _, err := ingest.InsertDirect(context.Background(), ins, msgs, 50000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(msgs)*b.N)/b.Elapsed().Seconds(), "events/s")
}
