package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A Record is one element of the array a saved API page holds.
type Record struct {
	Index int             // position in the array, from 0
	Line  int             // line the element starts on
	Path  string          // "tickets[3]", or "[3]" for a page that is an array
	Raw   json.RawMessage // the element as saved
}

// Page reads a saved JSON API page: either an object whose member array
// holds the records ({"tickets": [...], "after_cursor": ...}) or, when
// array is "", a top-level array (GitHub's list endpoints). Several pages
// may follow each other in one file, as `gh api --paginate` writes them.
// fn is called for every record in order (Index counts across pages); the
// last page's other top-level members are returned raw (paging
// information). A page that is not well-formed JSON, ends early (a
// truncated download) or lacks the array is a *FileError with the line
// where reading stopped.
func Page(file string, data []byte, array string, fn func(Record) error) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	lines := lineCounter{data: data, line: 1}
	lineAt := lines.at
	fail := func(path string, err error) error {
		off := dec.InputOffset()
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &FileError{File: file, Line: lineAt(int64(len(data))), Field: path,
				Err: errors.New("the page ends early (truncated download?): the JSON is not complete")}
		}
		return &FileError{File: file, Line: lineAt(off), Field: path, Err: fmt.Errorf("not valid JSON: %w", err)}
	}
	index := 0
	readArray := func(name string) error {
		tok, err := dec.Token()
		if err != nil {
			return fail(name, err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '[' {
			return &FileError{File: file, Line: lineAt(dec.InputOffset()), Field: name, Err: fmt.Errorf("want an array of records, have %v", tok)}
		}
		for ; dec.More(); index++ {
			start := skipSep(data, dec.InputOffset())
			path := fmt.Sprintf("%s[%d]", name, index)
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return fail(path, err)
			}
			if err := fn(Record{Index: index, Line: lineAt(start), Path: path, Raw: raw}); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return fail(name, err)
		}
		return nil
	}
	readPage := func() (map[string]json.RawMessage, error) {
		meta := map[string]json.RawMessage{}
		if array == "" {
			return meta, readArray("")
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, fail("", err)
		}
		if d, ok := tok.(json.Delim); !ok || d != '{' {
			return nil, &FileError{File: file, Line: lineAt(dec.InputOffset()), Err: fmt.Errorf("want a JSON object with a %q array (a saved API page), have %v", array, tok)}
		}
		found := false
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, fail("", err)
			}
			key, _ := tok.(string)
			if key == array {
				found = true
				if err := readArray(array); err != nil {
					return nil, err
				}
				continue
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fail(key, err)
			}
			meta[key] = raw
		}
		if _, err := dec.Token(); err != nil { // '}'
			return nil, fail("", err)
		}
		if !found {
			return nil, &FileError{File: file, Line: lineAt(dec.InputOffset()), Field: array, Err: fmt.Errorf("no %q array: not the export this source reads", array)}
		}
		return meta, nil
	}
	meta, err := readPage()
	for err == nil && dec.More() {
		meta, err = readPage()
	}
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &FileError{File: file, Line: lineAt(dec.InputOffset()), Err: errors.New("text after the JSON page")}
	}
	return meta, nil
}

// lineCounter gives the line of an offset of data. Offsets mostly grow
// (records in order), so it counts on from the last one: counting from the
// start for every record of a page of N records took time N squared (a
// file of many pages, `gh api --paginate`, ran for hours).
type lineCounter struct {
	data []byte
	off  int // counted up to here
	line int // the line at off
}

func (c *lineCounter) at(off int64) int {
	o := min(int(max(off, 0)), len(c.data))
	if o < c.off {
		c.off, c.line = 0, 1
	}
	c.line += bytes.Count(c.data[c.off:o], []byte{'\n'})
	c.off = o
	return c.line
}

// skipSep returns the offset of the next value after off, past whitespace
// and a comma.
func skipSep(data []byte, off int64) int64 {
	for int(off) < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',':
			off++
		default:
			return off
		}
	}
	return off
}

// Members returns the top-level members of the first JSON object in data
// (nil when it does not start with one): what a source looks at to tell
// its kinds of pages apart before reading one with Page. The values are
// slices of data, found by one scan without decoding them: a file of
// hundreds of megabytes is neither parsed nor copied to find its keys. A
// value is not validated here; Page reports a malformed one with its line.
func Members(data []byte) map[string]json.RawMessage {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil
	}
	m := map[string]json.RawMessage{}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return m
	}
	for {
		end, ok := skipValue(data, i)
		if !ok || data[i] != '"' {
			return nil
		}
		var key string
		if json.Unmarshal(data[i:end], &key) != nil {
			return nil
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil
		}
		i = skipSpace(data, i+1)
		if end, ok = skipValue(data, i); !ok {
			return nil
		}
		m[key] = data[i:end:end]
		i = skipSpace(data, end)
		switch {
		case i < len(data) && data[i] == ',':
			i = skipSpace(data, i+1)
		case i < len(data) && data[i] == '}':
			return m
		default:
			return nil
		}
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value starting at i: a string,
// an object or array (brackets balanced, strings skipped), or a scalar
// that is valid JSON.
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return i, false
	}
	switch data[i] {
	case '"':
		for j := i + 1; j < len(data); j++ {
			switch data[j] {
			case '\\':
				j++
			case '"':
				return j + 1, true
			}
		}
		return len(data), false
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, ok := skipValue(data, j)
				if !ok {
					return end, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return len(data), false
	}
	j := i
	for j < len(data) && !bytes.ContainsRune([]byte(",}] \t\r\n"), rune(data[j])) {
		j++
	}
	return j, json.Valid(data[i:j])
}

// Unmarshal decodes the record into v; a record that is not what is
// wanted (a string where an object belongs, a bad timestamp) is a
// *FileError naming the record.
func (r Record) Unmarshal(file string, v any, what string) error {
	if err := json.Unmarshal(r.Raw, v); err != nil {
		return Errorf(file, r.Line, r.Path, "not %s: %v", what, err)
	}
	return nil
}
