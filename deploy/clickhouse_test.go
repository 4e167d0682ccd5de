package deploy

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/sqlcheck"
)

// xmlNode is a generic element tree: the users.d and config.d files are
// keyed by setting and user names, so a fixed struct cannot describe them.
type xmlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []xmlNode  `xml:",any"`
}

func (n xmlNode) child(name string) (xmlNode, bool) {
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			return c, true
		}
	}
	return xmlNode{}, false
}

func readXML(t *testing.T, rel string) xmlNode {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	var n xmlNode
	if err := xml.Unmarshal(raw, &n); err != nil {
		t.Fatalf("parse %s: %v", rel, err)
	}
	if n.XMLName.Local != "clickhouse" {
		t.Fatalf("%s: root element <%s>, want <clickhouse>", rel, n.XMLName.Local)
	}
	return n
}

// settingLiteral renders a setting value for a SETTINGS clause.
func settingLiteral(v string) string {
	v = strings.TrimSpace(v)
	if _, err := strconv.ParseFloat(v, 64); err == nil {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `\'`) + "'"
}

// TestClickHouseSettingsKnown runs every setting the deployment gives
// ClickHouse through a current ClickHouse engine (chdb): the profiles'
// settings and constraint names of users.d, the grants, the server settings
// of config.d, and the settings docs/scaling.md tells operators to add. A
// misspelt or removed setting would stop the compose server from starting
// (or the user from logging in); here it fails a test instead.
func TestClickHouseSettingsKnown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs chdb; skipped with -short")
	}
	users := readXML(t, "deploy/clickhouse/users.d/impact.xml")
	var stmts []string

	profiles, ok := users.child("profiles")
	if !ok || len(profiles.Children) == 0 {
		t.Fatal("users.d/impact.xml has no profiles")
	}
	for _, p := range profiles.Children {
		var set []string
		for _, s := range p.Children {
			if s.XMLName.Local == "constraints" {
				for _, c := range s.Children {
					max, ok := c.child("max")
					if !ok {
						// An unbounded constraint (changeable_in_readonly
						// alone): the setting must exist.
						stmts = append(stmts, fmt.Sprintf(
							"SELECT throwIf(count() = 0, 'unknown setting %[1]s') FROM system.settings WHERE name = '%[1]s'", c.XMLName.Local))
						continue
					}
					set = append(set, c.XMLName.Local+" = "+settingLiteral(max.Text))
				}
				continue
			}
			set = append(set, s.XMLName.Local+" = "+settingLiteral(s.Text))
		}
		if len(set) == 0 {
			continue
		}
		// readonly last: it must not stop the clause from applying the rest.
		sort.SliceStable(set, func(i, j int) bool {
			return !strings.HasPrefix(set[i], "readonly ") && strings.HasPrefix(set[j], "readonly ")
		})
		stmts = append(stmts, fmt.Sprintf("SELECT 1 SETTINGS %s", strings.Join(set, ", ")))
	}

	// Settings docs/scaling.md prescribes as inline `<name>value</name>`.
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "scaling.md"))
	if err != nil {
		t.Fatal(err)
	}
	var docSet []string
	for _, m := range regexp.MustCompile("`<([a-z_]+)>([^<`]+)</([a-z_]+)>`").FindAllStringSubmatch(string(doc), -1) {
		if m[1] != m[3] {
			t.Errorf("docs/scaling.md: mismatched tags in %q", m[0])
			continue
		}
		docSet = append(docSet, m[1]+" = "+settingLiteral(m[2]))
	}
	if len(docSet) == 0 {
		t.Error("docs/scaling.md names no profile settings; the cluster section must")
	} else {
		stmts = append(stmts, "SELECT 1 SETTINGS "+strings.Join(docSet, ", "))
	}

	// Server settings of config.d (logger is a section, not a setting).
	cfg := readXML(t, "deploy/clickhouse/config.d/impact.xml")
	tz := ""
	for _, s := range cfg.Children {
		if s.XMLName.Local == "logger" || len(s.Children) > 0 {
			continue
		}
		if s.XMLName.Local == "timezone" {
			// Not in system.server_settings: check the zone name instead.
			tz = strings.TrimSpace(s.Text)
			stmts = append(stmts, "SELECT toDateTime(0, "+settingLiteral(tz)+")")
			continue
		}
		stmts = append(stmts, fmt.Sprintf(
			"SELECT throwIf(count() = 0, 'unknown server setting %[1]s') FROM system.server_settings WHERE name = '%[1]s'", s.XMLName.Local))
	}
	// Every month and period is computed in the server time zone: the
	// production server must run in UTC, as the embedded one does.
	if tz != "UTC" {
		t.Errorf("config.d/impact.xml timezone %q, want UTC", tz)
	}
	res := sqlcheck.RunChDB(t, stmts)
	t.Logf("%d settings statements ran on ClickHouse %s (chdb)", len(stmts), res.Version)

	// Grants are SQL too: parse them as the server will.
	usersEl, _ := users.child("users")
	var grants []string
	for _, u := range usersEl.Children {
		g, ok := u.child("grants")
		if !ok {
			continue
		}
		for _, q := range g.Children {
			grants = append(grants, strings.TrimSpace(q.Text)+" TO "+u.XMLName.Local)
		}
	}
	if len(grants) == 0 {
		t.Fatal("no grants in users.d/impact.xml")
	}
	sqlcheck.ParseChDB(t, grants)
}
