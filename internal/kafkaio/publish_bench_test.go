package kafkaio

import (
	"strings"
	"testing"
)

var benchLine = []byte(`{"specversion":"1.0","id":"e1","source":"bench/gen","type":"security.finding.opened","time":"2026-01-02T03:04:05Z","subject":"E-1","datacontenttype":"application/json","data":{"finding_id":"F-1","scanner":"snyk","category":"sca","severity":"high","service_id":"svc-1","status":"open","detected_at":"2026-01-01T00:00:00Z","title":"` + strings.Repeat("x", 300) + `"}}`)

// BenchmarkEncode measures turning one typical event line into a Kafka
// message (parse the envelope, route, key; binary mode builds headers).
func BenchmarkEncode(b *testing.B) {
	for _, mode := range []struct {
		name   string
		binary bool
	}{{"structured", false}, {"binary", true}} {
		b.Run(mode.name, func(b *testing.B) {
			opts := PublishOptions{Binary: mode.binary}
			b.ReportAllocs()
			b.SetBytes(int64(len(benchLine)))
			for b.Loop() {
				if _, ok := encode(benchLine, opts); !ok {
					b.Fatal("not an event")
				}
			}
		})
	}
}
