package schemas

import (
	"fmt"
	"time"
)

// TimeWindow is the range of event times (the envelope attribute time) the
// decoder accepts. An event outside it is rejected with rule time_window:
//
//   - too old: before Earliest (default DefaultEarliest, 2000-01-01). Typed
//     and raw tables are partitioned by year of the event time, so a bounded
//     past keeps every batch within a few dozen partitions;
//   - in the future: later than now plus MaxSkew (default DefaultMaxSkew,
//     one hour of producer clock skew). The latest state of an entity is
//     the event with the greatest time (argMax), so one future-dated event
//     would freeze its entity until the future came.
//
// JSON Schema cannot say "now", so the published schemas (schemas/v1) only
// carry the format's fixed range (years 1971-2105); the window is enforced
// by the decoder and documented beside the schemas. Data timestamps
// (detected_at, sla_due_at, ...) are not windowed: a due date is in the
// future by design, and they drive neither partitioning nor argMax.
type TimeWindow struct {
	// Earliest is the earliest accepted event time; zero means
	// DefaultEarliest.
	Earliest time.Time
	// MaxSkew is how far past the current time an event time may be;
	// zero means DefaultMaxSkew, negative is invalid.
	MaxSkew time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// DefaultEarliest is the default TimeWindow.Earliest: 2000-01-01T00:00:00Z.
var DefaultEarliest = time.Date(2000, time.January, 1, 0, 0, 0, 0, time.UTC)

// DefaultMaxSkew is the default TimeWindow.MaxSkew.
const DefaultMaxSkew = time.Hour

// minEarliest and maxLatest bound the instants the time format accepts in
// UTC: years 1971-2105, which ClickHouse DateTime holds whatever the offset.
var (
	minEarliest = time.Date(1971, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxLatest   = time.Date(2106, time.January, 1, 0, 0, 0, 0, time.UTC)
)

// InFormatRange reports whether t, written in UTC, is a date-time the
// contract's format accepts (years 1971-2105). Producers that convert
// vendor timestamps check it, so that a mapped event is never one the
// decoder rejects for its format.
func InFormatRange(t time.Time) bool { return !t.Before(minEarliest) && t.Before(maxLatest) }

// Validate reports a window that cannot be used, naming the field.
func (w TimeWindow) Validate() error {
	if w.MaxSkew < 0 {
		return fmt.Errorf("schemas: TimeWindow.MaxSkew %s is negative", w.MaxSkew)
	}
	if !w.Earliest.IsZero() && w.Earliest.Before(minEarliest) {
		return fmt.Errorf("schemas: TimeWindow.Earliest %s is before 1971-01-01, the earliest time the contract's format holds",
			w.Earliest.UTC().Format(time.RFC3339))
	}
	if !w.Earliest.IsZero() && !w.Earliest.Before(w.now()) {
		return fmt.Errorf("schemas: TimeWindow.Earliest %s is not in the past", w.Earliest.UTC().Format(time.RFC3339))
	}
	return nil
}

func (w *TimeWindow) earliest() time.Time {
	if w.Earliest.IsZero() {
		return DefaultEarliest
	}
	return w.Earliest
}

func (w *TimeWindow) maxSkew() time.Duration {
	if w.MaxSkew == 0 {
		return DefaultMaxSkew
	}
	return w.MaxSkew
}

func (w *TimeWindow) now() time.Time {
	if w.Now == nil {
		return time.Now()
	}
	return w.Now()
}

// Contains reports whether t is inside the window now.
func (w TimeWindow) Contains(t time.Time) bool { return w.check(t) == nil }

// check returns the time_window rejection of event time t, nil if inside.
func (w *TimeWindow) check(t time.Time) *Rejection {
	if e := w.earliest(); t.Before(e) {
		return reject("time", "time_window", "event time "+t.Format(time.RFC3339)+" is before "+
			e.UTC().Format(time.RFC3339)+", the earliest accepted")
	}
	latest := w.now().Add(w.maxSkew())
	if t.After(latest) {
		return reject("time", "time_window", "event time "+t.Format(time.RFC3339)+" is more than "+
			w.maxSkew().String()+" in the future (latest accepted now: "+latest.UTC().Format(time.RFC3339)+")")
	}
	return nil
}
