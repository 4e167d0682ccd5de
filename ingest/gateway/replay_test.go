package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

// TestReplay: deliveries the first mapping could not use (a job not yet
// named as a gate) are kept on the raw topic; after the mapping file is
// corrected, a replay maps them, and events mapped before keep their ids.
func TestReplay(t *testing.T) {
	e := newEnv(t, nil)
	job := sourcetest.Edit(t, sharedFixture(t, "github", "workflow_job.waiting.json"), map[string]any{
		"action": "completed", "workflow_job.status": "completed", "workflow_job.conclusion": "failure",
		"workflow_job.completed_at": "2023-04-19T21:14:00Z"})
	code, _, rep := e.post(t, "/webhooks/github", GitHub, job, map[string]string{"X-GitHub-Event": "workflow_job", "X-GitHub-Delivery": "r-1"})
	if code != http.StatusOK || rep["outcome"] != "ignored" {
		t.Fatalf("%d %v", code, rep)
	}
	alert := sharedFixture(t, "github", "dependabot_alert.created.json")
	if code, _, rep := e.post(t, "/webhooks/github", GitHub, alert, map[string]string{"X-GitHub-Event": "dependabot_alert", "X-GitHub-Delivery": "r-2"}); code != http.StatusAccepted {
		t.Fatalf("%d %v", code, rep)
	}
	first := readAll(t, e.kafka, e.kafka.Topics.Security)
	if len(first) != 1 {
		t.Fatalf("%d events before the replay", len(first))
	}

	fixed, err := mapping.Parse("fixed.yaml", []byte(testMappingYAML+"gates:\n  - source: github\n    workflow: Env Test\n    job: test\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Mapping = fixed
	ctx := context.Background()
	dry, err := Replay(ctx, cfg, ReplayOptions{Source: GitHub, DryRun: true}, nil)
	if err != nil || dry.Read != 2 || dry.Mapped != 2 || dry.Events != 2 {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	if n := endOffsets(t, e.kafka, e.kafka.Topics.Security); n != 1 {
		t.Fatalf("dry run published: %d", n)
	}
	if st, err := Replay(ctx, cfg, ReplayOptions{Source: GitHub, From: time.Now().Add(time.Hour)}, nil); err != nil || st.Read != 0 {
		t.Fatalf("future --from: %v %+v", err, st)
	}
	st, err := Replay(ctx, cfg, ReplayOptions{Source: GitHub, From: time.Now().Add(-time.Hour)}, nil)
	if err != nil || st.Read != 2 || st.Events != 2 {
		t.Fatalf("replay: %v %+v", err, st)
	}
	ids := map[string]int{}
	types := map[string]bool{}
	for _, m := range readAll(t, e.kafka, e.kafka.Topics.Security) {
		ev, err := schemas.Decode(m.Value, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[ev.ID]++
		types[ev.Type] = true
	}
	if len(ids) != 2 || !types["security.gate.evaluated"] {
		t.Errorf("after replay: %v %v", ids, types)
	}
	// The alert mapped before has the same id again: 2 copies, 1 event.
	dup := 0
	for _, n := range ids {
		if n == 2 {
			dup++
		}
	}
	if dup != 1 {
		t.Errorf("the replayed alert is not the same event: %v", ids)
	}
	if _, err := Replay(ctx, cfg, ReplayOptions{Source: "jira"}, nil); err == nil {
		t.Error("unknown source replayed")
	}
}
