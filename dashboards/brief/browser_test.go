package brief

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/secimpact/impact/internal/pipelinetest"
	"github.com/secimpact/impact/internal/simulate"
)

// chromium finds the browser or fails the test with the command that
// installs it: a brief nobody opened in a browser is not tested.
func chromium(t *testing.T) string {
	t.Helper()
	p, err := Chromium()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// artifactDir is where test artifacts (the screenshot) are kept:
// $IMPACT_ARTIFACTS, else os.TempDir()/impact-artifacts.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("IMPACT_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "impact-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type pageResult struct {
	charts      int
	chartBoxes  []float64 // rendered widths of the charts
	headlines   string
	scorecard   int
	comparison  int // rows of the period-over-period table
	console     []string
	screenshot  []byte
	title       string
	overflowing []string
}

// openInChromium loads file in headless Chromium, collecting console
// messages, exceptions and browser log errors while it renders.
func openInChromium(t *testing.T, file string) pageResult {
	t.Helper()
	actx, cancel := chromedp.NewExecAllocator(context.Background(), allocatorOptions(chromium(t), t.TempDir())...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	var res pageResult
	console := recordConsole(ctx)

	tctx, tcancel := context.WithTimeout(ctx, 90*time.Second)
	defer tcancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file), chromedp.WaitReady("#methods")); err != nil {
		t.Fatalf("open %s in chromium: %v", file, err)
	}
	var err error
	get := func(name string, f func() error) {
		if err == nil {
			if e := f(); e != nil {
				err = errors.New(name + ": " + e.Error())
			}
		}
	}
	get("charts", func() (e error) {
		res.charts, e = chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart").length`))
		return
	})
	get("chart widths", func() (e error) {
		res.chartBoxes, e = chromedp.Run(tctx, chromedp.Evaluate[[]float64](`[...document.querySelectorAll("svg.chart")].map(s => s.getBoundingClientRect().width)`))
		return
	})
	get("headlines", func() (e error) { res.headlines, e = chromedp.Run(tctx, chromedp.Text("#headlines")); return })
	get("scorecard", func() (e error) {
		res.scorecard, e = chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("#scorecard table tr").length - 1`))
		return
	})
	get("title", func() (e error) { res.title, e = chromedp.Run(tctx, chromedp.Title()); return })
	get("comparison", func() (e error) {
		res.comparison, e = chromedp.Run(tctx, chromedp.Evaluate[int](`document.querySelectorAll("#comparison tr[data-metric]").length`))
		return
	})
	get("overflow", func() (e error) {
		// Elements wider than the page would be cut off when printed.
		res.overflowing, e = chromedp.Run(tctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("body *")].filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1).map(el => el.tagName + "." + el.className)`))
		return
	})
	get("screenshot", func() (e error) { res.screenshot, e = chromedp.Run(tctx, chromedp.FullScreenshot(100)); return })
	if err != nil {
		t.Fatal(err)
	}
	// Let late console messages arrive, then stop the browser and the reader.
	res.console = console.stop(cancel)
	return res
}

