package schemas

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rowsLen is the number of rows in all blocks of r.
func rowsLen(r *Rows) int {
	n := 0
	for _, b := range r.Blocks() {
		n += b.Len()
	}
	return n
}

// cell returns a value of b as clickhouse-go would read it back: nil for
// NULL, time.Time (UTC) for DateTime, []string for Array(String).
func cell(b *Block, row, col int) any {
	c := &b.cols[col]
	typ := b.t.cols[col].typ
	if typ.nullable() && c.null[row] {
		return nil
	}
	switch typ {
	case tString, tNullString:
		return c.strAt(row)
	case tDateTime, tNullDateTime:
		return time.Unix(c.i64[row], 0).UTC()
	case tInt64, tNullInt64:
		return c.i64[row]
	case tFloat64, tNullFloat64:
		return c.f64[row]
	case tUInt8, tNullUInt8:
		return c.u8[row]
	case tInt32:
		return c.i32[row]
	case tStrings:
		start := int32(0)
		if row > 0 {
			start = c.ends[row-1]
		}
		return append([]string{}, c.strings(nil, int(start), int(c.ends[row]))...)
	}
	return nil
}

// want is what column typ must hold for a value of the typed payload.
func want(typ colType, v reflect.Value) any {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case bool:
		if x {
			return uint8(1)
		}
		return uint8(0)
	case time.Time:
		return time.Unix(x.Unix(), 0).UTC()
	case int64:
		if typ == tUInt8 || typ == tNullUInt8 {
			return uint8(x)
		}
		return x
	case []string:
		return append([]string{}, x...)
	}
	return v.Interface()
}

// payloadFields maps the json names of a payload struct to its values.
func payloadFields(p Payload) map[string]reflect.Value {
	v := reflect.ValueOf(p).Elem()
	out := map[string]reflect.Value{}
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		out[name] = v.Field(i)
	}
	return out
}

