package schemas

import (
	"bytes"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/go-json-experiment/json/jsontext"
)

// Decoder turns Kafka messages into events. The zero value is ready to
// use. It keeps a finding's sla_due_at as the source sent it and derives
// none: the transform owns the SLA policy (transform.SLAPolicy).
type Decoder struct {
	// Window is the accepted range of event times; the zero value is
	// DefaultEarliest .. now + DefaultMaxSkew.
	Window TimeWindow
}

var defaultDecoder Decoder

// Decode decodes and validates one Kafka message (value and headers) with
// the zero Decoder. See Decoder.Decode.
func Decode(value []byte, headers []Header) (*Event, error) {
	return defaultDecoder.Decode(value, headers)
}

// Decode decodes and validates one Kafka message. It accepts CloudEvents
// structured mode (content-type application/cloudevents+json, or no ce_
// headers and a JSON object carrying specversion) and binary mode (ce_*
// headers, content-type application/json, value = data). A non-nil error
// is always a *Rejection. The returned Event's Data and Raw alias value;
// its strings are copies.
func (dc *Decoder) Decode(value []byte, headers []Header) (*Event, error) {
	s := statePool.Get().(*state)
	defer statePool.Put(s)
	s.alias = false
	fam, rej := dc.decode(s, value, headers)
	if rej != nil {
		return nil, rej
	}
	return s.event(fam, value, headers), nil
}

var statePool = sync.Pool{New: func() any { return new(state) }}

// reject builds a Rejection. Field and detail may quote the input; they
// are cut to maxFieldLen and maxDetailLen bytes so that a rejection (and the
// dead-letter headers built from it) stays small whatever the message holds.
func reject(field, rule, detail string) *Rejection {
	return &Rejection{Field: truncate(field, maxFieldLen), Rule: rule, Detail: truncate(detail, maxDetailLen)}
}

// Envelope attributes, in the order they are checked.
const (
	attrSpecVersion = iota
	attrID
	attrSource
	attrType
	attrTime
	attrSubject
	attrDataSchema
	attrDataContentType
	nAttrs
)

var attrNames = [nAttrs]string{"specversion", "id", "source", "type", "time", "subject", "dataschema", "datacontenttype"}

func attrIndex(name []byte) int {
	switch string(name) {
	case "specversion":
		return attrSpecVersion
	case "id":
		return attrID
	case "source":
		return attrSource
	case "type":
		return attrType
	case "time":
		return attrTime
	case "subject":
		return attrSubject
	case "dataschema":
		return attrDataSchema
	case "datacontenttype":
		return attrDataContentType
	}
	return -1
}

type attr struct {
	set, null bool
	isStr     bool
	s         string
}

// state is the scratch space of one decode: reused (pooled by Decode, owned
// by Rows), so that decoding a typical event allocates nothing.
type state struct {
	sc      scanner
	attrs   [nAttrs]attr
	data    []byte // the data member (structured) or the value (binary)
	hasData bool
	binary  bool
	// alias: strings point into the message instead of being copied (Rows,
	// which copies them into its blocks before the message can change).
	alias bool
	// inline is the family vals hold from decoding data during the envelope
	// pass (type came before data), nil when data must be decoded again.
	inline *family
	vals   [32]value
	used   int      // vals to clear before the next decode
	strs   []string // array items; value.lo:hi index them
	evTime time.Time
}

func (s *state) reset() {
	s.attrs = [nAttrs]attr{}
	s.data, s.hasData, s.binary, s.inline = nil, false, false, nil
	clear(s.vals[:s.used])
	s.used = 0
	clear(s.strs)
	s.strs = s.strs[:0]
	s.evTime = time.Time{}
}

// clearVals prepares vals for decoding data of fam.
func (s *state) clearVals(fam *family) {
	n := len(fam.fields)
	clear(s.vals[:max(n, s.used)])
	s.used = n
	clear(s.strs)
	s.strs = s.strs[:0]
}

