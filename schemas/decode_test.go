package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestExamplesCoverEveryType(t *testing.T) {
	have := map[string]bool{}
	for _, ex := range loadExamples(t) {
		have[ex.name] = true
	}
	for _, typ := range Types() {
		if !have[typ] {
			t.Errorf("no example testdata/valid/%s.json", typ)
		}
	}
	if len(have) != len(Types()) {
		t.Errorf("%d examples for %d types", len(have), len(Types()))
	}
}

func TestDecodeExamples(t *testing.T) {
	for _, ex := range loadExamples(t) {
		t.Run(ex.name, func(t *testing.T) {
			s, err := Decode(ex.structured, nil)
			if err != nil {
				t.Fatalf("structured: %v", err)
			}
			s2, err := Decode(ex.structured, []Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}})
			if err != nil {
				t.Fatalf("structured with content-type: %v", err)
			}
			b, err := Decode(ex.value, ex.headers)
			if err != nil {
				t.Fatalf("binary: %v", err)
			}
			if s.Type != ex.name || s.Time.Location() != time.UTC || s.ID == "" || s.Source == "" {
				t.Errorf("envelope: %+v", s)
			}
			if !bytes.Equal(s.Raw, ex.structured) {
				t.Errorf("structured Raw is not the value")
			}
			for _, other := range []*Event{s2, b} {
				if !reflect.DeepEqual(other.Payload, s.Payload) {
					t.Errorf("payloads differ:\n%+v\n%+v", other.Payload, s.Payload)
				}
				a, c := *s, *other
				a.Raw, c.Raw, a.Data, c.Data, a.Payload, c.Payload = nil, nil, nil, nil, nil, nil
				if !reflect.DeepEqual(a, c) {
					t.Errorf("envelopes differ:\n%+v\n%+v", a, c)
				}
			}
			// Binary Raw is a structured event that decodes to the same.
			rb, err := Decode(b.Raw, nil)
			if err != nil {
				t.Fatalf("binary Raw %s: %v", b.Raw, err)
			}
			if !reflect.DeepEqual(rb.Payload, s.Payload) {
				t.Errorf("binary Raw payload differs")
			}
			checkPayload(t, s, ex.structured)
		})
	}
}

// checkPayload proves the typed payload holds every data field of the
// input under its own name (catches a build function reading fields out of
// order) and that Columns and AppendValues agree.
func checkPayload(t *testing.T, ev *Event, structured []byte) {
	t.Helper()
	p := ev.Payload
	tbl := familyOf(ev.Type).table
	if p.Table() != tbl {
		t.Errorf("Table() = %s, want %s", p.Table(), tbl)
	}
	var in struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(structured, &in); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	fam := familyOf(ev.Type)
	for _, f := range fam.fields {
		want, ok := in.Data[f.name]
		if !ok || want == nil {
			if f.name == "sla_due_at" {
				continue // derived
			}
			if g, ok := got[f.name]; ok && !isZero(g) {
				t.Errorf("%s: absent in input, %v in payload", f.name, g)
			}
			continue
		}
		g := got[f.name]
		if f.kind == kindTime {
			wt, _ := parseTime([]byte(want.(string)))
			gt, err := time.Parse(time.RFC3339Nano, g.(string))
			if err != nil || !gt.Equal(wt) {
				t.Errorf("%s: payload %v, input %v", f.name, g, want)
			}
			continue
		}
		if !reflect.DeepEqual(g, want) {
			t.Errorf("%s: payload %#v, input %#v", f.name, g, want)
		}
	}
	if p.EntityID() != in.Data[fam.fields[0].name] {
		t.Errorf("EntityID %q", p.EntityID())
	}
}

func isZero(v any) bool {
	switch x := v.(type) {
	case bool:
		return !x
	case float64:
		return x == 0
	case string:
		return x == ""
	}
	return v == nil
}

// base is a valid structured event the rejection cases mutate.
const base = `{"specversion":"1.0","id":"e-1","source":"https://scanner.example","type":"security.finding.opened",` +
	`"time":"2025-03-04T09:15:00Z","data":{"finding_id":"F-1","scanner":"trivy","category":"sca","severity":"high",` +
	`"service_id":"svc-1","status":"open","detected_at":"2025-03-04T09:00:00Z"}}`

