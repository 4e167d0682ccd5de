package schemas

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// TestTimeWindow: event times before the window's earliest or later than
// now plus the allowed skew are rejected with rule time_window, in both
// modes; data timestamps are not windowed.
func TestTimeWindow(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	fixed := func() time.Time { return now }
	def := Decoder{Window: TimeWindow{Now: fixed}}
	custom := Decoder{Window: TimeWindow{Earliest: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), MaxSkew: 5 * time.Minute, Now: fixed}}
	tm := func(s string) map[string]string { return map[string]string{"time": `"` + s + `"`} }
	cases := []struct {
		name  string
		dec   Decoder
		value []byte
		hs    []Header
		ok    bool
	}{
		{"default: 2000-01-01 is the earliest", def, mutate(t, tm("2000-01-01T00:00:00Z"), nil), nil, true},
		{"default: just before 2000", def, mutate(t, tm("1999-12-31T23:59:59Z"), nil), nil, false},
		{"default: 1971", def, mutate(t, tm("1971-01-01T00:00:00Z"), nil), nil, false},
		{"default: offset puts it before 2000", def, mutate(t, tm("2000-01-01T00:30:00+01:00"), nil), nil, false},
		{"default: now", def, mutate(t, tm("2026-11-30T12:00:00Z"), nil), nil, true},
		{"default: now + 59m", def, mutate(t, tm("2026-11-30T12:59:00Z"), nil), nil, true},
		{"default: now + 1h", def, mutate(t, tm("2026-11-30T13:00:00Z"), nil), nil, true},
		{"default: now + 1h + 1s", def, mutate(t, tm("2026-11-30T13:00:01Z"), nil), nil, false},
		{"default: 2105", def, mutate(t, tm("2105-12-31T23:59:59Z"), nil), nil, false},
		{"custom: 2019 too old", custom, mutate(t, tm("2019-12-31T00:00:00Z"), nil), nil, false},
		{"custom: 2020", custom, mutate(t, tm("2020-01-01T00:00:00Z"), nil), nil, true},
		{"custom: now + 6m", custom, mutate(t, tm("2026-11-30T12:06:00Z"), nil), nil, false},
		{"binary: future ce_time", def, []byte(deploymentData), binaryWith("ce_time", "2030-01-01T00:00:00Z"), false},
		{"binary: old ce_time", def, []byte(deploymentData), binaryWith("ce_time", "1985-01-01T00:00:00Z"), false},
		{"binary: in window", def, []byte(deploymentData), binaryWith(), true},
		{"data time in the future is fine", def, mutate(t, nil, map[string]string{"sla_due_at": `"2090-01-01T00:00:00Z"`}), nil, true},
		{"data time before 2000 is fine", def, mutate(t, nil, map[string]string{"detected_at": `"1990-01-01T00:00:00Z"`}), nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.dec.Decode(c.value, c.hs)
			if c.ok {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var rej *Rejection
			ok := errors.As(err, &rej)
			if !ok || rej.Field != "time" || rej.Rule != "time_window" || !strings.Contains(rej.Detail, "event time") {
				t.Fatalf("want time/time_window, got %v", err)
			}
		})
	}
	// The zero Decoder (what ingest, validate and the bulk loader use by
	// default) enforces the default window against the real clock.
	for _, s := range []string{"1999-06-01T00:00:00Z", time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)} {
		var rej *Rejection
		if _, err := Decode(mutate(t, tm(s), nil), nil); !errors.As(err, &rej) || rej.Rule != "time_window" {
			t.Errorf("Decode with time %s: %v, want a time_window rejection", s, err)
		}
	}
}

func TestTimeWindowValidate(t *testing.T) {
	for _, c := range []struct {
		w  TimeWindow
		ok bool
	}{
		{TimeWindow{}, true},
		{TimeWindow{Earliest: time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC), MaxSkew: time.Minute}, true},
		{TimeWindow{MaxSkew: -time.Second}, false},
		{TimeWindow{Earliest: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		{TimeWindow{Earliest: time.Now().Add(time.Hour)}, false},
	} {
		if err := c.w.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", c.w, err, c.ok)
		}
	}
}

// TestHeaderLimit: a header flood is rejected with rule headers before any
// parsing; up to MaxHeaders are decoded, the last header of an attribute
// winning in Raw as in the envelope.
func TestHeaderLimit(t *testing.T) {
	flood := binaryWith()
	for i := range 40_000 {
		flood = append(flood, Header{Key: "ce_x" + strconv.Itoa(i), Value: []byte("v")})
	}
	start := time.Now()
	_, err := Decode([]byte(deploymentData), flood)
	var rej *Rejection
	ok := errors.As(err, &rej)
	if !ok || rej.Rule != "headers" || !strings.Contains(rej.Detail, "40006 headers") {
		t.Fatalf("40,006 headers: got %v, want rule headers", err)
	}
	t.Logf("40,006 headers rejected in %v", time.Since(start))

	many := binaryWith()
	for i := len(many); i < MaxHeaders; i++ {
		many = append(many, Header{Key: "ce_x" + strconv.Itoa(i%20), Value: []byte(strconv.Itoa(i))})
	}
	many = append(many[:MaxHeaders-1], Header{Key: "ce_id", Value: []byte("last-id")})
	ev, err := Decode([]byte(deploymentData), many)
	if err != nil {
		t.Fatalf("%d headers: %v", len(many), err)
	}
	if ev.ID != "last-id" {
		t.Errorf("ID = %q, want the last ce_id header", ev.ID)
	}
	if bytes.Count(ev.Raw, []byte(`"id":`)) != 1 || !bytes.Contains(ev.Raw, []byte(`"id":"last-id"`)) {
		t.Errorf("Raw does not carry exactly the last id: %s", ev.Raw)
	}
	for k := range 20 {
		if n := bytes.Count(ev.Raw, []byte(`"x`+strconv.Itoa(k)+`":`)); n != 1 {
			t.Errorf("Raw has attribute x%d %d times, want once: %s", k, n, ev.Raw)
		}
	}
	if _, err := Decode([]byte(deploymentData), append(many, Header{Key: "traceparent", Value: []byte("x")})); err == nil {
		t.Errorf("%d headers accepted, limit %d", len(many)+1, MaxHeaders)
	}
}

