package brief

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/chromedp/chromedp"
)

// ErrNoChromium is returned when no Chromium or Chrome can be found.
var ErrNoChromium = errors.New("chromium is not installed: run `sudo apt-get install -y chromium` or set IMPACT_CHROMIUM to a Chromium or Chrome binary")

// Chromium returns the browser that renders the brief: $IMPACT_CHROMIUM,
// else the first of chromium, chromium-browser and google-chrome found on
// the PATH.
func Chromium() (string, error) {
	if p := os.Getenv("IMPACT_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// allocatorOptions runs Chromium headless, sandbox off (it runs as root in
// containers and CI), without network chatter, profile in dir.
func allocatorOptions(browser, dir string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1100, 900),
	}
}

// consoleRecorder collects the console errors, warnings, failed
// assertions and uncaught exceptions of the page in ctx.
type consoleRecorder struct {
	mu       sync.Mutex
	messages []string
	done     chan struct{}
}

func recordConsole(ctx context.Context) *consoleRecorder {
	r := &consoleRecorder{done: make(chan struct{})}
	messages := chromedp.Console(ctx)
	go func() {
		defer close(r.done)
		for m, err := range messages {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					r.add("console stream: " + err.Error())
				}
				return
			}
			if m.IsException() || m.Type == "error" || m.Type == "warning" || m.Type == "assert" {
				r.add(string(m.Type) + ": " + m.String())
			}
		}
	}()
	return r
}

func (r *consoleRecorder) add(s string) {
	r.mu.Lock()
	r.messages = append(r.messages, s)
	r.mu.Unlock()
}

// stop waits a moment for late messages, then for the stream to end once
// cancel stops the browser, and returns what was recorded.
func (r *consoleRecorder) stop(cancel context.CancelFunc) []string {
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.messages...)
}

// Printed is a brief rendered by Chromium.
type Printed struct {
	PDF     []byte
	Console []string // console errors, warnings and exceptions while rendering
}

// PrintPDF opens the brief at htmlFile in headless Chromium and prints it
// to PDF (A4, backgrounds, page numbers in the footer). A brief with
// console errors still prints; the caller decides (impact report --mail
// refuses to send it).
func PrintPDF(ctx context.Context, htmlFile string) (Printed, error) {
	browser, err := Chromium()
	if err != nil {
		return Printed{}, err
	}
	abs, err := filepath.Abs(htmlFile)
	if err != nil {
		return Printed{}, fmt.Errorf("print brief: %w", err)
	}
	dir, err := os.MkdirTemp("", "impact-chromium-")
	if err != nil {
		return Printed{}, fmt.Errorf("print brief: %w", err)
	}
	defer os.RemoveAll(dir)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, allocatorOptions(browser, dir)...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	console := recordConsole(bctx)
	tctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	defer tcancel()
	if err := chromedp.Do(tctx, chromedp.Navigate("file://"+abs), chromedp.WaitReady("#methods")); err != nil {
		return Printed{}, fmt.Errorf("open %s in chromium: %w", htmlFile, err)
	}
	pdf, err := chromedp.Run(tctx, chromedp.PrintToPDF(
		chromedp.PDFPaper(chromedp.PaperA4),
		chromedp.PDFMargin(0.5),
		chromedp.PDFPrintBackground(),
		chromedp.PDFFooterTemplate(`<div style="font-size:8px;width:100%;text-align:center"><span class="pageNumber"></span> / <span class="totalPages"></span></div>`),
	))
	if err != nil {
		return Printed{}, fmt.Errorf("print %s to PDF: %w", htmlFile, err)
	}
	return Printed{PDF: pdf, Console: console.stop(cancel)}, nil
}
