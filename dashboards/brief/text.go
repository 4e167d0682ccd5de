package brief

import (
	"fmt"
	"strings"
)

// Text is the brief's headline figures (and changes, when compared) as
// plain text: the alternative of a mailed brief for readers that show no
// HTML. The PDF and the HTML carry the rest.
func Text(d Data) string {
	var b strings.Builder
	title := "Security business impact"
	if d.Department != "" {
		title = "Security scorecard: " + d.Department
	}
	fmt.Fprintf(&b, "%s, %s to %s\n\n", title, d.From.UTC().Format("2 Jan 2006"), d.To.UTC().AddDate(0, 0, -1).Format("2 Jan 2006"))
	for _, f := range d.Headlines {
		switch {
		case f.Suppressed:
			fmt.Fprintf(&b, "- %s: n too small (n = %d)\n", f.Title, f.N)
		case f.Unit == "USD":
			fmt.Fprintf(&b, "- %s: %s (n = %d)\n", f.Title, formatUSD(f.Estimate), f.N)
		default:
			fmt.Fprintf(&b, "- %s: %s %s, %s (n = %d, %s)\n", f.Title, formatNumber(f.Estimate), f.Unit, formatInterval(f), f.N, f.Evidence)
		}
	}
	if c := d.Comparison; c != nil {
		fmt.Fprintf(&b, "\nChange since the %s:\n", c.Label)
		for _, ch := range c.Changes {
			verdict := "within noise"
			switch {
			case ch.Note != "":
				verdict = ch.Note
			case ch.Distinguishable:
				verdict = "more than noise"
			}
			fmt.Fprintf(&b, "- %s: %s (%s)\n", ch.Title, formatChange(ch), verdict)
		}
	}
	b.WriteString("\nThe full brief is attached as a PDF. Figures are associations, not proof of cause; each comes with its n and 95% interval.\n")
	return b.String()
}
