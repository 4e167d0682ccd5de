package sources

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/schemas"
)

func TestEventID(t *testing.T) {
	a := EventID("github", "x/y", "1")
	if a != EventID("github", "x/y", "1") {
		t.Error("not deterministic")
	}
	if !strings.HasPrefix(a, "github:") || len(a) != len("github:")+32 {
		t.Errorf("shape %q", a)
	}
	// Length prefixes keep part boundaries apart.
	distinct := []string{
		EventID("github", "ab", "c"), EventID("github", "a", "bc"), EventID("github", "abc"),
		EventID("gitlab", "ab", "c"), EventID("github", "ab", "c", ""),
	}
	seen := map[string]bool{}
	for _, id := range distinct {
		if seen[id] {
			t.Errorf("collision %s", id)
		}
		seen[id] = true
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	if ChangeID("s", "e", "t", at) != ChangeID("s", "e", "t", at.UTC()) {
		t.Error("ChangeID depends on the zone")
	}
	if ChangeID("s", "e", "t", at) == ChangeID("s", "e", "t", at.Add(time.Nanosecond)) {
		t.Error("ChangeID ignores nanoseconds")
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2021, 4, 28, 19, 50, 0, 0, time.UTC)
	for _, s := range []string{
		"2021-04-28T19:50:00Z", "2021-04-28T21:50:00+02:00", "2021-04-28 21:50:00 +0200",
		"2021-04-28 19:50:00 UTC", "2021-04-28T19:50Z", " 2021-04-28T19:50:00.000Z ",
	} {
		got, err := ParseTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	for _, s := range []string{"2021-04-28 19:50:00", "2021-04-28", "yesterday", "2021-04-28 19:50:00 PST",
		"1970-01-01T00:00:00Z", "1971-01-01T00:30:00+01:00", "2106-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		if got, err := ParseTime(s); err == nil {
			t.Errorf("%q accepted as %v", s, got)
		}
	}
}

func TestJSONTypes(t *testing.T) {
	var v struct {
		A, B, C, D, E Time
		I, J, K       ID
		S, T, U       Strings
	}
	in := `{"A":"2023-01-10 13:50:02 UTC","B":1564113600000,"C":null,"D":"","E":"1564113600000",
		"I":360363695492,"J":"35436","K":null,"S":["a","b"],"T":"security vip,billing","U":null}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.A.Format(time.RFC3339) != "2023-01-10T13:50:02Z" || v.B.Format(time.RFC3339) != "2019-07-26T04:00:00Z" ||
		!v.C.IsZero() || !v.D.IsZero() || !v.E.Equal(v.B.Time) || v.C.Ptr() != nil {
		t.Errorf("times %+v", v)
	}
	if v.I != "360363695492" || v.J != "35436" || v.K != "" || !v.K.Zero() || !ID("0").Zero() {
		t.Errorf("ids %+v", v)
	}
	if strings.Join(v.S, "|") != "a|b" || strings.Join(v.T, "|") != "security|vip|billing" || v.U != nil {
		t.Errorf("strings %+v", v)
	}
	var zero struct{ A Time }
	if err := json.Unmarshal([]byte(`{"A":"0001-01-01T00:00:00Z"}`), &zero); err != nil || !zero.A.IsZero() {
		t.Errorf("Go's zero time: %v %v", zero.A, err)
	}
	for _, bad := range []string{`{"A":"nope"}`, `{"A":true}`, `{"I":true}`, `{"S":5}`,
		`{"A":0}`, `{"A":"-1"}`, `{"A":4291747200000}`, `{"A":"1969-12-31T23:59:59Z"}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestEventJSON(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	f := &schemas.Finding{FindingID: "f-1", Scanner: "s", Category: "sca", Severity: "high", ServiceID: "svc",
		Status: "open", DetectedAt: at}
	ev := Event{ID: ChangeID("test", "f-1", "security.finding.opened", at), Source: "test", Type: "security.finding.opened", Time: at, Data: f}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := schemas.Decode(b, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if got.Subject != "f-1" || ev.Key() != "f-1" || got.ID != ev.ID || !got.Time.Equal(at) {
		t.Errorf("%+v", got)
	}
	if _, err := json.Marshal(Event{Type: "x"}); err == nil {
		t.Error("event without data encoded")
	}
}

func TestResult(t *testing.T) {
	var r Result
	r.Add(Ignore("not a %s", "thing"))
	if r.Outcome() != "ignored" || r.Ignored != "not a thing" {
		t.Errorf("%+v", r)
	}
	r.Add(Result{Unmapped: []Unmapped{{Key: "crm.segments", Value: "x"}}})
	if r.Outcome() != "unmapped" || r.Ignored != "" {
		t.Errorf("%+v", r)
	}
	r.Add(Mapped(Event{ID: "1"}))
	if r.Outcome() != "mapped" {
		t.Errorf("%+v", r)
	}
	c := UnmappedCounts{}
	c.Add(Unmapped{Key: "b", Value: "1"}, Unmapped{Key: "a", Value: "2"}, Unmapped{Key: "b", Value: "1"})
	s := c.Sorted()
	if len(s) != 2 || s[0].Key != "b" || s[0].Count != 2 || s[1].Key != "a" {
		t.Errorf("%+v", s)
	}
	if got := (Unmapped{Key: "crm.segments", Allowed: []string{"smb", "enterprise"}}).Suggestion(); got != `crm.segments: {"*": smb|enterprise}` {
		t.Error(got)
	}
}
