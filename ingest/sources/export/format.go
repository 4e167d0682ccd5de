package export

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// NumberFormat is how an export writes numbers: the decimal separator and
// the digit-group separator of the exporting user's locale ("1.234.567,89"
// is Decimal ',' and Group '.'). The zero value is '.' and ','.
type NumberFormat struct {
	Decimal rune
	Group   rune
}

func (f NumberFormat) seps() (dec, group rune) {
	dec, group = f.Decimal, f.Group
	if dec == 0 {
		dec = '.'
	}
	if group == 0 {
		group = ','
		if dec == ',' {
			group = '.'
		}
	}
	return dec, group
}

// String shows the format as the number one million and a quarter.
func (f NumberFormat) String() string {
	dec, group := f.seps()
	return "1" + string(group) + "000" + string(group) + "000" + string(dec) + "25"
}

// ParseAmount reads a number as f writes it, with an optional ISO 4217
// currency code or symbol before or after it ("EUR 1.234.567,89",
// "1.234,50 €", "$12,000.00"). Group separators must group digits by three;
// spaces, no-break spaces and apostrophes are accepted as group separators
// too. It returns the value and the currency code ("" when none; symbols
// € $ £ ¥ become EUR USD GBP JPY).
func (f NumberFormat) ParseAmount(s string) (float64, string, error) {
	orig := s
	s = strings.TrimSpace(s)
	cur := ""
	// Currency before or after the number.
	for _, cut := range []func(string) (string, string){leadingCurrency, trailingCurrency} {
		if rest, c := cut(s); c != "" {
			s, cur = strings.TrimSpace(rest), c
			break
		}
	}
	v, err := f.parse(s)
	if err != nil {
		return 0, "", fmt.Errorf("number %q does not match the number format %s: %w", orig, f, err)
	}
	return v, cur, nil
}

func (f NumberFormat) parse(s string) (float64, error) {
	dec, group := f.seps()
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	intPart, frac := s, ""
	if i := strings.LastIndex(s, string(dec)); i >= 0 {
		intPart, frac = s[:i], s[i+len(string(dec)):]
		if frac == "" || !allDigits(frac) {
			return 0, fmt.Errorf("bad decimals %q", frac)
		}
	}
	isGroup := func(r rune) bool {
		return r == group || r == ' ' || r == '\u00a0' || r == '\u202f' || r == '\''
	}
	var digits strings.Builder
	groups := strings.FieldsFunc(intPart, isGroup)
	if len(groups) == 0 {
		return 0, fmt.Errorf("no digits")
	}
	for i, g := range groups {
		if !allDigits(g) {
			return 0, fmt.Errorf("%q is not digits", g)
		}
		if len(groups) > 1 && ((i == 0 && len(g) > 3) || (i > 0 && len(g) != 3)) {
			return 0, fmt.Errorf("digit groups of %q are not groups of three", intPart)
		}
		digits.WriteString(g)
	}
	// A group separator right after another, or at either end, is malformed.
	if strings.IndexFunc(intPart, isGroup) == 0 || strings.LastIndexFunc(intPart, isGroup) == len(intPart)-1 {
		return 0, fmt.Errorf("misplaced digit-group separator")
	}
	num := digits.String()
	if frac != "" {
		num += "." + frac
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("out of range")
	}
	if neg {
		v = -v
	}
	return v, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

var currencySymbols = map[string]string{"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "US$": "USD"}

func leadingCurrency(s string) (string, string) {
	for sym, code := range currencySymbols {
		if strings.HasPrefix(s, sym) {
			return s[len(sym):], code
		}
	}
	if len(s) > 4 && isCode(s[:3]) && (s[3] == ' ' || s[3] == '\u00a0' || unicode.IsDigit(rune(s[3]))) {
		return s[3:], s[:3]
	}
	return s, ""
}

func trailingCurrency(s string) (string, string) {
	for sym, code := range currencySymbols {
		if strings.HasSuffix(s, sym) {
			return s[:len(s)-len(sym)], code
		}
	}
	if n := len(s); n > 4 && isCode(s[n-3:]) && (s[n-4] == ' ' || unicode.IsDigit(rune(s[n-4]))) {
		return s[:n-3], s[n-3:]
	}
	return s, ""
}

func isCode(s string) bool {
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return len(s) == 3
}

// TimeFormat is how an export writes dates and times: layouts written with
// the tokens YYYY, MM, M, DD, D, HH, H, hh, h, mm, ss, A (AM/PM) — the way
// Salesforce and spreadsheet users write them — and the time zone that
// times without an offset are in (the exporting user's time zone). The
// zero Location is UTC.
type TimeFormat struct {
	Layouts  []string
	Location *time.Location
	goLayout []string
}

// NewTimeFormat converts patterns such as "DD.MM.YYYY HH:mm" and checks
// them. zone is an IANA name ("Europe/Berlin"); "" is UTC.
func NewTimeFormat(zone string, patterns ...string) (TimeFormat, error) {
	loc := time.UTC
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return TimeFormat{}, fmt.Errorf("time zone %q: %w", zone, err)
		}
		loc = l
	}
	f := TimeFormat{Layouts: patterns, Location: loc}
	for _, p := range patterns {
		gl, err := goLayout(p)
		if err != nil {
			return TimeFormat{}, err
		}
		f.goLayout = append(f.goLayout, gl)
	}
	return f, nil
}

// Parse reads s with the first layout that matches it, in f's time zone.
func (f TimeFormat) Parse(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	loc := f.Location
	if loc == nil {
		loc = time.UTC
	}
	for _, l := range f.goLayout {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q is in none of the formats %s", s, quoteList(f.Layouts))
}

var layoutTokens = []struct{ tok, goTok string }{
	{"YYYY", "2006"}, {"MM", "01"}, {"DD", "02"}, {"HH", "15"}, {"hh", "03"},
	{"mm", "04"}, {"ss", "05"}, {"M", "1"}, {"D", "2"}, {"H", "15"}, {"h", "3"}, {"A", "PM"},
}

func goLayout(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		matched := false
		for _, t := range layoutTokens {
			if strings.HasPrefix(p[i:], t.tok) {
				b.WriteString(t.goTok)
				i += len(t.tok)
				matched = true
				break
			}
		}
		if matched {
			continue
		}
		c := p[i]
		if (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			return "", fmt.Errorf("date format %q: unknown token at %q (use YYYY MM M DD D HH H hh h mm ss A)", p, p[i:])
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), nil
}

// ParseISO reads an ISO 8601 / RFC 3339 timestamp with a zone, as APIs
// write them: "2025-03-01T10:00:00Z", fractional seconds of any length,
// offsets with or without a colon ("+01:00", "+0100" as Jira writes them).
// A timestamp without a zone is an error: its instant is unknown.
func ParseISO(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q is not ISO 8601 with a zone (want e.g. 2025-03-01T10:00:00Z or 2025-03-01T10:00:00.000+0100)", s)
}
