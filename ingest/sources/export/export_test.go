package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCSV(t *testing.T) {
	in := "\ufeff\"Id\";\"Name\";\"Note\"\r\n" +
		"\"1\";\"a\";\"one\r\ntwo\"\r\n" +
		"\"2\";\"b\";\"\"\r\n" +
		"\r\n\"My report\"\r\n\"Copyright (c) 2000-2026\"\r\n"
	c, err := OpenCSV("r.csv", strings.NewReader(in), []Column{{Name: "ID", Required: true}, {Name: "name"}, {Name: "Missing"}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Has("ID") || c.Has("Missing") {
		t.Error("Has")
	}
	var got []string
	for {
		r, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Get("ID")+"|"+r.Get("name")+"|"+r.Get("Missing")+"@"+strconv.Itoa(r.Line))
	}
	if strings.Join(got, ",") != "1|a|@2,2|b|@4" {
		t.Errorf("got %v", got)
	}
}

func TestCSVErrors(t *testing.T) {
	cols := []Column{{Name: "Id", Required: true}, {Name: "Segment", Required: true, Key: "crm.x.segment"}}
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "r.csv: empty file"},
		{"missing column", "Id,Name\n1,a\n", `r.csv:1: field "Segment": header: missing column "Segment" (the header has "Id", "Name"); add the column to the export, or name the column it has in the mapping file (crm.x.segment)`},
		{"field count", "Id,Segment\n1,a\n2,b,c\n", "r.csv:3: 3 fields, the header has 2"},
		{"quote", "Id,Segment\n1,\"a\n", "r.csv:2: column"},
		{"not utf-8", "Id,Segment\n1,\xe4\n", `r.csv:2: field "Segment": not UTF-8`},
		{"after footer", "Id,Segment\n1,a\n\n\"footer\"\n2,b\n", "r.csv:5: a record after the report footer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			csv, err := OpenCSV("r.csv", strings.NewReader(c.in), cols)
			for err == nil {
				_, err = csv.Next()
			}
			if errors.Is(err, io.EOF) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("%T is not a *FileError", err)
			}
		})
	}
}

func TestParseAmount(t *testing.T) {
	de := NumberFormat{Decimal: ','}
	us := NumberFormat{}
	ch := NumberFormat{Decimal: '.', Group: '\''}
	for _, c := range []struct {
		f    NumberFormat
		in   string
		want float64
		cur  string
	}{
		{de, "1.234.567,89", 1234567.89, ""},
		{de, "EUR 120.000,00", 120000, "EUR"},
		{de, "1.234,5 €", 1234.5, "EUR"},
		{de, "0,99", 0.99, ""},
		{de, "1 234 567,89", 1234567.89, ""},
		{us, "$12,000.00", 12000, "USD"},
		{us, "GBP 987,654.31", 987654.31, "GBP"},
		{us, "-5", -5, ""},
		{us, "1234567", 1234567, ""},
		{ch, "1'234.50", 1234.5, ""},
	} {
		got, cur, err := c.f.ParseAmount(c.in)
		if err != nil || math.Abs(got-c.want) > 1e-9 || cur != c.cur {
			t.Errorf("%s ParseAmount(%q) = %v %q %v, want %v %q", c.f, c.in, got, cur, err, c.want, c.cur)
		}
	}
	for _, c := range []struct {
		f  NumberFormat
		in string
	}{{de, "1,234.56"}, {de, "12.34"}, {us, "1,23"}, {us, ""}, {us, "abc"}, {us, "1.2.3"}, {de, "1.234,"}} {
		if v, _, err := c.f.ParseAmount(c.in); err == nil {
			t.Errorf("%s ParseAmount(%q) = %v, want an error", c.f, c.in, v)
		}
	}
}

