package importer

import (
	"sort"

	"github.com/secimpact/impact/ingest/sources/jira"
	"github.com/secimpact/impact/ingest/sources/salesforce"
)

// registry holds the sources impact import knows, by name.
var registry = map[string]Source{
	"jira":       {Name: "jira", Exports: "saved pages of the REST search with expand=changelog,names (JSON)", Import: jira.Import},
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
