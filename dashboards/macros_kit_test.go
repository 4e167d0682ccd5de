package dashboards

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Request is what Grafana sends with a panel query: the dashboard time range
// and the panel's interval.
type Request struct {
	From, To time.Time
	Interval time.Duration
}

// Expand expands the Grafana macros of grafana-clickhouse-datasource v4 in
// sql exactly as the plugin's backend does, so tests run the SQL ClickHouse
// really receives. Reproduced from
// github.com/grafana/clickhouse-datasource pkg/macros/macros.go (commit
// 4304e52e020c0e47ea0f6e9e2abf65c83aee05ab) and the parser it delegates to,
// github.com/grafana/grafana-plugin-sdk-go data/sqlutil/macros.go (commit
// d44c37a1573fe36ea6e4909daa64dac24fa28fd3), including its quirks: a macro
// takes as its arguments the first balanced parentheses after it, however
// far away, unless a ')' comes first; arguments are split on every comma.
func Expand(sql string, r Request) (string, error) {
	for _, name := range macroNames() {
		matches, err := macroMatches(sql, name)
		if err != nil {
			return sql, err
		}
		for _, m := range matches {
			var args []string
			for _, a := range strings.Split(m.args, ",") {
				args = append(args, strings.TrimSpace(a))
			}
			res, err := macros[name](r, args)
			if err != nil {
				return sql, fmt.Errorf("expand $__%s: %w", name, err)
			}
			sql = strings.ReplaceAll(sql, m.text, res)
		}
	}
	return sql, nil
}

type macroFunc func(r Request, args []string) (string, error)

// macros are the plugin's macros plus the sqlutil defaults it inherits.
var macros = map[string]macroFunc{
	"fromTime":        func(r Request, _ []string) (string, error) { return toDateTime(r.From), nil },
	"toTime":          func(r Request, _ []string) (string, error) { return toDateTime(r.To), nil },
	"fromTime_ms":     func(r Request, _ []string) (string, error) { return toDateTime64(r.From), nil },
	"toTime_ms":       func(r Request, _ []string) (string, error) { return toDateTime64(r.To), nil },
	"timeFilter":      rangeFilter(toDateTime),
	"timeFilter_ms":   rangeFilter(toDateTime64),
	"dateFilter":      rangeFilter(toDate),
	"dateTimeFilter":  dateTimeFilter,
	"dt":              dateTimeFilter,
	"timeInterval":    timeInterval,
	"timeInterval_ms": timeIntervalMs,
	"interval_s": func(r Request, _ []string) (string, error) {
		return fmt.Sprintf("%d", int(math.Max(r.Interval.Seconds(), 1))), nil
	},
	// sqlutil.DefaultMacros the plugin does not override.
	"timeFrom": func(r Request, args []string) (string, error) {
		if len(args) != 1 {
			return "", argCount(1, len(args))
		}
		return fmt.Sprintf("%s >= '%s'", args[0], r.From.UTC().Format(time.RFC3339)), nil
	},
	"timeTo": func(r Request, args []string) (string, error) {
		if len(args) != 1 {
			return "", argCount(1, len(args))
		}
		return fmt.Sprintf("%s <= '%s'", args[0], r.To.UTC().Format(time.RFC3339)), nil
	},
	"timeGroup": timeGroup,
	"table":     func(Request, []string) (string, error) { return "", nil },
	"column":    func(Request, []string) (string, error) { return "", nil },
}

func macroNames() []string {
	names := make([]string, 0, len(macros))
	for n := range macros {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func argCount(want, got int) error {
	return fmt.Errorf("unexpected number of arguments: expected %d argument(s), received %d", want, got)
}

func toDate(t time.Time) string     { return fmt.Sprintf("toDate('%s')", t.Format("2006-01-02")) }
func toDateTime(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }
func toDateTime64(t time.Time) string {
	return fmt.Sprintf("fromUnixTimestamp64Milli(%d)", t.UnixMilli())
}

func rangeFilter(conv func(time.Time) string) macroFunc {
	return func(r Request, args []string) (string, error) {
		if len(args) != 1 {
			return "", argCount(1, len(args))
		}
		return fmt.Sprintf("%s >= %s AND %s <= %s", args[0], conv(r.From), args[0], conv(r.To)), nil
	}
}

func dateTimeFilter(r Request, args []string) (string, error) {
	if len(args) != 2 {
		return "", argCount(2, len(args))
	}
	d, t := args[0], args[1]
	return fmt.Sprintf("(%s >= %s AND %s <= %s) AND (%s >= %s AND %s <= %s)",
		d, toDate(r.From), d, toDate(r.To), t, toDateTime(r.From), t, toDateTime(r.To)), nil
}

func timeInterval(r Request, args []string) (string, error) {
	if len(args) != 1 {
		return "", argCount(1, len(args))
	}
	return fmt.Sprintf("toStartOfInterval(toDateTime(%s), INTERVAL %d second)", args[0], int(math.Max(r.Interval.Seconds(), 1))), nil
}

func timeIntervalMs(r Request, args []string) (string, error) {
	if len(args) != 1 {
		return "", argCount(1, len(args))
	}
	return fmt.Sprintf("toStartOfInterval(toDateTime64(%s, 3), INTERVAL %d millisecond)", args[0], int(math.Max(float64(r.Interval.Milliseconds()), 1))), nil
}

func timeGroup(_ Request, args []string) (string, error) {
	if len(args) != 2 {
		return "", argCount(2, len(args))
	}
	var b strings.Builder
	switch args[1] {
	case "minute":
		fmt.Fprintf(&b, "datepart(minute, %s),", args[0])
		fallthrough
	case "hour":
		fmt.Fprintf(&b, "datepart(hour, %s),", args[0])
		fallthrough
	case "day":
		fmt.Fprintf(&b, "datepart(day, %s),", args[0])
		fallthrough
	case "month":
		fmt.Fprintf(&b, "datepart(month, %s),", args[0])
		fallthrough
	case "year":
		fmt.Fprintf(&b, "datepart(year, %s)", args[0])
	}
	return b.String(), nil
}

type macroMatch struct{ text, args string }

// macroMatches finds each $__name and the argument list the plugin would
// give it (see Expand for the rules).
func macroMatches(sql, name string) ([]macroMatch, error) {
	rgx, err := regexp.Compile(`\$__` + name + `\b`)
	if err != nil {
		return nil, fmt.Errorf("macro %s: %w", name, err)
	}
	var out []macroMatch
	for _, loc := range rgx.FindAllStringIndex(sql, -1) {
		rest := sql[loc[0]:]
		depth, argStart, end := 0, 0, 0
		for i, c := range rest {
			if depth == 0 && end > 0 {
				break
			}
			if c == '(' {
				depth++
				if argStart == 0 {
					argStart = i + 1
				}
			} else if c == ')' {
				if depth == 0 {
					end = 0
					break
				}
				depth--
				end = i + 1
			}
		}
		if end == 0 {
			end = loc[1] - loc[0]
		}
		m := macroMatch{text: rest[:end]}
		if argStart > 0 && argStart <= end {
			m.args = rest[argStart : end-1]
		}
		out = append(out, m)
	}
	return out, nil
}
