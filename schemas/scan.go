package schemas

import "strconv"

// scanner is a JSON reader over one message, specialised for the decoder:
// it walks the bytes once, validating syntax exactly as encoding/json.Valid
// does (RFC 8259 grammar, nesting depth at most 10,000), and hands out
// strings and numbers as slices of the input, so decoding a typical event
// allocates nothing. The input is already known to be valid UTF-8.
// FuzzScanner checks it against encoding/json.Valid.
type scanner struct {
	b   []byte
	i   int
	err string // the first syntax error, "" while the input is valid
}

// maxDepth is the deepest nesting of arrays and objects accepted, as in
// encoding/json (and the JSON Schema validator, which parses with it).
const maxDepth = 10000

func (s *scanner) reset(b []byte) {
	s.b, s.i, s.err = b, 0, ""
}

// fail records a syntax error at the current position and returns false.
func (s *scanner) fail() bool {
	if s.err == "" {
		if s.i >= len(s.b) {
			s.err = "unexpected end of JSON input"
		} else {
			s.err = "invalid character " + strconv.QuoteRune(rune(s.b[s.i])) + " at byte offset " + strconv.Itoa(s.i)
		}
	}
	return false
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// consume skips whitespace and the byte c, or fails.
func (s *scanner) consume(c byte) bool {
	if s.peek() != c {
		return s.fail()
	}
	s.i++
	return true
}

// end reports whether only whitespace is left.
func (s *scanner) end() bool {
	s.ws()
	return s.i == len(s.b)
}

// plain marks the bytes that stand for themselves inside a JSON string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads a string at the current position (after whitespace) and
// returns it quoted, as in the input, and whether it holds escapes.
func (s *scanner) str() (quoted []byte, escaped, ok bool) {
	if s.peek() != '"' {
		return nil, false, s.fail()
	}
	b := s.b
	start := s.i + 1
	i := start
	for {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			return nil, false, s.fail()
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return b[start-1 : i+1], escaped, true
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				s.i = len(b)
				return nil, false, s.fail()
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(b) || !isHex(b[k]) {
						s.i = min(k, len(b))
						return nil, false, s.fail()
					}
				}
				i += 6
			default:
				s.i = i + 1
				return nil, false, s.fail()
			}
		default: // a control character
			s.i = i
			return nil, false, s.fail()
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// num reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) num() ([]byte, bool) {
	s.ws()
	b := s.b
	start, i := s.i, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		s.i = i
		return nil, s.fail()
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return nil, s.fail()
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			s.i = i
			return nil, s.fail()
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	s.i = i
	return b[start:i], true
}

// lit reads the literal word (true, false or null).
func (s *scanner) lit(word string) bool {
	s.ws()
	for k := 0; k < len(word); k++ {
		if s.i >= len(s.b) || s.b[s.i] != word[k] {
			return s.fail()
		}
		s.i++
	}
	return true
}

// skip reads any value, validating it; depth is the nesting depth of the
// containers around it.
func (s *scanner) skip(depth int) bool {
	switch s.peek() {
	case '{':
		return s.object(depth+1, func(name []byte, escaped bool) bool { return s.skip(depth + 1) })
	case '[':
		return s.array(depth+1, func(int) bool { return s.skip(depth + 1) })
	case '"':
		_, _, ok := s.str()
		return ok
	case 't':
		return s.lit("true")
	case 'f':
		return s.lit("false")
	case 'n':
		return s.lit("null")
	default:
		_, ok := s.num()
		return ok
	}
}

// object reads an object whose own depth is depth, calling member for each
// member with the scanner positioned at its value; member must read the
// value.
func (s *scanner) object(depth int, member func(name []byte, escaped bool) bool) bool {
	if depth > maxDepth {
		return s.fail()
	}
	if !s.consume('{') {
		return false
	}
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		name, esc, ok := s.str()
		if !ok || !s.consume(':') || !member(name, esc) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return s.fail()
		}
	}
}

// array reads an array whose own depth is depth, calling item with the
// index of each item, positioned at it; item must read the value.
func (s *scanner) array(depth int, item func(n int) bool) bool {
	if depth > maxDepth {
		return s.fail()
	}
	if !s.consume('[') {
		return false
	}
	if s.peek() == ']' {
		s.i++
		return true
	}
	for n := 0; ; n++ {
		if !item(n) {
			return false
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return s.fail()
		}
	}
}

// valid reports whether b is one JSON value (with surrounding whitespace).
func valid(b []byte) bool {
	var s scanner
	s.reset(b)
	return s.skip(0) && s.end()
}
