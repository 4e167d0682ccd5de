package importer

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress redraws one status line on a terminal every 200 ms while a run
// reads or publishes; it does nothing without a writer.
type progress struct {
	w       io.Writer
	source  string
	files   int
	events  int
	records atomic.Int64
	bytes   atomic.Int64
	total   atomic.Int64 // spool bytes to publish; 0 while reading
	start   time.Time
	done    chan struct{}
	wg      sync.WaitGroup
}

func startProgress(w io.Writer, s *Summary) *progress {
	// The summary is read here, before the run goes on changing it.
	p := &progress{w: w, source: s.Source, files: len(s.Files), events: s.Events, start: time.Now(), done: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

func (p *progress) publishing(total int64) { p.total.Store(total) }

func (p *progress) draw() {
	el := time.Since(p.start).Round(time.Second)
	if total := p.total.Load(); total > 0 {
		fmt.Fprintf(p.w, "\r\033[K%s: publishing %d events: %3.0f%% (%v)", p.source, p.events, 100*float64(p.bytes.Load())/float64(total), el)
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s: reading %d files: %d records checked (%v)", p.source, p.files, p.records.Load(), el)
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}
