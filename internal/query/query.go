// Package query runs an analyst's ad hoc SQL against ClickHouse with the
// server's readonly=1 setting, so a statement can never change data, run a
// table function (url, remote, file, ...) or lift a limit, and prints the
// result as an aligned table, CSV or JSON.
package query

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/secimpact/impact/internal/readonly"
)

// Format is an output format.
type Format string

// Output formats.
const (
	Table Format = "table"
	CSV   Format = "csv"
	JSON  Format = "json"
)

// Options control one query. The zero value prints a table of at most
// 10,000 rows and gives the query 60 seconds.
type Options struct {
	Format Format // default Table
	Limit  int    // maximum rows printed; default 10,000; negative means no limit
	// Timeout bounds the query on the server (max_execution_time) and, a
	// little later, on the client; default 60s, at most
	// readonly.MaxExecutionTime.
	Timeout time.Duration
}

// Validate names the first bad field before anything is sent: an unknown
// Format, a negative Timeout (not silently the default) or one above the
// read-only profile's limit.
func (o Options) Validate() error {
	switch {
	case o.Format != "" && o.Format != Table && o.Format != CSV && o.Format != JSON:
		return fmt.Errorf("query options: Format %q is not one of %s, %s, %s", o.Format, Table, CSV, JSON)
	case o.Timeout < 0 || o.Timeout > readonly.MaxExecutionTime:
		return fmt.Errorf("query options: Timeout %s must be at most %s (the read-only profile's max_execution_time); 0 means %s", o.Timeout, readonly.MaxExecutionTime, DefaultTimeout)
	}
	return nil
}

// DefaultTimeout is Options.Timeout's default.
const DefaultTimeout = 60 * time.Second

// clientGrace is how long the client waits past the timeout for the
// server's own (clearer) timeout error before it cancels the query.
const clientGrace = 3 * time.Second

// Result tells what was printed.
type Result struct {
	Columns   []string
	Rows      int
	Truncated bool // more rows existed than Limit
}

// ErrReadOnly is returned (wrapped) when the server refused a statement
// because it would write, change the schema, run a table function or
// change a setting beyond what the read-only profile allows.
var ErrReadOnly = errors.New("impact query is read-only: writes, DDL, table functions (url, remote, file, ...) and setting changes are refused")

