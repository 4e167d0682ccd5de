package kafkaio

import (
	"bytes"
	"testing"

	"github.com/secimpact/impact/internal/config"
)

// FuzzEncode: whatever a line holds, encode does not panic, routes it to a
// contract topic, and a line it cannot read as an event goes unchanged to
// the security topic (where ingest rejects it with a reason).
//
//	go test -run '^$' -fuzz FuzzEncode -fuzztime 30s ./internal/kafkaio
func FuzzEncode(f *testing.F) {
	for _, s := range []string{
		string(benchLine),
		`{"specversion":"1.0","id":"1","source":"s","type":"crm.opportunity.created","subject":"O-1","data":{"a":1}}`,
		`{"type":"support.x","id":"2","data_base64":"aGk=","datacontenttype":"text/plain"}`,
		`{"type":"x","data":"text","datacontenttype":"text/plain"}`,
		`{"type":null,"id":null,"subject":null}`,
		`{"type":1}`, `[]`, `null`, `"str"`, `{`, "", "\xff\xfe",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	topics := config.DefaultTopics()
	valid := map[string]bool{}
	for _, t := range topics.Sources() {
		valid[t] = true
	}
	f.Fuzz(func(t *testing.T, line []byte, binary bool) {
		m, ok := encode(line, PublishOptions{Binary: binary})
		if !valid[m.Topic] {
			t.Fatalf("topic %q is not a source topic", m.Topic)
		}
		if !ok && (m.Topic != topics.Security || !bytes.Equal(m.Value, line)) {
			t.Fatalf("non-event went to %s with value %q, want the line unchanged on %s", m.Topic, m.Value, topics.Security)
		}
		if ok && !binary && !bytes.Equal(m.Value, line) {
			t.Fatalf("structured mode changed the value")
		}
	})
}
