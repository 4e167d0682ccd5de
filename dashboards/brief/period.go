package brief

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

// Grains of a named period.
const (
	Month   = "month"
	Quarter = "quarter"
	Year    = "year"
)

var periodRe = regexp.MustCompile(`^(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$`)

// ParsePeriod reads a calendar period, UTC: 2026-Q2 (a quarter), 2026-06
// (a month) or 2026 (a year).
func ParsePeriod(s string) (Period, error) {
	m := periodRe.FindStringSubmatch(s)
	if m == nil {
		return Period{}, fmt.Errorf("period %q: want YYYY-Qn (2026-Q2), YYYY-MM (2026-06) or YYYY", s)
	}
	y, _ := strconv.Atoi(m[1])
	switch {
	case m[2] != "":
		q, _ := strconv.Atoi(m[2])
		from := time.Date(y, time.Month(3*q-2), 1, 0, 0, 0, 0, time.UTC)
		return Period{From: from, To: from.AddDate(0, 3, 0)}, nil
	case m[3] != "":
		mo, _ := strconv.Atoi(m[3])
		from := time.Date(y, time.Month(mo), 1, 0, 0, 0, 0, time.UTC)
		return Period{From: from, To: from.AddDate(0, 1, 0)}, nil
	}
	from := time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC)
	return Period{From: from, To: from.AddDate(1, 0, 0)}, nil
}

// Grain is month, quarter or year when p is exactly one such calendar
// period, else "".
func (p Period) Grain() string {
	f, t := p.From.UTC(), p.To.UTC()
	if f.Day() != 1 || f.Hour() != 0 || f.Minute() != 0 || f.Second() != 0 || f.Nanosecond() != 0 {
		return ""
	}
	switch {
	case f.AddDate(0, 1, 0).Equal(t):
		return Month
	case f.AddDate(0, 3, 0).Equal(t) && (f.Month()-1)%3 == 0:
		return Quarter
	case f.AddDate(1, 0, 0).Equal(t) && f.Month() == 1:
		return Year
	}
	return ""
}

// Name is the period as ParsePeriod reads it (2026-Q2, 2026-06, 2026), or
// the range of days for any other period.
func (p Period) Name() string {
	f := p.From.UTC()
	switch p.Grain() {
	case Month:
		return f.Format("2006-01")
	case Quarter:
		return fmt.Sprintf("%d-Q%d", f.Year(), (int(f.Month())-1)/3+1)
	case Year:
		return strconv.Itoa(f.Year())
	}
	return p.String()
}

// Previous is the period of the same length just before p: the previous
// month, quarter or year of a calendar period, else the same number of
// days before.
func (p Period) Previous() Period {
	switch p.Grain() {
	case Month:
		return Period{From: p.From.AddDate(0, -1, 0), To: p.From}
	case Quarter:
		return Period{From: p.From.AddDate(0, -3, 0), To: p.From}
	case Year:
		return Period{From: p.From.AddDate(-1, 0, 0), To: p.From}
	}
	return Period{From: p.From.Add(-p.To.Sub(p.From)), To: p.From}
}

// YearBefore is the same period one year earlier.
func (p Period) YearBefore() Period {
	return Period{From: p.From.AddDate(-1, 0, 0), To: p.To.AddDate(-1, 0, 0)}
}

// Every returns every full period of grain (month, quarter or year) that
// overlaps [first, last], oldest first, ending with the last one that is
// over by end: for impact report --every.
func Every(grain string, first, last, end time.Time) ([]Period, error) {
	var start time.Time
	var step func(time.Time) time.Time
	f := first.UTC()
	switch grain {
	case Month:
		start, step = time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, time.UTC), func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }
	case Quarter:
		start, step = time.Date(f.Year(), f.Month()-(f.Month()-1)%3, 1, 0, 0, 0, 0, time.UTC), func(t time.Time) time.Time { return t.AddDate(0, 3, 0) }
	case Year:
		start, step = time.Date(f.Year(), 1, 1, 0, 0, 0, 0, time.UTC), func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }
	default:
		return nil, fmt.Errorf("--every %q: want month, quarter or year", grain)
	}
	var out []Period
	for from := start; !from.After(last) && len(out) < 1200; from = step(from) {
		to := step(from)
		if to.After(end) {
			break
		}
		out = append(out, Period{From: from, To: to})
	}
	return out, nil
}
