package schemas

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// LinesReport summarises the validation of a JSON Lines stream.
type LinesReport struct {
	Lines    int            `json:"lines"` // non-empty lines
	Accepted int            `json:"accepted"`
	Rejected int            `json:"rejected"`
	ByType   map[string]int `json:"by_type"` // accepted events per type
	ByRule   map[string]int `json:"by_rule"` // rejections per "field rule"
}

// ValidateLines decodes every non-empty line of r as a structured-mode
// event (the format `impact simulate` writes and `impact publish` reads)
// and calls onReject, if not nil, for each rejected line (numbered from 1).
// Only reading r can fail; rejections are counted, not returned.
//
// Memory is bounded whatever the input: a line is buffered only up to
// MaxEventSize; a longer one is skipped to its end unread and counted as a
// rejection (rule size).
func (dc *Decoder) ValidateLines(r io.Reader, onReject func(line int, rej *Rejection)) (LinesReport, error) {
	rep := LinesReport{ByType: map[string]int{}, ByRule: map[string]int{}}
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for n := 1; ; n++ {
		line, size, err := readLine(br, buf[:0], MaxEventSize)
		buf = line[:0]
		if err != nil && !errors.Is(err, io.EOF) {
			return rep, fmt.Errorf("read line %d: %w", n, err)
		}
		var rej *Rejection
		var ev *Event
		switch {
		case size > MaxEventSize:
			rep.Lines++
			rej = reject("", "size", "line is "+strconv.FormatInt(size, 10)+" bytes, over the 1 MiB limit")
		case len(bytes.TrimSpace(line)) > 0:
			rep.Lines++
			var derr error
			if ev, derr = dc.Decode(line, nil); derr != nil && !errors.As(derr, &rej) {
				return rep, fmt.Errorf("line %d: %w", n, derr)
			}
		}
		switch {
		case rej != nil:
			rep.Rejected++
			rep.ByRule[rej.Field+" "+rej.Rule]++
			if onReject != nil {
				onReject(n, rej)
			}
		case ev != nil:
			rep.Accepted++
			rep.ByType[ev.Type]++
		}
		if errors.Is(err, io.EOF) {
			return rep, nil
		}
	}
}

// readLine appends the next line of br (without its line ending) to buf.
// size is the line's full length; past limit bytes the rest of the line is
// read and dropped, never buffered. err is io.EOF at the end of input.
func readLine(br *bufio.Reader, buf []byte, limit int) (line []byte, size int64, err error) {
	for {
		frag, err := br.ReadSlice('\n')
		size += int64(len(frag))
		if size <= int64(limit)+2 { // +2: the line ending
			buf = append(buf, frag...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		size -= int64(len(frag) - len(bytes.TrimRight(frag, "\r\n")))
		if size > int64(limit) {
			buf = buf[:0]
		}
		return buf, size, err
	}
}
