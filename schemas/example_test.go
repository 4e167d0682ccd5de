package schemas_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/secimpact/impact/schemas"
)

func ExampleDecode() {
	value := []byte(`{
	  "specversion": "1.0", "id": "evt-1", "source": "https://scanner.example",
	  "type": "security.finding.opened", "time": "2025-03-04T10:15:00+01:00",
	  "data": {"finding_id": "F-1", "scanner": "trivy", "category": "sca", "severity": "critical",
	           "service_id": "svc-checkout", "status": "open", "detected_at": "2025-03-04T09:00:00Z"}}`)
	ev, err := schemas.Decode(value, nil) // structured mode: no headers needed
	if err != nil {
		fmt.Println(err)
		return
	}
	f := ev.Payload.(*schemas.Finding)
	fmt.Println(ev.Type, ev.Time, ev.Payload.Table(), ev.Payload.EntityID())
	fmt.Println("severity", f.Severity, "sla_due_at sent:", f.SLADueAt != nil) // the transform derives due dates

	// Binary mode: attributes in ce_ headers, data as the value.
	_, err = schemas.Decode([]byte(`{"deployment_id": "d-1"}`), []schemas.Header{
		{Key: "ce_specversion", Value: []byte("1.0")},
		{Key: "ce_id", Value: []byte("evt-2")},
		{Key: "ce_source", Value: []byte("https://cd.example")},
		{Key: "ce_type", Value: []byte("deployment.started")},
		{Key: "ce_time", Value: []byte("2025-03-04T09:15:00Z")},
		{Key: "content-type", Value: []byte("application/json")},
	})
	var rej *schemas.Rejection
	if errors.As(err, &rej) {
		fmt.Printf("rejected: field %s, rule %s\n", rej.Field, rej.Rule)
	}
	// Output:
	// security.finding.opened 2025-03-04 09:15:00 +0000 UTC finding_events F-1
	// severity critical sla_due_at sent: false
	// rejected: field data.service_id, rule required
}

func ExampleDecoder_AppendMessage() {
	var dec schemas.Decoder
	var rows schemas.Rows // reused batch after batch: decoding allocates nothing
	lin := schemas.Lineage{Topic: "catalog.events", Partition: 0, Offset: 41, IngestedAt: time.Now()}
	tbl, rej := dec.AppendMessage(&rows, []byte(`{"specversion":"1.0","id":"e","source":"s","type":"catalog.service.upserted",
	  "time":"2025-03-04T09:00:00Z","data":{"service_id":"svc","team":"payments","department":"engineering",
	  "tier":"high","internet_facing":true,"effective_at":"2025-01-01T00:00:00Z"}}`), nil, lin)
	fmt.Println(tbl.Name(), rej, tbl.Columns())
	lin.Offset++
	_, rej = dec.AppendMessage(&rows, []byte(`{"specversion":"1.0"}`), nil, lin)
	fmt.Println(rej)
	for _, b := range rows.Blocks() {
		if b.Len() > 0 {
			fmt.Println(b.Table().Name(), b.Len()) // then b.Insert(ctx, conn)
		}
	}
	// Output:
	// service_events <nil> [event_source event_id event_type event_time service_id service_name team department product tier internet_facing effective_at kafka_topic kafka_partition kafka_offset ingested_at]
	// rejected: id: required: missing required attribute
	// events_raw 1
	// service_events 1
	// ingest_rejects 1
}
