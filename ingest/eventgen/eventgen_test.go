package eventgen_test

import (
	"testing"

	"github.com/secimpact/impact/ingest/eventgen"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/schemas"
)

// TestGenerateValid checks every generated event decodes, every family is
// present and the topic routing matches the contract.
func TestGenerateValid(t *testing.T) {
	topics := config.DefaultTopics()
	msgs := eventgen.Generate(5000, topics, eventgen.Options{Seed: 7})
	tables := map[string]int{}
	ids := map[string]bool{}
	for i, m := range msgs {
		var hs []schemas.Header
		for _, h := range m.Headers {
			hs = append(hs, schemas.Header{Key: h.Key, Value: h.Value})
		}
		ev, err := schemas.Decode(m.Value, hs)
		if err != nil {
			t.Fatalf("event %d does not decode: %v\n%s", i, err, m.Value)
		}
		if want := topics.ForType(ev.Type); m.Topic != want {
			t.Fatalf("event %d of type %s on topic %s, want %s", i, ev.Type, m.Topic, want)
		}
		if string(m.Key) != ev.Payload.EntityID() {
			t.Fatalf("event %d key %q, entity %q", i, m.Key, ev.Payload.EntityID())
		}
		if ids[ev.ID] {
			t.Fatalf("duplicate id %s", ev.ID)
		}
		ids[ev.ID] = true
		tables[ev.Payload.Table()]++
	}
	for _, tb := range schemas.Tables() {
		if tables[tb] == 0 {
			t.Errorf("no events for table %s", tb)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		eventgen.Generate(10000, config.DefaultTopics(), eventgen.Options{})
	}
}
