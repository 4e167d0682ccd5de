package brief

import (
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParsePeriod(t *testing.T) {
	for _, c := range []struct {
		in, from, to, grain, prev, yearBefore string
	}{
		{"2026-Q2", "2026-04-01", "2026-07-01", Quarter, "2026-Q1", "2025-Q2"},
		{"2026-Q1", "2026-01-01", "2026-04-01", Quarter, "2025-Q4", "2025-Q1"},
		{"2026-06", "2026-06-01", "2026-07-01", Month, "2026-05", "2025-06"},
		{"2026-01", "2026-01-01", "2026-02-01", Month, "2025-12", "2025-01"},
		{"2026", "2026-01-01", "2027-01-01", Year, "2025", "2025"},
	} {
		p, err := ParsePeriod(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if !p.From.Equal(day(c.from)) || !p.To.Equal(day(c.to)) || p.Grain() != c.grain || p.Name() != c.in {
			t.Errorf("%s: %s %s %q", c.in, p, p.Grain(), p.Name())
		}
		if p.Previous().Name() != c.prev || p.YearBefore().Name() != c.yearBefore {
			t.Errorf("%s: previous %s, year before %s", c.in, p.Previous().Name(), p.YearBefore().Name())
		}
	}
	for _, bad := range []string{"", "2026-Q5", "2026-13", "26-Q1", "2026-Q2 ", "2026-1", "Q2-2026"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	// Any other range: the same number of days before.
	p := Period{From: day("2026-05-10"), To: day("2026-05-20")}
	if p.Grain() != "" || !p.Previous().From.Equal(day("2026-04-30")) || !p.Previous().To.Equal(p.From) || p.Name() != p.String() {
		t.Errorf("ad hoc period: %s %q %s", p.Grain(), p.Name(), p.Previous())
	}
}

func TestEvery(t *testing.T) {
	got, err := Every(Quarter, day("2025-05-17"), day("2026-07-01"), day("2026-07-01"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name())
	}
	want := "2025-Q2 2025-Q3 2025-Q4 2026-Q1 2026-Q2"
	if s := join(names); s != want {
		t.Errorf("quarters %s, want %s", s, want)
	}
	got, _ = Every(Month, day("2026-04-03"), day("2026-06-29"), day("2026-06-30"))
	if len(got) != 2 || got[1].Name() != "2026-05" {
		t.Errorf("months %v: the unfinished June must not be written", got)
	}
	if _, err := Every("week", day("2026-01-01"), day("2026-02-01"), day("2026-02-01")); err == nil {
		t.Error("--every week accepted")
	}
}

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}
