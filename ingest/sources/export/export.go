// Package export reads the files tools export (CSV reports, saved JSON API
// pages) for the importers of ingest/sources: CSV with its header checked
// and every record's line known, JSON pages streamed record by record with
// their line, locale-formatted numbers and dates, and the errors that name
// the file, line and field a user has to fix.
//
// Nothing here knows a vendor: the source packages say which columns and
// members they need and how a vendor formats a value.
package export

import (
	"errors"
	"fmt"
	"strings"
)

// A FileError is a problem in one export file, located precisely enough to
// fix it: the file, the 1-based line (0 when the file as a whole is wrong)
// and the column or JSON member (empty when the record as a whole is).
type FileError struct {
	File  string
	Line  int
	Field string
	Err   error
}

func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

// Errorf returns a *FileError for file, line and field.
func Errorf(file string, line int, field, format string, args ...any) *FileError {
	return &FileError{File: file, Line: line, Field: field, Err: fmt.Errorf(format, args...)}
}

// At wraps err (unless it already is a *FileError) with its location.
func At(file string, line int, field string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FileError
	if errors.As(err, &fe) {
		return err
	}
	return &FileError{File: file, Line: line, Field: field, Err: err}
}
