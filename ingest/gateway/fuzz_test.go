package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources/hubspot"
	"github.com/secimpact/impact/schemas"
)

// fuzzEvents are the X-GitHub-Event / X-Gitlab-Event values the seeds
// use; the fuzzer varies them too.
var fuzzEvents = map[string][]string{
	GitHub: {"code_scanning_alert", "dependabot_alert", "secret_scanning_alert", "repository_vulnerability_alert",
		"deployment", "deployment_status", "workflow_job", "workflow_run", "deployment_review", "deployment_protection_rule", "ping", "push"},
	GitLab: {"Job Hook", "Pipeline Hook", "Deployment Hook", "Vulnerability Hook", "Push Hook"},
}

// FuzzMappers runs arbitrary bodies, as if authenticated, through every
// source's mapper exactly as the gateway does (headers, the HubSpot API
// fake answering every deal): whatever the body, no panic; a mapper error
// is the 400 of a payload it cannot read; and every event it maps builds
// its Kafka messages and passes the contract decoder ingest uses — never
// the gateway's 500, never an event ingest would reject. The seeds are
// every vendor payload the tests know (../shared/fixtures and the mapper
// packages' testdata); scripts/test.sh fuzzes briefly beyond them.
func FuzzMappers(f *testing.F) {
	seeds := map[string][]string{
		GitHub:    {"../../../shared/fixtures/github/*.json", "../sources/github/testdata/*.json"},
		GitLab:    {"../../../shared/fixtures/gitlab/*.json", "../sources/gitlab/testdata/*.json"},
		PagerDuty: {"../../../shared/fixtures/pagerduty/*.json", "../sources/pagerduty/testdata/*.json"},
		Zendesk:   {"../../../shared/fixtures/zendesk/*.json", "../sources/zendesk/testdata/*.json"},
		HubSpot:   {"../sources/hubspot/testdata/webhook.*.json"},
	}
	for i, s := range Sources {
		events := append(fuzzEvents[s], "")
		for _, glob := range seeds[s] {
			files, _ := filepath.Glob(glob)
			if len(files) == 0 {
				f.Fatalf("no seeds at %s", glob)
			}
			for _, file := range files {
				b, err := os.ReadFile(file)
				if err != nil {
					f.Fatal(err)
				}
				for _, ev := range events {
					if s == GitHub && !strings.HasPrefix(filepath.Base(file), ev+".") && ev != "" {
						continue // the event each GitHub payload is for, and none
					}
					f.Add(uint8(i), ev, b)
				}
			}
		}
	}
	deal, err := os.ReadFile("../sources/hubspot/testdata/api.deal.json")
	if err != nil {
		f.Fatal(err)
	}
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(deal)
	}))
	defer crm.Close()
	cfg := Config{Kafka: testKafkaCfg(), Secrets: testSecrets, HubSpot: &hubspot.Client{BaseURL: crm.URL, Token: "t"}}
	g := &Gateway{cfg: cfg}
	srcs := newSources(&cfg, testMapping(f))
	received := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	dec := &schemas.Decoder{}
	f.Fuzz(func(t *testing.T, which uint8, event string, body []byte) {
		name := Sources[int(which)%len(Sources)]
		h := http.Header{}
		h.Set("X-GitHub-Event", event)
		h.Set("X-Gitlab-Event", event)
		meta := srcs[name].meta(h)
		res, err := srcs[name].mapFn(context.Background(), meta, body, received)
		if err != nil {
			return // answered 400, the payload kept raw
		}
		switch res.Outcome() {
		case "ignored":
			if res.Ignored == "" {
				t.Errorf("%s: ignored without a reason", name)
			}
		case "unmapped":
			for _, u := range res.Unmapped {
				if u.Key == "" {
					t.Errorf("%s: unmapped value without its mapping key: %+v", name, u)
				}
			}
		}
		msgs, err := g.messages(name, meta, body, received, res.Events)
		var rej *schemas.Rejection
		if errors.As(err, &rej) && rej.Rule == "time_window" {
			return // an event time outside the configured window: answered 400, kept raw
		}
		if err != nil {
			t.Fatalf("%s: mapped an event the contract refuses: %v", name, err)
		}
		for _, m := range msgs[1:] {
			if _, err := dec.Decode(m.Value, []schemas.Header{{Key: headerContentType, Value: []byte("application/cloudevents+json")}}); err != nil {
				t.Errorf("%s: mapped an event ingest rejects: %v\n%s", name, err, m.Value)
			}
		}
	})
}
