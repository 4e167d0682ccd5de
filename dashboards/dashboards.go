// Package dashboards builds the impact Grafana dashboards as code, exports
// them for file provisioning, and provisions them through the Grafana HTTP
// API.
//
// Every panel queries ClickHouse through grafana-clickhouse-datasource v4
// with raw SQL kept in embedded files under sql/. The SQL uses only the
// macros $__timeFilter, $__fromTime and $__toTime, which expand to
// expressions ClickHouse 18.16 and current releases both accept; Expand
// reproduces the plugin's expansion so tests can run every panel query.
package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/barchart"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

//go:embed sql
var sqlFS embed.FS

// Kind is a panel visualisation.
type Kind string

// Panel kinds used by the impact dashboards.
const (
	Stat       Kind = "stat"
	TimeSeries Kind = "timeseries"
	Table      Kind = "table"
	BarChart   Kind = "barchart"
)

// Evidence levels of the design brief's statistics rules.
const (
	Descriptive     = "descriptive"
	Adjusted        = "adjusted"
	QuasiExperiment = "quasi_experiment"
	Experiment      = "experiment"
	Operational     = "operational" // pipeline metrics: measurements, not inferences
)

// Panel is one panel: what it shows, how the figure is computed and where
// its SQL lives.
type Panel struct {
	Title    string
	Summary  string // what the figure is, in "associated with" wording
	Method   string // how it is computed
	N        string // which count is the sample size and where it is shown
	Evidence string // one of the evidence levels
	Kind     Kind
	Unit     string            // unit of every field...
	Units    map[string]string // ...except these fields (e.g. n)
	SQL      string            // file under sql/
	Columns  []string          // result columns in order; for time series the first is the DateTime "time"
	Width    uint32            // grid columns of 24; default 12
	Height   uint32            // grid rows; default 8
}

// Variable is a dashboard template variable filled by a ClickHouse query.
type Variable struct {
	Name, Label string
	SQL         string // file under sql/
	// IncludeAll adds an "All" option whose value is AllValue; queries
	// test for it explicitly. SQL reads a variable only as
	// decodeURLComponent('${name:percentencode}') (see Lint):
	//
	//	(decodeURLComponent('${team:percentencode}') = '__all'
	//	    OR team = decodeURLComponent('${team:percentencode}'))
	IncludeAll bool
	// Constant makes the variable a hidden constant holding this value
	// (SQL is then unused): a department's own dashboard fixes its
	// department so. Grafana takes a constant from the dashboard, never
	// from the URL; queries still read it through the percentencode form.
	Constant string
}

// AllValue is the value of a variable's "All" option.
const AllValue = "__all"

// Dashboard is one dashboard and its panels.
type Dashboard struct {
	UID         string // stable: provisioning overwrites by uid
	Title       string
	Description string
	Variables   []Variable
	Panels      []Panel
	// Datasource, when set, pins the dashboard to one data source: the
	// datasource variable is hidden, lists only that data source (by
	// name) and starts on it. A department's dashboard is pinned to the
	// data source of its department's reader.
	Datasource *DatasourceRef
}

// DatasourceRef names a Grafana data source.
type DatasourceRef struct{ UID, Name string }

// Description is the panel description Grafana shows: summary, method, n and
// evidence level, so no figure appears without how it was made.
func (p Panel) Description() string {
	return fmt.Sprintf("%s\nMethod: %s\nn: %s\nEvidence: %s.", p.Summary, p.Method, p.N, p.Evidence)
}

// Format returns the plugin result format the panel needs.
func (p Panel) Format() int {
	if p.Kind == TimeSeries {
		return FormatTimeSeries
	}
	return FormatTable
}

// Query returns the panel's raw SQL, macros unexpanded.
func (p Panel) Query() (string, error) { return readSQL(p.SQL) }

// Query returns the variable's raw SQL.
func (v Variable) Query() (string, error) { return readSQL(v.SQL) }

