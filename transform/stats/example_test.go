package stats_test

import (
	"fmt"

	"github.com/secimpact/impact/transform/stats"
)

// Win rates of deals with fast and slow security reviews, and the
// difference with its Newcombe interval (Newcombe 1998, example (a)).
func ExampleNewcombeDiff() {
	fast := stats.Wilson(56, 70, 0.95)
	slow := stats.Wilson(48, 80, 0.95)
	d := stats.NewcombeDiff(56, 70, 48, 80, 0.95)
	fmt.Printf("fast %.3f [%.3f, %.3f]\n", fast.Value, fast.Low, fast.High)
	fmt.Printf("slow %.3f [%.3f, %.3f]\n", slow.Value, slow.Low, slow.High)
	fmt.Printf("fast-slow %.3f [%.4f, %.4f] %s\n", d.Value, d.Low, d.High, stats.Rules{}.Evidence(stats.Descriptive, 70, 80))
	// Output:
	// fast 0.800 [0.692, 0.877]
	// slow 0.600 [0.490, 0.700]
	// fast-slow 0.200 [0.0524, 0.3339] descriptive
}

// The same difference pooled and stratified by segment: the stratified
// Mantel-Haenszel estimate removes the segment mix.
func ExampleMantelHaenszelRD() {
	strata := []stats.Stratum{
		{X1: 90, N1: 900, X0: 0, N0: 100},   // segment A: 10% vs 0%
		{X1: 60, N1: 100, X0: 450, N0: 900}, // segment B: 60% vs 50%
	}
	pooled := stats.NewcombeDiff(150, 1000, 450, 1000, 0.95)
	mh := stats.MantelHaenszelRD(strata, 0.95)
	fmt.Printf("pooled %+.2f, stratified %+.2f\n", pooled.Value, mh.Value)
	// Output:
	// pooled -0.30, stratified +0.10
}
