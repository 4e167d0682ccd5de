package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzScanner checks that the decoder's JSON scanner accepts exactly what
// encoding/json.Valid accepts (for valid UTF-8, which the decoder checks
// first), so the hand-written scanner never changes a verdict.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `-0.5e+3`, `1E400`, `01`, `1.`, `.5`, `-`, `+1`, `"\u12"`, `"\uD800"`,
		`"\x"`, "\"\t\"", `{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":[true,false,null,{"b":"c"}]}`, ` {"a":1} `,
		`{"a":1} x`, `nul`, `truee`, `"a"` + "\x00", `[` + strings.Repeat(`[`, 20) + strings.Repeat(`]`, 21),
		strings.Repeat(`[`, maxDepth) + strings.Repeat(`]`, maxDepth),
		strings.Repeat(`[`, maxDepth+1) + strings.Repeat(`]`, maxDepth+1),
		`{"specversion":"1.0","id":"x","data":{"a":"\"\\\/\b\f\n\r\t\u00e9"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := valid(b), json.Valid(b); got != want {
			t.Fatalf("valid(%q) = %v, encoding/json.Valid = %v", b, got, want)
		}
	})
}
