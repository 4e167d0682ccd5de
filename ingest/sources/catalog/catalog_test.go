package catalog_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources/catalog"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/schemas"
)

const kestrel = "../testdata/kestrel/"

func run(t *testing.T, m *mapping.File, o catalog.Options, files ...export.File) ([]export.Outcome, error) {
	t.Helper()
	return sourcetest.Import(t, func(ctx context.Context, fs []export.File, m *mapping.File, emit func(export.Outcome) error) error {
		return catalog.Import(ctx, fs, m, o, emit)
	}, m, files...)
}

// services returns the mapped services by id, each checked by the decoder.
func services(t *testing.T, outs []export.Outcome) map[string]*schemas.Service {
	t.Helper()
	by := map[string]*schemas.Service{}
	for _, o := range outs {
		for _, e := range o.Events {
			sourcetest.Decode(t, e)
			s := e.Data.(*schemas.Service)
			by[s.ServiceID] = s
		}
	}
	return by
}

func day(s string) time.Time {
	t, _ := time.Parse(time.DateOnly, s)
	return t
}

// TestBackstageReorg: two snapshots of a Backstage catalog with two levels
// of groups (teams under departments); Reporting moves team and department.
func TestBackstageReorg(t *testing.T) {
	m, err := mapping.Load(kestrel + "mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		dir, team, dept string
	}{{"2025-10", "Customer Portal", "Product Engineering"}, {"2026-05", "Insights", "Data Platform"}} {
		outs, err := run(t, m, catalog.Options{EffectiveAt: day(c.dir + "-01")},
			export.OSFile(kestrel+"catalog/"+c.dir+"/catalog-info.yaml"), export.OSFile(kestrel+"catalog/"+c.dir+"/org.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		status := map[string]int{}
		for _, o := range outs {
			status[o.Status()]++
		}
		// 5 components mapped, 7 groups folded into them; System, Location and User ignored.
		if status["mapped"] != 12 || status["ignored"] != 3 || status["rejected"] != 0 {
			t.Errorf("%s: %v", c.dir, status)
		}
		by := services(t, outs)
		r := by["reporting"]
		if r == nil || r.Team != c.team || r.Department != c.dept || !r.EffectiveAt.Equal(day(c.dir+"-01")) {
			t.Errorf("%s: reporting %+v", c.dir, r)
		}
		p := by["payments-api"]
		if p == nil || p.Team != "Payments" || p.Department != "Product Engineering" || p.Tier != "critical" ||
			!p.InternetFacing || *p.Product != "kestrel-platform" || *p.ServiceName != "Payments API" {
			t.Errorf("%s: payments-api %+v", c.dir, p)
		}
		if b := by["billing"]; b == nil || b.Tier != "high" || b.InternetFacing {
			t.Errorf("billing %+v", b)
		}
		if g := by["ingest-gateway"]; g == nil || !g.InternetFacing || g.Department != "Platform Engineering" {
			t.Errorf("ingest-gateway %+v", g)
		}
	}
}

func TestBackstageDefaultsAndErrors(t *testing.T) {
	groups := `apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: squad}
spec: {type: team, parent: tribe, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: tribe}
spec: {type: tribe, children: [squad]}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: loners}
spec: {type: team, children: []}
`
	comp := func(name, owner, extra string) string {
		return "---\napiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: " + name + "\n" + extra + "spec:\n  type: service\n  owner: " + owner + "\n"
	}
	m, _ := mapping.Parse("m.yaml", []byte("version: 1\n"))
	outs, err := run(t, m, catalog.Options{EffectiveAt: day("2026-01-01")}, sourcetest.File("c.yaml", groups+
		comp("a", "squad", "")+
		comp("b", "loners", "")+
		comp("c", "ghosts", "")+
		comp("d", "squad", "  annotations:\n    impact.secimpact.io/effective-at: \"2026-03-15\"\n")))
	if err != nil {
		t.Fatal(err)
	}
	by := services(t, outs)
	// Default: the owner's parent is the department, whatever its type.
	if a := by["a"]; a == nil || a.Team != "squad" || a.Department != "tribe" || a.Tier != "medium" {
		t.Errorf("a %+v", a)
	}
	if d := by["d"]; d == nil || !d.EffectiveAt.Equal(day("2026-03-15")) {
		t.Errorf("d %+v", d)
	}
	if o := outs[4]; o.Status() != "rejected" || len(o.Unmapped) != 1 || o.Unmapped[0].Suggestion() != `catalog.departments: {"loners": <department>}` {
		t.Errorf("b: %+v", o)
	}
	if o := outs[5]; o.Status() != "rejected" || !strings.Contains(o.Rejected, "owner ghosts is not a Group") {
		t.Errorf("c: %+v", o)
	}

	for _, c := range []struct {
		name, content string
		o             catalog.Options
		want          string
	}{
		{"no effective date", groups + comp("a", "squad", ""), catalog.Options{}, `c.yaml:16: component a: when did this ownership take effect? Pass --effective-at DATE`},
		{"bad yaml", "kind: Group\nmetadata: [\n", catalog.Options{EffectiveAt: day("2026-01-01")}, "c.yaml:2: not valid YAML"},
		{"not an entity", "foo: bar\n", catalog.Options{EffectiveAt: day("2026-01-01")}, `c.yaml:1: field "apiVersion": missing`},
		{"bad tier", groups + comp("a", "squad", "  annotations: {impact.secimpact.io/tier: gold}\n"), catalog.Options{EffectiveAt: day("2026-01-01")}, `tier "gold"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			outs, err := run(t, m, c.o, sourcetest.File("c.yaml", c.content))
			var fe *export.FileError
			if err == nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), c.want) || len(outs) != 0 {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestCODEOWNERS(t *testing.T) {
	m, _ := mapping.Parse("m.yaml", []byte("version: 1\nservices:\n  - {id: customer-portal, github: kestrel/customer-portal}\ncatalog:\n  departments: {portal: Product Engineering}\n"))
	o := catalog.Options{EffectiveAt: day("2026-02-01"), Repo: "kestrel/customer-portal"}
	outs, err := run(t, m, o, export.OSFile("testdata/CODEOWNERS"))
	if err != nil {
		t.Fatal(err)
	}
	s := services(t, outs)["customer-portal"]
	if s == nil || s.Team != "portal" || s.Department != "Product Engineering" || outs[0].Line != 4 {
		t.Errorf("%+v line %d", s, outs[0].Line)
	}
	for _, c := range []struct {
		name string
		o    catalog.Options
		want string
	}{{"no repo", catalog.Options{EffectiveAt: day("2026-02-01")}, "pass --repo owner/name"}, {"no date", catalog.Options{Repo: "a/b"}, "Pass --effective-at DATE"}} {
		if _, err := run(t, m, c.o, export.OSFile("testdata/CODEOWNERS")); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	outs, err = run(t, &mapping.File{}, o, sourcetest.File("CODEOWNERS", "* @lena\n"))
	if err != nil || outs[0].Status() != "rejected" {
		t.Errorf("user-only default owner: %v %+v", err, outs)
	}
}

func TestCSV(t *testing.T) {
	outs, err := run(t, &mapping.File{}, catalog.Options{}, export.OSFile("testdata/ownership.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 4 {
		t.Fatalf("%d outcomes", len(outs))
	}
	var history []string
	for _, o := range outs {
		for _, e := range o.Events {
			sourcetest.Decode(t, e)
			s := e.Data.(*schemas.Service)
			if s.ServiceID == "reporting" {
				history = append(history, s.EffectiveAt.Format(time.DateOnly)+" "+s.Team+"/"+s.Department)
			}
		}
	}
	if strings.Join(history, "; ") != "2025-10-01 Customer Portal/Product Engineering; 2026-05-01 Insights/Data Platform" {
		t.Errorf("reporting history %v", history)
	}
	for _, c := range []struct{ content, want string }{
		{"service,team\nx,y\n", `o.csv:1: field "department": header: missing column "department", "from"`},
		{"service,team,department,from\nx,y,z,01/05/2026\n", `o.csv:2: field "from": date "01/05/2026": want YYYY-MM-DD`},
		{"service,team,department,from\nx,,z,2026-05-01\n", `o.csv:2: field "team": empty`},
	} {
		if _, err := run(t, &mapping.File{}, catalog.Options{}, sourcetest.File("o.csv", c.content)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.content, err, c.want)
		}
	}
}
