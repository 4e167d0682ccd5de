package schemas

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
)

// Content types of the CloudEvents Kafka protocol binding.
const (
	// StructuredContentType is the content-type header of a structured-mode
	// message: the whole event is the value.
	StructuredContentType = "application/cloudevents+json"
	// defaultDataType is the content type of data when datacontenttype is
	// absent.
	defaultDataType = "application/json"
)

// BinaryMode maps a structured-mode event (a JSON object) to the
// CloudEvents Kafka binding's binary mode: every attribute but data as a
// ce_<name> header (strings unquoted, other JSON values as their JSON
// text), datacontenttype as the content-type header, data (or the decoded
// data_base64) as the value. Headers are in attribute-name order. ok is
// false when structured is not a JSON object or its data_base64 is not
// base64. The decoder's binary mode reads the result back as the same
// event (TestBinaryModeRoundTrip).
func BinaryMode(structured []byte) (value []byte, headers []Header, ok bool) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(structured, &env); err != nil || env == nil {
		return nil, nil, false
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names) // stable header order for tests and humans
	contentType := defaultDataType
	for _, k := range names {
		switch k {
		case "data", "data_base64":
			continue
		}
		v := env[k]
		if string(v) == "null" {
			continue
		}
		s := string(v)
		var str string
		if json.Unmarshal(v, &str) == nil {
			s = str
		}
		if k == "datacontenttype" {
			contentType = s
			continue
		}
		headers = append(headers, Header{Key: "ce_" + k, Value: []byte(s)})
	}
	headers = append(headers, Header{Key: "content-type", Value: []byte(contentType)})
	if b64, ok := env["data_base64"]; ok {
		var s string
		if err := json.Unmarshal(b64, &s); err != nil {
			return nil, nil, false
		}
		data, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, nil, false
		}
		return data, headers, true
	}
	data := []byte(env["data"])
	if string(data) == "null" {
		data = nil
	}
	// A JSON string as data of a non-JSON content type is the text itself.
	if !strings.Contains(contentType, "json") && len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, nil, false
		}
		data = []byte(s)
	}
	return data, headers, true
}