// BenchmarkStructuredFromBinary rebuilds Raw from MaxHeaders distinct
// headers (the most a message may carry): linear in the header count.
func BenchmarkStructuredFromBinary(b *testing.B) {
	hs := binaryWith()
	for i := len(hs); i < MaxHeaders; i++ {
		hs = append(hs, Header{Key: "ce_x" + strconv.Itoa(i), Value: []byte("v")})
	}
	for b.Loop() {
		structuredFromBinary([]byte(deploymentData), hs)
	}
}

// TestRejectionBounded: whatever a rejected value holds, the rejection
// quotes a bounded prefix of it, so dead-letter headers stay small.
func TestRejectionBounded(t *testing.T) {
	long := strings.Repeat("é", 450_000) // 900 kB
	q := `"` + long + `"`
	bad := []struct {
		name  string
		value []byte
		hs    []Header
	}{
		{"unknown type", mutate(t, map[string]string{"type": q}, nil), nil},
		{"specversion", mutate(t, map[string]string{"specversion": q}, nil), nil},
		{"time", mutate(t, map[string]string{"time": q}, nil), nil},
		{"dataschema", mutate(t, map[string]string{"dataschema": `"` + strings.Repeat("x", 1000) + `"`}, nil), nil},
		{"datacontenttype", mutate(t, map[string]string{"datacontenttype": q}, nil), nil},
		{"enum", mutate(t, nil, map[string]string{"severity": q}), nil},
		{"data time", mutate(t, nil, map[string]string{"detected_at": q}), nil},
		{"number", mutate(t, nil, map[string]string{"cvss": "1" + strings.Repeat("0", 900_000)}), nil},
		{"json with a long member name", []byte(`{"` + long + `": x}`), nil},
		{"binary header key not utf8", []byte(deploymentData), binaryWith("ce_"+strings.Repeat("k", 500_000), "\xff")},
		{"binary type", []byte(deploymentData), binaryWith("ce_type", long)},
	}
	for _, c := range bad {
		_, err := Decode(c.value, c.hs)
		var rej *Rejection
		ok := errors.As(err, &rej)
		if !ok {
			t.Errorf("%s: accepted or not a rejection: %v", c.name, err)
			continue
		}
		if len(rej.Detail) > maxDetailLen || len(rej.Field) > maxFieldLen || !utf8.ValidString(rej.Detail) {
			t.Errorf("%s: field %d bytes, detail %d bytes (limits %d, %d), valid UTF-8 %v", c.name,
				len(rej.Field), len(rej.Detail), maxFieldLen, maxDetailLen, utf8.ValidString(rej.Detail))
		}
		if len(rej.Detail) < 10 {
			t.Errorf("%s: detail %q says nothing", c.name, rej.Detail)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc"},
		{"ééé", 3, "é"},                // é is 2 bytes: the cut half rune goes
		{"ééé", 4, "éé"},               // cut on a boundary
		{"a\xff\xffb", 3, "a\xff\xff"}, // invalid input bytes stay
		{"日本語", 5, "日"},
	} {
		if got := truncate(c.in, c.n); got != c.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestIdentity(t *testing.T) {
	long := strings.Repeat("s", 5000)
	for _, c := range []struct {
		name           string
		value          []byte
		hs             []Header
		src, id, type_ string
	}{
		{"structured", []byte(base), nil, "https://scanner.example", "e-1", "security.finding.opened"},
		{"binary", []byte(`garbage`), hdrs("ce_source", "s", "ce_id", "i", "ce_type", "t"), "s", "i", "t"},
		{"mixed", []byte(`{"id":"j","source":5}`), hdrs("ce_type", "t"), "", "j", "t"},
		{"not json", []byte(`{`), nil, "", "", ""},
		{"long values are cut", []byte(`{}`), hdrs("ce_source", long), long[:identityLen], "", ""},
	} {
		src, id, typ := identity(c.value, c.hs)
		if src != c.src || id != c.id || typ != c.type_ {
			t.Errorf("%s: Identity = %.40q, %q, %q; want %.40q, %q, %q", c.name, src, id, typ, c.src, c.id, c.type_)
		}
	}
}
