package catalog

import (
	"bufio"
	"bytes"
	"strings"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// codeowners maps a repository's CODEOWNERS file: the service is the
// repository (through services[].github), its team the first team
// (@org/team) of the catch-all rule (*, /*, /**), the last one in the file
// as GitHub applies the last matching rule; the department comes from
// catalog.departments.
func codeowners(file string, data []byte, m *mapping.File, o Options) (export.Outcome, error) {
	out := export.Outcome{File: file, Line: 1}
	if o.Repo == "" {
		return out, export.Errorf(file, 0, "", "a CODEOWNERS file does not name its repository: pass --repo owner/name")
	}
	if o.EffectiveAt.IsZero() {
		return out, export.Errorf(file, 0, "", "when did this ownership take effect? Pass --effective-at DATE")
	}
	var team string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, " #"); i >= 0 { // a trailing comment
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "*", "/*", "/**", "**":
		default:
			continue
		}
		team = ""
		for _, owner := range fields[1:] {
			if !strings.HasPrefix(owner, "@") && !strings.Contains(owner, "@") {
				return out, export.Errorf(file, n, owner, "not an owner: want @user, @org/team or an email address")
			}
			if org, slug, ok := strings.Cut(strings.TrimPrefix(owner, "@"), "/"); ok && strings.HasPrefix(owner, "@") && org != "" && slug != "" {
				team = slug
				out.Line = n
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return out, export.At(file, 0, "", err)
	}
	if team == "" {
		out.Rejected = "no catch-all rule (* @org/team) names a team as the default owner"
		return out, nil
	}
	dept, u := department(m, team)
	if u != nil {
		out.Unmapped = []sources.Unmapped{*u}
		return out, nil
	}
	s := &schemas.Service{
		ServiceID: m.Service(mapping.GitHub, o.Repo, o.Repo), ServiceName: sources.NonEmpty(o.Repo),
		Team: team, Department: dept, Tier: m.CatalogTier(), EffectiveAt: o.EffectiveAt.UTC(),
	}
	out.Events = []sources.Event{upsert(s)}
	return out, nil
}

// csvCatalog maps a CSV of ownership periods: one row per service and the
// date its ownership took effect; a service moving team is a second row.
func csvCatalog(file string, data []byte, m *mapping.File) ([]export.Outcome, error) {
	c, err := export.OpenCSV(file, bytes.NewReader(data), []export.Column{
		{Name: "service", Aliases: []string{"service_id"}, Required: true},
		{Name: "team", Required: true},
		{Name: "department", Required: true},
		{Name: "from", Aliases: []string{"from_date", "from-date", "effective_at", "effective"}, Required: true},
		{Name: "service_name", Aliases: []string{"name"}},
		{Name: "tier"},
		{Name: "internet_facing"},
		{Name: "product"},
	})
	if err != nil {
		return nil, err
	}
	var outs []export.Outcome
	err = c.Each(func(row export.Row) error {
		for _, col := range []string{"service", "team", "department"} {
			if row.Get(col) == "" {
				return row.Errorf(col, "empty")
			}
		}
		eff, err := parseDay(row.Get("from"))
		if err != nil {
			return row.Wrap("from", err)
		}
		tier := strings.ToLower(sources.Or(row.Get("tier"), m.CatalogTier()))
		switch tier {
		case "critical", "high", "medium", "low":
		default:
			return row.Errorf("tier", "%q: want critical, high, medium or low", tier)
		}
		facing := false
		if v := row.Get("internet_facing"); v != "" {
			switch strings.ToLower(v) {
			case "true", "yes", "1":
				facing = true
			case "false", "no", "0":
			default:
				return row.Errorf("internet_facing", "%q: want true or false", v)
			}
		}
		s := &schemas.Service{
			ServiceID: row.Get("service"), ServiceName: sources.NonEmpty(row.Get("service_name")),
			Team: row.Get("team"), Department: row.Get("department"), Product: sources.NonEmpty(row.Get("product")),
			Tier: tier, InternetFacing: facing, EffectiveAt: eff,
		}
		outs = append(outs, export.Outcome{File: file, Line: row.Line, Events: []sources.Event{upsert(s)}})
		return nil
	})
	return outs, err
}
