package brief

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Bar is one bar of a chart: a value and, when known, its interval.
type Bar struct {
	Label    string
	Value    float64
	Low      float64 // interval; equal to Value when there is none
	High     float64
	N        int64
	Muted    bool // below the minimum n: drawn grey
	HasRange bool
}

var (
	barColor   = color.RGBA{R: 0x1f, G: 0x5f, B: 0x99, A: 0xff}
	mutedColor = color.RGBA{R: 0xb8, G: 0xb8, B: 0xb8, A: 0xff}
)

// barChart renders bars with their intervals as an inline SVG. The chart
// is drawn server-side so the brief opens without any network or script.
func barChart(title, yLabel string, bars []Bar, horizontal bool) (template.HTML, error) {
	if len(bars) == 0 {
		return "", nil
	}
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	labels := make([]string, len(bars))
	for i, b := range bars {
		labels[i] = b.Label
		if b.N > 0 {
			labels[i] = fmt.Sprintf("%s (n=%d)", b.Label, b.N)
		}
	}
	width := vg.Points(28)
	if horizontal {
		// Thinner than the 30pt row pitch below, so bars never overlap.
		width = vg.Points(16)
	}
	// A group without data (a quarter before the first deal, say) has a
	// NaN figure: drawn as no bar, and kept out of the axis range (a NaN
	// range makes gonum's tick search loop for ever).
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	maxV := 0.0
	for i, b := range bars {
		vals := plotter.Values{}
		for j := range bars {
			if j == i && finite(b.Value) {
				vals = append(vals, b.Value)
			} else {
				vals = append(vals, 0)
			}
		}
		bc, err := plotter.NewBarChart(vals, width)
		if err != nil {
			return "", fmt.Errorf("chart %q: %w", title, err)
		}
		bc.Horizontal = horizontal
		bc.Color = barColor
		if b.Muted {
			bc.Color = mutedColor
		}
		bc.LineStyle.Width = 0
		p.Add(bc)
		for _, v := range []float64{b.Value, b.High} {
			if finite(v) {
				maxV = math.Max(maxV, v)
			}
		}
	}
	if maxV == 0 {
		maxV = 1
	}
	// Intervals as error bars over each bar.
	var pts plotter.XYs
	var errs plotter.YErrors
	var xerrs plotter.XErrors
	for i, b := range bars {
		if !b.HasRange || !finite(b.Value) || !finite(b.Low) || !finite(b.High) {
			continue
		}
		if horizontal {
			pts = append(pts, plotter.XY{X: b.Value, Y: float64(i)})
			xerrs = append(xerrs, struct{ Low, High float64 }{b.Value - b.Low, b.High - b.Value})
		} else {
			pts = append(pts, plotter.XY{X: float64(i), Y: b.Value})
			errs = append(errs, struct{ Low, High float64 }{b.Value - b.Low, b.High - b.Value})
		}
	}
	if len(pts) > 0 {
		var err error
		if horizontal {
			var eb *plotter.XErrorBars
			eb, err = plotter.NewXErrorBars(struct {
				plotter.XYer
				plotter.XErrorer
			}{pts, xerrs})
			if err == nil {
				eb.Width = vg.Points(1.2)
				p.Add(eb)
			}
		} else {
			var eb *plotter.YErrorBars
			eb, err = plotter.NewYErrorBars(struct {
				plotter.XYer
				plotter.YErrorer
			}{pts, errs})
			if err == nil {
				eb.Width = vg.Points(1.2)
				p.Add(eb)
			}
		}
		if err != nil {
			return "", fmt.Errorf("chart %q intervals: %w", title, err)
		}
	}
	if horizontal {
		p.NominalY(labels...)
		p.X.Label.Text = yLabel
		p.X.Min = 0
		p.X.Max = maxV * 1.1
		// The only horizontal chart is money: $400k reads better than 400000.
		p.X.Tick.Marker = tidyTicks{formatUSD}
	} else {
		p.NominalX(labels...)
		p.Y.Label.Text = yLabel
		p.Y.Min = 0
		p.Y.Max = maxV * 1.15
		p.Y.Tick.Marker = tidyTicks{formatTick}
	}
	p.Add(plotter.NewGrid())

	// Narrow charts for few bars, so two bars do not stand a page apart.
	w, h := vg.Points(math.Min(520, 160+90*float64(len(bars)))), vg.Points(260)
	if horizontal {
		w = vg.Points(520)
		h = vg.Points(float64(70 + 30*len(bars)))
	}
	c := vgsvg.New(w, h)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("chart %q: write svg: %w", title, err)
	}
	svg := buf.String()
	// Drop the XML prolog: the SVG is inlined into HTML.
	if i := strings.Index(svg, "<svg"); i > 0 {
		svg = svg[i:]
	}
	svg = strings.Replace(svg, "<svg", `<svg role="img" aria-label="`+template.HTMLEscapeString(title)+`" class="chart"`, 1)
	return template.HTML(svg), nil
}

// tidyTicks relabels gonum's default ticks ("25.00" becomes "25").
type tidyTicks struct{ format func(float64) string }

func (t tidyTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = t.format(ts[i].Value)
		}
	}
	return ts
}

func formatTick(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}
