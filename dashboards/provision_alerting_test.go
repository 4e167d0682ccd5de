package dashboards

import "net/http"

// fakeAlerting holds what Grafana's alerting provisioning API stores.
type fakeAlerting struct{}

func newFakeAlerting() *fakeAlerting { return &fakeAlerting{} }

func (f *fakeGrafana) alertingAPI(w http.ResponseWriter, r *http.Request, path string, body map[string]any) {
	f.violate("undocumented request %s %s", r.Method, path)
	reply(w, http.StatusNotFound, map[string]any{"message": "Not found"})
}
