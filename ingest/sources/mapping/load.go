package mapping

import (
	"errors"
	"fmt"
	"os"
	"path"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Error is one problem in a mapping file: where it is and what is wrong.
type Error struct {
	File string // file name as given to Load or Parse
	Line int    // 1-based; 0 when unknown
	Key  string // dotted key path, e.g. crm.segments or services[2].github
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// Errors is every problem found in a mapping file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

// Load reads and validates the mapping file at name. The error, if any, is
// an Errors listing every problem with its line and key, or the read error.
func Load(name string) (*File, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read mapping file: %w", err)
	}
	return Parse(name, b)
}

// Parse validates a mapping file's content; name is used in errors.
func Parse(name string, data []byte) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{{File: name, Line: yamlLine(err), Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	v := validator{file: name, lines: map[string]int{}}
	doc := &root
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			doc = nil
		} else {
			doc = doc.Content[0]
		}
	}
	f := &File{name: name}
	if doc == nil || doc.Kind == 0 {
		v.add(0, "version", "missing: the file must start with version: 1")
		return nil, v.errs
	}
	v.walk(doc, reflect.TypeOf(*f), "")
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	if err := doc.Decode(f); err != nil {
		return nil, Errors{{File: name, Line: yamlLine(err), Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	f.name = name
	v.check(f)
	if len(v.errs) > 0 {
		return nil, v.errs
	}
	return f, nil
}

// yamlLine finds the line in a yaml.v3 error ("yaml: line 7: ...").
func yamlLine(err error) int {
	s := err.Error()
	i := strings.Index(s, "line ")
	if i < 0 {
		return 0
	}
	j := i + 5
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(s[i+5 : j])
	return n
}

type validator struct {
	file  string
	lines map[string]int // key path -> line
	errs  Errors
}

func (v *validator) add(line int, key, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.file, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) at(key string) int { return v.lines[key] }

var (
	listType     = reflect.TypeOf(List(nil))
	picklistType = reflect.TypeOf(Picklist(nil))
)

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// walk checks the node's shape against t: every mapping key must be a
// field of the struct (by its yaml tag), lists and scalars where they
// belong. It records the line of every key path for later errors.
func (v *validator) walk(n *yaml.Node, t reflect.Type, p string) {
	if p != "" {
		if _, seen := v.lines[p]; !seen {
			v.lines[p] = n.Line
		}
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch t {
	case listType:
		switch n.Kind {
		case yaml.ScalarNode:
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if c.Kind != yaml.ScalarNode {
					v.add(c.Line, fmt.Sprintf("%s[%d]", p, i), "must be a scalar (an id or name)")
				}
			}
		default:
			v.add(n.Line, p, "must be an id or a list of ids")
		}
		return
	case picklistType:
		if n.Kind != yaml.MappingNode {
			if !(n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
				v.add(n.Line, p, "must be a mapping of source value: contract value")
			}
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(p, k.Value)
			v.lines[kp] = k.Line
			if k.Kind != yaml.ScalarNode || val.Kind != yaml.ScalarNode {
				v.add(k.Line, kp, "picklist entries must be scalar source value: contract value")
				continue
			}
			if prev, dup := seen[fold(k.Value)]; dup {
				v.add(k.Line, kp, "listed twice (also on line %d; picklist keys ignore case)", prev)
			}
			seen[fold(k.Value)] = k.Line
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return
			}
			v.add(n.Line, p, "must be a mapping with keys %s", strings.Join(yamlKeys(t), ", "))
			return
		}
		fields := map[string]reflect.Type{}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			if tag := yamlName(sf); tag != "" {
				fields[tag] = sf.Type
			}
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			kp := join(p, k.Value)
			ft, ok := fields[k.Value]
			if !ok {
				v.add(k.Line, kp, "unknown key (known keys here: %s)", strings.Join(yamlKeys(t), ", "))
				continue
			}
			if seen[k.Value] {
				v.add(k.Line, kp, "listed twice")
			}
			seen[k.Value] = true
			v.lines[kp] = k.Line
			v.walk(val, ft, kp)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
				return
			}
			v.add(n.Line, p, "must be a list")
			return
		}
		for i, c := range n.Content {
			v.walk(c, t.Elem(), fmt.Sprintf("%s[%d]", p, i))
		}
	case reflect.Pointer:
		v.walk(n, t.Elem(), p)
	default: // scalars: string, int, bool
		if n.Kind != yaml.ScalarNode {
			v.add(n.Line, p, "must be a single value, not a %s", kindName(n.Kind))
		}
	}
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

func yamlName(sf reflect.StructField) string {
	if !sf.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	return name
}

func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// UnmarshalYAML reads one scalar or a list of scalars.
func (l *List) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			*l = nil
			return nil
		}
		*l = List{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(List, 0, len(n.Content))
		for _, c := range n.Content {
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return errors.New("must be an id or a list of ids")
}

// UnmarshalYAML reads a mapping of scalars, folding keys.
func (p *Picklist) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		*p = nil
		return nil
	}
	out := Picklist{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[fold(n.Content[i].Value)] = strings.TrimSpace(n.Content[i+1].Value)
	}
	*p = out
	return nil
}

