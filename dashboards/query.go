package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// PluginID is the Grafana plugin id of the ClickHouse data source (v4).
const PluginID = "grafana-clickhouse-datasource"

// DatasourceVar is the dashboard variable every panel takes its data source
// from, so one set of dashboards serves any ClickHouse data source.
const DatasourceVar = "${datasource}"

// Result formats of grafana-clickhouse-datasource v4, from
// grafana-plugin-sdk-go data/sqlutil FormatQueryOption (0 time series, 1
// table); the plugin reads the "format" field of each query.
const (
	FormatTimeSeries = 0
	FormatTable      = 1
)

// Query is a raw-SQL query of grafana-clickhouse-datasource v4 (the
// CHSqlQuery shape of the plugin's src/types/sql.ts). The foundation SDK
// ships no ClickHouse query type, so this implements its dataquery variant.
type Query struct {
	RefID      string                `json:"refId"`
	Hide       *bool                 `json:"hide,omitempty"`
	Datasource *common.DataSourceRef `json:"datasource,omitempty"`
	EditorType string                `json:"editorType"` // "sql"
	QueryType  string                `json:"queryType"`  // "table" or "timeseries"
	Format     int                   `json:"format"`     // FormatTable or FormatTimeSeries
	RawSQL     string                `json:"rawSql"`
}

// ImplementsDataqueryVariant marks Query as a dataquery for the SDK.
func (Query) ImplementsDataqueryVariant() {}

// DataqueryType returns the plugin id.
func (Query) DataqueryType() string { return PluginID }

// Validate accepts every query; the lint test checks the content.
func (Query) Validate() error { return nil }

// Equals reports whether other is the same query.
func (q Query) Equals(other variants.Dataquery) bool {
	o, ok := other.(Query)
	if !ok {
		return false
	}
	sameHide := (q.Hide == nil) == (o.Hide == nil) && (q.Hide == nil || *q.Hide == *o.Hide)
	sameDS := (q.Datasource == nil) == (o.Datasource == nil) &&
		(q.Datasource == nil || refString(q.Datasource.Uid) == refString(o.Datasource.Uid) && refString(q.Datasource.Type) == refString(o.Datasource.Type))
	return q.RefID == o.RefID && sameHide && sameDS && q.EditorType == o.EditorType &&
		q.QueryType == o.QueryType && q.Format == o.Format && q.RawSQL == o.RawSQL
}

func refString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// datasourceRef is the reference every panel and query carries.
func datasourceRef() common.DataSourceRef {
	typ, uid := PluginID, DatasourceVar
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

// queryBuilder adapts a Query to the SDK's builder interface.
type queryBuilder struct{ q Query }

var _ cog.Builder[variants.Dataquery] = queryBuilder{}

func (b queryBuilder) Build() (variants.Dataquery, error) { return b.q, nil }

func newQuery(sql string, format int) queryBuilder {
	ds := datasourceRef()
	qt := "table"
	if format == FormatTimeSeries {
		qt = "timeseries"
	}
	return queryBuilder{Query{RefID: "A", Datasource: &ds, EditorType: "sql", QueryType: qt, Format: format, RawSQL: sql}}
}
