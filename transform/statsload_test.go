package transform

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/testenv"
)

// TestFloatBytes: arrays sent as the bytes of their float64s
// (qDeploymentGroups, qFindingGroups) read back bit for bit from
// ClickHouse 18.16, zeros, negatives, fractions of a day, huge and
// infinite values included; a string of the wrong length is an error.
func TestFloatBytes(t *testing.T) {
	ctx := context.Background()
	conn, err := chconn.Open(ctx, testenv.ClickHouse(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The values as the server computes them, read back through
	// clickhouse-go's Array scan and through the bytes of the queries'
	// expression.
	const q = `SELECT vals, length(vals), arrayStringConcat(arrayMap(x -> reinterpretAsString(if(x = 0, -0., x)), vals), '')
FROM (SELECT arrayFilter(x -> x != 99, %s) AS vals)`
	for _, vals := range []string{
		"[toFloat64(99)]", // empty
		"[toFloat64(0)]",
		"[toFloat64(0), 1 / 3, -2, 1 / 86400, 2 / 3600, (toInt64(1234567) - toInt64(3)) / 86400, toFloat64(123456789012345680000), exp10(300), -exp10(-300), 1 / 0, -1 / 0]",
	} {
		var want []float64
		var n uint64
		var got string
		if err := conn.QueryRow(ctx, fmt.Sprintf(q, vals)).Scan(&want, &n, &got); err != nil {
			t.Fatal(err)
		}
		f, err := floatBytes(got, n)
		if err != nil {
			t.Fatalf("%s: %v", vals, err)
		}
		if !slices.EqualFunc(f, want, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }) {
			t.Errorf("%s: read %v, want %v", vals, f, want)
		}
	}
	// A magnitude below 2^-1008 loses bytes: an error, not a wrong value.
	var n uint64
	var got string
	if err := conn.QueryRow(ctx, fmt.Sprintf(q, "[1.5, exp10(-310), 2.5]")).Scan(new([]float64), &n, &got); err != nil {
		t.Fatal(err)
	}
	if f, err := floatBytes(got, n); err == nil {
		t.Errorf("a value below 2^-1008: read %v, want an error", f)
	}
	for _, bad := range []struct {
		s string
		n uint64
	}{{"", 1}, {"1234567", 1}, {"123456781", 1}, {"12345678", 2}} {
		if f, err := floatBytes(bad.s, bad.n); err == nil {
			t.Errorf("%q as %d values: %v, want an error", bad.s, bad.n, f)
		}
	}
}
