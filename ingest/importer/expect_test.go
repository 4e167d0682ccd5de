package importer_test

// What the end-to-end test expects, computed directly from the fixture
// files with encoding/csv, encoding/json and yaml.v3: not with the
// importers' code, so the test checks the importers rather than repeating
// them.

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// kestrelFacts is the organisation as its files state it.
type kestrelFacts struct {
	deals     []deal
	tickets   []ticket
	incidents []incident  // Jira security incidents (PagerDuty names no customers)
	findings  []finding   // GitHub alerts and Jira findings
	owners    []ownership // catalog snapshots
}

type deal struct {
	id                   string
	closed               bool
	won                  bool
	closedAt             time.Time
	lossReason           string
	amountUSD            float64
	requested, completed *time.Time
}

type ticket struct {
	id      string
	account string
	created time.Time
	score   int // 0: not rated
}

type incident struct {
	detected    time.Time
	accounts    []string
	departments []string
	cost        float64
}

type finding struct {
	id       string
	service  string
	detected time.Time
}

type ownership struct {
	from             time.Time
	service          string
	team, department string
}

var rates = map[string]float64{"EUR": 1.08, "GBP": 1.27, "USD": 1}

func usd(amount float64, cur string) float64 { return math.Round(amount*rates[cur]*100) / 100 }

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func mustTime(t *testing.T, layout, v string) time.Time {
	t.Helper()
	tm, err := time.Parse(layout, v)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UTC()
}

