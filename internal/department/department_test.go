package department

import (
	"regexp"
	"strings"
	"testing"
)

func TestSlug(t *testing.T) {
	safe := regexp.MustCompile(`^[a-z0-9-]{1,27}$`)
	seen := map[string]string{}
	for _, name := range []string{
		"Engineering", "engineering", "ENGINEERING", "R&D's lab", "R&D s lab", "Sales", "sales ",
		"nosuch' OR 1=1 OR department='", "x\\' OR 1=1 --", "日本", "a", strings.Repeat("very long department name ", 10),
		"Data", "Data-", "-Data",
	} {
		s := Slug(name)
		if !safe.MatchString(s) {
			t.Errorf("Slug(%q) = %q, not a safe identifier of at most 27 characters", name, s)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("Slug(%q) = Slug(%q) = %q", name, other, s)
		}
		seen[s] = name
		if s != Slug(name) {
			t.Errorf("Slug(%q) is not stable", name)
		}
		ident := regexp.MustCompile(`^[a-z0-9_]+$`)
		if db := Database("impact", name); !ident.MatchString(db) || !strings.HasPrefix(db, "impact_dept_") {
			t.Errorf("Database(impact, %q) = %q", name, db)
		}
		if u := User(name); !ident.MatchString(u) {
			t.Errorf("User(%q) = %q", name, u)
		}
	}
	if got := Slug("Engineering"); !strings.HasPrefix(got, "engineering-") {
		t.Errorf("Slug(Engineering) = %q, want a readable prefix", got)
	}
	if got := Slug("R&D's lab"); !strings.HasPrefix(got, "r-d-s-lab-") {
		t.Errorf("Slug(R&D's lab) = %q", got)
	}
	if Slug("") != "" {
		t.Errorf("the empty department has a slug")
	}
	if len("impact-dept-"+Slug(strings.Repeat("x", 100))) > 40 {
		t.Errorf("a department dashboard uid would exceed Grafana's 40 characters")
	}
}
