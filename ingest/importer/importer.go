// Package importer runs `impact import`: it turns the export files of one
// tool into contract events and publishes them to Kafka, through the same
// source mappers and mapping file as the webhook gateway.
//
// A run validates before it publishes. Every file is read and mapped first
// and every event checked with the decoder ingest uses, then written to a
// spool file that publishing streams from. (Sources whose records join
// across files hold those until all their files are read: opportunities
// and their field history, tickets and their ratings; the others emit
// file by file. docs/import.md measures a year of exports.) Only when
// every file is valid is anything published: a file with a wrong header, a
// truncated JSON page or a date in an unknown format stops the run with an
// error naming the file, line and field, and nothing of any file reaches
// Kafka.
// Records that are well-formed but cannot be mapped (a picklist value the
// mapping file does not cover) are not a file error: they are counted,
// reported with a suggested mapping line, and left out.
//
// Imports are idempotent: event ids derive from the source record and the
// change (sources.ChangeID), so importing the same files twice publishes the
// same events, which ingest stores once.
package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// A Source imports the export files of one tool.
type Source struct {
	Name    string // as given to impact import: salesforce, hubspot, ...
	Exports string // the exports it reads, one line for help texts
	Import  func(ctx context.Context, files []export.File, m *mapping.File, emit func(export.Outcome) error) error
}

// Publisher publishes JSON Lines of structured-mode CloudEvents and returns
// how many it published; kafkaio.Publish with a writer is one.
type Publisher func(ctx context.Context, r io.Reader) (int, error)

// Options configures Run. The zero value validates with the default
// mapping and publishes nothing (Publish is nil).
type Options struct {
	// Mapping is the mapping file; nil is the all-defaults mapping.
	Mapping *mapping.File
	// Since leaves out events before it (a partial re-import).
	Since time.Time
	// DryRun validates and summarises without publishing.
	DryRun bool
	// Publish publishes the events; required unless DryRun.
	Publish Publisher
	// Decoder validates every event as ingest will; nil is the default.
	Decoder *schemas.Decoder
	// Progress, when not nil, receives a live progress line (redrawn with
	// \r: give it only to a terminal).
	Progress io.Writer
	// TempDir holds the spool file; "" is the system default.
	TempDir string
}

// Validate names the first bad field.
func (o Options) Validate() error {
	switch {
	case !o.DryRun && o.Publish == nil:
		return errors.New("import options: Publish is nil (use DryRun to only validate)")
	case o.TempDir != "":
		if fi, err := os.Stat(o.TempDir); err != nil || !fi.IsDir() {
			return fmt.Errorf("import options: TempDir %q is not a directory", o.TempDir)
		}
	}
	return nil
}