// Run executes one SQL statement read-only and writes its result to w.
func Run(ctx context.Context, conn driver.Conn, sql string, w io.Writer, opts Options) (Result, error) {
	sql = strings.TrimSpace(sql)
	sql = strings.TrimSpace(strings.TrimSuffix(sql, ";"))
	if sql == "" {
		return Result{}, errors.New("no SQL given")
	}
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	if opts.Format == "" {
		opts.Format = Table
	}
	if opts.Limit == 0 {
		opts.Limit = 10000
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	settings, err := readonly.QuerySettings(opts.Timeout)
	if err != nil {
		return Result{}, fmt.Errorf("impact query: %w", err)
	}
	// The context clickhouse-go sees has no deadline: with one, it would
	// send max_execution_time = deadline + 5 s instead of ours. A timer
	// cancels the query on the client if the server's limit did not.
	qctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	var timedOut atomic.Bool
	timer := time.AfterFunc(opts.Timeout+clientGrace, func() { timedOut.Store(true); cancel() })
	defer timer.Stop()
	chSettings := clickhouse.Settings{}
	for k, v := range settings {
		chSettings[k] = v
	}
	qctx = clickhouse.Context(qctx, clickhouse.WithSettings(chSettings))
	explain := func(err error) error {
		if timedOut.Load() {
			return fmt.Errorf("run query: no answer within --timeout %s: %w", opts.Timeout, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("run query: %w", ctx.Err())
		}
		return explainServer(err)
	}
	rows, err := conn.Query(qctx, sql)
	if err != nil {
		return Result{}, explain(err)
	}
	defer rows.Close()

	types := rows.ColumnTypes()
	res := Result{Columns: rows.Columns()}
	dest := make([]any, len(types))
	for i, ct := range types {
		dest[i] = reflect.New(ct.ScanType()).Interface()
	}
	out, err := newWriter(opts.Format, w, res.Columns)
	if err != nil {
		return Result{}, err
	}
	for rows.Next() {
		if opts.Limit > 0 && res.Rows >= opts.Limit {
			res.Truncated = true
			break
		}
		if err := rows.Scan(dest...); err != nil {
			return res, fmt.Errorf("read row %d: %w", res.Rows+1, err)
		}
		vals := make([]any, len(dest))
		for i, d := range dest {
			vals[i] = plain(reflect.ValueOf(d).Elem())
		}
		if err := out.row(vals); err != nil {
			return res, fmt.Errorf("write row %d: %w", res.Rows+1, err)
		}
		res.Rows++
	}
	if err := rows.Err(); err != nil {
		return res, explain(err)
	}
	return res, out.close()
}

// explainServer turns the server's read-only refusals into one clear
// sentence.
func explainServer(err error) error {
	var ex *proto.Exception
	// READONLY, and SETTING_CONSTRAINT_VIOLATION (current releases: a
	// setting outside the profile's bounds).
	if errors.As(err, &ex) && (ex.Code == 164 || ex.Code == 452) {
		return fmt.Errorf("%w: %w", ErrReadOnly, ex)
	}
	return fmt.Errorf("run query: %w", err)
}

// plain turns a scanned value into something the writers print simply:
// nil for NULL, RFC 3339 UTC for times, slices element-wise.
func plain(v reflect.Value) any {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case big.Int:
		return x.String()
	case fmt.Stringer:
		return x.String()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			return string(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = plain(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			out[fmt.Sprint(plain(it.Key()))] = plain(it.Value())
		}
		return out
	}
	return v.Interface()
}

type writer interface {
	row([]any) error
	close() error
}

func newWriter(f Format, w io.Writer, cols []string) (writer, error) {
	switch f {
	case Table:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
		under := make([]string, len(cols))
		for i, c := range cols {
			under[i] = strings.Repeat("-", max(len(c), 1))
		}
		fmt.Fprintln(tw, strings.Join(under, "\t"))
		return &tableWriter{tw: tw}, nil
	case CSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(cols); err != nil {
			return nil, err
		}
		return &csvWriter{cw: cw}, nil
	case JSON:
		return &jsonWriter{w: w, cols: cols}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want table, csv or json)", f)
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case []any, map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

type tableWriter struct{ tw *tabwriter.Writer }

func (t *tableWriter) row(vals []any) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(text(v))
	}
	_, err := fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
	return err
}
func (t *tableWriter) close() error { return t.tw.Flush() }

type csvWriter struct{ cw *csv.Writer }

func (c *csvWriter) row(vals []any) error {
	cells := make([]string, len(vals))
	for i, v := range vals {
		if v != nil {
			cells[i] = text(v)
		}
	}
	return c.cw.Write(cells)
}
func (c *csvWriter) close() error { c.cw.Flush(); return c.cw.Error() }

// jsonWriter prints one JSON array of objects, streaming row by row.
type jsonWriter struct {
	w    io.Writer
	cols []string
	n    int
}

func (j *jsonWriter) row(vals []any) error {
	var b strings.Builder
	if j.n == 0 {
		b.WriteString("[\n  {")
	} else {
		b.WriteString(",\n  {")
	}
	for i, c := range j.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		k, _ := json.Marshal(c)
		v, err := json.Marshal(jsonSafe(vals[i]))
		if err != nil {
			return err
		}
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
	}
	b.WriteString("}")
	j.n++
	_, err := io.WriteString(j.w, b.String())
	return err
}

func (j *jsonWriter) close() error {
	if j.n == 0 {
		_, err := io.WriteString(j.w, "[]\n")
		return err
	}
	_, err := io.WriteString(j.w, "\n]\n")
	return err
}

// jsonSafe replaces NaN and infinities, which JSON cannot hold, by null.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil
		}
	case []any:
		for i := range x {
			x[i] = jsonSafe(x[i])
		}
	}
	return v
}
