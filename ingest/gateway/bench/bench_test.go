package bench

import (
	"context"
	"testing"
	"time"
)

// TestRun runs the benchmark on a small count: every request is accepted
// and the figures are consistent. (Performance is reported by `impact bench
// gateway`, not asserted here.)
func TestRun(t *testing.T) {
	res, err := Run(context.Background(), Options{Requests: 600, Concurrency: 16, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 600 || res.Errors != 0 || res.Events != 600 || res.RPS <= 0 ||
		!(0 < res.P50MS && res.P50MS <= res.P90MS && res.P90MS <= res.P99MS && res.P99MS <= res.MaxMS) {
		t.Errorf("%+v", res)
	}
	// The count bound holds with more clients than requests left.
	res, err = Run(context.Background(), Options{Requests: 10, Concurrency: 32})
	if err != nil || res.Requests != 10 {
		t.Errorf("%v %+v", err, res)
	}
}
