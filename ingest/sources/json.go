package sources

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/secimpact/impact/schemas"
)

// timeLayouts are the timestamp forms vendors send: RFC 3339 (GitHub,
// PagerDuty, Zendesk API), GitLab's "2021-04-28 21:50:00 +0200" and
// "2023-01-10 13:50:02 UTC", and RFC 3339 without seconds (Zendesk's
// {{ticket.created_at_with_timestamp}} placeholder: "2013-12-12T05:35Z").
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05.999999999 MST",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
}

// ParseTime parses a vendor timestamp in any of the forms above and returns
// it in UTC. A zone is required: a time without one is ambiguous. A time
// outside the years 1971-2105 is an error (see inRange).
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if strings.HasSuffix(l, "MST") && t.Location() != time.UTC {
				// time.Parse accepts any abbreviation but only knows the
				// offset of UTC and the local zone: refuse the others.
				if name, off := t.Zone(); name != "UTC" && name != "GMT" || off != 0 {
					continue
				}
			}
			return inRange(s, t.UTC())
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q: not RFC 3339 or a known vendor form", s)
}

// inRange returns t if the contract can carry it (years 1971-2105 in UTC):
// a vendor's 1970-01-01 placeholder or a year-9999 "never" is refused here,
// with the payload, rather than mapped into an event ingest rejects. Go's
// zero time (0001-01-01T00:00:00Z, sent by some APIs for "unset") is the
// zero Time, which mappers read as absent.
func inRange(s string, t time.Time) (time.Time, error) {
	if t.IsZero() || schemas.InFormatRange(t) {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q: outside the years 1971-2105 the contract holds", s)
}

// Time is a JSON timestamp in any form ParseTime accepts, or a number of
// milliseconds since the Unix epoch (HubSpot); null and "" are the zero
// Time.
type Time struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" || string(b) == `""` {
		t.Time = time.Time{}
		return nil
	}
	if b[0] != '"' {
		ms, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("timestamp %s: not a string or epoch milliseconds", b)
		}
		v, err := inRange(string(b), time.UnixMilli(ms).UTC())
		t.Time = v
		return err
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil { // HubSpot sends "1700000000000" too
		v, err := inRange(s, time.UnixMilli(ms).UTC())
		t.Time = v
		return err
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Ptr returns a pointer to the time in UTC, nil for the zero Time.
func (t Time) Ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// ID is a JSON id sent as a number by some vendors and as a string by
// others (or by the same vendor in different APIs: Zendesk's REST API and
// its event webhooks). It holds the decimal text; null is "".
type ID string

// UnmarshalJSON implements json.Unmarshaler.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*id = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = ID(strings.TrimSpace(s))
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id %s: not a string or number", b)
		}
		*id = ID(n.String())
	}
	return nil
}

// Zero reports whether the id is missing ("" or "0", which some vendors
// send for "none").
func (id ID) Zero() bool { return id == "" || id == "0" }

// Strings is a JSON array of strings, or one string of space- or
// comma-separated words (what a Zendesk trigger placeholder such as
// {{ticket.tags}} renders to); null is empty.
type Strings []string

// UnmarshalJSON implements json.Unmarshaler.
func (s *Strings) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*s = nil
		return nil
	case b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = strings.FieldsFunc(one, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// NonEmpty returns a pointer to s, nil for "".
func NonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }

// Or returns s, or def when s is empty.
func Or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Or2 returns a, or b when a is the zero Time.
func Or2(a, b Time) Time {
	if a.IsZero() {
		return b
	}
	return a
}
