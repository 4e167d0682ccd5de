package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
)

// SchemaFS holds the JSON Schemas (draft 2020-12) of contract v1, the
// published contract: v1/<family>.json per event family (e.g.
// v1/security.finding.json) and v1/event.json accepting any of them.
//
// A message is a valid event when it is at most MaxEventSize bytes of
// UTF-8 JSON that event.json accepts; binary-mode messages are judged as
// the structured event their headers and value make.
//
//go:embed v1/*.json
var SchemaFS embed.FS

// SchemaBaseURI is the base of the schemas' $id.
const SchemaBaseURI = "https://github.com/secimpact/impact/schemas/v1/"

// schemaFile returns the file in SchemaFS of the schema of event type t.
func schemaFile(t string) (string, bool) {
	f := familyOf(t)
	if f == nil {
		return "", false
	}
	return "v1/" + f.name + ".json", true
}

// DataSchemaFor returns the canonical dataschema attribute for events of
// type t under contract v1, e.g.
// https://github.com/secimpact/impact/schemas/security.finding/v1; "" for
// an unknown type. (Any dataschema ending in /v1 is accepted.)
func DataSchemaFor(t string) string {
	f := familyOf(t)
	if f == nil {
		return ""
	}
	return "https://github.com/secimpact/impact/schemas/" + f.name + "/v1"
}

// timePattern restricts RFC 3339 date-times (format date-time) to what
// parseTime accepts: years 1971-2105, so ClickHouse DateTime can hold the
// instant whatever its offset, and no leap second (Go time has none).
const timePattern = `^(197[1-9]|19[89][0-9]|20[0-9][0-9]|210[0-5])-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$`

// obj is a JSON object that keeps its key order, so generated schemas read
// in contract order.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, fmt.Errorf("marshal %s: %w", e.k, err)
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func typeOf(t string, required bool) any {
	if required {
		return t
	}
	return []string{t, "null"} // optional fields may be null (= absent)
}

func fieldSchema(f field) obj {
	o := obj{{"description", f.doc}}
	switch f.kind {
	case kindString:
		o = append(o, kv{"type", typeOf("string", f.required)})
		if f.minLen > 0 {
			o = append(o, kv{"minLength", f.minLen})
		}
		o = append(o, kv{"maxLength", f.maxLen})
	case kindEnum:
		vals := make([]any, 0, len(f.enum)+1)
		for _, e := range f.enum {
			vals = append(vals, e)
		}
		if !f.required {
			vals = append(vals, nil)
		}
		o = append(o, kv{"type", typeOf("string", f.required)}, kv{"enum", vals})
	case kindTime:
		o = append(o, kv{"type", typeOf("string", f.required)}, kv{"format", "date-time"}, kv{"pattern", timePattern})
	case kindNumber, kindInteger:
		t := "number"
		if f.kind == kindInteger {
			t = "integer"
		}
		o = append(o, kv{"type", typeOf(t, f.required)}, kv{"minimum", f.min}, kv{"maximum", f.max})
	case kindBool:
		o = append(o, kv{"type", typeOf("boolean", f.required)})
	case kindStrings:
		o = append(o, kv{"type", typeOf("array", f.required)},
			kv{"items", obj{{"type", "string"}, {"maxLength", f.maxLen}}}, kv{"maxItems", maxItems})
	}
	return o
}

func familySchema(fam *family) obj {
	var req []string
	props := obj{}
	for _, f := range fam.fields {
		if f.required {
			req = append(req, f.name)
		}
		props = append(props, kv{f.name, fieldSchema(f)})
	}
	str := func(desc string, min int) obj {
		o := obj{{"description", desc}, {"type", "string"}}
		if min > 0 {
			o = append(o, kv{"minLength", min})
		}
		return append(o, kv{"maxLength", attrLen})
	}
	optStr := func(desc string) obj {
		return obj{{"description", desc}, {"type", []string{"string", "null"}}, {"maxLength", attrLen}}
	}
	return obj{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", SchemaBaseURI + fam.name + ".json"},
		{"title", fam.title + " event (contract v1)"},
		{"description", "CloudEvents 1.0 event of type " + strings.Join(fam.types, ", ") +
			". data carries the entity's full current state; unknown extra fields are allowed and kept in the raw payload."},
		{"type", "object"},
		{"required", []string{"specversion", "id", "source", "type", "time", "data"}},
		{"properties", obj{
			{"specversion", obj{{"description", "CloudEvents version."}, {"type", "string"}, {"const", SpecVersion}}},
			{"id", str("Event id; with source the event's identity.", 1)},
			{"source", str("Event source (URI-reference); with id the event's identity.", 1)},
			{"type", obj{{"description", "Event type."}, {"type", "string"}, {"enum", fam.types}}},
			{"time", obj{{"description", "When the change happened (RFC 3339 with zone). Beyond this schema the decoder rejects (rule time_window) times before 2000-01-01T00:00:00Z or more than 1 hour after its clock; both bounds are configurable (schemas.TimeWindow)."}, {"type", "string"}, {"format", "date-time"}, {"pattern", timePattern}}},
			{"subject", optStr("The entity id by convention.")},
			{"dataschema", obj{{"description", "Schema of data; must end in /v1 (absent means v1)."},
				{"type", []string{"string", "null"}}, {"maxLength", attrLen}, {"pattern", "/v1$"}}},
			{"datacontenttype", obj{{"description", "Media type of data; JSON only."},
				{"type", []string{"string", "null"}}, {"pattern", "^application/json"}}},
			{"data", obj{{"description", fam.title + "."}, {"type", "object"}, {"required", req}, {"properties", props}}},
		}},
	}
}

func eventSchema() obj {
	refs := make([]obj, len(families))
	for i, f := range families {
		refs[i] = obj{{"$ref", f.name + ".json"}}
	}
	return obj{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"$id", SchemaBaseURI + "event.json"},
		{"title", "impact event (contract v1)"},
		{"description", "Any event of contract v1; the type attribute selects the family schema."},
		{"oneOf", refs},
	}
}

// generateSchemas renders the schema files of SchemaFS from the contract
// tables; TestSchemasGolden keeps the two identical.
func generateSchemas() (map[string][]byte, error) {
	out := map[string][]byte{}
	add := func(name string, o obj) error {
		b, err := json.MarshalIndent(o, "", "  ")
		if err != nil {
			return fmt.Errorf("render schema %s: %w", name, err)
		}
		out["v1/"+name+".json"] = append(b, '\n')
		return nil
	}
	for _, f := range families {
		if err := add(f.name, familySchema(f)); err != nil {
			return nil, err
		}
	}
	if err := add("event", eventSchema()); err != nil {
		return nil, err
	}
	return out, nil
}
