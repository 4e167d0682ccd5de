package transform

import (
	"context"
	"strings"
	"testing"
	"text/template"
	"time"
)

// TestFindingOrderKeySortsAsTheOrder: the String order key the full
// findings statement takes the latest event by sorts the events exactly as
// the order tuple the incremental statements use, ties included, on 18.16:
// events that differ only in fields past the event id, event ids that are
// prefixes of each other or hold NUL and bytes below the hex digits, and
// the extremes of every number.
func TestFindingOrderKeySortsAsTheOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	text, _ := model{name: "findings"}.file(".sql")
	tm, err := template.New("findings").Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	render := func(name string) string {
		var b strings.Builder
		if err := tm.ExecuteTemplate(&b, name, tmplData{}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	order, key := render("order"), render("okey")

	conn := testConn(t)
	if err := conn.Exec(ctx, `CREATE TABLE order_key_events (id UInt32, event_time DateTime, event_type String, event_id String,
		ingested_at DateTime, kafka_partition Int32, kafka_offset Int64) ENGINE = Memory`); err != nil {
		t.Fatal(err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO order_key_events (id, event_time, event_type, event_id, ingested_at, kafka_partition, kafka_offset)")
	if err != nil {
		t.Fatal(err)
	}
	id := uint32(0)
	for _, et := range []int64{1, 256, 4294967295} {
		for _, typ := range []string{"security.finding.opened", "security.finding.updated", "security.finding.reopened",
			"security.finding.fixed", "security.finding.dismissed"} {
			for _, eid := range []string{"", "a", "a\x00", "a\x00\x01", "a\x00b", "a0", "aF", "ab", "\xff"} {
				for _, ing := range []int64{1, 256} {
					for _, part := range []int32{-2147483648, -2147483647, -2147483392, -1, 0, 1, 2147483647} {
						for _, off := range []int64{-2, -1, 0, 256, 9223372036854775807} {
							id++
							if err := batch.Append(id, time.Unix(et, 0), typ, eid, time.Unix(ing, 0), part, off); err != nil {
								t.Fatal(err)
							}
						}
					}
				}
			}
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatal(err)
	}

	ids := func(by string) []uint32 {
		var got []uint32
		if err := conn.QueryRow(ctx, "SELECT groupArray(id) FROM (SELECT id FROM order_key_events ORDER BY "+by+", id)").Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	byOrder, byKey := ids(order), ids(key)
	if len(byOrder) != int(id) {
		t.Fatalf("%d events sorted, want %d", len(byOrder), id)
	}
	for i := range byOrder {
		if byOrder[i] != byKey[i] {
			t.Fatalf("position %d: event %d by the order tuple, %d by the order key", i, byOrder[i], byKey[i])
		}
	}
	// Ties: one key per order tuple, and as many keys as tuples.
	var tuples, keys, mixed uint64
	if err := conn.QueryRow(ctx, "SELECT uniqExact("+order+"), uniqExact("+key+"), uniqExact(("+order+", "+key+")) FROM order_key_events").
		Scan(&tuples, &keys, &mixed); err != nil {
		t.Fatal(err)
	}
	if tuples != keys || keys != mixed {
		t.Errorf("%d order tuples, %d order keys, %d pairs of them: want one key per tuple", tuples, keys, mixed)
	}
}