func readSQL(name string) (string, error) {
	b, err := fs.ReadFile(sqlFS, "sql/"+name)
	if err != nil {
		return "", fmt.Errorf("read panel sql %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// Build turns the dashboard into the Grafana dashboard model.
func (d Dashboard) Build() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder(d.Title).
		Uid(d.UID).
		Description(d.Description).
		Tags([]string{"impact"}).
		Timezone(common.TimeZoneUtc).
		Time("now-1y", "now").
		Refresh("").
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(d.datasourceVariable())
	for _, v := range d.Variables {
		if v.Constant != "" {
			value := v.Constant
			b = b.WithVariable(dashboard.NewConstantVariableBuilder(v.Name).
				Label(v.Label).
				Value(dashboard.StringOrMap{String: &value}))
			continue
		}
		sql, err := v.Query()
		if err != nil {
			return dashboard.Dashboard{}, fmt.Errorf("dashboard %s variable %s: %w", d.UID, v.Name, err)
		}
		vb := dashboard.NewQueryVariableBuilder(v.Name).
			Label(v.Label).
			Datasource(datasourceRef()).
			Query(dashboard.StringOrMap{String: &sql}).
			Definition(sql).
			Refresh(dashboard.VariableRefreshOnDashboardLoad).
			Sort(dashboard.VariableSortAlphabeticalAsc)
		if v.IncludeAll {
			vb = vb.IncludeAll(true).AllValue(AllValue)
		}
		b = b.WithVariable(vb)
	}
	for _, p := range d.Panels {
		pb, err := p.builder()
		if err != nil {
			return dashboard.Dashboard{}, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		b = b.WithPanel(pb)
	}
	out, err := b.Build()
	if err != nil {
		return dashboard.Dashboard{}, fmt.Errorf("build dashboard %s: %w", d.UID, err)
	}
	return out, nil
}

// datasourceVariable is the variable every panel takes its data source
// from: any ClickHouse data source, or the pinned one alone.
func (d Dashboard) datasourceVariable() *dashboard.DatasourceVariableBuilder {
	v := dashboard.NewDatasourceVariableBuilder("datasource").
		Label("Data source").
		Type(PluginID)
	if d.Datasource != nil {
		v = v.Regex("/^" + regexp.QuoteMeta(d.Datasource.Name) + "$/").
			Hide(dashboard.VariableHideHideVariable).
			Current(dashboard.VariableOption{
				Text:  dashboard.StringOrArrayOfString{String: &d.Datasource.Name},
				Value: dashboard.StringOrArrayOfString{String: &d.Datasource.UID},
			})
	}
	return v
}

// JSON returns the dashboard model as indented JSON, the form exported for
// file provisioning and posted to the API.
func (d Dashboard) JSON() ([]byte, error) {
	m, err := d.Build()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode dashboard %s: %w", d.UID, err)
	}
	return append(b, '\n'), nil
}

func (p Panel) builder() (cog.Builder[dashboard.Panel], error) {
	sql, err := p.Query()
	if err != nil {
		return nil, fmt.Errorf("panel %q: %w", p.Title, err)
	}
	w, h := p.Width, p.Height
	if w == 0 {
		w = 12
	}
	if h == 0 {
		h = 8
	}
	q := newQuery(sql, p.Format())
	ds := datasourceRef()
	var overrides []cog.Builder[dashboard.DashboardFieldConfigSourceOverrides]
	for _, field := range slices.Sorted(maps.Keys(p.Units)) {
		overrides = append(overrides, dashboard.NewDashboardFieldConfigSourceOverridesBuilder().
			Matcher(dashboard.MatcherConfig{Id: "byName", Options: field}).
			Properties([]dashboard.DynamicConfigValue{{Id: "unit", Value: p.Units[field]}}))
	}
	if hasColumn(p.Columns, "evidence_level") {
		// Figures below the transform's minimum n are labelled, not quoted.
		overrides = append(overrides, dashboard.NewDashboardFieldConfigSourceOverridesBuilder().
			Matcher(dashboard.MatcherConfig{Id: "byName", Options: "evidence_level"}).
			Properties([]dashboard.DynamicConfigValue{{Id: "mappings", Value: []any{map[string]any{
				"type": "value",
				"options": map[string]any{
					"insufficient": map[string]any{"text": "insufficient n: do not quote", "color": "text", "index": 0},
				},
			}}}}))
	}
	switch p.Kind {
	case Stat:
		return stat.NewPanelBuilder().Title(p.Title).Description(p.Description()).Datasource(ds).
			Unit(p.Unit).Span(w).Height(h).WithTarget(q).Overrides(overrides).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false).Fields("/.*/")).
			TextMode(common.BigValueTextModeValueAndName).
			GraphMode(common.BigValueGraphModeNone), nil
	case TimeSeries:
		return timeseries.NewPanelBuilder().Title(p.Title).Description(p.Description()).Datasource(ds).
			Unit(p.Unit).Span(w).Height(h).WithTarget(q).Overrides(overrides), nil
	case Table:
		return table.NewPanelBuilder().Title(p.Title).Description(p.Description()).Datasource(ds).
			Unit(p.Unit).Span(w).Height(h).WithTarget(q).Overrides(overrides), nil
	case BarChart:
		return barchart.NewPanelBuilder().Title(p.Title).Description(p.Description()).Datasource(ds).
			Unit(p.Unit).Span(w).Height(h).WithTarget(q).Overrides(overrides), nil
	}
	return nil, fmt.Errorf("panel %q: unknown kind %q", p.Title, p.Kind)
}

func hasColumn(cols []string, name string) bool {
	for _, c := range cols {
		if c == name {
			return true
		}
	}
	return false
}
