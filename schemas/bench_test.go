package schemas

import (
	"os"
	"testing"
)

// BenchmarkDecode measures decode+validate of a typical event (a finding
// with most optional fields, ~700 bytes) on one core; events/s is
// reported next to ns/op.
func BenchmarkDecode(b *testing.B) {
	for _, bc := range []struct{ name, file string }{
		{"finding", "testdata/valid/security.finding.opened.json"},
		{"opportunity", "testdata/valid/crm.opportunity.closed.json"},
		{"incident", "testdata/valid/security.incident.updated.json"},
	} {
		value, err := os.ReadFile(bc.file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/structured", func(b *testing.B) {
			b.SetBytes(int64(len(value)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(value, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	ex := loadExamples(b)
	for _, e := range ex {
		if e.name != "security.finding.opened" {
			continue
		}
		b.Run("finding/binary", func(b *testing.B) {
			b.SetBytes(int64(len(e.value)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(e.value, e.headers); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
	b.Run("rejected/enum", func(b *testing.B) {
		value := mutate(b, nil, map[string]string{"severity": `"urgent"`})
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(value, nil); err == nil {
				b.Fatal("accepted")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