// TestBriefInChromium renders the brief of a simulated organisation's last
// quarter, opens it in headless Chromium and checks that it renders without
// console errors, shows the four charts and the key figures, and keeps a
// PNG screenshot as a test artifact.
func TestBriefInChromium(t *testing.T) {
	s := pipelinetest.Load(t, simulate.Options{Seed: 5, Days: 200})
	ctx := context.Background()
	p := LastFullQuarter(s.Truth.End)
	d, err := Load(ctx, s.Conn, p, LoadOptions{Organisation: "Simulated organisation (seed 5)", Now: s.Truth.End})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, d); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "brief.html")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	res := openInChromium(t, file)

	shot := filepath.Join(artifactDir(t), "brief.png")
	if err := os.WriteFile(shot, res.screenshot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the rendered brief: %s (%d bytes)", shot, len(res.screenshot))
	if html := filepath.Join(artifactDir(t), "brief.html"); os.WriteFile(html, buf.Bytes(), 0o644) == nil {
		t.Logf("the brief itself: %s", html)
	}

	if len(res.console) > 0 {
		t.Errorf("console errors while rendering:\n  %s", strings.Join(res.console, "\n  "))
	}
	if res.charts != 5 {
		t.Errorf("%d charts (svg.chart) rendered, want 5", res.charts)
	}
	for i, w := range res.chartBoxes {
		if w < 200 {
			t.Errorf("chart %d rendered %.0f px wide", i, w)
		}
	}
	if len(res.overflowing) > 0 {
		t.Errorf("elements wider than the page: %v", res.overflowing)
	}
	if !bytes.HasPrefix(res.screenshot, []byte("\x89PNG")) {
		t.Errorf("screenshot is not a PNG")
	}
	if res.scorecard < 1 {
		t.Errorf("scorecard table has no rows")
	}
	if !strings.Contains(res.title, p.From.Format("2 Jan 2006")) {
		t.Errorf("title %q does not name the period", res.title)
	}
	// Key figures as rendered, formatted as the page formats them.
	for _, f := range d.Headlines {
		// The evidence label is upper-cased by CSS, which innerText applies.
		want := []string{f.Title, "n = " + strconv.FormatInt(f.N, 10), strings.ToUpper(f.Evidence)}
		if !f.Suppressed {
			if f.Unit == "USD" {
				want = append(want, formatUSD(f.Estimate))
			} else {
				want = append(want, formatNumber(f.Estimate)+" "+f.Unit, formatInterval(f))
			}
		}
		for _, w := range want {
			if !strings.Contains(res.headlines, w) {
				t.Errorf("rendered headlines lack %q (figure %q)", w, f.Title)
			}
		}
	}
}

// TestComparedBriefsInChromium opens the company brief and a department's
// one-page version of a simulated organisation's last quarter, each
// compared with the quarter before, in headless Chromium: no console
// errors, one comparison row per headline figure, no element wider than
// the page; then prints the compared brief to PDF as impact report --mail
// does.
func TestComparedBriefsInChromium(t *testing.T) {
	s := pipelinetest.Load(t, simulate.Options{Seed: 6, Days: 200})
	ctx := context.Background()
	q := LastFullQuarter(s.Truth.End)
	for _, dept := range []string{"", "Engineering"} {
		opts := LoadOptions{Organisation: "Example Corp", Department: dept}
		cur, err := Load(ctx, s.Conn, q, opts)
		if err != nil {
			t.Fatal(err)
		}
		prev, err := Load(ctx, s.Conn, q.Previous(), opts)
		if err != nil {
			t.Fatal(err)
		}
		cur.Comparison = Compare(cur, prev, "previous quarter ("+q.Previous().Name()+")")
		file := filepath.Join(t.TempDir(), "brief.html")
		var buf bytes.Buffer
		if err := Render(&buf, cur); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		res := openInChromium(t, file)
		if len(res.console) > 0 {
			t.Errorf("department %q: console: %v", dept, res.console)
		}
		if res.comparison != len(cur.Headlines) || res.comparison == 0 {
			t.Errorf("department %q: %d comparison rows, %d headline figures", dept, res.comparison, len(cur.Headlines))
		}
		if len(res.overflowing) > 0 {
			t.Errorf("department %q: wider than the page: %v", dept, res.overflowing)
		}
		if dept != "" && (res.charts != 0 || !strings.Contains(res.title, dept)) {
			t.Errorf("department version: %d charts, title %q", res.charts, res.title)
		}
		if err := os.WriteFile(filepath.Join(artifactDir(t), "brief-compared"+strings.ToLower(dept)+".png"), res.screenshot, 0o644); err != nil {
			t.Fatal(err)
		}
		if dept == "" {
			printed, err := PrintPDF(ctx, file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(printed.PDF, []byte("%PDF-")) || len(printed.PDF) < 10000 || len(printed.Console) > 0 {
				t.Errorf("PDF: %d bytes starting %q, console %v", len(printed.PDF), printed.PDF[:min(8, len(printed.PDF))], printed.Console)
			}
		}
	}
}
