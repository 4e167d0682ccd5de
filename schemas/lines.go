package schemas

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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
func (dc *Decoder) ValidateLines(r io.Reader, onReject func(line int, rej *Rejection)) (LinesReport, error) {
	rep := LinesReport{ByType: map[string]int{}, ByRule: map[string]int{}}
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
		}
		if len(bytes.TrimSpace(line)) > 0 {
			rep.Lines++
			ev, derr := dc.Decode(line, nil)
			if derr != nil {
				var rej *Rejection
				if !errors.As(derr, &rej) {
					return rep, fmt.Errorf("line %d: %w", n, derr)
				}
				rep.Rejected++
				rep.ByRule[rej.Field+" "+rej.Rule]++
				if onReject != nil {
					onReject(n, rej)
				}
			} else {
				rep.Accepted++
				rep.ByType[ev.Type]++
			}
		}
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return rep, fmt.Errorf("read line %d: %w", n, err)
		}
	}
}
