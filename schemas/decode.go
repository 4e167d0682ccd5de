package schemas

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Decoder turns Kafka messages into events. The zero value is ready to use
// and derives missing sla_due_at with DefaultSLAPolicy.
type Decoder struct {
	// SLA is the remediation SLA policy for findings without sla_due_at.
	// The zero value means DefaultSLAPolicy; a policy with only a Version
	// (all durations zero) derives no due dates.
	SLA SLAPolicy
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
// is always a *Rejection. The returned Event aliases value.
func (dc *Decoder) Decode(value []byte, headers []Header) (*Event, error) {
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
	binary := false
	for _, h := range headers {
		switch {
		case h.Key == "ce_specversion":
			binary = true
		case strings.EqualFold(h.Key, "content-type"):
			ct := string(h.Value)
			if strings.HasPrefix(ct, "application/cloudevents-batch") {
				return nil, reject("", "content_type", "batched CloudEvents are not supported")
			}
			if strings.HasPrefix(ct, "application/cloudevents") {
				// Structured mode wins over stray ce_ headers.
				return dc.decodeStructured(value)
			}
		}
	}
	if binary {
		return dc.decodeBinary(value, headers)
	}
	return dc.decodeStructured(value)
}

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
	for i, n := range attrNames {
		if string(name) == n {
			return i
		}
	}
	return -1
}

type attr struct {
	set, null bool
	isStr     bool
	s         string
}

type envelope struct {
	attrs   [nAttrs]attr
	data    []byte
	hasData bool
}

// state is the pooled scratch space of one Decode call.
type state struct {
	rd   bytes.Reader
	dec  *jsontext.Decoder
	env  envelope
	vals [32]value
	used int // vals in use, cleared on put
	// binary: data is the raw message value, not yet syntax-checked.
	binary bool
}

// Duplicate names: last wins, as in encoding/json and the JSON Schema
// validator. Invalid UTF-8 is rejected before parsing; allowing it here
// only makes escaped lone surrogates decode to U+FFFD like encoding/json.
var decOpts = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

var statePool = sync.Pool{New: func() any {
	s := new(state)
	s.dec = jsontext.NewDecoder(&s.rd, decOpts...)
	return s
}}

func getState(b []byte) *state {
	s := statePool.Get().(*state)
	s.rd.Reset(b)
	s.dec.Reset(&s.rd, decOpts...)
	s.env = envelope{}
	return s
}

func putState(s *state) {
	clear(s.vals[:s.used])
	s.used = 0
	s.env = envelope{}
	s.binary = false
	s.rd.Reset(nil)
	s.dec.Reset(&s.rd, decOpts...)
	statePool.Put(s)
}

func syntaxReject(err error) *Rejection {
	return reject("", "json", strings.TrimPrefix(err.Error(), "jsontext: "))
}

func (dc *Decoder) decodeStructured(value []byte) (*Event, error) {
	if !utf8.Valid(value) {
		return nil, reject("", "utf8", "message is not valid UTF-8")
	}
	s := getState(value)
	defer putState(s)
	d := s.dec
	tok, err := d.ReadToken()
	if err != nil {
		return nil, syntaxReject(err)
	}
	if tok.Kind() != '{' {
		return nil, reject("", "type", "event must be a JSON object")
	}
	for d.PeekKind() != '}' {
		name, err := d.ReadValue()
		if err != nil {
			return nil, syntaxReject(err)
		}
		nb := unquote(name)
		if string(nb) == "data" {
			v, err := d.ReadValue()
			if err != nil {
				return nil, syntaxReject(err)
			}
			end := int(d.InputOffset())
			s.env.data = value[end-len(v) : end]
			s.env.hasData = true
			continue
		}
		i := attrIndex(nb)
		if i < 0 {
			if err := d.SkipValue(); err != nil {
				return nil, syntaxReject(err)
			}
			continue
		}
		v, err := d.ReadValue()
		if err != nil {
			return nil, syntaxReject(err)
		}
		a := &s.env.attrs[i]
		*a = attr{}
		switch v.Kind() {
		case 'n':
			a.null = true
		case '"':
			a.set, a.isStr, a.s = true, true, string(unquote(v))
		default:
			a.set = true
		}
	}
	if _, err := d.ReadToken(); err != nil { // '}'
		return nil, syntaxReject(err)
	}
	if _, err := d.ReadToken(); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, reject("", "json", "data after the top-level value")
		}
		return nil, syntaxReject(err)
	}
	ev, rej := dc.finish(s, value)
	if rej != nil {
		return nil, rej
	}
	return ev, nil
}

