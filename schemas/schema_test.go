package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"path/filepath"
	"sort"
	"testing"

	"github.com/secimpact/impact/internal/golden"
)

// TestSchemasGolden keeps v1/*.json (the published contract) identical to
// what the contract table generates; -update rewrites them.
func TestSchemasGolden(t *testing.T) {
	gen, err := generateSchemas()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("v1/*.json")
	if len(files) != len(gen) {
		t.Errorf("v1 holds %d files, generator makes %d", len(files), len(gen))
	}
	for name, want := range gen {
		golden.Check(t, name, want)
		emb, err := SchemaFS.ReadFile(name)
		if err != nil || !bytes.Equal(emb, want) {
			t.Errorf("embedded %s is stale", name)
		}
	}
	for _, typ := range Types() {
		if f, ok := schemaFile(typ); !ok {
			t.Errorf("no schema file for %s", typ)
		} else if _, err := SchemaFS.ReadFile(f); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

// equivalenceInputs is every input the equivalence test judges: examples
// in both modes, the rejection table and the fuzz corpus (seeds and
// testdata/fuzz/FuzzDecode).
func equivalenceInputs(t *testing.T) map[string][2][]byte {
	in := map[string][2][]byte{}
	for _, ex := range loadExamples(t) {
		in["example/"+ex.name] = [2][]byte{ex.structured, nil}
		in["example-binary/"+ex.name] = [2][]byte{ex.value, headerBlob(ex.headers)}
	}
	for _, c := range decodeCases(t) {
		in["case/"+c.name] = [2][]byte{c.value, headerBlob(c.headers)}
	}
	files, _ := filepath.Glob("testdata/fuzz/FuzzDecode/*")
	for _, f := range files {
		v, h, err := readCorpusFile(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		in["corpus/"+filepath.Base(f)] = [2][]byte{v, h}
	}
	return in
}

// TestSchemaEquivalence proves the hot-path Go validator and the JSON
// Schemas (santhosh-tekuri/jsonschema/v6) give the same verdict.
func TestSchemaEquivalence(t *testing.T) {
	in := equivalenceInputs(t)
	names := make([]string, 0, len(in))
	for k := range in {
		names = append(names, k)
	}
	sort.Strings(names)
	accepted, rejected := 0, 0
	for _, name := range names {
		v, hb := in[name][0], in[name][1]
		hs := parseHeaderBlob(hb)
		ev, err := contractDecoder.Decode(v, hs)
		checkRows(t, ev, err, v, hs)
		goOK := err == nil
		schemaOK := schemaAccepts(t, v, hs)
		if goOK != schemaOK {
			t.Errorf("%s: Go accepts=%v (%v), schema accepts=%v", name, goOK, err, schemaOK)
		}
		if goOK {
			accepted++
		} else {
			rejected++
		}
	}
	t.Logf("%d inputs: %d accepted, %d rejected, same verdict", len(in), accepted, rejected)
	if accepted == 0 || rejected == 0 {
		t.Error("the inputs must include both valid and invalid events")
	}
}

// FuzzDecode checks that Decode never panics, that what it accepts is
// usable (one value per column, UTC times) and that its verdict always
// matches the JSON Schemas'.
func FuzzDecode(f *testing.F) {
	for _, ex := range loadExamples(f) {
		f.Add(ex.structured, []byte(nil))
		f.Add(ex.value, headerBlob(ex.headers))
	}
	for _, c := range decodeCases(f) {
		if len(c.value) < 64<<10 {
			f.Add(c.value, headerBlob(c.headers))
		}
	}
	f.Fuzz(func(t *testing.T, value, hb []byte) {
		hs := parseHeaderBlob(hb)
		ev, err := contractDecoder.Decode(value, hs)
		if err != nil {
			var rej *Rejection
			ok := errors.As(err, &rej)
			if !ok || rej.Rule == "" || rej.Detail == "" {
				t.Fatalf("error %v (%T) is not a complete *Rejection", err, err)
			}
		} else {
			p := ev.Payload
			if p == nil || ev.Time.Location().String() != "UTC" || p.EntityID() == "" {
				t.Fatalf("accepted event is not usable: %+v", ev)
			}
		}
		checkRows(t, ev, err, value, hs)
		if schemaOK := schemaAccepts(t, value, hs); schemaOK != (err == nil) {
			t.Fatalf("verdicts differ: Go %v, schema accepts=%v\nvalue %q\nheaders %q", err, schemaOK, value, hs)
		}
	})
}

// trickyValues are JSON values at the edges of the contract's rules.
var trickyValues = []string{
	`null`, `""`, `"x"`, `" "`, `"\u00e9"`, `"\ud800"`, `0`, `-0`, `1`, `-1`, `5`, `6`, `10`, `1.5`, `1e3`, `1E-400`,
	`4.0`, `1e999`, `-1e999`, `1000000000000000`, `1000000000000000.5`, `1000000000000001`, `10.0000000000000000001`,
	`0.9999999999999999999`, `true`, `false`, `[]`, `{}`, `["a"]`, `[1]`, `[null]`, `["a",{}]`,
	`"2025-01-01T00:00:00Z"`, `"2025-01-01T00:00:00"`, `"1970-06-01T00:00:00Z"`, `"2105-12-31T23:59:59Z"`,
	`"2106-01-01T00:00:00Z"`, `"2024-02-29T12:00:00+01:00"`, `"2023-02-29T12:00:00Z"`, `"2025-01-01T24:00:00Z"`,
	`"2025-01-01T00:00:60Z"`, `"2025-01-01t00:00:00.000z"`, `"2025-01-01T00:00:00.Z"`, `"2025-01-01T00:00:00+2:00"`,
	`"1.0"`, `"/v1"`, `"https://x/v2"`, `"application/json"`, `"text/plain"`,
	`"critical"`, `"info"`, `"open"`, `"HIGH"`, `"security.finding.opened"`, `"deployment.started"`, `"no.such.type"`,
}

// TestSchemaEquivalenceMutations sets every attribute and data field of
// every example (and a few unknown names) to every tricky value, in both
// modes where it applies, and demands the same verdict from Go and the
// JSON Schemas.
func TestSchemaEquivalenceMutations(t *testing.T) {
	checked, accepted := 0, 0
	judge := func(name string, value []byte, hs []Header) {
		_, err := contractDecoder.Decode(value, hs)
		if s := schemaAccepts(t, value, hs); s != (err == nil) {
			t.Errorf("%s: Go %v, schema accepts=%v\n%s", name, err, s, value)
		}
		checked++
		if err == nil {
			accepted++
		}
	}
	for _, ex := range loadExamples(t) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(ex.structured, &m); err != nil {
			t.Fatal(err)
		}
		var data map[string]json.RawMessage
		if err := json.Unmarshal(m["data"], &data); err != nil {
			t.Fatal(err)
		}
		attrs := []string{"specversion", "id", "source", "type", "time", "subject", "dataschema", "datacontenttype", "data", "extension"}
		fields := []string{"unknown_field"}
		for _, f := range familyOf(ex.name).fields {
			fields = append(fields, f.name)
		}
		for _, v := range trickyValues {
			for _, a := range attrs {
				mm := maps.Clone(m)
				mm[a] = json.RawMessage(v)
				b, _ := json.Marshal(mm)
				judge(ex.name+" "+a+"="+v, b, nil)
				delete(mm, a)
				b, _ = json.Marshal(mm)
				judge(ex.name+" no "+a, b, nil)
			}
			for _, f := range fields {
				dd := maps.Clone(data)
				dd[f] = json.RawMessage(v)
				db, _ := json.Marshal(dd)
				mm := maps.Clone(m)
				mm["data"] = db
				b, _ := json.Marshal(mm)
				judge(ex.name+" data."+f+"="+v, b, nil)
				judge(ex.name+" binary data."+f+"="+v, db, ex.headers)
			}
		}
	}
	t.Logf("%d mutated events: %d accepted, same verdict", checked, accepted)
}