// mutate returns base with attrs (top level) and data fields replaced by
// the raw JSON given; an empty string deletes the member.
func mutate(t testing.TB, attrs, data map[string]string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(base), &m); err != nil {
		t.Fatal(err)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(m["data"], &d); err != nil {
		t.Fatal(err)
	}
	set := func(m map[string]json.RawMessage, kv map[string]string) {
		for k, v := range kv {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = json.RawMessage(v)
			}
		}
	}
	set(d, data)
	db, _ := json.Marshal(d)
	m["data"] = db
	set(m, attrs)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// event returns base with type typ and data holding exactly fields (raw
// JSON values), then with the overrides applied ("" deletes).
func event(t testing.TB, typ string, fields, overrides map[string]string) []byte {
	t.Helper()
	d := map[string]json.RawMessage{}
	for k, v := range fields {
		d[k] = json.RawMessage(v)
	}
	for k, v := range overrides {
		if v == "" {
			delete(d, k)
		} else {
			d[k] = json.RawMessage(v)
		}
	}
	db, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return mutate(t, map[string]string{"type": `"` + typ + `"`, "data": string(db)}, nil)
}

func incident(t testing.TB, over map[string]string) []byte {
	return event(t, "security.incident.detected", map[string]string{
		"incident_id": `"I-1"`, "severity": `"high"`, "category": `"phishing"`, "status": `"open"`,
		"affected_service_ids": `["svc-1"]`, "affected_account_ids": `["a-1"]`, "detected_at": `"2025-01-01T00:00:00Z"`}, over)
}

func ticket(t testing.TB, over map[string]string) []byte {
	return event(t, "support.ticket.created", map[string]string{
		"ticket_id": `"T-1"`, "account_id": `"a-1"`, "status": `"new"`, "priority": `"low"`, "security_related": `false`,
		"created_at": `"2025-01-01T00:00:00Z"`}, over)
}

type decodeCase struct {
	name    string
	value   []byte
	headers []Header
	field   string // want; rule "" means accepted
	rule    string
}

func hdrs(kv ...string) []Header {
	var hs []Header
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, Header{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return hs
}

var binaryOK = []string{"ce_specversion", "1.0", "ce_id", "e-1", "ce_source", "src", "ce_type", "deployment.started",
	"ce_time", "2025-03-04T09:15:00Z", "content-type", "application/json"}

const deploymentData = `{"deployment_id":"d-1","service_id":"svc-1","environment":"production","started_at":"2025-03-04T09:00:00Z","status":"in_progress","trigger":"feature"}`

func binaryWith(kv ...string) []Header {
	m := append([]string(nil), binaryOK...)
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for j := 0; j+1 < len(m); j += 2 {
			if m[j] == kv[i] {
				m[j+1], found = kv[i+1], true
			}
		}
		if !found {
			m = append(m, kv[i], kv[i+1])
		}
	}
	var out []string
	for j := 0; j+1 < len(m); j += 2 {
		if m[j+1] != "<drop>" {
			out = append(out, m[j], m[j+1])
		}
	}
	return hdrs(out...)
}