func loadKestrel(t *testing.T) kestrelFacts {
	t.Helper()
	var k kestrelFacts
	// The mapping file's account ids of Zendesk organizations and Jira
	// customer names.
	var mf struct {
		Accounts []struct {
			ID      string `yaml:"id"`
			Zendesk string `yaml:"zendesk"`
			Jira    string `yaml:"jira"`
		} `yaml:"accounts"`
	}
	b, err := os.ReadFile(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &mf); err != nil {
		t.Fatal(err)
	}
	byOrg, byName := map[string]string{}, map[string]string{}
	for _, a := range mf.Accounts {
		byOrg[a.Zendesk], byName[a.Jira] = a.ID, a.ID
	}

	// Salesforce: the Opportunities report (German number and date formats).
	raw, err := os.ReadFile(kestrel + "salesforce/opportunities.csv")
	if err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(raw), "\ufeff")))
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	day := func(v string) *time.Time {
		if v == "" {
			return nil
		}
		tm := mustTime(t, "02.01.2006", v)
		return &tm
	}
	for _, rec := range recs[1:] {
		if len(rec) == 1 {
			break // the footer
		}
		stage := rec[col["Stage"]]
		amount, err := strconv.ParseFloat(strings.ReplaceAll(strings.ReplaceAll(rec[col["Amount"]], ".", ""), ",", "."), 64)
		if err != nil {
			t.Fatal(err)
		}
		d := deal{id: rec[col["Opportunity ID"]], closed: strings.HasPrefix(stage, "Closed"), won: stage == "Closed Won",
			lossReason: rec[col["Loss Reason"]], amountUSD: usd(amount, rec[col["Opportunity Currency"]]),
			requested: day(rec[col["Security Review Requested"]]), completed: day(rec[col["Security Review Completed"]])}
		d.closedAt = *day(rec[col["Close Date"]])
		if d.lossReason == "Security / Compliance" {
			d.lossReason = "security"
		}
		k.deals = append(k.deals, d)
	}

	// HubSpot: the deals API pages (current state; the close of a deal
	// without closedate is its closing stage change).
	for _, name := range []string{"deals-1.json", "deals-2.json"} {
		var page struct {
			Results []struct {
				ID         string             `json:"id"`
				Properties map[string]*string `json:"properties"`
				History    map[string][]struct {
					Value     string `json:"value"`
					Timestamp string `json:"timestamp"`
				} `json:"propertiesWithHistory"`
			} `json:"results"`
		}
		readJSON(t, kestrel+"hubspot/"+name, &page)
		for _, res := range page.Results {
			p := func(k string) string {
				if v := res.Properties[k]; v != nil {
					return *v
				}
				return ""
			}
			amount, _ := strconv.ParseFloat(p("amount"), 64)
			d := deal{id: "hubspot:deal/" + res.ID, closed: p("hs_is_closed") == "true", won: p("hs_is_closed_won") == "true", amountUSD: usd(amount, p("deal_currency_code"))}
			if d.closed {
				if v := p("closedate"); v != "" {
					d.closedAt = mustTime(t, time.RFC3339, v)
				} else {
					d.closedAt = mustTime(t, time.RFC3339, res.History["dealstage"][0].Timestamp) // newest first
				}
			}
			if p("closed_lost_reason") == "Security requirements not met" {
				d.lossReason = "security"
			}
			if v := p("security_review_requested_date"); v != "" {
				tm := mustTime(t, time.DateOnly, v)
				d.requested = &tm
			}
			if v := p("security_review_completed_date"); v != "" {
				tm := mustTime(t, time.DateOnly, v)
				d.completed = &tm
			}
			k.deals = append(k.deals, d)
		}
	}

	// Zendesk: the latest copy of each ticket, its organization's account
	// and its rating.
	latest := map[int64]map[string]any{}
	for _, name := range []string{"incremental-tickets-1.json", "incremental-tickets-2.json"} {
		var page struct {
			Tickets []map[string]any `json:"tickets"`
		}
		readJSON(t, kestrel+"zendesk/"+name, &page)
		for _, tk := range page.Tickets {
			id := int64(tk["id"].(float64))
			if cur, ok := latest[id]; !ok || tk["updated_at"].(string) > cur["updated_at"].(string) {
				latest[id] = tk
			}
		}
	}
	for id, tk := range latest {
		org, _ := tk["organization_id"].(float64)
		if org == 0 || tk["status"] == "deleted" {
			continue
		}
		x := ticket{id: "zendesk:ticket/" + strconv.FormatInt(id, 10), account: byOrg[strconv.FormatFloat(org, 'f', 0, 64)],
			created: mustTime(t, time.RFC3339, tk["created_at"].(string))}
		if rt, ok := tk["satisfaction_rating"].(map[string]any); ok {
			switch rt["score"] {
			case "good":
				x.score = 5
			case "bad":
				x.score = 1
			}
		}
		k.tickets = append(k.tickets, x)
	}

	// Jira: security incidents (SIR) and findings (SEC).
	for _, name := range []string{"search-1.json", "search-2.json"} {
		var page struct {
			Issues []struct {
				ID     string `json:"id"`
				Fields struct {
					Project struct {
						Key string `json:"key"`
					} `json:"project"`
					Created    string `json:"created"`
					Components []struct {
						Name string `json:"name"`
					} `json:"components"`
					Customers []struct {
						Value string `json:"value"`
					} `json:"customfield_10071"`
					Departments []struct {
						Value string `json:"value"`
					} `json:"customfield_10072"`
					Cost float64 `json:"customfield_10073"`
				} `json:"fields"`
			} `json:"issues"`
		}
		readJSON(t, kestrel+"jira/"+name, &page)
		for _, is := range page.Issues {
			created := mustTime(t, "2006-01-02T15:04:05.000-0700", is.Fields.Created)
			switch is.Fields.Project.Key {
			case "SIR":
				in := incident{detected: created, cost: is.Fields.Cost}
				for _, c := range is.Fields.Customers {
					in.accounts = append(in.accounts, byName[c.Value])
				}
				for _, d := range is.Fields.Departments {
					in.departments = append(in.departments, d.Value)
				}
				k.incidents = append(k.incidents, in)
			case "SEC":
				k.findings = append(k.findings, finding{id: "jira:issue/kestrel.atlassian.net/" + is.ID, service: is.Fields.Components[0].Name, detected: created})
			}
		}
	}

	// GitHub: every alert's repository is its service (the repositories
	// are named after the catalog's services).
	alerts, _ := filepath.Glob(kestrel + "github/*-scanning/*.json")
	more, _ := filepath.Glob(kestrel + "github/dependabot/*.json")
	for _, name := range append(alerts, more...) {
		var page []struct {
			Number    int64  `json:"number"`
			URL       string `json:"url"`
			CreatedAt string `json:"created_at"`
		}
		readJSON(t, name, &page)
		for _, a := range page {
			parts := strings.Split(strings.TrimPrefix(a.URL, "https://api.github.com/repos/"), "/")
			k.findings = append(k.findings, finding{id: "github:" + parts[0] + "/" + parts[1] + "/" + parts[2] + "/" + strconv.FormatInt(a.Number, 10),
				service: parts[1], detected: mustTime(t, time.RFC3339, a.CreatedAt)})
		}
	}

	// Backstage: each snapshot's components, their owner group (team)
	// and its parent (department), by display name.
	for _, snap := range []struct{ dir, from string }{{"2025-10", "2025-10-01"}, {"2026-05", "2026-05-01"}} {
		type entity struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				Owner, Parent string
				Profile       struct {
					DisplayName string `yaml:"displayName"`
				} `yaml:"profile"`
			} `yaml:"spec"`
		}
		var ents []entity
		for _, file := range []string{"org.yaml", "catalog-info.yaml"} {
			f, err := os.Open(kestrel + "catalog/" + snap.dir + "/" + file)
			if err != nil {
				t.Fatal(err)
			}
			dec := yaml.NewDecoder(f)
			for {
				var e entity
				if dec.Decode(&e) != nil {
					break
				}
				ents = append(ents, e)
			}
			f.Close()
		}
		groups := map[string]entity{}
		for _, e := range ents {
			if e.Kind == "Group" {
				groups[e.Metadata.Name] = e
			}
		}
		name := func(ref string) string { return ref[strings.LastIndexAny(ref, ":/")+1:] }
		for _, e := range ents {
			if e.Kind != "Component" {
				continue
			}
			team := groups[name(e.Spec.Owner)]
			dept := groups[name(team.Spec.Parent)]
			k.owners = append(k.owners, ownership{from: mustTime(t, time.DateOnly, snap.from), service: e.Metadata.Name,
				team: team.Spec.Profile.DisplayName, department: dept.Spec.Profile.DisplayName})
		}
	}
	return k
}

