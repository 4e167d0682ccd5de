// Package catalog maps the ownership records an organisation already keeps
// onto catalog.service.upserted events: Backstage catalog files
// (catalog-info.yaml: a Component's owner Group is its team, the Group's
// parent its department), a repository's GitHub CODEOWNERS file (the
// default owner team), or a CSV of service, team, department and the date
// the ownership took effect.
//
// Every event carries its effective date (effective_at, and the event time),
// so a re-organisation keeps the history: transform attributes each finding
// and deployment to the team that owned its service when it happened. A
// catalog file says who owns what now; the date it took effect comes from
// the --effective-at flag (Options.EffectiveAt), or per Backstage component
// from the annotation impact.secimpact.io/effective-at, or per CSV row.
package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// System names catalog imports in event ids.
const System = "catalog"

// Annotation prefix of impact's Backstage annotations.
const annotationPrefix = "impact.secimpact.io/"

// Options are what a catalog file does not say.
type Options struct {
	// EffectiveAt is when the ownership in the files took effect. Backstage
	// components may override it with the annotation
	// impact.secimpact.io/effective-at; CSV rows carry their own. Required
	// for Backstage files without the annotation and for CODEOWNERS.
	EffectiveAt time.Time
	// Repo is the GitHub repository (owner/name) a CODEOWNERS file belongs
	// to; required for CODEOWNERS files.
	Repo string
}

// Validate names the first bad field: a Repo that is not owner/name, an
// EffectiveAt the event contract cannot carry (outside the years
// 1971-2105). Zero values mean "not given" and are checked where a file
// needs them.
func (o Options) Validate() error {
	if o.Repo != "" {
		owner, name, ok := strings.Cut(o.Repo, "/")
		if !ok || owner == "" || name == "" || strings.ContainsAny(o.Repo, " \t\n") || strings.Contains(name, "/") {
			return fmt.Errorf("catalog options: Repo %q is not owner/name", o.Repo)
		}
	}
	if !o.EffectiveAt.IsZero() && (o.EffectiveAt.Year() < 1971 || o.EffectiveAt.Year() > 2105) {
		return fmt.Errorf("catalog options: EffectiveAt %s is outside the years 1971-2105", o.EffectiveAt.Format(time.DateOnly))
	}
	return nil
}

// Source is the CloudEvents source attribute of catalog events, whichever
// file they came from: the ownership of a service from a date is one fact,
// so importing it again from another kind of file replaces it.
const Source = "catalog"

// Import reads catalog files — Backstage YAML (*.yaml, *.yml), CODEOWNERS
// (a file named CODEOWNERS) and CSV (*.csv) — and calls emit with one
// Outcome per record (a YAML document, a CODEOWNERS file, a CSV row).
// Backstage Groups are resolved across all the YAML files given. A file
// that cannot be read as its kind is an error naming the file, line and
// field; the errors of every file are returned joined and nothing is
// emitted then.
func Import(ctx context.Context, files []export.File, m *mapping.File, o Options, emit func(export.Outcome) error) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if m == nil {
		m = &mapping.File{}
	}
	var (
		outs     []export.Outcome
		entities []*entity
	)
	err := export.ReadFiles(ctx, files, func(name string, data []byte) error {
		switch kindOf(name) {
		case "backstage":
			es, err := readEntities(name, data)
			entities = append(entities, es...)
			return err
		case "codeowners":
			out, err := codeowners(name, data, m, o)
			outs = append(outs, out)
			return err
		case "csv":
			rows, err := csvCatalog(name, data, m)
			outs = append(outs, rows...)
			return err
		}
		return export.Errorf(name, 0, "", "not a catalog file: want Backstage YAML (.yaml, .yml), a CODEOWNERS file or a CSV (.csv)")
	})
	if err == nil && len(entities) > 0 {
		var bs []export.Outcome
		bs, err = backstage(entities, m, o)
		outs = append(outs, bs...)
	}
	if err != nil {
		return err
	}
	return export.Emit(outs, emit)
}

func kindOf(name string) string {
	base := filepath.Base(name)
	switch {
	case base == "CODEOWNERS":
		return "codeowners"
	case strings.HasSuffix(strings.ToLower(base), ".yaml"), strings.HasSuffix(strings.ToLower(base), ".yml"):
		return "backstage"
	case strings.HasSuffix(strings.ToLower(base), ".csv"):
		return "csv"
	}
	return ""
}

// upsert is the event for one service's ownership from effective on.
func upsert(s *schemas.Service) sources.Event {
	return sources.Event{
		ID:     sources.ChangeID(System, s.ServiceID, "catalog.service.upserted", s.EffectiveAt),
		Source: Source, Type: "catalog.service.upserted", Time: s.EffectiveAt.UTC(), Data: s,
	}
}

// department is the department of a team without one in the source file.
func department(m *mapping.File, team string) (string, *sources.Unmapped) {
	if d, ok := m.Department(team); ok {
		return d, nil
	}
	return "", &sources.Unmapped{Key: "catalog.departments", Value: team, Allowed: []string{"<department>"}}
}

// parseDay reads an effective date: YYYY-MM-DD (midnight UTC) or an RFC
// 3339 time.
func parseDay(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD or an RFC 3339 time", v)
}
