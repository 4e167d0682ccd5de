package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// entity is the part of a Backstage catalog entity the mapper reads.
type entity struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Title       string            `yaml:"title"`
		Annotations map[string]string `yaml:"annotations"`
		Labels      map[string]string `yaml:"labels"`
		Tags        []string          `yaml:"tags"`
	} `yaml:"metadata"`
	Spec struct {
		Type    string `yaml:"type"`
		Owner   string `yaml:"owner"`
		System  string `yaml:"system"`
		Parent  string `yaml:"parent"`
		Profile struct {
			DisplayName string `yaml:"displayName"`
		} `yaml:"profile"`
	} `yaml:"spec"`

	file string
	line int
}

// ref is a Backstage entity reference: [kind:][namespace/]name, compared
// ignoring case.
func ref(s, defaultKind string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		kind, rest = defaultKind, s
	}
	if !strings.Contains(rest, "/") {
		rest = "default/" + rest
	}
	return kind + ":" + rest
}

func (e *entity) ref() string {
	ns := sources.Or(e.Metadata.Namespace, "default")
	return ref(e.Kind+":"+ns+"/"+e.Metadata.Name, "")
}

// label is how a group is named in events: its display name, title or name.
func (e *entity) label() string {
	return sources.Or(e.Spec.Profile.DisplayName, sources.Or(e.Metadata.Title, e.Metadata.Name))
}

// backstage maps the components of entities read from every YAML file
// given, their groups resolved across the files.
func backstage(entities []*entity, m *mapping.File, o Options) ([]export.Outcome, error) {
	groups := map[string]*entity{}
	for _, e := range entities {
		if strings.EqualFold(e.Kind, "Group") {
			groups[e.ref()] = e
		}
	}
	var outs []export.Outcome
	for _, e := range entities {
		out := export.Outcome{File: e.file, Line: e.line}
		switch strings.ToLower(e.Kind) {
		case "component":
			if err := component(e, groups, m, o, &out); err != nil {
				return nil, err
			}
		case "group":
			out.Folded = true // resolved into its components' team and department
		default:
			out.Ignored = fmt.Sprintf("kind %s carries no ownership of a service", e.Kind)
		}
		outs = append(outs, out)
	}
	return outs, nil
}

func readEntities(file string, data []byte) ([]*entity, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []*entity
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, export.At(file, yamlLine(err), "", fmt.Errorf("not valid YAML: %v", strings.TrimPrefix(err.Error(), "yaml: ")))
		}
		if len(doc.Content) == 0 || doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Tag == "!!null" {
			continue // an empty document between separators
		}
		e := &entity{file: file, line: doc.Content[0].Line}
		if err := doc.Decode(e); err != nil {
			return nil, export.At(file, yamlLine(err), "", fmt.Errorf("not a Backstage entity: %v", strings.TrimPrefix(err.Error(), "yaml: ")))
		}
		for _, req := range []struct{ name, v string }{{"apiVersion", e.APIVersion}, {"kind", e.Kind}, {"metadata.name", e.Metadata.Name}} {
			if req.v == "" {
				return nil, export.Errorf(file, e.line, req.name, "missing: not a Backstage catalog entity")
			}
		}
		out = append(out, e)
	}
}

// yamlLine finds the line in a yaml.v3 error ("yaml: line 7: ...").
func yamlLine(err error) int {
	var n int
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		fmt.Sscanf(s[i+5:], "%d", &n)
	}
	return n
}

func component(e *entity, groups map[string]*entity, m *mapping.File, o Options, out *export.Outcome) error {
	ann := e.Metadata.Annotations
	eff := o.EffectiveAt
	if v := ann[annotationPrefix+"effective-at"]; v != "" {
		t, err := parseDay(v)
		if err != nil {
			return export.At(e.file, e.line, "metadata.annotations."+annotationPrefix+"effective-at", err)
		}
		eff = t
	}
	if eff.IsZero() {
		return export.Errorf(e.file, e.line, "", "component %s: when did this ownership take effect? Pass --effective-at DATE (for a first import, a date before the history you import) or annotate it %seffective-at", e.Metadata.Name, annotationPrefix)
	}
	if e.Spec.Owner == "" {
		out.Rejected = fmt.Sprintf("component %s has no spec.owner", e.Metadata.Name)
		return nil
	}
	owner := groups[ref(e.Spec.Owner, "group")]
	if owner == nil {
		out.Rejected = fmt.Sprintf("component %s: owner %s is not a Group in the files given (pass the files defining the groups too)", e.Metadata.Name, e.Spec.Owner)
		return nil
	}
	team := owner.label()
	dept, u := departmentOf(owner, groups, m)
	if u != nil {
		out.Unmapped = append(out.Unmapped, *u)
		return nil
	}
	id := e.Metadata.Name
	if slug := ann["github.com/project-slug"]; slug != "" {
		id = m.Service(mapping.GitHub, slug, slug)
	}
	tier := strings.ToLower(sources.Or(ann[annotationPrefix+"tier"], e.Metadata.Labels["tier"]))
	if tier == "" {
		tier = m.CatalogTier()
	}
	switch tier {
	case "critical", "high", "medium", "low":
	default:
		return export.Errorf(e.file, e.line, "metadata.annotations."+annotationPrefix+"tier", "tier %q: want critical, high, medium or low", tier)
	}
	tags := m.Catalog.InternetFacingTags
	if len(tags) == 0 {
		tags = mapping.List{"internet-facing"}
	}
	facing := truthy(ann[annotationPrefix+"internet-facing"])
	for _, t := range e.Metadata.Tags {
		facing = facing || tags.Has(t)
	}
	s := &schemas.Service{
		ServiceID: id, ServiceName: sources.NonEmpty(sources.Or(e.Metadata.Title, e.Metadata.Name)),
		Team: team, Department: dept, Product: sources.NonEmpty(e.Spec.System), Tier: tier,
		InternetFacing: facing, EffectiveAt: eff.UTC(),
	}
	out.Events = append(out.Events, upsert(s))
	return nil
}

// departmentOf walks up from the owner group: the first ancestor whose
// spec.type is a department type (catalog.department_types), or by
// default the owner's parent; a group without one is looked up in
// catalog.departments.
func departmentOf(owner *entity, groups map[string]*entity, m *mapping.File) (string, *sources.Unmapped) {
	types := m.Catalog.DepartmentTypes
	g := owner
	for depth := 0; depth < 32 && g != nil; depth++ {
		if len(types) > 0 && types.Has(g.Spec.Type) && g != owner {
			return g.label(), nil
		}
		if g.Spec.Parent == "" {
			break
		}
		parent := groups[ref(g.Spec.Parent, "group")]
		if len(types) == 0 && g == owner && parent != nil {
			return parent.label(), nil
		}
		g = parent
	}
	return department(m, owner.label())
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "1":
		return true
	}
	return false
}
