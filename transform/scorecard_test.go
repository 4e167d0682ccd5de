package transform_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// sqlOpenSnapshots is the month-end snapshot of open findings as
// docs/data-dictionary.md defines it, written out the obvious way: one
// row per finding and month from its detection to its close (or the as-of
// month), kept where the finding was open at the month's end (at the
// as-of time in the as-of month). department_scorecard computes the same
// counts from per-finding start and end deltas.
const sqlOpenSnapshots = `SELECT department, toString(month), metric, count()
FROM
(
    SELECT department, month, severity, detected_at, close_at,
           least(toDateTime(addMonths(month, 1)), toDateTime(?)) AS month_end
    FROM
    (
        SELECT department, severity, detected_at, close_at,
               arrayJoin(arrayMap(i -> addMonths(toStartOfMonth(detected_at), i),
                   range(toUInt32(greatest(0, dateDiff('month', toStartOfMonth(detected_at),
                       toStartOfMonth(least(ifNull(close_at, toDateTime(?)), toDateTime(?))))) + 1)))) AS month
        FROM
        (
            SELECT department, severity, detected_at,
                   multiIf(status = 'fixed', ifNull(fixed_at, last_event_time),
                           status = 'dismissed', ifNull(dismissed_at, last_event_time), NULL) AS close_at
            FROM findings
            WHERE detected_at < toDateTime(?)
        )
    )
)
ARRAY JOIN
    arrayFilter(x -> x != '', [
        if(detected_at < month_end AND (isNull(close_at) OR assumeNotNull(close_at) >= month_end), concat('open_', severity), ''),
        if(detected_at < month_end AND (isNull(close_at) OR assumeNotNull(close_at) >= month_end)
           AND severity IN ('critical', 'high') AND detected_at < month_end - 365 * 86400, 'security_debt', '')]) AS metric
GROUP BY department, month, metric`

const sqlScorecardSnapshots = `SELECT department, toString(month), metric, v
FROM department_scorecard
ARRAY JOIN ['open_critical', 'open_high', 'open_medium', 'open_low', 'open_info', 'security_debt'] AS metric,
    [open_critical, open_high, open_medium, open_low, open_info, security_debt] AS v
WHERE v > 0`

func snapshotCounts(t *testing.T, conn driver.Conn, q string, args []any) []string {
	t.Helper()
	var out []string
	query(t, conn, q, args, func(r driver.Rows) error {
		var dep, month, metric string
		var n uint64
		if err := r.Scan(&dep, &month, &metric, &n); err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %s %s %d", dep, month, metric, n))
		return nil
	})
	sort.Strings(out)
	return out
}

// TestScorecardOpenSnapshots: the scorecard's month-end counts of open
// findings and security debt equal the per-finding, per-month definition,
// for an as-of time at the end of the data and for one in the middle of a
// month with events after it (findings closed later count as open, those
// detected later not at all), after a full and an incremental refresh.
func TestScorecardOpenSnapshots(t *testing.T) {
	t.Parallel()
	conn := open(t)
	t0 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	truth, rest := loadSimulation(t, conn, simulate.Options{Seed: 5, Days: 560, Scale: 0.12}, 0.98, t0, t0.Add(1000*24*time.Hour))
	time.Sleep(2 * time.Second)
	mid := truth.End.Add(-75*24*time.Hour - 13*time.Hour - 17*time.Second)
	check := func(name string, asOf time.Time) {
		t.Helper()
		at := asOf.UTC().Truncate(time.Second).Unix()
		want := snapshotCounts(t, conn, sqlOpenSnapshots, []any{at, at, at, at})
		got := snapshotCounts(t, conn, sqlScorecardSnapshots, nil)
		debt := 0
		for _, l := range want {
			if strings.Contains(l, " security_debt ") {
				debt++
			}
		}
		if len(want) == 0 || debt == 0 {
			t.Fatalf("%s: the data has %d month-end counts, %d of security debt: nothing to compare", name, len(want), debt)
		}
		sameSnapshots(t, name+" (scorecard; full = the per-finding definition)", map[string]string{"department_scorecard": strings.Join(got, "\n")},
			map[string]string{"department_scorecard": strings.Join(want, "\n")})
	}
	refresh(t, conn, transform.Options{AsOf: mid, Overlap: time.Second})
	check("full, as of mid-month", mid)
	refresh(t, conn, transform.Options{AsOf: truth.End, Overlap: time.Second, Full: true})
	check("full, as of the end", truth.End)
	rest()
	refresh(t, conn, transform.Options{AsOf: truth.End, Overlap: time.Second})
	check("incremental, as of the end", truth.End)
}
