package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/secimpact/impact/ingest/sources"
)

// A File is one export file given to an importer.
type File struct {
	Name string                        // as the user gave it, for messages
	Open func() (io.ReadCloser, error) // opens it for reading; may be called more than once
}

// OSFile is the export file at path.
func OSFile(path string) File {
	return File{Name: path, Open: func() (io.ReadCloser, error) { return os.Open(path) }}
}

// ReadAll returns the content of f.
func (f File) ReadAll() ([]byte, error) {
	r, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Outcome is what an importer made of one export record (a CSV row, a JSON
// page element). Exactly one of these describes it:
//   - Events, or Folded: the record is mapped (Folded: into the events of
//     another record, as a field-history row is into its opportunity's
//     change);
//   - Ignored: it carries nothing for the contract, and why;
//   - Rejected or Unmapped: it is well-formed but cannot be mapped — a
//     reason, or picklist values the mapping file does not cover — and is
//     not imported.
type Outcome struct {
	File     string
	Line     int
	Events   []sources.Event
	Folded   bool
	Ignored  string
	Rejected string
	Unmapped []sources.Unmapped
}

// Status is "mapped", "ignored" or "rejected".
func (o Outcome) Status() string {
	switch {
	case o.Rejected != "" || (len(o.Unmapped) > 0 && len(o.Events) == 0):
		return "rejected"
	case len(o.Events) > 0 || o.Folded:
		return "mapped"
	}
	return "ignored"
}

// ReadFiles calls read with the content of each file in order, going on
// after a failing file so that one run reports every bad file: the errors
// (each a *FileError) are returned joined. It stops early only when ctx is
// done.
func ReadFiles(ctx context.Context, files []File, read func(name string, data []byte) error) error {
	var errs []error
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, err := f.ReadAll()
		if err != nil {
			errs = append(errs, At(f.Name, 0, "", fmt.Errorf("read: %w", err)))
			continue
		}
		if err := read(f.Name, data); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stream is ReadFiles for sources whose records need nothing from other
// files: read emits each record's outcome as it goes, so a run holds one
// file at a time rather than every record's events. Emitting stops at
// emit's first error, which is returned rather than the files' errors.
// What was emitted before a file failed is the caller's to discard (the
// importer publishes nothing until every file has been read).
func Stream(ctx context.Context, files []File, read func(name string, data []byte, emit func(Outcome) error) error, emit func(Outcome) error) error {
	var emitErr error
	once := func(o Outcome) error {
		if emitErr == nil {
			emitErr = emit(o)
		}
		return emitErr
	}
	err := ReadFiles(ctx, files, func(name string, data []byte) error {
		if emitErr != nil {
			return emitErr
		}
		return read(name, data, once)
	})
	if emitErr != nil {
		return emitErr
	}
	return err
}

// Emit calls emit for each outcome in order, stopping at its first error.
func Emit(outs []Outcome, emit func(Outcome) error) error {
	for _, o := range outs {
		if err := emit(o); err != nil {
			return err
		}
	}
	return nil
}