// text returns the content of a quoted JSON string: unescaped (a new
// buffer) when it has escapes, else the input bytes themselves when alias
// is set, else a copy.
func (s *state) text(quoted []byte, escaped bool) string {
	b := content(quoted, escaped)
	if len(b) == 0 {
		return ""
	}
	if escaped || s.alias {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

// content returns the characters of a quoted JSON string, unescaped.
func content(quoted []byte, escaped bool) []byte {
	if !escaped {
		return quoted[1 : len(quoted)-1]
	}
	// The scanner already accepted the string; the only possible error is
	// a lone surrogate, which AppendUnquote replaces with U+FFFD, as
	// encoding/json does.
	b, _ := jsontext.AppendUnquote(nil, quoted)
	return b
}

// decode validates one message into s and returns its family.
func (dc *Decoder) decode(s *state, value []byte, headers []Header) (*family, *Rejection) {
	s.reset()
	size := len(value)
	for _, h := range headers {
		size += len(h.Key) + len(h.Value)
	}
	if size > MaxEventSize {
		return nil, reject("", "size", "message is "+strconv.Itoa(size)+" bytes, over the 1 MiB limit")
	}
	if len(headers) > MaxHeaders {
		return nil, reject("", "headers", "message has "+strconv.Itoa(len(headers))+" headers, over the limit of "+strconv.Itoa(MaxHeaders))
	}
	binary, rej := mode(headers)
	if rej != nil {
		return nil, rej
	}
	if binary {
		if r := s.binaryEnvelope(value, headers); r != nil {
			return nil, r
		}
	} else if r := s.structuredEnvelope(value); r != nil {
		return nil, r
	}
	return dc.finish(s)
}

// mode tells binary mode (a ce_specversion header and no structured
// content-type) from structured mode, and refuses batched CloudEvents.
func mode(headers []Header) (binary bool, rej *Rejection) {
	for _, h := range headers {
		switch {
		case h.Key == "ce_specversion":
			binary = true
		case strings.EqualFold(h.Key, "content-type"):
			ct := h.Value
			if bytes.HasPrefix(ct, []byte("application/cloudevents-batch")) {
				return false, reject("", "content_type", "batched CloudEvents are not supported")
			}
			if bytes.HasPrefix(ct, []byte("application/cloudevents")) {
				return false, nil // structured mode wins over stray ce_ headers
			}
		}
	}
	return binary, nil
}

func (s *state) syntaxReject() *Rejection {
	return reject("", "json", s.sc.err)
}

// structuredEnvelope reads the whole event in one pass: the attributes,
// and data (decoded at once when type came before it, which is what
// CloudEvents SDKs write).
func (s *state) structuredEnvelope(value []byte) *Rejection {
	if !utf8.Valid(value) {
		return reject("", "utf8", "message is not valid UTF-8")
	}
	sc := &s.sc
	sc.reset(value)
	if sc.peek() != '{' {
		if !valid(value) {
			return reject("", "json", "message is not JSON")
		}
		return reject("", "type", "event must be a JSON object")
	}
	ok := sc.object(1, func(name []byte, escaped bool) bool {
		n := content(name, escaped)
		if string(n) == "data" {
			return s.dataMember()
		}
		i := attrIndex(n)
		if i < 0 {
			return sc.skip(1)
		}
		a := &s.attrs[i]
		*a = attr{}
		switch sc.peek() {
		case 'n':
			a.null = true
			return sc.lit("null")
		case '"':
			q, esc, ok := sc.str()
			if ok {
				a.set, a.isStr, a.s = true, true, s.text(q, esc)
			}
			return ok
		default:
			a.set = true
			return sc.skip(1)
		}
	})
	if !ok {
		return s.syntaxReject()
	}
	if !sc.end() {
		return reject("", "json", "data after the top-level value")
	}
	return nil
}

// dataMember reads the value of a data member of a structured event.
func (s *state) dataMember() bool {
	sc := &s.sc
	c := sc.peek()
	start := sc.i
	s.inline = nil
	var ok bool
	if fam := s.typeFamily(); c == '{' && fam != nil {
		s.clearVals(fam)
		s.inline = fam
		ok = s.dataObject(fam, 2)
	} else {
		ok = sc.skip(1)
	}
	s.data, s.hasData = sc.b[start:sc.i], true
	return ok
}

// typeFamily is the family of the type attribute read so far, if any.
func (s *state) typeFamily() *family {
	if a := &s.attrs[attrType]; a.set && a.isStr {
		return familyOf(a.s)
	}
	return nil
}

// binaryEnvelope reads the attributes of a binary-mode message from its
// headers; data is the value.
func (s *state) binaryEnvelope(value []byte, headers []Header) *Rejection {
	for _, h := range headers {
		var i int // attribute index, -1 for an extension
		switch {
		case strings.EqualFold(h.Key, "content-type"):
			i = attrDataContentType
		case strings.HasPrefix(h.Key, "ce_"):
			if i = attrIndex([]byte(h.Key[3:])); i == attrDataContentType {
				i = -1
			}
		default:
			continue
		}
		// Every ce_ header is an attribute of the event (extensions are
		// kept in Raw), so each must be text.
		if !utf8.Valid(h.Value) {
			field := h.Key
			if i >= 0 {
				field = attrNames[i]
			}
			return reject(field, "utf8", "header "+quote(h.Key)+" is not valid UTF-8")
		}
		if i >= 0 {
			v := ""
			if len(h.Value) > 0 {
				if s.alias {
					v = unsafe.String(&h.Value[0], len(h.Value))
				} else {
					v = string(h.Value)
				}
			}
			s.attrs[i] = attr{set: true, isStr: true, s: v}
		}
	}
	if !utf8.Valid(value) {
		return reject("data", "utf8", "message value is not valid UTF-8")
	}
	// The value's JSON syntax is checked by finish, in the same pass that
	// decodes it.
	s.sc.reset(value)
	s.sc.ws()
	s.data, s.hasData, s.binary = value[s.sc.i:], true, true
	return nil
}

// finish validates the envelope, decodes data (unless done inline) and
// checks every field.
func (dc *Decoder) finish(s *state) (*family, *Rejection) {
	a := &s.attrs
	for i := range a {
		if r := s.checkAttr(i); r != nil {
			return nil, r
		}
	}
	fam := familyOf(a[attrType].s)
	if fam == nil {
		return nil, reject("type", "unknown_type", "unknown event type "+quote(a[attrType].s))
	}
	if r := dc.Window.check(s.evTime); r != nil {
		return nil, r
	}
	if !s.hasData {
		return nil, reject("data", "required", "missing data")
	}
	if len(s.data) == 0 || s.data[0] != '{' {
		if s.binary && !valid(s.data) {
			return nil, reject("data", "json", "message value is not JSON")
		}
		return nil, reject("data", "type", "data must be a JSON object")
	}
	if s.inline != fam {
		s.clearVals(fam)
		s.sc.reset(s.data)
		depth := 2
		if s.binary {
			depth = 1
		}
		ok := s.dataObject(fam, depth)
		if s.binary {
			if !ok {
				return nil, reject("data", "json", s.sc.err)
			}
			if !s.sc.end() {
				return nil, reject("data", "json", "data after the JSON object")
			}
		}
	}
	vals := s.vals[:len(fam.fields)]
	for i := range fam.fields {
		f := &fam.fields[i]
		v := &vals[i]
		if v.rej != nil {
			return nil, v.rej
		}
		if !v.set && f.required {
			if v.null {
				return nil, reject(f.path, "type", "null is not allowed")
			}
			return nil, reject(f.path, "required", "missing required field")
		}
	}
	return fam, nil
}

var requiredAttr = [nAttrs]bool{true, true, true, true, true, false, false, false}

// runesOver reports whether s has more than n characters (counting only
// when its bytes could be).
func runesOver(s string, n int) bool {
	return len(s) > n && utf8.RuneCountInString(s) > n
}

func (s *state) checkAttr(i int) *Rejection {
	a := &s.attrs[i]
	name := attrNames[i]
	if !a.set {
		if !requiredAttr[i] {
			return nil
		}
		if a.null {
			return reject(name, "type", "null is not allowed")
		}
		return reject(name, "required", "missing required attribute")
	}
	if !a.isStr {
		return reject(name, "type", "must be a string")
	}
	switch i {
	case attrSpecVersion:
		if a.s != SpecVersion {
			return reject(name, "specversion", "specversion must be \"1.0\", got "+quote(a.s))
		}
	case attrID, attrSource:
		if a.s == "" {
			return reject(name, "minLength", "must not be empty")
		}
		if runesOver(a.s, attrLen) {
			return reject(name, "maxLength", "longer than "+strconv.Itoa(attrLen)+" characters")
		}
	case attrSubject:
		if runesOver(a.s, attrLen) {
			return reject(name, "maxLength", "longer than "+strconv.Itoa(attrLen)+" characters")
		}
	case attrTime:
		t, ok := parseTime(unsafe.Slice(unsafe.StringData(a.s), len(a.s)))
		if !ok {
			return reject(name, "format", "not an RFC 3339 date-time with zone (years 1971-2105): "+quote(a.s))
		}
		s.evTime = t
	case attrDataSchema:
		if runesOver(a.s, attrLen) {
			return reject(name, "maxLength", "longer than "+strconv.Itoa(attrLen)+" characters")
		}
		if !strings.HasSuffix(a.s, "/v1") {
			return reject(name, "dataschema", "dataschema must end in /v1 (contract v1), got "+quote(a.s))
		}
	case attrDataContentType:
		if !strings.HasPrefix(a.s, "application/json") {
			return reject(name, "datacontenttype", "data must be application/json, got "+quote(a.s))
		}
	}
	return nil
}

// dataObject decodes a data object of family fam, at nesting depth depth,
// into vals, one per field. Rejections of single fields are stored in vals
// (a later duplicate member replaces them, as in the JSON Schema
// validator: the last one wins); it returns false only on a syntax error.
func (s *state) dataObject(fam *family, depth int) bool {
	sc := &s.sc
	next := 0 // producers usually send the contract's order: try it first
	return sc.object(depth, func(name []byte, escaped bool) bool {
		n := content(name, escaped)
		i := -1
		if next < len(fam.fields) && string(n) == fam.fields[next].name {
			i = next
		} else if j, ok := fam.index[string(n)]; ok {
			i = j
		}
		if i < 0 {
			return sc.skip(depth)
		}
		next = i + 1
		v := &s.vals[i]
		*v = value{}
		return s.field(&fam.fields[i], v, depth)
	})
}

// typeReject is the rejection of a field whose JSON type is wrong.
func typeReject(f *field) *Rejection {
	switch f.kind {
	case kindNumber, kindInteger:
		return reject(f.path, "type", "must be a number")
	case kindBool:
		return reject(f.path, "type", "must be true or false")
	case kindStrings:
		return reject(f.path, "type", "must be an array of strings")
	}
	return reject(f.path, "type", "must be a string")
}

// field decodes the value of field f (a member of an object at depth).
func (s *state) field(f *field, v *value, depth int) bool {
	sc := &s.sc
	switch sc.peek() {
	case 'n':
		v.null = true
		return sc.lit("null")
	case '"':
		q, esc, ok := sc.str()
		if !ok {
			return false
		}
		switch f.kind {
		case kindString:
			b := content(q, esc)
			if len(b) < f.minLen || (f.minLen > 1 && utf8.RuneCount(b) < f.minLen) {
				v.rej = reject(f.path, "minLength", "must not be empty")
				return true
			}
			if len(b) > f.maxLen && utf8.RuneCount(b) > f.maxLen {
				v.rej = reject(f.path, "maxLength", "longer than "+strconv.Itoa(f.maxLen)+" characters")
				return true
			}
			v.s = s.text(q, esc)
		case kindEnum:
			b := content(q, esc)
			for _, e := range f.enum {
				if string(b) == e {
					v.s = e // the constant: no allocation, no reference to the message
					break
				}
			}
			if v.s == "" {
				v.rej = reject(f.path, "enum", quote(string(b))+" is not one of "+strings.Join(f.enum, ", "))
				return true
			}
		case kindTime:
			b := content(q, esc)
			t, ok := parseTime(b)
			if !ok {
				v.rej = reject(f.path, "format", "not an RFC 3339 date-time with zone (years 1971-2105): "+quote(string(b)))
				return true
			}
			v.t = t
		default:
			v.rej = typeReject(f)
			return true
		}
	case '[':
		if f.kind != kindStrings {
			v.rej = typeReject(f)
			return sc.skip(depth)
		}
		lo := len(s.strs)
		ok := sc.array(depth+1, func(n int) bool {
			if v.rej != nil {
				return sc.skip(depth + 1)
			}
			if n >= maxItems {
				v.rej = reject(f.path, "maxItems", "more than "+strconv.Itoa(maxItems)+" items")
				return sc.skip(depth + 1)
			}
			if sc.peek() != '"' {
				v.rej = reject(f.path+"["+strconv.Itoa(n)+"]", "type", "must be a string")
				return sc.skip(depth + 1)
			}
			q, esc, ok := sc.str()
			if !ok {
				return false
			}
			if b := content(q, esc); len(b) > f.maxLen && utf8.RuneCount(b) > f.maxLen {
				v.rej = reject(f.path+"["+strconv.Itoa(n)+"]", "maxLength", "longer than "+strconv.Itoa(f.maxLen)+" characters")
				return true
			}
			s.strs = append(s.strs, s.text(q, esc))
			return true
		})
		if !ok {
			return false
		}
		if v.rej != nil {
			return true
		}
		v.lo, v.hi = int32(lo), int32(len(s.strs))
	case 't', 'f':
		b := sc.b[sc.i] == 't'
		word := "false"
		if b {
			word = "true"
		}
		if !sc.lit(word) {
			return false
		}
		if f.kind != kindBool {
			v.rej = typeReject(f)
			return true
		}
		v.b = b
		if b {
			v.i = 1
		}
	case '{':
		v.rej = typeReject(f)
		return sc.skip(depth)
	default:
		raw, ok := sc.num()
		if !ok {
			return false
		}
		if f.kind != kindNumber && f.kind != kindInteger {
			v.rej = typeReject(f)
			return true
		}
		x, rule := checkNumber(raw, f)
		if rule != "" {
			detail := "must be between " + strconv.FormatFloat(f.min, 'g', -1, 64) + " and " + strconv.FormatFloat(f.max, 'g', -1, 64)
			if rule == "type" {
				detail = "must be an integer"
			}
			v.rej = reject(f.path, rule, detail+", got "+quote(string(raw)))
			return true
		}
		v.f, v.i = x, int64(x)
	}
	v.set = true
	return true
}

// checkNumber returns the number and the broken rule, if any. Comparisons
// are exact, as in the JSON Schema validator: float64 settles everything
// but values that round onto a bound, which big.Rat decides.
func checkNumber(raw []byte, f *field) (float64, string) {
	x, err := strconv.ParseFloat(unsafe.String(&raw[0], len(raw)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, "type"
	}
	switch {
	case x < f.min:
		return x, "minimum"
	case x > f.max:
		return x, "maximum"
	case (x == f.min || x == f.max) && !exactInt(raw):
		r, ok := new(big.Rat).SetString(string(raw))
		if !ok {
			return x, "type"
		}
		if r.Cmp(new(big.Rat).SetFloat64(f.min)) < 0 {
			return x, "minimum"
		}
		if r.Cmp(new(big.Rat).SetFloat64(f.max)) > 0 {
			return x, "maximum"
		}
	}
	if f.kind == kindInteger && bytes.ContainsAny(raw, ".eE") {
		r, ok := new(big.Rat).SetString(string(raw))
		if !ok || !r.IsInt() {
			return x, "type"
		}
	}
	return x, ""
}

// exactInt reports whether raw is an integer literal that float64 holds
// exactly (at most 15 digits, no fraction or exponent): then comparing the
// parsed value with a bound is exact too.
func exactInt(raw []byte) bool {
	if len(raw) > 0 && raw[0] == '-' {
		raw = raw[1:]
	}
	if len(raw) == 0 || len(raw) > 15 {
		return false
	}
	for _, c := range raw {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// event builds the Event of a decoded message.
func (s *state) event(fam *family, value []byte, headers []Header) *Event {
	a := &s.attrs
	raw := value
	if s.binary {
		raw = structuredFromBinary(value, headers)
	}
	return &Event{
		SpecVersion:     a[attrSpecVersion].s,
		ID:              a[attrID].s,
		Source:          a[attrSource].s,
		Type:            fam.typeConst(a[attrType].s),
		Subject:         a[attrSubject].s,
		DataSchema:      a[attrDataSchema].s,
		DataContentType: a[attrDataContentType].s,
		Time:            s.evTime,
		Data:            s.data,
		Raw:             raw,
		Payload:         fam.build(&values{v: s.vals[:len(fam.fields)], items: s.strs}),
	}
}

// parseTime parses an RFC 3339 date-time with a zone and a year between
// 1971 and 2105 (so ClickHouse DateTime holds it whatever the offset) and
// returns it in UTC. It accepts exactly what the schemas' date-time format
// plus timePattern accept: no leap seconds.
func parseTime(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	y, ok1 := digits(b[0:4])
	mo, ok2 := digits(b[5:7])
	dd, ok3 := digits(b[8:10])
	hh, ok4 := digits(b[11:13])
	mi, ok5 := digits(b[14:16])
	ss, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || y < 1971 || y > 2105 || mo < 1 || mo > 12 ||
		dd < 1 || dd > daysIn(mo, y) || hh > 23 || mi > 59 || ss > 59 {
		return time.Time{}, false
	}
	rest := b[19:]
	nanos := 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			if n <= 9 {
				nanos = nanos*10 + int(rest[n]-'0')
			}
			n++
		}
		if n == 1 {
			return time.Time{}, false
		}
		for k := n; k <= 9; k++ {
			nanos *= 10
		}
		rest = rest[n:]
	}
	off := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, ok1 := digits(rest[1:3])
		om, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), dd, hh, mi, ss, nanos, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), true
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
