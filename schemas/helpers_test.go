package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/secimpact/impact/internal/golden"
)

// example is one valid example event in both modes.
type example struct {
	name       string // event type
	structured []byte
	value      []byte // binary mode
	headers    []Header
}

// loadExamples reads testdata/valid/<type>.json and their binary forms
// testdata/binary/<type>.json.
func loadExamples(t testing.TB) []example {
	t.Helper()
	files, err := filepath.Glob("testdata/valid/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	sort.Strings(files)
	var out []example
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ex := example{name: strings.TrimSuffix(filepath.Base(f), ".json"), structured: b}
		bf := filepath.Join("testdata", "binary", filepath.Base(f))
		want := binaryFile(t, b)
		golden.Check(t, bf, want)
		ex.value, ex.headers = readBinaryFile(t, want)
		out = append(out, ex)
	}
	return out
}

type binaryHeader struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type binaryForm struct {
	Headers []binaryHeader  `json:"headers"`
	Value   json.RawMessage `json:"value"`
}

// binaryFile renders the binary-mode form of a structured event: every
// attribute a ce_ header, datacontenttype the content-type header, data the
// value.
func binaryFile(t testing.TB, structured []byte) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(structured, &m); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var bf binaryForm
	for _, k := range keys {
		if k == "data" {
			continue
		}
		var s string
		if err := json.Unmarshal(m[k], &s); err != nil {
			t.Fatalf("attribute %s: %v", k, err)
		}
		key := "ce_" + k
		if k == "datacontenttype" {
			key = "content-type"
		}
		bf.Headers = append(bf.Headers, binaryHeader{key, s})
	}
	bf.Value = m["data"]
	b, err := json.MarshalIndent(bf, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func readBinaryFile(t testing.TB, b []byte) ([]byte, []Header) {
	t.Helper()
	var bf binaryForm
	if err := json.Unmarshal(b, &bf); err != nil {
		t.Fatal(err)
	}
	hs := make([]Header, len(bf.Headers))
	for i, h := range bf.Headers {
		hs[i] = Header{Key: h.Key, Value: []byte(h.Value)}
	}
	return bf.Value, hs
}

var (
	compiledOnce sync.Once
	compiled     *jsonschema.Schema
	compileErr   error
)

// eventSchemaValidator compiles v1/event.json (and the family schemas it
// references) from SchemaFS, asserting formats as the contract demands.
func eventSchemaValidator(t testing.TB) *jsonschema.Schema {
	t.Helper()
	compiledOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		files, err := fsGlob()
		if err != nil {
			compileErr = err
			return
		}
		for _, f := range files {
			b, err := SchemaFS.ReadFile(f)
			if err != nil {
				compileErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				compileErr = err
				return
			}
			if err := c.AddResource(SchemaBaseURI+strings.TrimPrefix(f, "v1/"), doc); err != nil {
				compileErr = err
				return
			}
		}
		compiled, compileErr = c.Compile(SchemaBaseURI + "event.json")
	})
	if compileErr != nil {
		t.Fatalf("compile schemas: %v", compileErr)
	}
	return compiled
}

func fsGlob() ([]string, error) {
	entries, err := SchemaFS.ReadDir("v1")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		out = append(out, "v1/"+e.Name())
	}
	return out, nil
}

// schemaAccepts is the contract as the JSON Schemas state it: at most
// MaxEventSize bytes, UTF-8 JSON, accepted by v1/event.json; a binary-mode
// message is judged as the structured event it stands for.
func schemaAccepts(t testing.TB, value []byte, headers []Header) bool {
	size := len(value)
	for _, h := range headers {
		size += len(h.Key) + len(h.Value)
	}
	if size > MaxEventSize {
		return false
	}
	doc := value
	binary := false
	for _, h := range headers {
		if h.Key == "ce_specversion" {
			binary = true
		}
		if strings.EqualFold(h.Key, "content-type") {
			ct := string(h.Value)
			if strings.HasPrefix(ct, "application/cloudevents-batch") {
				return false
			}
			if strings.HasPrefix(ct, "application/cloudevents") {
				binary = false
				break
			}
		}
	}
	if binary {
		for _, h := range headers {
			if (strings.HasPrefix(h.Key, "ce_") || strings.EqualFold(h.Key, "content-type")) && !utf8.Valid(h.Value) {
				return false
			}
		}
		doc = structuredFromBinary(value, headers)
	}
	if !utf8.Valid(doc) || !json.Valid(doc) {
		return false
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return false
	}
	return eventSchemaValidator(t).Validate(v) == nil
}

// headerBlob encodes headers for the fuzzer: "key\x00value\n" lines.
func headerBlob(hs []Header) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, h.Key...)
		b = append(b, 0)
		b = append(b, h.Value...)
		b = append(b, '\n')
	}
	return b
}

func parseHeaderBlob(b []byte) []Header {
	var hs []Header
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte{0})
		if !ok {
			continue
		}
		hs = append(hs, Header{Key: string(k), Value: v})
	}
	return hs
}

// contractDecoder accepts every event time the contract's format holds
// (1971-2105): what the JSON Schemas can express. The decoder's default
// window (TimeWindow) is checked by TestTimeWindow.
var contractDecoder = Decoder{Window: TimeWindow{Earliest: minEarliest, MaxSkew: 200 * 365 * 24 * time.Hour}}
