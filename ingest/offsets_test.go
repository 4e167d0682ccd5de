package ingest

import (
	"slices"
	"testing"
)

// TestOffsets drives the commit bookkeeping through reads, batches held
// and stored, gaps in the offsets, rejects and a rebalance, and checks the
// commit offset of every partition after each step.
func TestOffsets(t *testing.T) {
	type step struct {
		op      string // read, hold, release, reset
		p       int
		offset  int64 // read: next offset; hold, release: first offset; reset: partitions
		commits []int64
	}
	tests := []struct {
		name  string
		parts int
		steps []step
	}{
		{"nothing read", 2, []step{
			{"read", 0, -1, []int64{-1, -1}},
		}},
		{"read, nothing to store (all rows already stored)", 2, []step{
			{"read", 1, 10, []int64{-1, 10}},
		}},
		{"a batch holds its first offset back until stored", 1, []step{
			{"hold", 0, 0, nil},
			{"read", 0, 5, []int64{0}},
			{"release", 0, 0, []int64{5}},
		}},
		{"raw and typed batches: the slower one holds", 1, []step{
			{"hold", 0, 0, nil}, // events_raw from 0
			{"hold", 0, 0, nil}, // finding_events from 0
			{"hold", 0, 3, nil}, // deployment_events from 3
			{"read", 0, 6, []int64{0}},
			{"release", 0, 0, []int64{0}}, // raw stored, findings not
			{"release", 0, 0, []int64{3}}, // findings stored, deployments not
			{"release", 0, 3, []int64{6}},
		}},
		{"batches stored out of order", 1, []step{
			{"hold", 0, 10, nil},
			{"hold", 0, 20, nil},
			{"read", 0, 30, []int64{10}},
			{"release", 0, 20, []int64{10}},
			{"release", 0, 10, []int64{30}},
		}},
		{"gaps (compaction, transaction markers) need nothing stored", 1, []step{
			{"hold", 0, 100, nil},
			{"read", 0, 101, []int64{100}},
			{"release", 0, 100, []int64{101}},
			{"read", 0, 250, []int64{250}}, // offsets 101..249 absent from the log
			{"hold", 0, 250, []int64{250}},
			{"read", 0, 251, []int64{250}},
			{"release", 0, 250, []int64{251}},
		}},
		{"a reject waiting for the dead-letter topic holds only its partition", 2, []step{
			{"hold", 0, 4, nil}, // ingest_rejects batch from 4
			{"hold", 1, 0, nil},
			{"read", 0, 5, nil},
			{"read", 1, 9, []int64{4, 0}},
			{"release", 1, 0, []int64{4, 9}},
			{"release", 0, 4, []int64{5, 9}},
		}},
		{"rebalance: a new generation starts clean, with its own partitions", 2, []step{
			{"hold", 0, 0, nil},
			{"read", 0, 7, nil},
			{"read", 1, 3, []int64{0, 3}},
			{"release", 0, 0, []int64{7, 3}},
			{"reset", 0, 3, []int64{-1, -1, -1}},
			{"read", 2, 12, []int64{-1, -1, 12}},
		}},
		{"read never moves back", 1, []step{
			{"read", 0, 9, []int64{9}},
			{"read", 0, 4, []int64{9}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o offsets
			o.reset(tt.parts)
			for i, s := range tt.steps {
				switch s.op {
				case "read":
					o.read(s.p, s.offset)
				case "hold":
					o.hold(s.p, s.offset)
				case "release":
					o.release(s.p, s.offset)
				case "reset":
					if o.pending() {
						t.Fatalf("step %d: reset with batches in flight", i)
					}
					o.reset(int(s.offset))
				}
				if s.commits != nil {
					if got := o.commits(); !slices.Equal(got, s.commits) {
						t.Fatalf("step %d (%s %d %d): commits %v, want %v", i, s.op, s.p, s.offset, got, s.commits)
					}
				}
			}
			if o.pending() {
				if got := o.commits(); slices.Equal(got, o.next) {
					t.Errorf("batches in flight but commits %v equal the read offsets", got)
				}
			}
		})
	}
}
