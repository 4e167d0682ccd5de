package dashboards

import (
	"strings"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	r := Request{
		From:     time.Date(2026, 1, 2, 3, 4, 5, 600e6, time.UTC),
		To:       time.Date(2026, 3, 31, 23, 59, 59, 0, time.UTC),
		Interval: 90 * time.Second,
	}
	tests := []struct {
		name, in, want string
	}{
		{"timeFilter", "WHERE $__timeFilter(closed_at)",
			"WHERE closed_at >= toDateTime(1767323045) AND closed_at <= toDateTime(1775001599)"},
		{"timeFilter spaces trimmed", "WHERE $__timeFilter( closed_at )",
			"WHERE closed_at >= toDateTime(1767323045) AND closed_at <= toDateTime(1775001599)"},
		{"from and to", "SELECT $__fromTime, $__toTime",
			"SELECT toDateTime(1767323045), toDateTime(1775001599)"},
		{"from inside call", "toStartOfMonth($__fromTime) AND toDate($__toTime)",
			"toStartOfMonth(toDateTime(1767323045)) AND toDate(toDateTime(1775001599))"},
		{"nested argument", "$__timeFilter(toDateTime(month))",
			"toDateTime(month) >= toDateTime(1767323045) AND toDateTime(month) <= toDateTime(1775001599)"},
		{"ms variants", "$__timeFilter_ms(t) $__fromTime_ms",
			"t >= fromUnixTimestamp64Milli(1767323045600) AND t <= fromUnixTimestamp64Milli(1775001599000) fromUnixTimestamp64Milli(1767323045600)"},
		{"dateFilter", "$__dateFilter(d)", "d >= toDate('2026-01-02') AND d <= toDate('2026-03-31')"},
		{"dateTimeFilter", "$__dateTimeFilter(d, t)",
			"(d >= toDate('2026-01-02') AND d <= toDate('2026-03-31')) AND (t >= toDateTime(1767323045) AND t <= toDateTime(1775001599))"},
		{"dt alias", "$__dt(d,t)",
			"(d >= toDate('2026-01-02') AND d <= toDate('2026-03-31')) AND (t >= toDateTime(1767323045) AND t <= toDateTime(1775001599))"},
		{"timeInterval is toStartOfInterval", "$__timeInterval(t)", "toStartOfInterval(toDateTime(t), INTERVAL 90 second)"},
		{"interval_s", "$__interval_s", "90"},
		{"sqlutil default timeFrom", "$__timeFrom(t)", "t >= '2026-01-02T03:04:05Z'"},
		// The plugin's parser takes the next balanced parentheses as the
		// argument list even when they are far away: this swallows SQL.
		{"quirk: bare macro before parentheses", "x <= $__toTime AND y IN (1, 2)", "x <= toDateTime(1775001599)"},
		{"bare macro at end", "x <= $__toTime", "x <= toDateTime(1775001599)"},
		{"closing parenthesis first", "(x <= $__toTime) AND (y)", "(x <= toDateTime(1775001599)) AND (y)"},
		{"no macro", "SELECT 1", "SELECT 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Expand(tt.in, r)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Expand(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	r := Request{From: time.Unix(0, 0).UTC(), To: time.Unix(60, 0).UTC()}
	for _, in := range []string{"$__timeFilter(a, b)", "$__dateTimeFilter(a)", "$__timeInterval(a, b)"} {
		if _, err := Expand(in, r); err == nil || !strings.Contains(err.Error(), "number of arguments") {
			t.Errorf("Expand(%q) error = %v, want argument count error", in, err)
		}
	}
}
