package transform_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestIncrementalLateAndRepeatedEvents: an incremental refresh takes a
// touched entity's state from its new events alone when its latest event is
// one of them, and recomputes the others from every event (the entity
// models' SQL). After a full refresh, each entity table's events get, for
// distinct entities: a late event (older than the entity's latest: the
// latest stays an old one), the latest event delivered again (same id and
// time, fetched later: the new copy wins, a tie on the event time) and a
// new latest event; and a fifth of the reviews a new latest event with
// another completion time. The incremental refresh must equal a full
// rebuild.
func TestIncrementalLateAndRepeatedEvents(t *testing.T) {
	t.Parallel()
	conn := open(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	truth, _ := loadSimulation(t, conn, simulate.Options{Seed: 23, Days: 90}, 1, now.Add(-time.Hour), time.Time{})
	opts := transform.Options{AsOf: truth.End, Overlap: time.Second}
	time.Sleep(3 * time.Second) // the loaded rows are stamped before the watermark
	refresh(t, conn, opts)
	time.Sleep(2 * time.Second) // the new rows are stamped after the watermark

	for _, tc := range []struct{ table, key string }{
		{"finding_events", "finding_id"},
		{"ticket_events", "ticket_id"},
		{"deployment_events", "deployment_id"},
		{"opportunity_events", "opportunity_id"},
	} {
		cols := typedColumns(t, conn, tc.table)
		for i, c := range []struct {
			first            bool   // copy the entity's first event (else its latest)
			eventID, timeAdd string // new event id, shift of the event time
		}{
			{first: true, eventID: "concat('late-', event_id)", timeAdd: "- 86400"}, // late: older than the latest
			{eventID: "event_id", timeAdd: ""},                                      // the latest again, fetched later
			{eventID: "concat('next-', event_id)", timeAdd: "+ 3600"},               // a new latest event
		} {
			exprs := columnExprs(cols, map[string]string{
				"event_id":     c.eventID,
				"event_time":   "event_time " + c.timeAdd,
				"ingested_at":  "now()",
				"kafka_offset": fmt.Sprintf("kafka_offset + %d", 1000000000*(i+1)),
			})
			dir := "DESC"
			if c.first {
				dir = "ASC"
			}
			q := fmt.Sprintf("INSERT INTO %s (%s)\nSELECT %s FROM (SELECT * FROM %s WHERE cityHash64(%s) %% 40 = %d ORDER BY %s, event_time %s LIMIT 1 BY %s)",
				tc.table, strings.Join(cols, ", "), strings.Join(exprs, ", "), tc.table, tc.key, i, tc.key, dir, tc.key)
			if err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s case %d: %v", tc.table, i, err)
			}
		}
	}
	// A review's new latest event, with another completion time, for the
	// reviews of some deals: only the closed deals whose latest event names
	// the review change (deal_facts.touch.sql), whatever their own events.
	cols := typedColumns(t, conn, "review_events")
	exprs := columnExprs(cols, map[string]string{
		"event_id":     "concat('moved-', event_id)",
		"event_time":   "event_time + 7200",
		"completed_at": "requested_at + if(isNull(completed_at), 2 * 86400, 20 * 86400)",
		"ingested_at":  "now()",
		"kafka_offset": "kafka_offset + 4000000000",
	})
	q := fmt.Sprintf("INSERT INTO review_events (%s)\nSELECT %s FROM (SELECT * FROM review_events WHERE cityHash64(review_id) %% 5 = 0 ORDER BY review_id, event_time DESC LIMIT 1 BY review_id)",
		strings.Join(cols, ", "), strings.Join(exprs, ", "))
	if err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("review_events: %v", err)
	}
	// A new catalog version of one service, effective a second after its
	// first, with another team: its findings and deployments detected
	// (started) in between take it. The touch queries look for them only
	// when the catalog has new rows (findings.touch.sql,
	// deployment_facts.touch.sql).
	cols = typedColumns(t, conn, "service_events")
	exprs = columnExprs(cols, map[string]string{
		"event_id":     "concat('moved-', event_id)",
		"event_time":   "event_time + 1",
		"effective_at": "effective_at + 1",
		"team":         "'moved-team'",
		"ingested_at":  "now()",
		"kafka_offset": "kafka_offset + 5000000000",
	})
	q = fmt.Sprintf("INSERT INTO service_events (%s)\nSELECT %s FROM (SELECT * FROM service_events ORDER BY service_id, effective_at, event_time LIMIT 1 BY service_id LIMIT 1)",
		strings.Join(cols, ", "), strings.Join(exprs, ", "))
	if err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("service_events: %v", err)
	}
	if rep := refresh(t, conn, opts); rep.Mode != transform.Incremental {
		t.Fatalf("second refresh is %s, want incremental", rep.Mode)
	}
	for _, table := range []string{"findings", "deployment_facts"} {
		var moved uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE team = 'moved-team'").Scan(&moved); err != nil {
			t.Fatal(err)
		}
		if moved == 0 {
			t.Errorf("no row of %s took the new catalog version: the case did not happen", table)
		}
	}
	inc := snapshot(t, conn)
	refresh(t, conn, transform.Options{AsOf: truth.End, Full: true})
	sameSnapshots(t, "incremental", inc, snapshot(t, conn))
}
