package stats

// DefaultMinN is the smallest group size a figure is shown for when
// Rules.MinN is zero. Below it intervals are too wide to act on and single
// deals dominate, so the figure is marked Insufficient.
const DefaultMinN = 30

// Rules decides when a figure is shown. The zero value applies
// DefaultMinN.
type Rules struct {
	MinN int // minimum observations in every compared group; 0 means DefaultMinN
}

// Enough reports whether every group size in ns meets the minimum.
func (r Rules) Enough(ns ...int) bool {
	min := r.MinN
	if min <= 0 {
		min = DefaultMinN
	}
	for _, n := range ns {
		if n < min {
			return false
		}
	}
	return len(ns) > 0
}

// Evidence returns level when every group size meets the minimum, and
// Insufficient otherwise.
func (r Rules) Evidence(level string, ns ...int) string {
	if r.Enough(ns...) {
		return level
	}
	return Insufficient
}