// check validates values and builds the lookup indexes.
func (v *validator) check(f *File) {
	if f.Version != Version {
		v.add(v.at("version"), "version", "must be %d (got %d)", Version, f.Version)
	}
	f.services = map[string]map[string]string{}
	f.accounts = map[string]map[string]string{}
	v.identities("services", "service", "the catalog service_id", len(f.Services), func(i int) (string, map[string]List) {
		e := &f.Services[i]
		return e.ID, map[string]List{GitHub: e.GitHub, GitLab: e.GitLab, PagerDutyS: e.PagerDuty}
	}, f.services)
	v.identities("accounts", "account", "the contract account_id", len(f.Accounts), func(i int) (string, map[string]List) {
		e := &f.Accounts[i]
		return e.ID, map[string]List{Zendesk: e.Zendesk, HubSpotS: e.HubSpot, Salesforce: e.Salesforce}
	}, f.accounts)
	for i, g := range f.Gates {
		p := fmt.Sprintf("gates[%d]", i)
		if !slices.Contains(gateSources, g.Source) {
			v.add(v.at(p+".source"), p+".source", "must be one of %s (got %q)", strings.Join(gateSources, ", "), g.Source)
		}
		if g.Source == GitHub && g.Stage != "" {
			v.add(v.at(p+".stage"), p+".stage", "GitLab only; GitHub gates select by workflow")
		}
		if g.Source == GitLab && g.Workflow != "" {
			v.add(v.at(p+".workflow"), p+".workflow", "GitHub only; GitLab gates select by stage")
		}
		if g.Source == GitLab && g.Environment != "" {
			v.add(v.at(p+".environment"), p+".environment", "GitHub only: GitLab has no deployment review webhook")
		}
		if g.Environment != "" && (g.Job != "" || g.Stage != "") {
			v.add(v.at(p+".environment"), p+".environment", "selects deployment reviews; an entry cannot also select jobs (job, stage)")
		}
		for _, k := range []struct{ key, pat string }{{"repo", g.Repo}, {"workflow", g.Workflow}, {"stage", g.Stage}, {"job", g.Job}, {"environment", g.Environment}} {
			if _, err := path.Match(k.pat, ""); err != nil {
				v.add(v.at(p+"."+k.key), p+"."+k.key, "bad glob %q: %v", k.pat, err)
			}
		}
	}
	v.picklist(f.CRM.Stages, "crm.stages", stageValues)
	v.picklist(f.CRM.Segments, "crm.segments", segmentValues)
	v.picklist(f.CRM.LossReasons, "crm.loss_reasons", lossValues)
	v.picklist(f.CRM.DealTypes, "crm.deal_types", dealTypeValues)
	v.picklist(f.CRM.ReviewChannels, "crm.review_channels", channelValues)
	v.picklist(f.Incidents.PagerDuty.Severity, "incidents.pagerduty.severity", severityValues)
	v.picklist(f.Incidents.PagerDuty.Urgency, "incidents.pagerduty.urgency", severityValues)
	v.picklist(f.Support.CSAT, "support.csat", csatValues)
	v.checkImports(f)
	sort.SliceStable(v.errs, func(i, j int) bool { return v.errs[i].Line < v.errs[j].Line })
}

// identities checks a list of services or accounts (key, e.g. services):
// each entry has an id, no id twice; and indexes each entry's source ids
// by system.
func (v *validator) identities(key, noun, idDoc string, n int, entry func(i int) (string, map[string]List), idx map[string]map[string]string) {
	seen := map[string]string{}
	for i := 0; i < n; i++ {
		id, lists := entry(i)
		p := fmt.Sprintf("%s[%d]", key, i)
		if strings.TrimSpace(id) == "" {
			v.add(v.at(p), p+".id", "required: %s", idDoc)
			continue
		}
		if prev, dup := seen[id]; dup {
			v.add(v.at(p+".id"), p+".id", "%s %q is also %s; list all its ids in one entry", noun, id, prev)
		}
		seen[id] = p
		systems := make([]string, 0, len(lists))
		for sys := range lists {
			systems = append(systems, sys)
		}
		sort.Strings(systems)
		for _, sys := range systems {
			v.index(idx, sys, lists[sys], id, p+"."+sys)
		}
	}
}

func (v *validator) index(idx map[string]map[string]string, system string, ids List, target, p string) {
	if idx[system] == nil {
		idx[system] = map[string]string{}
	}
	for _, id := range ids {
		k := fold(id)
		if k == "" {
			v.add(v.at(p), p, "empty id")
			continue
		}
		if prev, dup := idx[system][k]; dup && prev != target {
			v.add(v.at(p), p, "%s id %q is listed for both %q and %q", system, id, prev, target)
			continue
		}
		idx[system][k] = target
	}
}

func (v *validator) picklist(p Picklist, key string, allowed []string) {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, p[k]) {
			kp := key + "." + k
			line := v.at(kp)
			if line == 0 {
				line = v.lineFolded(key, k)
			}
			v.add(line, kp, "maps to %q, which is not one of %s", p[k], strings.Join(allowed, "|"))
		}
	}
}

// lineFolded finds the line of a picklist entry whose key was folded.
func (v *validator) lineFolded(key, folded string) int {
	for p, l := range v.lines {
		if rest, ok := strings.CutPrefix(p, key+"."); ok && fold(rest) == folded {
			return l
		}
	}
	return v.at(key)
}
