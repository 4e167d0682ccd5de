package schemas

import (
	"strings"
	"time"
)

// kind is the JSON shape and check of one data field. The same field table
// drives the Go validator and the generated JSON Schemas, so they cannot
// describe different contracts; TestSchemaEquivalence proves they also
// judge alike.
type kind uint8

const (
	kindString  kind = iota // free text
	kindEnum                // one of field.enum
	kindTime                // RFC 3339 date-time with zone, years 1971-2105
	kindNumber              // JSON number within [min, max]
	kindInteger             // JSON number with no fraction within [min, max]
	kindBool                // true or false
	kindStrings             // array of free-text strings
)

// Limits shared by the Go validator and the schemas.
const (
	idLen    = 256  // ids, names, short labels
	textLen  = 4096 // titles, descriptions
	maxItems = 1000 // arrays
	attrLen  = 1024 // envelope id, source, subject, dataschema
	maxMoney = 1e15 // keeps every number finite and exact enough
)

type field struct {
	name     string
	kind     kind
	required bool
	enum     []string
	min, max float64 // kindNumber, kindInteger
	maxLen   int     // kindString, kindStrings items (0: idLen)
	minLen   int     // kindString
	doc      string
	path     string // "data." + name, for rejections
}

// family is one event family: the types sharing a data shape and table.
type family struct {
	name   string // e.g. security.finding; the schema file is v1/<name>.json
	title  string
	types  []string
	table  string
	fields []field
	index  map[string]int
	build  func(v *values) Payload
	// derivesSLA: the table ends with sla_policy_version. The decoder
	// writes it empty (it derives no sla_due_at: the transform owns the
	// SLA policy); rows of older releases, whose decoder derived a due
	// date, carry that policy's version and the transform re-derives them.
	derivesSLA bool
	tbl        *Table
}

func (f *family) init() {
	f.index = make(map[string]int, len(f.fields))
	cols := append([]colDef{}, envelopeDefs...)
	for i, fd := range f.fields {
		f.index[fd.name] = i
		f.fields[i].path = "data." + fd.name
		cols = append(cols, colDef{fd.name, fieldType(&fd)})
	}
	if f.derivesSLA {
		cols = append(cols, colDef{"sla_policy_version", tString})
	}
	f.tbl = newTable(f.table, append(cols, lineageDefs...))
}

// typeConst returns the family's own copy of event type t (one of
// f.types), so rows refer to a constant rather than to the message.
func (f *family) typeConst(t string) string {
	for _, c := range f.types {
		if c == t {
			return c
		}
	}
	return t
}

var typeIndex map[string]*family

func init() {
	typeIndex = map[string]*family{}
	tables = append(tables, rawTable)
	for _, f := range families {
		f.init()
		for _, t := range f.types {
			typeIndex[t] = f
		}
		tables = append(tables, f.tbl)
	}
	tables = append(tables, rejectsTable)
	for i, t := range tables {
		t.index = i
	}
}

func familyOf(t string) *family { return typeIndex[t] }

func typesOf(prefix string, verbs ...string) []string {
	out := make([]string, len(verbs))
	for i, v := range verbs {
		out[i] = prefix + "." + v
	}
	return out
}

// Field constructors keep the family tables short.
func id(name, doc string) field {
	return field{name: name, kind: kindString, required: true, minLen: 1, maxLen: idLen, doc: doc}
}
func str(name, doc string) field {
	return field{name: name, kind: kindString, required: true, minLen: 1, maxLen: idLen, doc: doc}
}
func optStr(name string, maxLen int, doc string) field {
	return field{name: name, kind: kindString, maxLen: maxLen, doc: doc}
}
func enum(name string, values, doc string) field {
	return field{name: name, kind: kindEnum, required: true, enum: strings.Split(values, "|"), doc: doc}
}
func optEnum(name string, values, doc string) field {
	return field{name: name, kind: kindEnum, enum: strings.Split(values, "|"), doc: doc}
}
func ts(name, doc string) field {
	return field{name: name, kind: kindTime, required: true, doc: doc}
}
func optTS(name, doc string) field { return field{name: name, kind: kindTime, doc: doc} }
func num(name string, min, max float64, doc string) field {
	return field{name: name, kind: kindNumber, required: true, min: min, max: max, doc: doc}
}
func optNum(name string, min, max float64, doc string) field {
	return field{name: name, kind: kindNumber, min: min, max: max, doc: doc}
}
func optInt(name string, min, max float64, doc string) field {
	return field{name: name, kind: kindInteger, min: min, max: max, doc: doc}
}
func boolean(name, doc string) field {
	return field{name: name, kind: kindBool, required: true, doc: doc}
}
func optBool(name, doc string) field { return field{name: name, kind: kindBool, doc: doc} }
func strs(name, doc string) field {
	return field{name: name, kind: kindStrings, required: true, maxLen: idLen, doc: doc}
}
func optStrs(name, doc string) field {
	return field{name: name, kind: kindStrings, maxLen: idLen, doc: doc}
}

// value is one decoded data field. Decoding fills values in field order;
// a later duplicate key overwrites an earlier one (last wins, as in the
// JSON Schema validator), including its rejection.
type value struct {
	set  bool
	null bool // JSON null: absent for optional fields
	b    bool
	rej  *Rejection
	s    string
	t    time.Time
	f    float64
	i    int64 // integers; booleans as 0/1
	// lo, hi index the items of an array of strings in state.strs.
	lo, hi int32
}

// values is the decoded data of one event, read back in field order by the
// family's build function.
type values struct {
	v     []value
	items []string // array items, indexed by value.lo:hi
	pos   int
}

func (v *values) next() *value { x := &v.v[v.pos]; v.pos++; return x }

func (v *values) str() string { return v.next().s }

func (v *values) optStr() *string {
	x := v.next()
	if !x.set {
		return nil
	}
	s := x.s
	return &s
}

func (v *values) time() time.Time { return v.next().t }

func (v *values) optTime() *time.Time {
	x := v.next()
	if !x.set {
		return nil
	}
	t := x.t
	return &t
}

func (v *values) num() float64 { return v.next().f }

func (v *values) optNum() *float64 {
	x := v.next()
	if !x.set {
		return nil
	}
	f := x.f
	return &f
}

func (v *values) optInt() *int64 {
	x := v.next()
	if !x.set {
		return nil
	}
	i := x.i
	return &i
}

func (v *values) boolean() bool { return v.next().b }

func (v *values) optBool() *bool {
	x := v.next()
	if !x.set {
		return nil
	}
	b := x.b
	return &b
}

// strs returns a copy of an array field's items: nil when absent, never
// nil when present.
func (v *values) strs() []string {
	x := v.next()
	if !x.set {
		return nil
	}
	return append([]string{}, v.items[x.lo:x.hi]...)
}
