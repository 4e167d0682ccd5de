package gateway

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secimpact/impact/ingest/sources/sourcetest"
)

// TestSharedFixturesOverHTTP posts every published example payload in
// ../shared/fixtures/{github,gitlab,pagerduty,zendesk}, signed, to the
// gateway: each is answered 202 (mapped) or 200 (ignored, with a reason),
// never an error.
func TestSharedFixturesOverHTTP(t *testing.T) {
	e := newEnv(t, nil)
	gitlabEvents := map[string]string{"build": "Job Hook", "job": "Job Hook", "deployment": "Deployment Hook"}
	for _, vendor := range []string{GitHub, GitLab, PagerDuty, Zendesk} {
		for _, path := range sourcetest.SharedFiles(t, vendor) {
			name := strings.TrimSuffix(filepath.Base(path), ".json")
			t.Run(vendor+"/"+name, func(t *testing.T) {
				hdr := map[string]string{}
				switch vendor {
				case GitHub:
					event, _, _ := strings.Cut(name, ".")
					hdr["X-GitHub-Event"], hdr["X-GitHub-Delivery"] = event, "fixture-"+name
				case GitLab:
					hdr["X-Gitlab-Event"] = gitlabEvents[name]
				}
				code, _, rep := e.post(t, "/webhooks/"+vendor, vendor, sharedFixture(t, vendor, filepath.Base(path)), hdr)
				switch {
				case code == http.StatusAccepted && rep["outcome"] == "accepted":
				case code == http.StatusOK && rep["outcome"] == "ignored" && rep["reason"] != "":
				default:
					t.Errorf("%d %v", code, rep)
				}
			})
		}
	}
}
