package dashboards

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	deptname "github.com/secimpact/impact/internal/department"
)

// AlertRule is one Grafana-managed alert rule: a ClickHouse query in an
// embedded file under sql/alerts/ returning one row per alert instance,
// with string columns (the labels: department routes the notification)
// and one numeric column value, which fires when above Threshold (Grafana
// alerting on table data takes exactly that shape).
type AlertRule struct {
	Name    string // stable: the rule's uid is "impact-" + Name, its label impact_alert
	Title   string
	Summary string // what firing means, in "associated with" wording where it applies
	SQL     string // file under sql/
	// Range is how far back the query's time range starts
	// ($__fromTime); it ends at evaluation time ($__toTime).
	Range time.Duration
	// For is how long the condition must hold before the alert fires.
	For time.Duration
	// Department rules answer per department (label department);
	// the others (pipeline health) go to the CISO's contact point.
	Department bool
	// Default is the threshold when the configuration sets none;
	// Configured picks the rule's field of the configuration.
	Default    float64
	Configured func(Thresholds) *float64
}

// Thresholds are the configured alert thresholds; a missing field takes
// the rule's default (in brackets).
type Thresholds struct {
	// SLABreaches: open critical/high findings past due [0: any].
	SLABreaches *float64 `yaml:"sla_breaches"`
	// SecurityDebtGrowth: growth of the security debt over 30 days [0].
	SecurityDebtGrowth *float64 `yaml:"security_debt_growth"`
	// CostOfRiskUSD: cost of risk charged to a department over the last
	// 90 days, the calendar months they touch [100000].
	CostOfRiskUSD *float64 `yaml:"cost_of_risk_usd"`
	// GateBlockSpike: the last 7 days' block rate (lower limit of its
	// Wilson 95% interval) minus the previous 28 days' [0: above the
	// baseline beyond chance].
	GateBlockSpike *float64 `yaml:"gate_block_spike"`
	// IngestStalled: stalled or silent partitions [0: any].
	IngestStalled *float64 `yaml:"ingest_stalled_partitions"`
	// DLQShare: share of messages rejected in the last 15 minutes [0.01].
	DLQShare *float64 `yaml:"dlq_share"`
	// TransformStaleSeconds: seconds since the last transform refresh
	// [1800: six missed 5-minute refreshes].
	TransformStaleSeconds *float64 `yaml:"transform_stale_seconds"`
}

// Threshold is the rule's threshold under t.
func (r AlertRule) Threshold(t Thresholds) float64 {
	if v := r.Configured(t); v != nil {
		return *v
	}
	return r.Default
}

// AlertRules returns the impact alert rules in a fixed order.
func AlertRules() []AlertRule {
	return []AlertRule{
		{Name: "sla_breaches", Title: "Remediation SLA breached (critical/high)", Department: true,
			Summary: "Critical or high findings of the department are open past their remediation due date (critical 15, high 30 days, or the date the scanner set).",
			SQL:     "alerts/sla_breaches.sql", Range: 24 * time.Hour, For: 0,
			Default: 0, Configured: func(t Thresholds) *float64 { return t.SLABreaches }},
		{Name: "security_debt_growth", Title: "Security debt grew over 30 days", Department: true,
			Summary: "The department's open critical and high findings older than a year grew over the last 30 days.",
			SQL:     "alerts/security_debt_growth.sql", Range: 30 * 24 * time.Hour, For: 0,
			Default: 0, Configured: func(t Thresholds) *float64 { return t.SecurityDebtGrowth }},
		{Name: "cost_of_risk", Title: "Cost of risk above threshold", Department: true,
			Summary: "Incident cost charged to the department (for decisions that contributed, split evenly among contributors) plus assessment and monitoring of the tools it requested, over the last 90 days, is above the configured threshold.",
			SQL:     "alerts/cost_of_risk.sql", Range: 90 * 24 * time.Hour, For: 0,
			Default: 100000, Configured: func(t Thresholds) *float64 { return t.CostOfRiskUSD }},
		{Name: "gate_block_spike", Title: "Security gate block rate spike", Department: true,
			Summary: "The department's deployments were blocked by failing security gates more often in the last 7 days than in the 28 before, beyond what chance explains (lower limit of the recent rate's Wilson 95% interval above the baseline rate).",
			SQL:     "alerts/gate_block_spike.sql", Range: 35 * 24 * time.Hour, For: 0,
			Default: 0, Configured: func(t Thresholds) *float64 { return t.GateBlockSpike }},
		{Name: "ingest_stalled", Title: "Ingest stalled: lag grows without commits",
			Summary: "Kafka partitions have messages past their committed offset and no commit for over 5 minutes, or their ingester stopped reporting.",
			SQL:     "alerts/ingest_stalled.sql", Range: 15 * time.Minute, For: 5 * time.Minute,
			Default: 0, Configured: func(t Thresholds) *float64 { return t.IngestStalled }},
		{Name: "dlq_rate", Title: "Dead-letter rate high",
			Summary: "The share of messages ingest rejected to the dead-letter topic in the last 15 minutes is above the threshold (at least 5 rejects).",
			SQL:     "alerts/dlq_rate.sql", Range: 15 * time.Minute, For: 5 * time.Minute,
			Default: 0.01, Configured: func(t Thresholds) *float64 { return t.DLQShare }},
		{Name: "transform_stale", Title: "Transform stale",
			Summary: "impact transform has not refreshed the analyst tables for longer than the threshold: every figure is getting old.",
			SQL:     "alerts/transform_stale.sql", Range: 15 * time.Minute, For: 0,
			Default: 1800, Configured: func(t Thresholds) *float64 { return t.TransformStaleSeconds }},
	}
}

