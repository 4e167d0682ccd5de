package schemas

import (
	"bytes"
	"fmt"
	"reflect"
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