func (dc *Decoder) decodeBinary(value []byte, headers []Header) (*Event, error) {
	s := getState(nil)
	defer putState(s)
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
			return nil, reject(field, "utf8", "header "+quote(h.Key)+" is not valid UTF-8")
		}
		if i >= 0 {
			s.env.attrs[i] = attr{set: true, isStr: true, s: string(h.Value)}
		}
	}
	if !utf8.Valid(value) {
		return nil, reject("data", "utf8", "message value is not valid UTF-8")
	}
	// The value's JSON syntax is checked by decodeData, in the same pass
	// that decodes it.
	s.env.data = bytes.TrimSpace(value)
	s.env.hasData = true
	s.binary = true
	ev, rej := dc.finish(s, nil)
	if rej != nil {
		return nil, rej
	}
	ev.Raw = structuredFromBinary(value, headers)
	return ev, nil
}

// finish validates the envelope, decodes data and builds the event.
func (dc *Decoder) finish(s *state, raw []byte) (*Event, *Rejection) {
	a := &s.env.attrs
	for i := range a {
		if r := checkAttr(i, &a[i]); r != nil {
			return nil, r
		}
	}
	fam := familyOf(a[attrType].s)
	if fam == nil {
		return nil, reject("type", "unknown_type", "unknown event type "+quote(a[attrType].s))
	}
	evTime, _ := parseTime([]byte(a[attrTime].s))
	if r := dc.Window.check(evTime); r != nil {
		return nil, r
	}
	if !s.env.hasData {
		return nil, reject("data", "required", "missing data")
	}
	if len(s.env.data) == 0 || s.env.data[0] != '{' {
		if s.binary && !jsontext.Value(s.env.data).IsValid(decOpts...) {
			return nil, reject("data", "json", "message value is not JSON")
		}
		return nil, reject("data", "type", "data must be a JSON object")
	}
	vals := s.vals[:len(fam.fields)]
	s.used = len(vals)
	if r := decodeData(s, fam, vals); r != nil {
		return nil, r
	}
	for i := range fam.fields {
		f := &fam.fields[i]
		v := &vals[i]
		if v.rej != nil {
			return nil, v.rej
		}
		if !v.set && f.required {
			if v.null {
				return nil, reject("data."+f.name, "type", "null is not allowed")
			}
			return nil, reject("data."+f.name, "required", "missing required field")
		}
	}
	p := fam.build(&values{v: vals})
	if fd, ok := p.(*Finding); ok {
		pol := dc.SLA
		if pol == (SLAPolicy{}) {
			pol = DefaultSLAPolicy
		}
		pol.apply(fd)
	}
	ev := &Event{
		SpecVersion:     a[attrSpecVersion].s,
		ID:              a[attrID].s,
		Source:          a[attrSource].s,
		Type:            a[attrType].s,
		Subject:         a[attrSubject].s,
		DataSchema:      a[attrDataSchema].s,
		DataContentType: a[attrDataContentType].s,
		Time:            evTime,
		Data:            s.env.data,
		Raw:             raw,
		Payload:         p,
	}
	return ev, nil
}

var requiredAttr = [nAttrs]bool{true, true, true, true, true, false, false, false}