// UID is the rule's uid in Grafana.
func (r AlertRule) UID() string { return "impact-" + strings.ReplaceAll(r.Name, "_", "-") }

// Query returns the rule's SQL, macros unexpanded.
func (r AlertRule) Query() (string, error) { return readSQL(r.SQL) }

// Contact is where alerts go: e-mail addresses and/or a webhook URL.
type Contact struct {
	Email   []string `yaml:"email"`
	Webhook string   `yaml:"webhook"`
}

func (c Contact) empty() bool { return len(c.Email) == 0 && c.Webhook == "" }

// Alerting is the alerting configuration (impact provision --alerting
// FILE, YAML): the CISO's contact, which gets every alert without a
// department contact and all pipeline-health alerts, each department's,
// and the thresholds.
type Alerting struct {
	CISO        Contact            `yaml:"ciso"`
	Departments map[string]Contact `yaml:"departments"`
	Thresholds  Thresholds         `yaml:"thresholds"`
	// Folder holding the rules; default FolderUID.
	Folder string `yaml:"-"`
	// Datasource the rules query; default the cross-department one.
	DatasourceUID string `yaml:"-"`
}

// LoadAlerting reads the alerting configuration file.
func LoadAlerting(path string) (Alerting, error) {
	var a Alerting
	b, err := os.ReadFile(path)
	if err != nil {
		return a, fmt.Errorf("read alerting configuration: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		return a, fmt.Errorf("alerting configuration %s: %w", path, err)
	}
	return a, a.Validate()
}

// Validate names the first bad field.
func (a Alerting) Validate() error {
	if a.CISO.empty() {
		return errors.New("alerting: ciso needs an email list or a webhook (it gets pipeline alerts and every department without a contact)")
	}
	check := func(where string, c Contact) error {
		for _, e := range c.Email {
			if !strings.Contains(e, "@") || strings.ContainsAny(e, ";, \t\n") {
				return fmt.Errorf("alerting: %s: %q is not one e-mail address", where, e)
			}
		}
		if c.Webhook != "" && !strings.HasPrefix(c.Webhook, "https://") && !strings.HasPrefix(c.Webhook, "http://") {
			return fmt.Errorf("alerting: %s: webhook %q is not an http(s) URL", where, c.Webhook)
		}
		return nil
	}
	if err := check("ciso", a.CISO); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(a.Departments)) {
		if name == "" || a.Departments[name].empty() {
			return fmt.Errorf("alerting: departments: %q needs a name and an email list or a webhook", name)
		}
		if err := check("departments."+name, a.Departments[name]); err != nil {
			return err
		}
	}
	return nil
}

// Receiver names: a contact point's name is the receiver a route names.
const cisoReceiver = "impact: CISO"

func departmentReceiver(name string) string { return "impact: " + name }

func departmentContactUID(name string) string { return "impact-cp-" + deptname.Slug(name) }

// Labels every impact rule carries; the notification policy routes on
// them.
const (
	labelImpact = "impact"
	labelAlert  = "impact_alert"
	labelDept   = "department"
	ruleGroup   = "impact-alerts"
	// ruleInterval is the rule group's evaluation interval.
	ruleInterval = 5 * time.Minute
)
