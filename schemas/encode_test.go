package schemas

import (
	"reflect"
	"testing"
)

// TestBinaryModeRoundTrip: every valid event, mapped to binary mode by
// BinaryMode, decodes to the same event (payload and envelope); ce_
// headers carry the attributes.
func TestBinaryModeRoundTrip(t *testing.T) {
	var inputs [][]byte
	for _, ex := range loadExamples(t) {
		inputs = append(inputs, ex.structured)
	}
	for _, c := range decodeCases(t) {
		if c.rule == "" && c.headers == nil {
			inputs = append(inputs, c.value)
		}
	}
	for _, in := range inputs {
		want, err := Decode(in, nil)
		if err != nil {
			t.Fatal(err)
		}
		value, hs, ok := BinaryMode(in)
		if !ok {
			t.Fatalf("BinaryMode refused %s", in)
		}
		got, err := Decode(value, hs)
		if err != nil {
			t.Fatalf("binary form of %s: %v", want.ID, err)
		}
		if !reflect.DeepEqual(got.Payload, want.Payload) {
			t.Errorf("%s: payloads differ:\n%+v\n%+v", want.ID, got.Payload, want.Payload)
		}
		a, b := *got, *want
		a.Raw, b.Raw, a.Data, b.Data, a.Payload, b.Payload = nil, nil, nil, nil, nil, nil
		if b.DataContentType == "" {
			b.DataContentType = defaultDataType // the content-type header is always sent
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("envelopes differ:\n%+v\n%+v", a, b)
		}
	}
	for _, bad := range []string{`[]`, `null`, `{`, `{"data_base64":"%%"}`} {
		if _, _, ok := BinaryMode([]byte(bad)); ok {
			t.Errorf("BinaryMode(%s) accepted", bad)
		}
	}
}