func decodeCases(t testing.TB) []decodeCase {
	d := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	big := make([]byte, MaxEventSize+1)
	copy(big, base)
	for i := len(base); i < len(big); i++ {
		big[i] = ' '
	}
	manyTags := "[" + strings.Repeat(`"x",`, maxItems) + `"x"]`
	return []decodeCase{
		{"valid", []byte(base), nil, "", ""},
		{"not json", []byte(`{"specversion":`), nil, "", "json"},
		{"trailing garbage", []byte(base + ` x`), nil, "", "json"},
		{"invalid utf8", bytes.Replace([]byte(base), []byte("trivy"), []byte("tr\xffvy"), 1), nil, "", "utf8"},
		{"not an object", []byte(`[1,2]`), nil, "", "type"},
		{"over 1 MiB", big, nil, "", "size"},
		{"missing specversion", mutate(t, d("specversion", ""), nil), nil, "specversion", "required"},
		{"wrong specversion", mutate(t, d("specversion", `"0.3"`), nil), nil, "specversion", "specversion"},
		{"missing id", mutate(t, d("id", ""), nil), nil, "id", "required"},
		{"empty id", mutate(t, d("id", `""`), nil), nil, "id", "minLength"},
		{"id not a string", mutate(t, d("id", `5`), nil), nil, "id", "type"},
		{"null source", mutate(t, d("source", `null`), nil), nil, "source", "type"},
		{"missing type", mutate(t, d("type", ""), nil), nil, "type", "required"},
		{"unknown type", mutate(t, d("type", `"security.finding.exploded"`), nil), nil, "type", "unknown_type"},
		{"missing time", mutate(t, d("time", ""), nil), nil, "time", "required"},
		{"time without zone", mutate(t, d("time", `"2025-03-04T09:15:00"`), nil), nil, "time", "format"},
		{"time with space", mutate(t, d("time", `"2025-03-04 09:15:00Z"`), nil), nil, "time", "format"},
		{"time feb 30", mutate(t, d("time", `"2025-02-30T09:15:00Z"`), nil), nil, "time", "format"},
		{"time leap second", mutate(t, d("time", `"2016-12-31T23:59:60Z"`), nil), nil, "time", "format"},
		{"time before 1971", mutate(t, d("time", `"1969-07-20T20:17:00Z"`), nil), nil, "time", "format"},
		{"time offset 24h", mutate(t, d("time", `"2025-03-04T09:15:00+24:00"`), nil), nil, "time", "format"},
		{"time lower-case t and z", mutate(t, d("time", `"2025-03-04t09:15:00.5z"`), nil), nil, "", ""},
		{"dataschema v2", mutate(t, d("dataschema", `"https://x/security.finding/v2"`), nil), nil, "dataschema", "dataschema"},
		{"dataschema v1", mutate(t, d("dataschema", `"https://x/security.finding/v1"`), nil), nil, "", ""},
		{"datacontenttype xml", mutate(t, d("datacontenttype", `"text/xml"`), nil), nil, "datacontenttype", "datacontenttype"},
		{"subject null", mutate(t, d("subject", `null`), nil), nil, "", ""},
		{"extension kept", mutate(t, d("traceparent", `{"any":["thing"]}`), nil), nil, "", ""},
		{"missing data", mutate(t, d("data", ""), nil), nil, "data", "required"},
		{"data string", mutate(t, d("data", `"x"`), nil), nil, "data", "type"},
		{"data null", mutate(t, d("data", `null`), nil), nil, "data", "type"},
		{"missing severity", mutate(t, nil, d("severity", "")), nil, "data.severity", "required"},
		{"bad severity", mutate(t, nil, d("severity", `"urgent"`)), nil, "data.severity", "enum"},
		{"severity number", mutate(t, nil, d("severity", `3`)), nil, "data.severity", "type"},
		{"severity case", mutate(t, nil, d("severity", `"HIGH"`)), nil, "data.severity", "enum"},
		{"field name case", mutate(t, nil, d("severity", "", "Severity", `"high"`)), nil, "data.severity", "required"},
		{"null required", mutate(t, nil, d("finding_id", `null`)), nil, "data.finding_id", "type"},
		{"empty id field", mutate(t, nil, d("finding_id", `""`)), nil, "data.finding_id", "minLength"},
		{"null optional", mutate(t, nil, d("title", `null`, "cvss", `null`, "kev", `null`)), nil, "", ""},
		{"cvss 10", mutate(t, nil, d("cvss", `10`)), nil, "", ""},
		{"cvss 11", mutate(t, nil, d("cvss", `11`)), nil, "data.cvss", "maximum"},
		{"cvss negative", mutate(t, nil, d("cvss", `-0.1`)), nil, "data.cvss", "minimum"},
		{"cvss just over 10", mutate(t, nil, d("cvss", `10.000000000000000000001`)), nil, "data.cvss", "maximum"},
		{"cvss string", mutate(t, nil, d("cvss", `"9.8"`)), nil, "data.cvss", "type"},
		{"epss over 1", mutate(t, nil, d("epss", `1.5`)), nil, "data.epss", "maximum"},
		{"epss huge", mutate(t, nil, d("epss", `1e999`)), nil, "data.epss", "maximum"},
		{"kev string", mutate(t, nil, d("kev", `"yes"`)), nil, "data.kev", "type"},
		{"detected_at bad", mutate(t, nil, d("detected_at", `"yesterday"`)), nil, "data.detected_at", "format"},
		{"fixed_at number", mutate(t, nil, d("fixed_at", `1700000000`)), nil, "data.fixed_at", "type"},
		{"title too long", mutate(t, nil, d("title", `"`+strings.Repeat("é", textLen+1)+`"`)), nil, "data.title", "maxLength"},
		{"title at limit", mutate(t, nil, d("title", `"`+strings.Repeat("é", textLen)+`"`)), nil, "", ""},
		{"duplicate key last wins", []byte(strings.Replace(base, `"severity":"high"`, `"severity":"bogus","severity":"high"`, 1)), nil, "", ""},
		{"duplicate key last loses", []byte(strings.Replace(base, `"severity":"high"`, `"severity":"high","severity":"bogus"`, 1)), nil, "data.severity", "enum"},
		{"unknown data field kept", mutate(t, nil, d("x_custom", `{"a":[1,2,{"b":null}]}`)), nil, "", ""},
		{"incident valid", incident(t, nil), nil, "", ""},
		{"array element type", incident(t, d("affected_account_ids", `["a","b",3]`)), nil, "data.affected_account_ids[2]", "type"},
		{"array not array", incident(t, d("affected_account_ids", `"a"`)), nil, "data.affected_account_ids", "type"},
		{"required array missing", incident(t, d("affected_service_ids", "")), nil, "data.affected_service_ids", "required"},
		{"required array null", incident(t, d("affected_service_ids", "null")), nil, "data.affected_service_ids", "type"},
		{"records_exposed fraction", incident(t, d("records_exposed", "1.5")), nil, "data.records_exposed", "type"},
		{"records_exposed 1e3", incident(t, d("records_exposed", "1e3")), nil, "", ""},
		{"ticket valid", ticket(t, d("csat_score", "5")), nil, "", ""},
		{"csat 6", ticket(t, d("csat_score", "6")), nil, "data.csat_score", "maximum"},
		{"csat 0", ticket(t, d("csat_score", "0")), nil, "data.csat_score", "minimum"},
		{"csat 2.5", ticket(t, d("csat_score", "2.5")), nil, "data.csat_score", "type"},
		{"csat 4.0", ticket(t, d("csat_score", "4.0")), nil, "", ""},
		{"too many tags", ticket(t, d("tags", manyTags)), nil, "data.tags", "maxItems"},
		{"bool required missing", ticket(t, d("security_related", "")), nil, "data.security_related", "required"},
		{"bool as 0", ticket(t, d("security_related", "0")), nil, "data.security_related", "type"},
		{"binary valid", []byte(deploymentData), binaryWith(), "", ""},
		{"binary no content-type", []byte(deploymentData), binaryWith("content-type", "<drop>"), "", ""},
		{"binary missing id", []byte(deploymentData), binaryWith("ce_id", "<drop>"), "id", "required"},
		{"binary bad time", []byte(deploymentData), binaryWith("ce_time", "2025-03-04"), "time", "format"},
		{"binary wrong specversion", []byte(deploymentData), binaryWith("ce_specversion", "1.1"), "specversion", "specversion"},
		{"binary unknown type", []byte(deploymentData), binaryWith("ce_type", "deployment.exploded"), "type", "unknown_type"},
		{"binary header not utf8", []byte(deploymentData), binaryWith("ce_source", "s\xff"), "source", "utf8"},
		{"binary extension not utf8", []byte(deploymentData), binaryWith("ce_traceparent", "s\xff"), "ce_traceparent", "utf8"},
		{"binary value not json", []byte(`{"deployment_id":`), binaryWith(), "data", "json"},
		{"binary value array", []byte(`[]`), binaryWith(), "data", "type"},
		{"binary value not utf8", []byte("{\"deployment_id\":\"\xff\"}"), binaryWith(), "data", "utf8"},
		{"binary text/plain", []byte(deploymentData), binaryWith("content-type", "text/plain"), "datacontenttype", "datacontenttype"},
		{"binary missing field", []byte(strings.Replace(deploymentData, `"trigger":"feature"`, `"x":1`, 1)), binaryWith(), "data.trigger", "required"},
		{"batch mode", []byte(`[` + base + `]`), hdrs("content-type", "application/cloudevents-batch+json"), "", "content_type"},
		{"structured content-type wins", []byte(base), append(binaryWith(), hdrs("content-type", "application/cloudevents+json; charset=utf-8")...), "", ""},
		{"stray ce_ header without specversion", []byte(base), hdrs("ce_id", "x"), "", ""},
	}
}

