package demo

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// progress shows the running stage: on a terminal one line redrawn in
// place (\r) with live counts, otherwise one log line when a stage starts
// and one when it ends, so CI logs stay readable.
type progress struct {
	live  bool
	w     io.Writer
	log   *slog.Logger
	total int

	mu     sync.Mutex
	n      int
	name   string
	start  time.Time
	detail func() string
	stop   chan struct{}
	done   chan struct{}
}

func newProgress(live bool, w io.Writer, log *slog.Logger, stages int) *progress {
	if w == nil {
		w, live = io.Discard, false
	}
	return &progress{live: live, w: w, log: log, total: stages}
}

// begin starts a stage; detail, when not nil, describes its live counts.
func (p *progress) begin(name string, detail func() string) {
	p.mu.Lock()
	p.n++
	p.name, p.start, p.detail = name, time.Now(), detail
	p.mu.Unlock()
	if !p.live {
		p.log.Info("demo stage", "stage", name, "step", fmt.Sprintf("%d/%d", p.n, p.total))
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func(stop, done chan struct{}) {
		defer close(done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			p.redraw("")
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}(p.stop, p.done)
}

func (p *progress) line(suffix string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := fmt.Sprintf("[%d/%d] %-10s %6.1fs", p.n, p.total, p.name, time.Since(p.start).Seconds())
	if p.detail != nil {
		if d := p.detail(); d != "" {
			s += "  " + d
		}
	}
	return s + suffix
}

func (p *progress) redraw(suffix string) {
	// \033[K clears what a longer previous line left behind.
	line := p.line("")
	fmt.Fprint(p.w, "\r"+line+"\033[K"+suffix)
}

// end finishes the stage with its final counts.
func (p *progress) end(counts map[string]int64) time.Duration {
	p.mu.Lock()
	elapsed := time.Since(p.start)
	name := p.name
	p.detail = func() string { return formatCounts(counts) }
	p.mu.Unlock()
	if !p.live {
		args := []any{"stage", name, "seconds", round(elapsed.Seconds(), 2)}
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			args = append(args, k, counts[k])
		}
		p.log.Info("demo stage done", args...)
		return elapsed
	}
	close(p.stop)
	<-p.done
	p.redraw(" ✓\n")
	return elapsed
}

// fail ends the live line so the error message starts on a fresh line.
func (p *progress) fail() {
	if p.live && p.stop != nil {
		select {
		case <-p.done:
		default:
			close(p.stop)
			<-p.done
			fmt.Fprintln(p.w, "\r"+p.line(" ✗")+"\033[K")
		}
	}
}

func formatCounts(c map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s %s", thousands(c[k]), strings.ReplaceAll(k, "_", " ")))
	}
	return strings.Join(parts, ", ")
}

func thousands(v int64) string {
	s := fmt.Sprint(v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