func TestTimeFormat(t *testing.T) {
	f, err := NewTimeFormat("Europe/Berlin", "DD.MM.YYYY HH:mm", "M/D/YYYY h:mm A")
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"31.12.2025 14:03":  "2025-12-31T13:03:00Z",
		"30.06.2026 15:05":  "2026-06-30T13:05:00Z",
		"6/30/2026 3:05 PM": "2026-06-30T13:05:00Z",
	} {
		got, err := f.Parse(in)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("Parse(%q) = %v %v, want %s", in, got.UTC(), err, want)
		}
	}
	if _, err := f.Parse("2025-12-31"); err == nil || !strings.Contains(err.Error(), `"DD.MM.YYYY HH:mm"`) {
		t.Errorf("unknown format: %v", err)
	}
	if _, err := NewTimeFormat("", "DD.MM.YYYY Q"); err == nil {
		t.Error("unknown token accepted")
	}
	if _, err := NewTimeFormat("Mars/Olympus", "YYYY"); err == nil {
		t.Error("unknown zone accepted")
	}
	for in, want := range map[string]string{
		"2026-02-10T09:12:44.000+0100": "2026-02-10T08:12:44Z",
		"2026-02-10T09:12:44+01:00":    "2026-02-10T08:12:44Z",
		"2026-02-10T09:12:44.123456Z":  "2026-02-10T09:12:44Z",
	} {
		got, err := ParseISO(in)
		if err != nil || got.UTC().Truncate(time.Second).Format(time.RFC3339) != want {
			t.Errorf("ParseISO(%q) = %v %v", in, got, err)
		}
	}
	if _, err := ParseISO("2026-02-10T09:12:44"); err == nil {
		t.Error("a time without a zone was accepted")
	}
}

