package simulate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/golden"
	"github.com/secimpact/impact/schemas"
)

// messy are options with much more delivery mess than the defaults, so a
// short run exercises every kind of it.
var messy = Options{Seed: 42, Days: 200, Scale: 0.5, Params: Params{
	LateShare: 0.1, DuplicateShare: 0.05, InvalidShare: 0.01,
}}

func collect(t testing.TB, opts Options) ([]Record, *Truth) {
	t.Helper()
	var recs []Record
	truth, err := Run(context.Background(), opts, func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return recs, truth
}

// wantRule is the schemas.Rejection rule each planted reason must produce.
var wantRule = map[string]string{
	"missing_field": "required",
	"wrong_type":    "type",
	"bad_timestamp": "format",
	"unknown_type":  "unknown_type",
	"not_json":      "json",
}

// TestDecodeEveryLine runs every generated line through the contract's
// decoder: valid events must pass with the subject as entity id, planted
// invalid ones must be rejected for their planted reason.
func TestDecodeEveryLine(t *testing.T) {
	recs, truth := collect(t, messy)
	rejected := map[string]int{}
	for i, r := range recs {
		e, err := schemas.Decode(r.Value, nil)
		if r.Invalid == "" {
			if err != nil {
				t.Fatalf("line %d: valid event rejected: %v\n%s", i+1, err, r.Value)
			}
			if e.Subject != r.Subject || e.Payload.EntityID() != r.Subject || e.Type != r.Type {
				t.Fatalf("line %d: subject %q entity %q type %q, record says %q %q", i+1, e.Subject, e.Payload.EntityID(), e.Type, r.Subject, r.Type)
			}
			if !strings.HasSuffix(e.DataSchema, "/v1") {
				t.Fatalf("line %d: dataschema %q", i+1, e.DataSchema)
			}
			continue
		}
		var rej *schemas.Rejection
		ok := errors.As(err, &rej)
		if !ok {
			t.Fatalf("line %d: planted %s accepted (err %v)\n%s", i+1, r.Invalid, err, r.Value)
		}
		if rej.Rule != wantRule[r.Invalid] {
			t.Errorf("line %d: planted %s rejected as %s/%s: %s", i+1, r.Invalid, rej.Field, rej.Rule, rej.Detail)
		}
		rejected[r.Invalid]++
	}
	if !reflect.DeepEqual(rejected, truth.Delivery.InvalidByReason) {
		t.Errorf("rejected by reason %v, truth says %v", rejected, truth.Delivery.InvalidByReason)
	}
	for _, reason := range InvalidReasons {
		if rejected[reason] == 0 {
			t.Errorf("no %s line planted", reason)
		}
	}
}

// TestDeterministic: the same options give byte-identical output, pinned by
// a golden hash (go test -update rewrites it); another seed differs.
func TestDeterministic(t *testing.T) {
	cases := []Options{
		{Seed: 7, Days: 60, Scale: 0.3},
		{Seed: 8, Days: 60, Scale: 0.3},
		messy,
	}
	var got bytes.Buffer
	hashes := map[string]bool{}
	for _, o := range cases {
		var a, b bytes.Buffer
		if _, err := WriteJSONL(context.Background(), &a, o); err != nil {
			t.Fatal(err)
		}
		if _, err := WriteJSONL(context.Background(), &b, o); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("seed %d: two runs differ", o.Seed)
		}
		sum := sha256.Sum256(a.Bytes())
		h := hex.EncodeToString(sum[:])
		if hashes[h] {
			t.Errorf("seed %d: same output as another seed", o.Seed)
		}
		hashes[h] = true
		fmt.Fprintf(&got, "seed=%d days=%d scale=%g lines=%d sha256=%s\n", o.Seed, o.Days, o.Scale, bytes.Count(a.Bytes(), []byte("\n")), h)
	}
	golden.Check(t, filepath.Join("testdata", "output.sha256"), got.Bytes())
}

// TestDeliveryOrder: lines come in delivery order, which is not event time
// order; no event is later than End; times within an entity are unique.
func TestDeliveryOrder(t *testing.T) {
	recs, truth := collect(t, messy)
	end := truth.End
	type key struct{ subject, t string }
	seen := map[string]bool{}
	entityTimes := map[key]string{}
	var prev time.Time
	backwards := 0
	for _, r := range recs {
		if r.Invalid != "" {
			continue
		}
		e, err := schemas.Decode(r.Value, nil)
		if err != nil {
			t.Fatal(err)
		}
		if e.Time.After(end) {
			t.Fatalf("event %s at %v after end %v", e.ID, e.Time, end)
		}
		if e.Time.Before(prev) {
			backwards++
		}
		prev = e.Time
		id := e.Source + "\x00" + e.ID
		if seen[id] {
			continue // duplicate delivery
		}
		seen[id] = true
		k := key{e.Payload.Table() + e.Payload.EntityID(), e.Time.String()}
		if other, ok := entityTimes[k]; ok {
			t.Fatalf("entity %s has two events at %v: %s and %s", e.Payload.EntityID(), e.Time, other, e.ID)
		}
		entityTimes[k] = e.ID
	}
	if backwards == 0 || truth.Delivery.OutOfOrder == 0 || truth.Delivery.Delayed == 0 || truth.Delivery.Duplicates == 0 {
		t.Errorf("no mess: %d lines earlier than their predecessor, truth %+v", backwards, truth.Delivery)
	}
	if len(seen) != truth.Delivery.ValidEvents || len(recs) != truth.Delivery.Lines {
		t.Errorf("distinct events %d lines %d, truth %d %d", len(seen), len(recs), truth.Delivery.ValidEvents, truth.Delivery.Lines)
	}
}

