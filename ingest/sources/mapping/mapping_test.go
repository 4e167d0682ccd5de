package mapping

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestExampleFile(t *testing.T) {
	f, err := Load("../../../deploy/mapping.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want string
	}{
		{"github repo", f.Service(GitHub, "ACME/Payments-Worker", "x"), "payments-api"},
		{"github default", f.Service(GitHub, "acme/other", "acme/other"), "acme/other"},
		{"gitlab", f.Service(GitLab, "acme/web/payments", ""), "payments-api"},
		{"pagerduty name", f.Service(PagerDutyS, "payments api", ""), "payments-api"},
		{"zendesk org", f.Account(Zendesk, "360363695492"), "globex"},
		{"hubspot unlisted", f.Account(HubSpotS, "42"), "hubspot:42"},
		{"account name", f.AccountName(Salesforce, "0015g00000xyzabaaf"), "Globex Corporation"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	gates := []struct {
		q    GateQuery
		ok   bool
		want GateMatch
	}{
		{GateQuery{Source: GitHub, Repo: "acme/x", Workflow: "CodeQL", Job: "Analyze (go)"}, true, GateMatch{"codeql", true}},
		{GateQuery{Source: GitHub, Repo: "acme/x", Workflow: "CodeQL"}, false, GateMatch{}}, // the run of a job-level gate
		{GateQuery{Source: GitHub, Repo: "acme/x", Workflow: "Security scan"}, true, GateMatch{"Security scan", false}},
		{GateQuery{Source: GitHub, Repo: "acme/x", Workflow: "Security scan", Job: "trivy"}, false, GateMatch{}}, // jobs of a run-level gate
		{GateQuery{Source: GitLab, Repo: "acme/web", Stage: "test", Job: "secret_scanning"}, true, GateMatch{"test/secret_scanning", true}},
		{GateQuery{Source: GitLab, Repo: "acme/web", Stage: "build", Job: "secret_scanning"}, false, GateMatch{}},
		{GateQuery{Source: GitHub, Repo: "acme/x", Workflow: "Build", Job: "test"}, false, GateMatch{}},
		{GateQuery{Source: GitHub, Repo: "acme/x", Workflow: "Deploy", Environment: "production"}, true, GateMatch{"security-signoff", true}},
		{GateQuery{Source: GitHub, Repo: "acme/x", Workflow: "Deploy", Environment: "staging"}, false, GateMatch{}},
	}
	for _, g := range gates {
		got, ok := f.Gate(g.q)
		if ok != g.ok || got != g.want {
			t.Errorf("Gate(%+v) = %+v %v, want %+v %v", g.q, got, ok, g.want, g.ok)
		}
	}
	if !f.SecurityIncident("PSEC001", "", "") || !f.SecurityIncident("PX", "security incident response", "") ||
		!f.SecurityIncident("PX", "API", "sev-sec") || f.SecurityIncident("PX", "API", "P1") {
		t.Error("security incident selection")
	}
	if s, u := f.IncidentSeverity("SEV-SEC", "high"); s != "critical" || u != nil {
		t.Errorf("severity %q %v", s, u)
	}
	if s, u := f.IncidentSeverity("", "low"); s != "low" || u != nil {
		t.Errorf("urgency default %q %v", s, u)
	}
	if _, u := f.IncidentSeverity("P9", ""); u == nil || u.Key != "incidents.pagerduty.severity" {
		t.Errorf("unknown priority: %v", u)
	}
	if s, u := f.LossReason("anything else"); s != "other" || u != nil {
		t.Errorf("loss default %q %v", s, u)
	}
	if s, u := f.Segment(" mid-market "); s != "mid_market" || u != nil {
		t.Errorf("segment %q %v", s, u)
	}
	if _, u := f.Segment("Startup"); u == nil || u.Suggestion() != `crm.segments: {"Startup": smb|mid_market|enterprise}` {
		t.Errorf("unmapped segment: %v", u)
	}
	if o, ok := f.Stage("ClosedWon"); !ok || o != "won" {
		t.Errorf("stage %q %v", o, ok)
	}
	if _, ok := f.Stage("appointmentscheduled"); ok {
		t.Error("unlisted stage mapped")
	}
	if d, u := f.DealType(""); d != "new" || u != nil {
		t.Errorf("deal type default %q %v", d, u)
	}
	if !f.SecurityRelated([]string{"billing", "Phishing"}) || f.SecurityRelated([]string{"billing"}) {
		t.Error("security tags")
	}
}

func TestDefaults(t *testing.T) {
	var f File
	if f.Service(GitHub, "a/b", "a/b") != "a/b" || f.Account(Zendesk, "1") != "zendesk:1" {
		t.Error("zero File identities")
	}
	if c, u := f.CSAT("Good"); c != 5 || u != nil {
		t.Errorf("csat good %d %v", c, u)
	}
	if c, u := f.CSAT("3"); c != 3 || u != nil {
		t.Errorf("csat 3 %d %v", c, u)
	}
	if _, u := f.CSAT("meh"); u == nil {
		t.Error("csat meh mapped")
	}
	if s, u := f.IncidentSeverity("P2", ""); s != "high" || u != nil {
		t.Errorf("default severity %q %v", s, u)
	}
	if f.SecurityIncident("P1", "API", "P1") {
		t.Error("zero File made a security incident")
	}
	if _, u := f.Segment("Enterprise"); u == nil {
		t.Error("segments have no default")
	}
	if !f.SecurityRelated([]string{"Security"}) {
		t.Error("default security tag")
	}
	if _, ok := f.Gate(GateQuery{Source: GitHub, Repo: "a/b", Workflow: "CodeQL", Job: "analyze"}); ok {
		t.Error("zero File has a gate")
	}
	if ch, u := f.ReviewChannel(""); ch != "questionnaire" || u != nil {
		t.Errorf("channel default %q %v", ch, u)
	}
}

// TestErrors: each bad file is refused with the file, line and key named.
func TestErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error, in order
	}{
		{"unknown top-level key", "version: 1\nservice:\n  - id: x\n",
			[]string{"m.yaml:2: service: unknown key (known keys here: version, services, accounts, gates, incidents, crm, support, jira, catalog)"}},
		{"unknown nested key", "version: 1\ncrm:\n  segment: {a: smb}\n",
			[]string{"m.yaml:3: crm.segment: unknown key"}},
		{"typo in hubspot property", "version: 1\ncrm:\n  hubspot:\n    properties:\n      segmnt: x\n",
			[]string{"m.yaml:5: crm.hubspot.properties.segmnt: unknown key"}},
		{"bad picklist value", "version: 1\ncrm:\n  segments:\n    Enterprise: big\n",
			[]string{`m.yaml:4: crm.segments.enterprise: maps to "big", which is not one of smb|mid_market|enterprise`}},
		{"picklist key twice in different case", "version: 1\ncrm:\n  stages: {Won: won, won: won}\n",
			[]string{"m.yaml:3: crm.stages.won: listed twice (also on line 3"}},
		{"missing version", "services: []\n", []string{"m.yaml: version: must be 1 (got 0)"}},
		{"wrong version", "version: 2\n", []string{"m.yaml:1: version: must be 1 (got 2)"}},
		{"empty file", "", []string{"version: missing"}},
		{"service without id", "version: 1\nservices:\n  - github: a/b\n", []string{"m.yaml:3: services[0].id: required"}},
		{"repo in two services", "version: 1\nservices:\n  - id: a\n    github: x/y\n  - id: b\n    github: [X/Y]\n",
			[]string{`m.yaml:6: services[1].github: github id "X/Y" is listed for both "a" and "b"`}},
		{"account twice", "version: 1\naccounts:\n  - id: a\n  - id: a\n", []string{`m.yaml:4: accounts[1].id: account "a" is also accounts[0]`}},
		{"gate source", "version: 1\ngates:\n  - source: jenkins\n", []string{`m.yaml:3: gates[0].source: must be one of github, gitlab (got "jenkins")`}},
		{"gate stage on github", "version: 1\ngates:\n  - source: github\n    stage: test\n", []string{"m.yaml:4: gates[0].stage: GitLab only"}},
		{"environment with job", "version: 1\ngates:\n  - source: github\n    environment: prod\n    job: x\n", []string{"m.yaml:4: gates[0].environment: selects deployment reviews"}},
		{"bad glob", "version: 1\ngates:\n  - source: github\n    job: \"[\"\n", []string{"m.yaml:4: gates[0].job: bad glob"}},
		{"list where scalar", "version: 1\nincidents:\n  pagerduty:\n    category: [a, b]\n", []string{"m.yaml:4: incidents.pagerduty.category: must be a single value, not a list"}},
		{"mapping where list", "version: 1\nsupport:\n  security_tags: {a: b}\n", []string{"m.yaml:3: support.security_tags: must be an id or a list of ids"}},
		{"not yaml", "version: 1\n  bad: [\n", []string{"m.yaml:2: not valid YAML"}},
		{"several problems", "version: 1\nfoo: 1\ncrm:\n  bar: 2\n", []string{"m.yaml:2: foo: unknown key", "m.yaml:4: crm.bar: unknown key"}},
		{"bad csat", "version: 1\nsupport:\n  csat: {great: 6}\n", []string{`m.yaml:3: support.csat.great: maps to "6"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse("m.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatalf("accepted: %+v", f)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T %v is not Errors", err, err)
			}
			msg := err.Error()
			pos := 0
			for _, w := range c.want {
				i := strings.Index(msg[pos:], w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not contain (in order) %q", msg, w)
				}
				pos += i + len(w)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("does-not-exist.yaml"); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}

// TestDocumented: every key of the schema is described in docs/mapping.md.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/mapping.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range schemaKeys(reflect.TypeOf(File{}), "") {
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("docs/mapping.md does not describe `%s`", key)
		}
	}
}

// schemaKeys lists the dotted keys of t (slices as key[]).
func schemaKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		name := yamlName(t.Field(i))
		if name == "" {
			continue
		}
		key := join(prefix, name)
		ft := t.Field(i).Type
		switch {
		case ft.Kind() == reflect.Struct:
			out = append(out, schemaKeys(ft, key)...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, schemaKeys(ft.Elem(), key+"[]")...)
		default:
			out = append(out, key)
		}
	}
	return out
}