// checkRows proves that AppendMessage gives Decode's verdict and, for a
// valid event, rows holding exactly the decoded event: the raw row, and the
// typed row column by column against the typed payload.
func checkRows(t testing.TB, ev *Event, err error, value []byte, hs []Header) {
	t.Helper()
	var r Rows
	lin := Lineage{Topic: "topic", Partition: 2, Offset: 7, IngestedAt: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	tbl, rej := contractDecoder.AppendMessage(&r, value, hs, lin)
	if err != nil {
		var want *Rejection
		if !errors.As(err, &want) || rej == nil || *rej != *want {
			t.Fatalf("AppendMessage rejection %+v, Decode %v", rej, err)
		}
		b := r.Block(IngestRejects)
		if rowsLen(&r) != 1 || b.Len() != 1 || cell(b, 0, 5) != rej.Rule || cell(b, 0, 6) != rej.Detail {
			t.Fatalf("rejected: %d rows, reject row %v %v", rowsLen(&r), cell(b, 0, 5), cell(b, 0, 6))
		}
		return
	}
	if rej != nil {
		t.Fatalf("AppendMessage rejects %v, Decode accepts", rej)
	}
	if rowsLen(&r) != 2 || tbl.name != ev.Payload.Table() || r.Block(tbl).Len() != 1 || r.Block(EventsRaw).Len() != 1 {
		t.Fatalf("%s: %d rows in all, want a raw and a typed one", tbl.name, rowsLen(&r))
	}
	lineage := []any{"topic", int32(2), int64(7), lin.IngestedAt}
	evTime := time.Unix(ev.Time.Unix(), 0).UTC()
	rawWant := append([]any{ev.Source, ev.ID, ev.Type, evTime, ev.Subject, ev.Payload.EntityID(), ev.DataSchema, string(ev.Raw)}, lineage...)
	raw := r.Block(EventsRaw)
	for i := range rawWant {
		if got := cell(raw, 0, i); !reflect.DeepEqual(got, rawWant[i]) {
			t.Errorf("events_raw.%s = %#v, want %#v", raw.t.cols[i].name, got, rawWant[i])
		}
	}
	b := r.Block(tbl)
	fields := payloadFields(ev.Payload)
	for i, c := range tbl.cols {
		var w any
		switch {
		case i < 4:
			w = []any{ev.Source, ev.ID, ev.Type, evTime}[i]
		case i >= len(tbl.cols)-4:
			w = lineage[i-(len(tbl.cols)-4)]
		case c.name == "sla_policy_version":
			w = ev.Payload.(*Finding).SLAPolicyVersion
		default:
			f, ok := fields[c.name]
			if !ok {
				t.Fatalf("%s.%s: no payload field", tbl.name, c.name)
			}
			w = want(c.typ, f)
		}
		if got := cell(b, 0, i); !reflect.DeepEqual(got, w) {
			t.Errorf("%s.%s = %#v, want %#v", tbl.name, c.name, got, w)
		}
	}
}

// TestRowsMatchDecode checks AppendMessage against Decode on every example
// in both modes and on every rejection case.
func TestRowsMatchDecode(t *testing.T) {
	for _, ex := range loadExamples(t) {
		for _, m := range []struct {
			value []byte
			hs    []Header
		}{{ex.structured, nil}, {ex.value, ex.headers}} {
			ev, err := contractDecoder.Decode(m.value, m.hs)
			if err != nil {
				t.Fatalf("%s: %v", ex.name, err)
			}
			checkRows(t, ev, err, m.value, m.hs)
		}
	}
	for _, c := range decodeCases(t) {
		ev, err := contractDecoder.Decode(c.value, c.headers)
		checkRows(t, ev, err, c.value, c.headers)
	}
}

// TestRowsAccumulate appends many events to one Rows and checks that each
// block holds its table's rows in order, and that Reset empties them.
func TestRowsAccumulate(t *testing.T) {
	exs := loadExamples(t)
	var r Rows
	perTable := map[*Table]int{}
	for i := range 3 * len(exs) {
		ex := exs[i%len(exs)]
		tbl, rej := contractDecoder.AppendMessage(&r, ex.structured, nil, Lineage{Offset: int64(i)})
		if rej != nil {
			t.Fatal(rej)
		}
		perTable[tbl]++
	}
	raw := r.Block(EventsRaw)
	if raw.Len() != 3*len(exs) {
		t.Errorf("events_raw: %d rows, want %d", raw.Len(), 3*len(exs))
	}
	for i := range raw.Len() {
		if got := cell(raw, i, rawLineage+2); got != int64(i) {
			t.Fatalf("events_raw row %d: offset %v", i, got)
		}
	}
	for tbl, n := range perTable {
		if r.Block(tbl).Len() != n {
			t.Errorf("%s: %d rows, want %d", tbl.name, r.Block(tbl).Len(), n)
		}
	}
	r.Reset()
	if rowsLen(&r) != 0 {
		t.Errorf("%d rows after Reset", rowsLen(&r))
	}
	for _, b := range r.Blocks() {
		for _, c := range b.cols {
			if len(c.buf)+len(c.end)+len(c.i64)+len(c.f64)+len(c.u8)+len(c.i32)+len(c.null)+len(c.ends) != 0 {
				t.Fatalf("%s: a column is not empty after Reset", b.t.name)
			}
		}
	}
}

// TestAppendMessageAllocates nothing for a structured event once the
// blocks have grown: the hot path's allocation budget.
func TestAppendMessageAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, ex := range loadExamples(t) {
		var r Rows
		lin := Lineage{Topic: "t", IngestedAt: time.Now()}
		allocs := testing.AllocsPerRun(100, func() {
			r.Reset()
			if _, rej := contractDecoder.AppendMessage(&r, ex.structured, nil, lin); rej != nil {
				t.Fatal(rej)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per event", ex.name, allocs)
		}
	}
}