var (
	defaultOnce  sync.Once
	defaultTruth *Truth
)

// defaultRun is one run at the default volume, shared by the tests of the
// planted effects.
func defaultRun(t *testing.T) *Truth {
	defaultOnce.Do(func() {
		var err error
		defaultTruth, err = Run(context.Background(), Options{}, func(Record) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
	})
	if defaultTruth == nil {
		t.Fatal("default run failed")
	}
	return defaultTruth
}

// TestDefaultVolume: the default run is demo sized and every family present.
func TestDefaultVolume(t *testing.T) {
	tr := defaultRun(t)
	if n := tr.Delivery.Lines; n < 100_000 || n > 300_000 {
		t.Errorf("default run has %d lines, want 100k-300k", n)
	}
	for _, typ := range schemas.Types() {
		if tr.Delivery.EventsByType[typ] == 0 {
			t.Errorf("no %s event", typ)
		}
	}
	for typ := range tr.Delivery.EventsByType {
		if !slices.Contains(schemas.Types(), typ) {
			t.Errorf("generated unknown type %s", typ)
		}
	}
}

// TestPlantedEffects checks that the realised data shows the planted
// effects at the default volume, and that the confounder makes the pooled
// fast-vs-slow difference visibly larger than the stratified one.
func TestPlantedEffects(t *testing.T) {
	tr := defaultRun(t)
	p := tr.Params
	d := tr.Deals
	if diff := d.FastMinusSlowStratified - p.SlowReviewPenalty; diff < -0.03 || diff > 0.03 {
		t.Errorf("stratified fast-slow %.3f, planted %.3f", d.FastMinusSlowStratified, p.SlowReviewPenalty)
	}
	if d.FastMinusSlowPooled-d.FastMinusSlowStratified < 0.04 {
		t.Errorf("pooled %.3f not visibly above stratified %.3f: the confounder is too weak", d.FastMinusSlowPooled, d.FastMinusSlowStratified)
	}
	for _, b := range []string{BucketFast, BucketSlow} {
		if d.ByBucket[b].N < 200 {
			t.Errorf("only %d %s deals", d.ByBucket[b].N, b)
		}
	}
	dep := tr.Deployments
	if delay := dep.LeadTimeBlocked.MeanHours - dep.LeadTimeUnblocked.MeanHours; delay < p.GateDelayHours-1.5 || delay > p.GateDelayHours+1.5 {
		t.Errorf("gate delay %.1f h, planted %.1f h", delay, p.GateDelayHours)
	}
	tk := tr.Tickets
	if drop := tk.CSATBaseline.Mean - tk.CSATAfterIncident.Mean; drop < p.CSATDrop-0.08 || drop > p.CSATDrop+0.08 {
		t.Errorf("CSAT drop %.2f, planted %.2f", drop, p.CSATDrop)
	}
	if tk.CSATAfterIncident.N < 200 {
		t.Errorf("only %d rated tickets after incidents", tk.CSATAfterIncident.N)
	}
	// Teams with a fix factor well below 1 meet the SLA far more often.
	fast, slow := tr.Findings.ByTeam["payments"].Compliance, tr.Findings.ByTeam["ml"].Compliance
	if fast-slow < 0.3 {
		t.Errorf("SLA compliance payments %.2f vs ml %.2f: teams do not differ", fast, slow)
	}
	if tr.Findings.SecurityDebt == 0 {
		t.Error("no security debt")
	}
	if len(tr.Reorgs) != len(reorgPlan) {
		t.Errorf("reorgs %+v", tr.Reorgs)
	}
}

// TestJSONLMatchesRun: WriteJSONL writes exactly the records Run emits.
func TestJSONLMatchesRun(t *testing.T) {
	o := Options{Seed: 3, Days: 30, Scale: 0.2}
	recs, t1 := collect(t, o)
	var buf bytes.Buffer
	t2, err := WriteJSONL(context.Background(), &buf, o)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	i := 0
	for sc.Scan() {
		if i >= len(recs) || !bytes.Equal(sc.Bytes(), recs[i].Value) {
			t.Fatalf("line %d differs", i+1)
		}
		i++
	}
	if i != len(recs) || !reflect.DeepEqual(t1, t2) {
		t.Fatalf("lines %d vs %d records, truths equal %v", i, len(recs), reflect.DeepEqual(t1, t2))
	}
}

// TestTruthGolden pins the truth JSON of a small run (go test -update
// rewrites it), so any change of the contract with transform/ shows in review.
func TestTruthGolden(t *testing.T) {
	_, truth := collect(t, Options{Seed: 7, Days: 60, Scale: 0.3})
	got, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden.Check(t, filepath.Join("testdata", "truth.golden.json"), got)
}