// Run imports files with src: read and map all of them, check every event,
// then (unless DryRun) publish. The Summary is filled as far as the run
// got; the error is the files' validation errors (joined *export.FileError)
// or the publishing error.
func Run(ctx context.Context, src Source, files []export.File, o Options) (*Summary, error) {
	if o.Mapping == nil {
		o.Mapping = &mapping.File{}
	}
	if o.Decoder == nil {
		o.Decoder = &schemas.Decoder{}
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	s := newSummary(src.Name, files, o)
	spool, err := os.CreateTemp(o.TempDir, "impact-import-*.jsonl")
	if err != nil {
		return s, fmt.Errorf("import %s: spool file: %w", src.Name, err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()

	p := startProgress(o.Progress, s)
	var werr error
	emit := func(out export.Outcome) error {
		if werr = s.add(out, spool, o); werr != nil {
			return werr
		}
		p.records.Add(1)
		return nil
	}
	err = src.Import(ctx, files, o.Mapping, emit)
	p.stop()
	if werr != nil {
		return s, fmt.Errorf("import %s: spool events: %w", src.Name, werr)
	}
	if err != nil {
		s.Invalid = true
		return s, &ValidationError{Source: src.Name, Err: err}
	}
	if o.DryRun || s.Events == 0 {
		return s, nil
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return s, fmt.Errorf("import %s: spool: %w", src.Name, err)
	}
	p = startProgress(o.Progress, s)
	p.publishing(s.spoolBytes)
	n, err := o.Publish(ctx, &countingReader{r: spool, n: &p.bytes})
	p.stop()
	s.Published = n
	if err != nil {
		return s, fmt.Errorf("import %s: publish (%d of %d events acknowledged; importing again is safe): %w", src.Name, n, s.Events, err)
	}
	return s, nil
}

// ValidationError is returned when a file failed validation: nothing was
// published. Err joins one *export.FileError per failing file.
type ValidationError struct {
	Source string
	Err    error
}

func (e *ValidationError) Error() string {
	msgs := strings.Split(e.Err.Error(), "\n")
	return fmt.Sprintf("import %s: nothing published, fix these files and import again:\n  %s", e.Source, strings.Join(msgs, "\n  "))
}

func (e *ValidationError) Unwrap() error { return e.Err }

// Summary is what a run did.
type Summary struct {
	Source string         `json:"source"`
	Files  []*FileSummary `json:"files"`
	Counts
	// Events is the number of events published (or, in a dry run, that
	// would be); BeforeSince counts those left out by --since.
	Events      int `json:"events"`
	BeforeSince int `json:"before_since"`
	Published   int `json:"published"`
	// IgnoredReasons and RejectedReasons count records by reason, the
	// record's own ids in it replaced by "…" (ReasonKind), so a year of
	// tickets without an organization is one line, not one per ticket.
	// Examples has the first record of each: file:line and the reason as
	// the mapper gave it.
	IgnoredReasons  map[string]int    `json:"ignored_reasons"`
	RejectedReasons map[string]int    `json:"rejected_reasons"`
	Examples        map[string]string `json:"reason_examples"`
	// Unmapped counts picklist values the mapping file does not cover.
	Unmapped sources.UnmappedCounts `json:"-"`
	// First and Last are the earliest and latest event times.
	First   time.Time `json:"first_event_time"`
	Last    time.Time `json:"last_event_time"`
	DryRun  bool      `json:"dry_run"`
	Invalid bool      `json:"invalid"` // a file failed validation: nothing published

	byFile     map[string]*FileSummary
	spoolBytes int64
}

// Counts are the records read and what became of them.
type Counts struct {
	Read     int `json:"read"`
	Mapped   int `json:"mapped"`
	Ignored  int `json:"ignored"`
	Rejected int `json:"rejected"`
}

// FileSummary counts one file's records.
type FileSummary struct {
	File string `json:"file"`
	Counts
}

func newSummary(source string, files []export.File, o Options) *Summary {
	s := &Summary{Source: source, IgnoredReasons: map[string]int{}, RejectedReasons: map[string]int{}, Examples: map[string]string{},
		Unmapped: sources.UnmappedCounts{}, DryRun: o.DryRun, byFile: map[string]*FileSummary{}}
	for _, f := range files {
		s.file(f.Name)
	}
	return s
}

// file returns the summary of file, adding it in order of first mention.
func (s *Summary) file(name string) *FileSummary {
	f := s.byFile[name]
	if f == nil {
		f = &FileSummary{File: name}
		s.byFile[name] = f
		s.Files = append(s.Files, f)
	}
	return f
}

// add counts one outcome, checks its events and spools those to publish.
func (s *Summary) add(out export.Outcome, spool io.Writer, o Options) error {
	var lines [][]byte
	var times []time.Time
	status := out.Status()
	rejected := out.Rejected
	if status != "rejected" {
		for _, e := range out.Events {
			b, err := e.MarshalJSON()
			if err == nil {
				_, err = o.Decoder.Decode(b, nil)
			}
			if err != nil {
				// A mapper bug or a value the contract cannot hold (a name
				// over 256 characters, a year after 2105): not published.
				status, rejected = "rejected", fmt.Sprintf("event %s fails the contract: %v", e.Type, err)
				break
			}
			if !o.Since.IsZero() && e.Time.Before(o.Since) {
				s.BeforeSince++
				continue
			}
			lines = append(lines, b)
			times = append(times, e.Time)
		}
	}
	f := s.file(out.File)
	for _, c := range []*Counts{&s.Counts, &f.Counts} {
		c.Read++
		switch status {
		case "mapped":
			c.Mapped++
		case "ignored":
			c.Ignored++
		default:
			c.Rejected++
		}
	}
	switch status {
	case "ignored":
		s.reason(s.IgnoredReasons, sources.Or(out.Ignored, "no reason given"), out)
	case "rejected":
		if rejected == "" {
			us := make([]string, len(out.Unmapped))
			for i, u := range out.Unmapped {
				us[i] = u.String()
			}
			rejected = "unmapped picklist value: " + strings.Join(us, "; ")
		}
		s.reason(s.RejectedReasons, rejected, out)
	}
	s.Unmapped.Add(out.Unmapped...)
	if status != "mapped" {
		return nil
	}
	for i, b := range lines {
		if _, err := spool.Write(append(b, '\n')); err != nil {
			return err
		}
		s.spoolBytes += int64(len(b) + 1)
		s.Events++
		if t := times[i]; s.First.IsZero() || t.Before(s.First) {
			s.First = t
		}
		if t := times[i]; t.After(s.Last) {
			s.Last = t
		}
	}
	return nil
}

// reason counts a record's reason by its kind, keeping the first example.
func (s *Summary) reason(counts map[string]int, reason string, out export.Outcome) {
	kind := ReasonKind(reason)
	counts[kind]++
	if _, ok := s.Examples[kind]; !ok {
		s.Examples[kind] = fmt.Sprintf("%s:%d: %s", out.File, out.Line, reason)
	}
}

// ReasonKind is a reason without what names one record: outside double
// quotes, every word holding a digit (an id, a number, a date) becomes
// "…". Quoted values (a service, a priority, a field) are kept: they say
// what to map.
func ReasonKind(reason string) string {
	var b strings.Builder
	quoted := false
	word := func(r rune) bool {
		return r == '_' || r == '-' || r == '.' || r == '/' || r == ':' || r == '#' || unicode.IsLetter(r) || unicode.IsDigit(r)
	}
	rs := []rune(reason)
	for i := 0; i < len(rs); {
		r := rs[i]
		if r == '"' {
			quoted = !quoted
		}
		if quoted || !word(r) {
			b.WriteRune(r)
			i++
			continue
		}
		j, digit := i, false
		for j < len(rs) && word(rs[j]) {
			digit = digit || unicode.IsDigit(rs[j])
			j++
		}
		// A word ends in punctuation of the sentence, not of the id.
		k := j
		for k > i+1 && strings.ContainsRune(".:", rs[k-1]) {
			k--
		}
		if digit {
			b.WriteString("…")
		} else {
			b.WriteString(string(rs[i:k]))
		}
		b.WriteString(string(rs[k:j]))
		i = j
	}
	return b.String()
}

// WriteText writes the summary for a person: counts per file, reasons,
// unmapped values with the mapping line that would map them.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d records read from %d files: %d mapped, %d ignored, %d rejected\n",
		s.Source, s.Read, len(s.Files), s.Mapped, s.Ignored, s.Rejected)
	width := 0
	for _, f := range s.Files {
		width = max(width, len(f.File))
	}
	for _, f := range s.Files {
		fmt.Fprintf(&b, "  %-*s  %6d read  %6d mapped  %6d ignored  %6d rejected\n", width, f.File, f.Read, f.Mapped, f.Ignored, f.Rejected)
	}
	s.writeReasons(&b, "ignored", s.IgnoredReasons)
	s.writeReasons(&b, "rejected (not imported)", s.RejectedReasons)
	if us := s.Unmapped.Sorted(); len(us) > 0 {
		b.WriteString("unknown picklist values (never guessed; add the line to the mapping file and import again):\n")
		for _, u := range us {
			fmt.Fprintf(&b, "  %5d × %s %q\n          %s\n", u.Count, u.Key, u.Value, u.Suggestion())
		}
	}
	switch {
	case s.Invalid:
		b.WriteString("nothing published: a file failed validation\n")
	case s.Events == 0:
		b.WriteString("no events\n")
	default:
		fmt.Fprintf(&b, "events: %d, first %s, last %s", s.Events, s.First.UTC().Format(time.RFC3339), s.Last.UTC().Format(time.RFC3339))
		if s.BeforeSince > 0 {
			fmt.Fprintf(&b, " (%d before --since left out)", s.BeforeSince)
		}
		if s.DryRun {
			b.WriteString("; dry run: nothing published\n")
		} else {
			fmt.Fprintf(&b, "; %d published\n", s.Published)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// maxReasons is how many reasons of a kind the text summary lists; the
// JSON summary has them all.
const maxReasons = 20

func (s *Summary) writeReasons(b *strings.Builder, title string, m map[string]int) {
	if len(m) == 0 {
		return
	}
	type rc struct {
		r string
		n int
	}
	var l []rc
	for r, n := range m {
		l = append(l, rc{r, n})
	}
	sort.Slice(l, func(i, j int) bool { return l[i].n > l[j].n || l[i].n == l[j].n && l[i].r < l[j].r })
	fmt.Fprintf(b, "%s:\n", title)
	for i, x := range l {
		if i == maxReasons {
			rest := 0
			for _, y := range l[i:] {
				rest += y.n
			}
			fmt.Fprintf(b, "  %5d × %d other reasons (--json lists them)\n", rest, len(l)-i)
			break
		}
		fmt.Fprintf(b, "  %5d × %s\n", x.n, x.r)
		// The first record, where the reason named it.
		if e := s.Examples[x.r]; e != "" && !strings.HasSuffix(e, ": "+x.r) {
			fmt.Fprintf(b, "          first: %s\n", e)
		}
	}
}

// MarshalJSON adds the unmapped values with their suggestions.
func (s *Summary) MarshalJSON() ([]byte, error) {
	type unmapped struct {
		Key        string `json:"key"`
		Value      string `json:"value"`
		Count      int    `json:"count"`
		Suggestion string `json:"suggestion"`
	}
	us := []unmapped{}
	for _, u := range s.Unmapped.Sorted() {
		us = append(us, unmapped{u.Key, u.Value, u.Count, u.Suggestion()})
	}
	type plain Summary
	return json.Marshal(struct {
		*plain
		Unmapped []unmapped `json:"unmapped"`
	}{(*plain)(s), us})
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
