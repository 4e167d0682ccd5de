package sqlparam_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/sqlparam"
)

func TestBind(t *testing.T) {
	tests := []struct {
		name    string
		q       string
		vals    map[string]any
		want    string
		wantErr string
	}{
		{name: "ints", q: "SELECT @a + @b_2", vals: map[string]any{"a": 1, "b_2": int64(-20)}, want: "SELECT 1 + -20"},
		{name: "longest name", q: "x >= @from AND d >= @from_date", vals: map[string]any{"from": int64(7), "from_date": "2026-04-01"}, want: "x >= 7 AND d >= '2026-04-01'"},
		{name: "string escaped", q: "WHERE d = @d", vals: map[string]any{"d": `R&D's \lab'`}, want: `WHERE d = 'R&D\'s \\lab\''`},
		{name: "unused value ignored", q: "SELECT 1", vals: map[string]any{"a": 1}, want: "SELECT 1"},
		{name: "missing value", q: "SELECT @a, @b", vals: map[string]any{"a": 1}, wantErr: "no value for @b"},
		{name: "unsupported type", q: "SELECT @a", vals: map[string]any{"a": 1.5}, wantErr: "@a: value of type float64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqlparam.Bind(tt.q, tt.vals)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestBindTyped: a map of one value type binds without conversion.
func TestBindTyped(t *testing.T) {
	got, err := sqlparam.Bind("toDateTime(@asof)", map[string]int64{"asof": 1751328000})
	if err != nil || got != "toDateTime(1751328000)" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func ExampleBind() {
	q, err := sqlparam.Bind("SELECT count() FROM findings WHERE department = @department AND detected_at < toDateTime(@asof)",
		map[string]any{"department": "R&D's lab", "asof": int64(1751328000)})
	if err != nil {
		panic(err)
	}
	fmt.Println(q)
	// Output: SELECT count() FROM findings WHERE department = 'R&D\'s lab' AND detected_at < toDateTime(1751328000)
}
