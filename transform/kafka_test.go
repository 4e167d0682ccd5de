package transform_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/transform"
)

// TestPipelineThroughKafka is the whole path: simulate (seeded, with
// duplicates, late and out-of-order events and invalid lines) -> publish to
// Kafka (embedded, or the real broker with IMPACT_TEST_KAFKA=real) ->
// ingest --drain -> transform; the fact tables equal the truth.
func TestPipelineThroughKafka(t *testing.T) {
	kc := testenv.Kafka(t)
	cc, conn := openDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var buf bytes.Buffer
	truth, err := simulate.WriteJSONL(ctx, &buf, simulate.Options{Seed: 3, Days: 120, Scale: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if truth.Delivery.Invalid == 0 || truth.Delivery.Duplicates == 0 {
		t.Fatalf("simulation without mess: %+v", truth.Delivery)
	}
	w, err := kafkaio.NewWriter(kc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kafkaio.Publish(ctx, w, &buf, kafkaio.PublishOptions{Topics: kc.Topics})
	w.Close()
	if err != nil {
		t.Fatalf("publish: %v (%+v)", err, st)
	}
	err = ingest.Run(ctx, ingest.Config{
		Kafka:          kc,
		ClickHouse:     cc,
		GroupID:        "transform" + testenv.TopicSuffix(t),
		Drain:          true,
		NoMigrate:      true, // openDB applied the migrations
		FlushAge:       200 * time.Millisecond,
		CommitInterval: 200 * time.Millisecond,
		BackoffMax:     time.Second,
	})
	if err != nil {
		t.Fatalf("ingest --drain: %v", err)
	}
	refresh(t, conn, transform.Options{AsOf: truth.End})
	compareTruth(t, conn, truth)
}
