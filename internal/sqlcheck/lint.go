package sqlcheck

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// LintError is a statement breaking a rule of the design brief's "one SQL
// for old and new servers".
type LintError struct {
	Index int    // position in the statements passed to Lint
	Rule  string // what is wrong and what to write instead
}

func (e *LintError) Error() string {
	return fmt.Sprintf("statement %d: %s", e.Index, e.Rule)
}

// lintRules are matched against statements with comments and string
// literals removed.
var lintRules = []struct {
	re   *regexp.Regexp
	rule string
}{
	{regexp.MustCompile(`(?i)\btoStartOfInterval\s*\(`), "toStartOfInterval is missing on 18.16: bucket with toStartOfDay, toMonday, toStartOfMonth"},
	{regexp.MustCompile(`(?i)\btoStartOfWeek\s*\(`), "toStartOfWeek: use toMonday"},
	{regexp.MustCompile(`(?i)\bDateTime64\b`), "DateTime64 is missing on 18.16: use DateTime (seconds)"},
	{regexp.MustCompile(`(?i)\bJSONExtract\w*\s*\(`), "JSONExtract* is missing on 18.16: read typed columns, not JSON"},
	{regexp.MustCompile(`(?i)\bTTL\b`), "TTL is missing on 18.16"},
	{regexp.MustCompile(`(?i)\bLowCardinality\b`), "LowCardinality is missing on 18.16: use String"},
	{regexp.MustCompile(`(?i)\brankCorr\s*\(`), "rankCorr is missing on 18.16: compute Spearman in Go"},
	{regexp.MustCompile(`(?i)\bADD\s+COLUMN\s+IF\s+NOT\s+EXISTS\b`), "ADD COLUMN IF NOT EXISTS is missing on 18.16"},
	{regexp.MustCompile(`(?i)\bCREATE\s+(OR\s+REPLACE\s+)?DICTIONARY\b`), "CREATE DICTIONARY is missing on 18.16"},
	{regexp.MustCompile(`(?i)\bparseDateTimeBestEffortOrNull\s*\(`), "parseDateTimeBestEffortOrNull gives wrong results on 18.16"},
	{regexp.MustCompile(`(?i)\bOVER\s*\(`), "window functions are missing on 18.16: use arrays, argMax or a self-join"},
	{regexp.MustCompile(`(?i)\bWITH\s+[A-Za-z_][A-Za-z0-9_]*\s+AS\s*\(`), "WITH name AS (SELECT ...) is missing on 18.16: nest the subquery"},
	{regexp.MustCompile(`\$__timeInterval`), "$__timeInterval expands to toStartOfInterval: bucket with toStartOfDay, toMonday, toStartOfMonth"},
	{regexp.MustCompile(`(?i)\bINSERT\s+INTO\s+[A-Za-z0-9_.` + "`" + `"]+\s+(VALUES|SELECT|FORMAT)\b`), "INSERT must name its columns (clickhouse-go v2 fails on 18.16 without them)"},
	{regexp.MustCompile(`(?i)\bINSERT\s+INTO\s[^;]*\)\s*VALUES\s*\(`), "INSERT ... VALUES hangs through clickhouse-go Exec on 18.16: use INSERT ... SELECT or a batch"},
}

var (
	reWord = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*|[()]`)
)

// Lint checks stmts against the design brief's rules for SQL that must run
// on ClickHouse 18.16 and on current releases: none of the functions and
// syntax 18.16 lacks, named INSERT columns, and at most one JOIN per
// SELECT (ARRAY JOIN aside). It is a pattern check, so it cannot prove a
// statement runs; it catches what chdb (a current ClickHouse) would accept
// but 18.16 would not. The result is one *LintError per broken rule.
func Lint(stmts []string) []error {
	var errs []error
	for i, raw := range stmts {
		s := stripSQL(raw)
		for _, r := range lintRules {
			if r.re.MatchString(s) {
				errs = append(errs, &LintError{Index: i, Rule: r.rule})
			}
		}
		if joinsPerSelect(s) > 1 {
			errs = append(errs, &LintError{Index: i, Rule: "more than one JOIN in one SELECT: 18.16 allows one; nest subqueries"})
		}
	}
	return errs
}

// LintT is Lint for tests: every broken rule fails t, with the statement.
func LintT(t testing.TB, stmts []string) {
	t.Helper()
	for _, err := range Lint(stmts) {
		var le *LintError
		if !errors.As(err, &le) {
			t.Errorf("sqlcheck: %v", err)
			continue
		}
		t.Errorf("sqlcheck: %v\n--- statement ---\n%s", err, stmts[le.Index])
	}
}

// joinsPerSelect returns the largest number of JOINs that belong to one
// SELECT, counting each parenthesised subquery on its own.
func joinsPerSelect(s string) int {
	// counts[d] is the JOIN count of the SELECT currently open at
	// parenthesis depth d.
	counts := []int{0}
	max, prev := 0, ""
	for _, tok := range reWord.FindAllString(s, -1) {
		switch up := strings.ToUpper(tok); up {
		case "(":
			counts = append(counts, 0)
		case ")":
			if len(counts) > 1 {
				counts = counts[:len(counts)-1]
			}
		case "SELECT":
			counts[len(counts)-1] = 0
		case "JOIN":
			if prev != "ARRAY" {
				d := len(counts) - 1
				counts[d]++
				if counts[d] > max {
					max = counts[d]
				}
			}
		}
		prev = strings.ToUpper(tok)
	}
	return max
}

// stripSQL blanks out comments and the contents of string literals, so
// rules match code only.
func stripSQL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += end + 3
			b.WriteByte(' ')
		case c == '\'':
			b.WriteString("''")
			for i++; i < len(s); i++ {
				if s[i] == '\\' {
					i++
					continue
				}
				if s[i] == '\'' {
					break
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