func TestPage(t *testing.T) {
	page := "{\n  \"count\": 2,\n  \"tickets\": [\n    {\"id\": 1},\n    {\n      \"id\": 2\n    }\n  ],\n  \"end_of_stream\": true\n}\n"
	var lines []int
	var paths []string
	meta, err := Page("p.json", []byte(page), "tickets", func(r Record) error {
		lines = append(lines, r.Line)
		paths = append(paths, r.Path)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2 || lines[0] != 4 || lines[1] != 5 || paths[1] != "tickets[1]" || string(meta["end_of_stream"]) != "true" {
		t.Errorf("lines %v paths %v meta %v", lines, paths, meta)
	}
	// Pages one after the other, as gh api --paginate writes them.
	var n []string
	if _, err := Page("a.json", []byte("[{\"a\":1},\n{\"a\":2}]\n[{\"a\":3}]\n"), "", func(r Record) error {
		n = append(n, r.Path+"@"+strconv.Itoa(r.Line))
		return nil
	}); err != nil || strings.Join(n, " ") != "[0]@1 [1]@2 [2]@3" {
		t.Errorf("array pages: %v %v", n, err)
	}
	for _, c := range []struct{ in, array, want string }{
		{page[:60], "tickets", `p.json:6: field "tickets[1]": the page ends early (truncated download?)`},
		{"{\"tickets\": [{\"id\": 1}, {\"id\": }]}", "tickets", `p.json:1: field "tickets[1]": not valid JSON`},
		{"{\"results\": []}", "tickets", `p.json:1: field "tickets": no "tickets" array`},
		{"{\"tickets\": {}}", "tickets", `p.json:1: field "tickets": want an array`},
		{"{\"tickets\": []}\n{}", "tickets", `p.json:2: field "tickets": no "tickets" array`},
		{"{\"tickets\": []}\n]", "tickets", "p.json:2: text after the JSON page"},
		{"[1, 2]", "tickets", "want a JSON object"},
	} {
		_, err := Page("p.json", []byte(c.in), c.array, func(Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.in, err, c.want)
		}
	}
}

// TestMembers: the top-level members of the first object, found by a scan
// that skips strings (with escaped quotes and brackets in them) and nested
// values; nil for what is not an object or ends early.
func TestMembers(t *testing.T) {
	m := Members([]byte(" {\"tickets\": [{\"a\": \"}]\\\"{\"}, [1, {\"b\": null}]], \"names\" : {\"k\": \"v\"},\n \"n\": -1.5e3, \"ok\": true, \"x\": null, \"s\": \"\\u00e9\"}\n{\"next\": 1}"))
	want := map[string]string{"tickets": `[{"a": "}]\"{"}, [1, {"b": null}]]`, "names": `{"k": "v"}`, "n": "-1.5e3", "ok": "true", "x": "null", "s": `"\u00e9"`}
	if len(m) != len(want) {
		t.Fatalf("%v", m)
	}
	for k, v := range want {
		if string(m[k]) != v {
			t.Errorf("%s: %s, want %s", k, m[k], v)
		}
	}
	if m := Members([]byte(`{}`)); m == nil || len(m) != 0 {
		t.Errorf("empty object: %v", m)
	}
	for _, in := range []string{``, `[1]`, `{"tickets": [1, 2`, `{"a": "unterminated`, `{"a" 1}`, `{"a": tru}`, `{1: 2}`, `{"a": 1,}`} {
		if m := Members([]byte(in)); m != nil {
			t.Errorf("%q: %v, want nil", in, m)
		}
	}
}

// BenchmarkPageManyPages reads a file of many saved pages, as
// `gh api --paginate` or concatenated incremental exports make; its time
// must grow with the file, not with its square.
func BenchmarkPageManyPages(b *testing.B) {
	for _, pages := range []int{10, 40} {
		var buf bytes.Buffer
		for p := 0; p < pages; p++ {
			buf.WriteString("{\"tickets\": [\n")
			for i := 0; i < 1000; i++ {
				if i > 0 {
					buf.WriteString(",\n")
				}
				fmt.Fprintf(&buf, "  {\"id\": %d, \"description\": %q}", p*1000+i, strings.Repeat("text ", 200))
			}
			buf.WriteString("\n], \"end_of_stream\": false}\n")
		}
		data := buf.Bytes()
		b.Run(fmt.Sprintf("%dpages", pages), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for range b.N {
				n := 0
				if _, err := Page("p.json", data, "tickets", func(r Record) error { n++; return nil }); err != nil || n != pages*1000 {
					b.Fatal(err, n)
				}
				if Members(data)["tickets"] == nil {
					b.Fatal("no tickets member")
				}
			}
		})
	}
}

// TestCSVSpreadsheetForms: what a report becomes after a round trip
// through a spreadsheet: Excel's "Unicode Text" (UTF-16 with a byte order
// mark, tab-separated), little- and big-endian; and rows padded with empty
// trailing fields beyond the header (a cell once touched to the right of
// the table). Other encodings without a byte order mark stay an error
// naming the line and column: they cannot be told apart reliably.
func TestCSVSpreadsheetForms(t *testing.T) {
	text := "Id\tName\tNote\r\n1\tGroßkunde\t\"a\ttab\"\r\n2\tb\t\r\n"
	utf16 := func(big bool) string {
		var b bytes.Buffer
		if big {
			b.Write([]byte{0xFE, 0xFF})
		} else {
			b.Write([]byte{0xFF, 0xFE})
		}
		for _, r := range text { // the BMP is enough here
			if big {
				b.Write([]byte{byte(r >> 8), byte(r)})
			} else {
				b.Write([]byte{byte(r), byte(r >> 8)})
			}
		}
		return b.String()
	}
	for name, in := range map[string]string{
		"utf-16le":        utf16(false),
		"utf-16be":        utf16(true),
		"trailing fields": "\ufeffId,Name,Note\r\n1,Großkunde,a\ttab,,\r\n2,b,,\r\n,,,,\r\nMy report,,,,\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c, err := OpenCSV("r.csv", strings.NewReader(in), []Column{{Name: "Id", Required: true}, {Name: "Name"}, {Name: "Note"}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if err := c.Each(func(r Row) error {
				got = append(got, r.Get("Id")+"|"+r.Get("Name")+"|"+r.Get("Note")+"@"+strconv.Itoa(r.Line))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != "1|Großkunde|a\ttab@2,2|b|@3" {
				t.Errorf("got %q", got)
			}
		})
	}
	// A value in a field beyond the header is still an error.
	c, err := OpenCSV("r.csv", strings.NewReader("Id,Name\r\n1,a,x\r\n"), []Column{{Name: "Id"}})
	if err == nil {
		_, err = c.Next()
	}
	if err == nil || !strings.Contains(err.Error(), "r.csv:2: 3 fields, the header has 2") {
		t.Errorf("extra value: %v", err)
	}
	// Windows-1252 (Excel's "CSV (Comma delimited)" of a German user).
	c, err = OpenCSV("r.csv", strings.NewReader("Id,Name\r\n1,Gro\xdfkunde\r\n"), []Column{{Name: "Id"}})
	if err == nil {
		_, err = c.Next()
	}
	if err == nil || !strings.Contains(err.Error(), `r.csv:2: field "Name": not UTF-8`) {
		t.Errorf("latin-1: %v", err)
	}
}
