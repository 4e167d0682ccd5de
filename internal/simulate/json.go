package simulate

import (
	"strconv"
	"time"
)

// obj appends one JSON object field by field. The generator writes millions
// of events per second, so it appends bytes directly instead of going
// through encoding/json reflection. Keys are constants of this package;
// values are escaped.
type obj struct {
	b     []byte
	empty bool
}

func (o *obj) open(dst []byte) { o.b = append(dst, '{'); o.empty = true }
func (o *obj) close() []byte   { return append(o.b, '}') }

func (o *obj) key(k string) {
	if !o.empty {
		o.b = append(o.b, ',')
	}
	o.empty = false
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *obj) str(k, v string) { o.key(k); o.b = appendString(o.b, v) }

// optStr omits empty strings: the contract's optional fields are absent, not "".
func (o *obj) optStr(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *obj) int(k string, v int64) { o.key(k); o.b = strconv.AppendInt(o.b, v, 10) }

func (o *obj) float(k string, v float64) {
	o.key(k)
	o.b = strconv.AppendFloat(o.b, v, 'f', -1, 64)
}

func (o *obj) bool(k string, v bool) { o.key(k); o.b = strconv.AppendBool(o.b, v) }

// time writes unix seconds as RFC 3339 UTC.
func (o *obj) time(k string, sec int64) { o.key(k); o.b = appendTime(o.b, sec) }

// optTime omits zero (absent) times.
func (o *obj) optTime(k string, sec int64) {
	if sec != 0 {
		o.time(k, sec)
	}
}

func (o *obj) strs(k string, v []string) {
	o.key(k)
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendString(o.b, s)
	}
	o.b = append(o.b, ']')
}

// raw writes an already encoded JSON value.
func (o *obj) raw(k string, v []byte) { o.key(k); o.b = append(o.b, v...) }

// appendTime appends `"YYYY-MM-DDTHH:MM:SSZ"` for unix seconds sec.
func appendTime(b []byte, sec int64) []byte {
	t := time.Unix(sec, 0).UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	b = append(b, '"')
	b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	b = append2(b, int(mo))
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, h)
	b = append(b, ':')
	b = append2(b, mi)
	b = append(b, ':')
	b = append2(b, s)
	return append(b, 'Z', '"')
}

func append2(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping quotes, backslashes and
// control characters (the simulator's own strings are plain ASCII, but the
// escaping keeps any title valid JSON).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
