package importer

import (
	"sort"

	"github.com/secimpact/impact/ingest/sources/github"
	"github.com/secimpact/impact/ingest/sources/hubspot"
	"github.com/secimpact/impact/ingest/sources/jira"
	"github.com/secimpact/impact/ingest/sources/pagerduty"
	"github.com/secimpact/impact/ingest/sources/salesforce"
	"github.com/secimpact/impact/ingest/sources/zendesk"
)

// registry holds the sources impact import knows, by name.
var registry = map[string]Source{
	"github":     {Name: "github", Exports: "saved pages of the REST lists of code scanning, Dependabot and secret scanning alerts, deployments and their statuses (JSON)", Import: github.Import},
	"hubspot":    {Name: "hubspot", Exports: "saved pages of the CRM v3 deals API (with propertiesWithHistory, associations=companies) and deals CSV exports", Import: hubspot.Import},
	"jira":       {Name: "jira", Exports: "saved pages of the REST search with expand=changelog,names (JSON)", Import: jira.Import},
	"zendesk":    {Name: "zendesk", Exports: "incremental ticket export pages (with include=metric_sets) and satisfaction ratings pages (JSON)", Import: zendesk.Import},
	"pagerduty":  {Name: "pagerduty", Exports: "incidents pages and log entries pages of the REST API (JSON)", Import: pagerduty.Import},
	"salesforce": {Name: "salesforce", Exports: "Opportunities report and Opportunity Field History report (CSV, Details Only)", Import: salesforce.Import},
}

// Lookup returns the source named name.
func Lookup(name string) (Source, bool) {
	s, ok := registry[name]
	return s, ok
}

// Sources returns every source, by name.
func Sources() []Source {
	out := make([]Source, 0, len(registry))
	for _, s := range registry {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