// owner is the team and department owning service at t.
func (k kestrelFacts) owner(service string, at time.Time) (string, string) {
	var team, dept string
	var from time.Time
	for _, o := range k.owners {
		if o.service == service && !o.from.After(at) && !o.from.Before(from) {
			team, dept, from = o.team, o.department, o.from
		}
	}
	return team, dept
}

// bucket is the deal's landmark review bucket (docs/metrics.md 1): what
// was known 15 days after the review request. Fast or medium: completed
// within 5 or 15 days and by the close; slow: still open 15 days after
// the request without a completion by then; incomplete: closed before the
// landmark without a completed review.
func (d deal) bucket() string {
	if d.requested == nil {
		return "none"
	}
	if d.completed != nil && !d.completed.After(d.closedAt) {
		switch days := d.completed.Sub(*d.requested).Hours() / 24; {
		case days <= 5:
			return "fast"
		case days <= 15:
			return "medium"
		}
	}
	if d.closedAt.Unix() > d.requested.Unix()+15*86400 {
		return "slow"
	}
	return "incomplete"
}

// winRates counts won and closed deals per review bucket closed in [from, to).
func (k kestrelFacts) winRates(from, to time.Time) map[string][2]int {
	out := map[string][2]int{}
	for _, d := range k.deals {
		if !d.closed || d.closedAt.Before(from) || !d.closedAt.Before(to) {
			continue
		}
		c := out[d.bucket()]
		c[1]++
		if d.won {
			c[0]++
		}
		out[d.bucket()] = c
	}
	return out
}

// revenueLost sums the deals lost for security reasons closed in [from, to).
func (k kestrelFacts) revenueLost(from, to time.Time) (float64, int) {
	var sum float64
	n := 0
	for _, d := range k.deals {
		if d.closed && !d.won && d.lossReason == "security" && !d.closedAt.Before(from) && d.closedAt.Before(to) {
			sum += d.amountUSD
			n++
		}
	}
	return sum, n
}

// csat returns the rated scores of tickets created in [from, to) by
// accounts some incident affected: baseline and within 30 days after an
// incident of the account, and the number of accounts with both.
func (k kestrelFacts) csat(from, to time.Time) (base, after []float64, paired int) {
	affected := map[string][]time.Time{}
	for _, in := range k.incidents {
		for _, a := range in.accounts {
			affected[a] = append(affected[a], in.detected)
		}
	}
	type both struct{ b, a bool }
	accts := map[string]*both{}
	for _, tk := range k.tickets {
		incs, ok := affected[tk.account]
		if !ok || tk.score == 0 || tk.created.Before(from) || !tk.created.Before(to) {
			continue
		}
		isAfter := false
		for _, d := range incs {
			if !d.Before(tk.created.Add(-30*24*time.Hour)) && !d.After(tk.created) {
				isAfter = true
			}
		}
		if accts[tk.account] == nil {
			accts[tk.account] = &both{}
		}
		if isAfter {
			after = append(after, float64(tk.score))
			accts[tk.account].a = true
		} else {
			base = append(base, float64(tk.score))
			accts[tk.account].b = true
		}
	}
	for _, x := range accts {
		if x.a && x.b {
			paired++
		}
	}
	return base, after, paired
}

// incidentCost is each department's share of the costs of incidents
// detected in [from, to), split evenly among the contributing departments.
func (k kestrelFacts) incidentCost(from, to time.Time) map[string]float64 {
	out := map[string]float64{}
	for _, in := range k.incidents {
		if in.detected.Before(from) || !in.detected.Before(to) {
			continue
		}
		for _, d := range in.departments {
			out[d] += in.cost / float64(len(in.departments))
		}
	}
	return out
}

// findingsOpened counts findings by department and month of detection,
// each attributed to the department owning its service then.
func (k kestrelFacts) findingsOpened() map[string]int {
	out := map[string]int{}
	for _, f := range k.findings {
		_, dept := k.owner(f.service, f.detected)
		out[dept+" "+f.detected.Format("2006-01")]++
	}
	return out
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
