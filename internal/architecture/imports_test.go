package architecture

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// root returns the repository root: the directory holding go.mod above the
// test's working directory, and the module path it declares.
func root(t testing.TB) (dir, module string) {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(b)
			if m == nil {
				t.Fatal("go.mod declares no module")
			}
			return dir, string(m[1])
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// graph maps each package of the module (its path relative to the module,
// slash-separated) to the module packages its non-test files import.
type graph map[string][]string

// loadGraph parses the imports of every non-test Go file of the module.
// Directories starting with "." or "_" and testdata are skipped, as the go
// command skips them.
func loadGraph(t testing.TB) graph {
	t.Helper()
	dir, module := root(t)
	g := graph{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != dir && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return fmt.Errorf("parse imports: %w", err)
		}
		rel, err := filepath.Rel(dir, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		if _, ok := g[pkg]; !ok {
			g[pkg] = nil
		}
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", p, imp.Path.Value, err)
			}
			if rest, ok := strings.CutPrefix(path, module+"/"); ok && !slices.Contains(g[pkg], rest) {
				g[pkg] = append(g[pkg], rest)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(g) < 10 {
		t.Fatalf("found only %d packages under %s", len(g), dir)
	}
	return g
}

// A rule is one line of the import rules of docs/architecture.md:
//
//   - `subject` [except `pkg`, ...] does not import `a`, `b`
//   - `subject` [except `pkg`, ...] imports only `a`, `b`
type rule struct {
	line    string
	subject []string
	except  []string
	only    bool // imports only objects; otherwise imports none of them
	objects []string
}

var (
	ruleRE     = regexp.MustCompile("^- (`.*?`(?:, `.*?`)*)(?: except (`.*?`(?:, `.*?`)*))? (does not import|imports only) (`.*?`(?:, `.*?`)*)$")
	backtickRE = regexp.MustCompile("`([^`]*)`")
)

func patterns(s string) []string {
	var out []string
	for _, m := range backtickRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// parseRules reads the rule list of the "Import rules" section.
func parseRules(doc string) ([]rule, error) {
	_, section, ok := strings.Cut(doc, "\n## Import rules\n")
	if !ok {
		return nil, fmt.Errorf("no \"## Import rules\" section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rules []rule
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "- ") {
			continue
		}
		m := ruleRE.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("rule not understood: %s", line)
		}
		rules = append(rules, rule{line: line, subject: patterns(m[1]), except: patterns(m[2]), only: m[3] == "imports only", objects: patterns(m[4])})
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("no rules in the Import rules section")
	}
	return rules, nil
}

// match reports whether pkg matches pattern: "p/..." is p and every
// package under it, "..." every package, anything else the package itself.
func match(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

func matchAny(patterns []string, pkg string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool { return match(p, pkg) })
}

// check returns one message per import that breaks a rule, and one per
// rule pattern that names no package (a rule about a renamed package would
// otherwise pass without checking anything).
func check(g graph, rules []rule) []string {
	pkgs := make([]string, 0, len(g))
	for p := range g {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	var out []string
	for _, r := range rules {
		for _, pats := range [][]string{r.subject, r.except, r.objects} {
			for _, pat := range pats {
				if !slices.ContainsFunc(pkgs, func(p string) bool { return match(pat, p) }) {
					out = append(out, fmt.Sprintf("rule %q: %s names no package", r.line, pat))
				}
			}
		}
		for _, p := range pkgs {
			if !matchAny(r.subject, p) || matchAny(r.except, p) {
				continue
			}
			for _, imp := range g[p] {
				if r.only != matchAny(r.objects, imp) {
					out = append(out, fmt.Sprintf("%s imports %s, against the rule %q", p, imp, r.line))
				}
			}
		}
	}
	return out
}

func readDoc(t testing.TB) string {
	t.Helper()
	dir, _ := root(t)
	b, err := os.ReadFile(filepath.Join(dir, "docs", "architecture.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestImportRules checks the module's import graph against the rules
// docs/architecture.md states.
func TestImportRules(t *testing.T) {
	rules, err := parseRules(readDoc(t))
	if err != nil {
		t.Fatalf("docs/architecture.md: %v", err)
	}
	for _, msg := range check(loadGraph(t), rules) {
		t.Error(msg)
	}
}

// TestPackagesDocumented fails when docs/architecture.md does not name a
// package of the module. `a/<name>` in the document stands for every
// package directly under a.
func TestPackagesDocumented(t *testing.T) {
	doc := readDoc(t)
	named := patterns(doc)
	for pkg := range loadGraph(t) {
		if pkg == "." {
			continue
		}
		ok := slices.ContainsFunc(named, func(n string) bool {
			if n == pkg {
				return true
			}
			parent, last, found := strings.Cut(n, "/<")
			return found && strings.HasSuffix(last, ">") && filepath.ToSlash(filepath.Dir(pkg)) == parent
		})
		if !ok {
			t.Errorf("docs/architecture.md does not name package %s", pkg)
		}
	}
}

// TestCheck shows that check finds what it must on a small graph: the
// rules are the document's kinds (does not import, imports only, except,
// nothing imports cmd) and a pattern that names no package.
func TestCheck(t *testing.T) {
	doc := "# x\n\n## Import rules\n\n" + strings.Join([]string{
		"- `...` does not import `cmd/...`",
		"- `dashboards/...` does not import `ingest/...`",
		"- `ingest/sources/...` except `ingest/sources/sourcetest` imports only `schemas/...`, `ingest/sources/...`",
		"- `transform/stats` imports only `transform/stats`",
	}, "\n") + "\n\n## Next\n\n- `gone` does not import `x`\n"
	rules, err := parseRules(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 4 {
		t.Fatalf("parsed %d rules, want 4 (the list ends at the next section)", len(rules))
	}
	tests := []struct {
		name string
		g    graph
		want []string
	}{
		{
			name: "clean",
			g: graph{
				"cmd/impact": {"dashboards", "ingest"}, "dashboards": {"transform/stats"}, "ingest": {"schemas"},
				"ingest/sources/github": {"schemas", "ingest/sources"}, "ingest/sources": nil,
				"ingest/sources/sourcetest": {"internal/golden"}, "internal/golden": nil,
				"schemas": nil, "transform/stats": nil,
			},
		},
		{
			name: "violations",
			g: graph{
				"cmd/impact": nil, "dashboards": {"ingest"}, "ingest": {"cmd/impact"},
				"ingest/sources/github": {"schemas", "internal/config"}, "ingest/sources": nil,
				"ingest/sources/sourcetest": nil, "internal/config": nil,
				"schemas": nil, "transform/stats": {"schemas"},
			},
			want: []string{
				"ingest imports cmd/impact",
				"dashboards imports ingest",
				"ingest/sources/github imports internal/config",
				"transform/stats imports schemas",
			},
		},
		{
			name: "pattern naming no package",
			g:    graph{"cmd/impact": nil, "dashboards": nil, "ingest": nil, "ingest/sources": nil, "schemas": nil, "transform/stats": nil},
			want: []string{"ingest/sources/sourcetest names no package"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.g, rules)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d messages, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(got, func(m string) bool { return strings.Contains(m, w) }) {
					t.Errorf("no message containing %q in:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}
