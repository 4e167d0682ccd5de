package transform_test

import (
	"testing"
	"time"

	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/transform"
)

// TestFullRefreshStartsLongestChainsFirst: a full refresh, which builds
// two models at a time, starts findings and deployment_facts (each waited
// on by other models) before deal_facts and ticket_facts (waited on by
// impact_stats only), whatever the order the models are listed in.
func TestFullRefreshStartsLongestChainsFirst(t *testing.T) {
	t.Parallel()
	_, conn := openDB(t)
	truth, _ := loadSimulation(t, conn, simulate.Options{Seed: 31, Days: 30}, 1, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Time{})
	rep := refresh(t, conn, transform.Options{AsOf: truth.End})
	if rep.Mode != transform.Full {
		t.Fatalf("first refresh is %s, want full", rep.Mode)
	}
	began := map[string]time.Duration{}
	for _, tr := range rep.Tables {
		began[tr.Table] = tr.Began
	}
	for _, first := range []string{"findings", "deployment_facts"} {
		for _, later := range []string{"deal_facts", "ticket_facts", "dora_changes"} {
			if began[first] >= began[later] {
				t.Errorf("%s began at %v, not before %s (%v)", first, began[first], later, began[later])
			}
		}
	}
}
