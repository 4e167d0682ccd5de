package schemas

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestValidateLines(t *testing.T) {
	var in bytes.Buffer
	exs := loadExamples(t)
	for _, ex := range exs[:3] {
		in.Write(bytes.Join(bytes.Fields(ex.structured), []byte(" "))) // one line
		in.WriteString("\n")
	}
	in.WriteString("\n   \n")                                        // blank lines are skipped
	in.WriteString(`{"specversion":"1.0"` + "\r\n")                  // line 6: not JSON
	in.Write(mutate(t, nil, map[string]string{"severity": `"bad"`})) // line 7
	in.WriteString("\n")
	big := append([]byte(base[:len(base)-2]), []byte(`,"pad":"`+strings.Repeat("x", MaxEventSize)+`"}}`)...)
	in.Write(big) // line 8: over 1 MiB, no trailing newline
	var got []string
	rep, err := (&Decoder{}).ValidateLines(&in, func(line int, rej *Rejection) {
		got = append(got, fmt.Sprintf("%d %s %s", line, rej.Field, rej.Rule))
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"6  json", "7 data.severity enum", "8  size"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rejections %q, want %q", got, want)
	}
	if rep.Lines != 6 || rep.Accepted != 3 || rep.Rejected != 3 || rep.ByRule["data.severity enum"] != 1 || len(rep.ByType) == 0 {
		t.Errorf("report %+v", rep)
	}
}

// endless is size bytes of 'x' with no newline, generated as read.
type endless struct{ left int64 }

func (e *endless) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), e.left))
	for i := range p[:n] {
		p[i] = 'x'
	}
	e.left -= int64(n)
	return n, nil
}

// TestValidateLinesBoundedMemory: 200 MB without a newline is one rejected
// line (rule size), read without buffering more than MaxEventSize of it.
func TestValidateLinesBoundedMemory(t *testing.T) {
	const size = 200 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var got []string
	rep, err := (&Decoder{}).ValidateLines(io.MultiReader(&endless{left: size}, strings.NewReader("\n"+base+"\n")),
		func(line int, rej *Rejection) { got = append(got, fmt.Sprintf("%d %s %s", line, rej.Rule, rej.Detail)) })
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lines != 2 || rep.Rejected != 1 || rep.Accepted != 1 || len(got) != 1 || !strings.HasPrefix(got[0], "1 size line is 209715200 bytes") {
		t.Errorf("report %+v, rejections %q", rep, got)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8*MaxEventSize {
		t.Errorf("allocated %d bytes to validate a %d-byte line; want under %d", alloc, size, 8*MaxEventSize)
	}
}
