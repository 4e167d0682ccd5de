package mapping

import (
	"strings"
	"testing"
)

func TestImportKeys(t *testing.T) {
	f, err := Parse("m.yaml", []byte(`version: 1
services:
  - id: payments
    jira: [Payments API]
accounts:
  - id: globex
    jira: Globex Corporation
crm:
  currency: {default: eur, rates: {EUR: 1.08, gbp: "1.27"}}
  salesforce:
    locale: de_DE
    time_zone: Europe/Berlin
    datetime_format: DD.MM.YYYY HH:mm:ss
jira:
  issues:
    - {project: "SEC*", types: [Vulnerability], as: finding}
    - {labels: [security-incident], as: incident}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		amount float64
		cur    string
		usd    float64
		code   string
	}{{100, "EUR", 108, "EUR"}, {100, "", 108, "EUR"}, {100, "gbp", 127, "GBP"}, {100, "USD", 100, "USD"}, {0.333, "EUR", 0.36, "EUR"}} {
		usd, code, u := f.ToUSD(c.amount, c.cur)
		if u != nil || usd != c.usd || code != c.code {
			t.Errorf("ToUSD(%v, %q) = %v %q %v, want %v %q", c.amount, c.cur, usd, code, u, c.usd, c.code)
		}
	}
	if _, _, u := f.ToUSD(1, "CHF"); u == nil || u.Suggestion() != `crm.currency.rates: {"CHF": <USD per 1 CHF>}` {
		t.Errorf("CHF: %v", u)
	}
	loc := f.SalesforceFormat()
	if loc.Decimal != ',' || loc.Date != "DD.MM.YYYY" || loc.DateTime != "DD.MM.YYYY HH:mm:ss" {
		t.Errorf("format %+v", loc)
	}
	if got := f.Service(JiraS, "payments api", "x"); got != "payments" {
		t.Errorf("service %q", got)
	}
	if got := f.Account(JiraS, "globex corporation"); got != "globex" {
		t.Errorf("account %q", got)
	}
	for _, c := range []struct {
		project, typ string
		labels       []string
		want         string
	}{{"SECOPS", "vulnerability", nil, "finding"}, {"SEC", "Bug", nil, ""}, {"SIR", "Incident", []string{"Security-Incident"}, "incident"}} {
		if got := f.JiraKind(c.project, c.typ, c.labels); got != c.want {
			t.Errorf("JiraKind(%q, %q, %v) = %q, want %q", c.project, c.typ, c.labels, got, c.want)
		}
	}
	if s, u := f.JiraSeverity("Lowest"); u != nil || s != "info" {
		t.Errorf("severity %q %v", s, u)
	}
	if !f.JiraDismissed("won't do") || f.JiraDismissed("Done") {
		t.Error("dismissed resolutions")
	}
}

func TestImportKeyErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"version: 1\ncrm:\n  currency: {rates: {EUR: x}}\n", "m.yaml:3: crm.currency.rates.EUR: must be a positive number"},
		{"version: 1\ncrm:\n  currency: {rates: {EURO: 1}}\n", "m.yaml:3: crm.currency.rates.EURO: must be an ISO 4217 code"},
		{"version: 1\ncrm:\n  currency:\n    default: Euro\n", "m.yaml:4: crm.currency.default: must be an ISO 4217 code"},
		{"version: 1\ncrm:\n  salesforce:\n    locale: xx_XX\n", `m.yaml:4: crm.salesforce.locale: unknown locale "xx_XX"`},
		{"version: 1\ncrm:\n  salesforce:\n    decimal_separator: \";\"\n", "m.yaml:4: crm.salesforce.decimal_separator"},
		{"version: 1\njira:\n  issues:\n    - as: bug\n", `m.yaml:4: jira.issues[0].as: must be one of finding, ticket, incident (got "bug")`},
		{"version: 1\njira:\n  severities: {Blocker: severe}\n", `m.yaml:3: jira.severities.blocker: maps to "severe"`},
		{"version: 1\ncrm:\n  hubspot:\n    time_zone: Mars/Olympus\n", `m.yaml:4: crm.hubspot.time_zone: unknown time zone "Mars/Olympus"`},
		{"version: 1\ncatalog:\n  default_tier: gold\n", "m.yaml:3: catalog.default_tier: must be one of"},
		{"version: 1\ncatalog:\n  departmnets: {}\n", "m.yaml:3: catalog.departmnets: unknown key"},
	} {
		_, err := Parse("m.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
}
