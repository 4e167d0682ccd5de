package schemas

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxHeaders is the most Kafka record headers a message may carry (any
// header counts, ce_ or not). More is rejected with rule headers before any
// header is parsed: real producers send the CloudEvents attributes plus a
// few tracing headers, and every header is parsed and copied to the
// dead-letter topic.
const MaxHeaders = 100

// Bounds of what a Rejection quotes from the input.
const (
	quoteLen     = 64   // bytes of an offending value quoted in a detail
	maxFieldLen  = 256  // bytes of Rejection.Field
	maxDetailLen = 1024 // bytes of Rejection.Detail
	identityLen  = 1024 // bytes of each string Identity returns
)

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Drop a sequence the cut left incomplete (only that: invalid bytes
	// before it stay as they were).
	j := len(s) - 1
	for j > 0 && j > len(s)-utf8.UTFMax && !utf8.RuneStart(s[j]) {
		j--
	}
	if j >= 0 && !utf8.FullRuneInString(s[j:]) {
		s = s[:j]
	}
	return s
}

// quote quotes an input value for a rejection detail: the whole value when
// short, else a quoted prefix and the value's size, so that a detail never
// grows with the input.
func quote(s string) string {
	if len(s) <= quoteLen {
		return strconv.Quote(s)
	}
	return strconv.Quote(truncate(s, quoteLen)) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// headerAttr returns the CloudEvents attribute a binary-mode header carries,
// "" for none: ce_<name> is attribute <name>, content-type is
// datacontenttype. ce_data, ce_data_base64 and ce_datacontenttype carry
// nothing (the value is the data; content-type is its type).
func headerAttr(key string) string {
	switch {
	case strings.EqualFold(key, "content-type"):
		return "datacontenttype"
	case strings.HasPrefix(key, "ce_"):
		switch k := key[3:]; k {
		case "", "data", "data_base64", "datacontenttype":
			return ""
		default:
			return k
		}
	}
	return ""
}

// structuredFromBinary rebuilds the structured-mode JSON of a binary-mode
// message: every ce_ header becomes an attribute, content-type becomes
// datacontenttype and the value becomes data. A later header of the same
// attribute wins, as in decodeBinary. Linear in the number of headers.
func structuredFromBinary(value []byte, headers []Header) []byte {
	names := make([]string, len(headers))
	n := len(value) + 16
	for i := range headers {
		names[i] = headerAttr(headers[i].Key)
		n += len(headers[i].Key) + len(headers[i].Value) + 8
	}
	// last[name] is the index of the header that wins for name.
	last := make(map[string]int, len(headers))
	for i, k := range names {
		if k != "" {
			last[k] = i
		}
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, k := range names {
		if k == "" || last[k] != i {
			continue
		}
		b, _ = jsontext.AppendQuote(b, k)
		b = append(b, ':')
		b, _ = jsontext.AppendQuote(b, headers[i].Value)
		b = append(b, ',')
	}
	b = append(b, `"data":`...)
	b = append(b, value...)
	return append(b, '}')
}

// identity returns the source, id and type of a message that may not be a
// valid event, as far as they can be read, for the diagnosis of a
// rejection: from the ce_ headers of binary mode, else from the top-level
// members of a structured-mode JSON object. Each is cut to 1024 bytes; ""
// when unreadable.
func identity(value []byte, headers []Header) (source, id, typ string) {
	for _, h := range headers[:min(len(headers), MaxHeaders)] {
		switch h.Key {
		case "ce_source":
			source = string(h.Value)
		case "ce_id":
			id = string(h.Value)
		case "ce_type":
			typ = string(h.Value)
		}
	}
	if (source == "" || id == "" || typ == "") && len(value) <= MaxEventSize {
		var e struct {
			Source any `json:"source"`
			ID     any `json:"id"`
			Type   any `json:"type"`
		}
		if json.Unmarshal(value, &e) == nil {
			source = cmpOr(source, e.Source)
			id = cmpOr(id, e.ID)
			typ = cmpOr(typ, e.Type)
		}
	}
	return truncate(source, identityLen), truncate(id, identityLen), truncate(typ, identityLen)
}

// cmpOr returns s, or v when s is empty and v is a string.
func cmpOr(s string, v any) string {
	if s != "" {
		return s
	}
	t, _ := v.(string)
	return t
}