func checkAttr(i int, a *attr) *Rejection {
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
	n := utf8.RuneCountInString(a.s)
	switch i {
	case attrSpecVersion:
		if a.s != SpecVersion {
			return reject(name, "specversion", "specversion must be \"1.0\", got "+quote(a.s))
		}
	case attrID, attrSource:
		if n < 1 {
			return reject(name, "minLength", "must not be empty")
		}
		if n > attrLen {
			return reject(name, "maxLength", "longer than "+strconv.Itoa(attrLen)+" characters")
		}
	case attrSubject:
		if n > attrLen {
			return reject(name, "maxLength", "longer than "+strconv.Itoa(attrLen)+" characters")
		}
	case attrTime:
		if _, ok := parseTime([]byte(a.s)); !ok {
			return reject(name, "format", "not an RFC 3339 date-time with zone (years 1971-2105): "+quote(a.s))
		}
	case attrDataSchema:
		if n > attrLen {
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

// decodeData decodes the data object into vals, one per family field.
// Rejections of single fields are stored in vals (a later duplicate key
// replaces them); only syntax errors return at once.
func decodeData(s *state, fam *family, vals []value) *Rejection {
	s.rd.Reset(s.env.data)
	d := s.dec
	d.Reset(&s.rd, decOpts...)
	syntax := func(err error) *Rejection {
		r := syntaxReject(err)
		if s.binary {
			r.Field = "data"
		}
		return r
	}
	if _, err := d.ReadToken(); err != nil {
		return syntax(err)
	}
	for d.PeekKind() != '}' {
		name, err := d.ReadValue()
		if err != nil {
			return syntax(err)
		}
		i, ok := fam.index[string(unquote(name))]
		if !ok {
			if err := d.SkipValue(); err != nil {
				return syntax(err)
			}
			continue
		}
		v := &vals[i]
		*v = value{}
		if err := decodeField(d, &fam.fields[i], v); err != nil {
			return syntax(err)
		}
	}
	if _, err := d.ReadToken(); err != nil { // '}'
		return syntax(err)
	}
	if s.binary { // structured data was checked whole by the envelope pass
		if _, err := d.ReadToken(); !errors.Is(err, io.EOF) {
			if err == nil {
				return reject("data", "json", "data after the JSON object")
			}
			return syntax(err)
		}
	}
	return nil
}

func decodeField(d *jsontext.Decoder, f *field, v *value) error {
	if f.kind == kindStrings && d.PeekKind() == '[' {
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		ss := []string{}
		for n := 0; d.PeekKind() != ']'; n++ {
			raw, err := d.ReadValue()
			if err != nil {
				return err
			}
			if v.rej != nil {
				continue
			}
			path := func() string { return f.path + "[" + strconv.Itoa(n) + "]" }
			if n >= maxItems {
				v.rej = reject(f.path, "maxItems", "more than "+strconv.Itoa(maxItems)+" items")
				continue
			}
			if raw.Kind() != '"' {
				v.rej = reject(path(), "type", "must be a string")
				continue
			}
			b := unquote(raw)
			if utf8.RuneCount(b) > f.maxLen {
				v.rej = reject(path(), "maxLength", "longer than "+strconv.Itoa(f.maxLen)+" characters")
				continue
			}
			ss = append(ss, string(b))
		}
		if _, err := d.ReadToken(); err != nil {
			return err
		}
		if v.rej == nil {
			v.set, v.ss = true, ss
		}
		return nil
	}
	raw, err := d.ReadValue()
	if err != nil {
		return err
	}
	if raw.Kind() == 'n' {
		v.null = true
		return nil
	}
	path := f.path
	switch f.kind {
	case kindString, kindEnum, kindTime:
		if raw.Kind() != '"' {
			v.rej = reject(path, "type", "must be a string")
			return nil
		}
		b := unquote(raw)
		switch f.kind {
		case kindString:
			n := utf8.RuneCount(b)
			if n < f.minLen {
				v.rej = reject(path, "minLength", "must not be empty")
				return nil
			}
			if n > f.maxLen {
				v.rej = reject(path, "maxLength", "longer than "+strconv.Itoa(f.maxLen)+" characters")
				return nil
			}
			v.s = string(b)
		case kindEnum:
			for _, e := range f.enum {
				if string(b) == e {
					v.s = e // the constant: no allocation
					break
				}
			}
			if v.s == "" {
				v.rej = reject(path, "enum", quote(string(b))+" is not one of "+strings.Join(f.enum, ", "))
				return nil
			}
		case kindTime:
			t, ok := parseTime(b)
			if !ok {
				v.rej = reject(path, "format", "not an RFC 3339 date-time with zone (years 1971-2105): "+quote(string(b)))
				return nil
			}
			v.t = t
		}
	case kindNumber, kindInteger:
		if raw.Kind() != '0' {
			v.rej = reject(path, "type", "must be a number")
			return nil
		}
		x, rule := checkNumber(raw, f)
		if rule != "" {
			detail := "must be between " + strconv.FormatFloat(f.min, 'g', -1, 64) + " and " + strconv.FormatFloat(f.max, 'g', -1, 64)
			if rule == "type" {
				detail = "must be an integer"
			}
			v.rej = reject(path, rule, detail+", got "+quote(string(raw)))
			return nil
		}
		v.f, v.i = x, int64(x)
	case kindBool:
		switch raw.Kind() {
		case 't':
			v.b = true
		case 'f':
		default:
			v.rej = reject(path, "type", "must be true or false")
			return nil
		}
	case kindStrings:
		v.rej = reject(path, "type", "must be an array of strings")
		return nil
	}
	v.set = true
	return nil
}

// checkNumber returns the number and the broken rule, if any. Comparisons
// are exact, as in the JSON Schema validator: float64 settles everything
// but values that round onto a bound, which big.Rat decides.
func checkNumber(raw []byte, f *field) (float64, string) {
	x, err := strconv.ParseFloat(string(raw), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, "type"
	}
	switch {
	case x < f.min:
		return x, "minimum"
	case x > f.max:
		return x, "maximum"
	case x == f.min || x == f.max:
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

// unquote returns the content of a JSON string token, unescaped.
func unquote(raw []byte) []byte {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	// The decoder already accepted the string; the only possible error is
	// a lone surrogate, which AppendUnquote replaces with U+FFFD.
	b, _ := jsontext.AppendUnquote(nil, raw)
	return b
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
