package sqlcheck_test

import (
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/sqlcheck"
)

func TestLint(t *testing.T) {
	tests := []struct {
		sql  string
		want string // substring of the rule; "" means clean
	}{
		{"SELECT toMonday(event_time) AS w, count() FROM t GROUP BY w", ""},
		{"SELECT toStartOfInterval(event_time, INTERVAL 1 day) FROM t", "toStartOfInterval"},
		{"SELECT toStartOfWeek(d) FROM t", "toMonday"},
		{"CREATE TABLE t (d DateTime64(3)) ENGINE = Memory", "DateTime64"},
		{"SELECT JSONExtractString(payload, 'a') FROM t", "JSONExtract"},
		{"CREATE TABLE t (d Date) ENGINE = MergeTree ORDER BY d TTL d + INTERVAL 1 DAY", "TTL"},
		{"CREATE TABLE t (s LowCardinality(String)) ENGINE = Memory", "LowCardinality"},
		{"SELECT rankCorr(a, b) FROM t", "rankCorr"},
		{"ALTER TABLE t ADD COLUMN IF NOT EXISTS x UInt8", "ADD COLUMN IF NOT EXISTS"},
		{"CREATE DICTIONARY d (k UInt64) PRIMARY KEY k SOURCE(NULL()) LAYOUT(FLAT()) LIFETIME(0)", "DICTIONARY"},
		{"SELECT parseDateTimeBestEffortOrNull(s) FROM t", "parseDateTimeBestEffortOrNull"},
		{"SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t", "window functions"},
		{"WITH recent AS (SELECT * FROM t) SELECT count() FROM recent", "WITH name AS"},
		{"WITH 5 AS n SELECT n", ""},
		{"SELECT $__timeInterval(t) FROM x", "$__timeInterval"},
		{"INSERT INTO t VALUES (1)", "name its columns"},
		{"INSERT INTO db.t SELECT 1", "name its columns"},
		{"INSERT INTO t (a) SELECT 1", ""},
		{"INSERT INTO t (a) VALUES (1)", "INSERT ... VALUES hangs"},
		{"SELECT * FROM a JOIN b USING k JOIN c USING k", "more than one JOIN"},
		{"SELECT * FROM a LEFT JOIN (SELECT * FROM b JOIN c USING k) AS bc USING k", ""},
		{"SELECT * FROM a JOIN b USING k UNION ALL SELECT * FROM c JOIN d USING k", ""},
		{"SELECT x FROM a ARRAY JOIN arr AS x JOIN b USING k", ""},
		{"SELECT 'toStartOfInterval( TTL OVER (' AS s -- rankCorr(a, b)\n/* DateTime64 */", ""},
		{"SELECT 'it''s fine', 'a\\'b' AS q, count() FROM t", ""},
	}
	for _, tt := range tests {
		errs := sqlcheck.Lint([]string{tt.sql})
		if tt.want == "" {
			if len(errs) != 0 {
				t.Errorf("%q: unexpected %v", tt.sql, errs)
			}
			continue
		}
		found := false
		for _, e := range errs {
			if strings.Contains(e.Error(), tt.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: got %v, want a rule mentioning %q", tt.sql, errs, tt.want)
		}
	}
}
