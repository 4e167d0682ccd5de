package ingest

import (
	"testing"

	"github.com/segmentio/kafka-go"
)

// TestRecycleMessages: a processed batch's message slice is kept, emptied
// (no message bytes held), for the partition's next fetches, at most two
// of them; an empty slice is not kept.
func TestRecycleMessages(t *testing.T) {
	pr := partitionReader{spare: make(chan []kafka.Message, 2)}
	pr.recycle(nil)
	if len(pr.spare) != 0 {
		t.Fatal("an empty slice was kept")
	}
	for i := range 3 {
		msgs := make([]kafka.Message, 3, 8)
		for k := range msgs {
			msgs[k] = kafka.Message{Offset: int64(k), Value: []byte("v"), Headers: []kafka.Header{{Key: "ce_id"}}}
		}
		pr.recycle(msgs)
		if want := min(i+1, 2); len(pr.spare) != want {
			t.Fatalf("after %d recycles %d slices kept, want %d", i+1, len(pr.spare), want)
		}
	}
	for range 2 {
		got := <-pr.spare
		if len(got) != 0 || cap(got) != 8 {
			t.Fatalf("kept slice len %d cap %d, want 0 and 8", len(got), cap(got))
		}
		for k, m := range got[:3] {
			if m.Value != nil || m.Headers != nil || m.Offset != 0 {
				t.Errorf("message %d still holds %+v", k, m)
			}
		}
	}
}