func TestDecodeCases(t *testing.T) {
	for _, c := range decodeCases(t) {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Decode(c.value, c.headers)
			if c.rule == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if ev.Payload == nil {
					t.Fatal("no payload")
				}
				return
			}
			var rej *Rejection
			ok := errors.As(err, &rej)
			if !ok {
				t.Fatalf("want rejection %s/%s, got %v (%T)", c.field, c.rule, err, err)
			}
			if rej.Field != c.field || rej.Rule != c.rule {
				t.Errorf("got %s/%s (%s), want %s/%s", rej.Field, rej.Rule, rej.Detail, c.field, c.rule)
			}
			if rej.Detail == "" {
				t.Error("empty detail")
			}
		})
	}
}

// TestSLADueAsSent: the decoder keeps sla_due_at exactly as the source
// sent it (in UTC) and derives none; the transform owns the SLA policy.
func TestSLADueAsSent(t *testing.T) {
	for _, c := range []struct {
		severity, slaDue string
		want             time.Time // zero: none
	}{
		{"critical", "", time.Time{}},
		{"info", "", time.Time{}},
		{"high", `"2025-03-10T00:00:00+02:00"`, time.Date(2025, 3, 9, 22, 0, 0, 0, time.UTC)},
	} {
		ev, err := Decode(mutate(t, nil, map[string]string{"severity": `"` + c.severity + `"`, "sla_due_at": c.slaDue}), nil)
		if err != nil {
			t.Fatal(err)
		}
		f := ev.Payload.(*Finding)
		var got time.Time
		if f.SLADueAt != nil {
			got = *f.SLADueAt
		}
		if !got.Equal(c.want) || f.SLAPolicyVersion != "" {
			t.Errorf("%s %s: sla_due_at %v (policy %q), want %v and no policy", c.severity, c.slaDue, got, f.SLAPolicyVersion, c.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2025-03-04T09:15:00Z", time.Date(2025, 3, 4, 9, 15, 0, 0, time.UTC), true},
		{"2025-03-04T09:15:00.123456789123Z", time.Date(2025, 3, 4, 9, 15, 0, 123456789, time.UTC), true},
		{"2025-03-04T09:15:00.5+05:30", time.Date(2025, 3, 4, 3, 45, 0, 5e8, time.UTC), true},
		{"2024-02-29T23:59:59-23:59", time.Date(2024, 3, 1, 23, 58, 59, 0, time.UTC), true},
		{"2023-02-29T00:00:00Z", time.Time{}, false},
		{"1971-01-01T00:00:00+23:59", time.Date(1970, 12, 31, 0, 1, 0, 0, time.UTC), true},
		{"2105-12-31T23:59:59-23:59", time.Date(2106, 1, 1, 23, 58, 59, 0, time.UTC), true},
		{"2106-01-01T00:00:00Z", time.Time{}, false},
		{"2025-03-04T09:15:00.Z", time.Time{}, false},
		{"2025-03-04T09:15:00+0530", time.Time{}, false},
		{"2025-03-04T+9:15:00Z", time.Time{}, false},
		{"2025-03-04T09:15:00", time.Time{}, false},
	}
	for _, c := range cases {
		got, ok := parseTime([]byte(c.in))
		if ok != c.ok || !got.Equal(c.want) || (ok && got.Location() != time.UTC) {
			t.Errorf("parseTime(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// TestDecodeConcurrent decodes from many goroutines at once (ingest runs
// one per partition) and checks every result; run with -race.
func TestDecodeConcurrent(t *testing.T) {
	exs := loadExamples(t)
	want := make([]Payload, len(exs))
	for i, ex := range exs {
		ev, err := Decode(ex.structured, nil)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = ev.Payload
	}
	bad := mutate(t, nil, map[string]string{"severity": `"urgent"`})
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				i := (g + n) % len(exs)
				var ev *Event
				var err error
				if n%2 == 0 {
					ev, err = Decode(exs[i].structured, nil)
				} else {
					ev, err = Decode(exs[i].value, exs[i].headers)
				}
				if err != nil || !reflect.DeepEqual(ev.Payload, want[i]) {
					errs <- fmt.Sprintf("%s: %v", exs[i].name, err)
					return
				}
				if _, err := Decode(bad, nil); err == nil {
					errs <- "bad event accepted"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestDataSchemaFor(t *testing.T) {
	for _, ex := range loadExamples(t) {
		ev, err := Decode(ex.structured, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := DataSchemaFor(ev.Type); got != ev.DataSchema || !strings.HasSuffix(got, "/v1") {
			t.Errorf("%s: DataSchemaFor %q, example has %q", ev.Type, got, ev.DataSchema)
		}
	}
	if DataSchemaFor("no.such") != "" {
		t.Error("unknown type has a dataschema")
	}
}
