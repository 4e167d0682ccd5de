// Package mapping is the one mapping file of impact's source mappers: which
// repository, project or PagerDuty service is which catalog service, which
// Zendesk organization, HubSpot company or Salesforce account is which
// customer account, which CI jobs are security gates, which PagerDuty
// incidents are security incidents and how severe, and how CRM and support
// picklist values map onto the event contract. The webhook gateway and the
// importers read the same file.
//
// The file is YAML, validated strictly when loaded: an unknown key, a value
// outside the contract's enumerations or an id listed twice is an error
// naming the file, line and key. The full schema, with defaults, is in
// docs/mapping.md; a File's zero value is the all-defaults mapping.
//
// Picklists (crm.stages, crm.segments, ...) match source values ignoring
// case and surrounding space. The entry "*" maps every value not listed,
// including a missing one; without it such values are reported as
// sources.Unmapped, never guessed.
package mapping

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/secimpact/impact/ingest/sources"
)

// Version is the only mapping-file version this build reads.
const Version = 1

// File is a parsed, validated mapping file. Build it with Load or Parse;
// the zero value is the all-defaults mapping. A File is read-only once
// built and safe for concurrent use.
type File struct {
	// Version must be 1.
	Version int `yaml:"version"`
	// Services name the catalog service of source repositories, projects
	// and PagerDuty services.
	Services []Service `yaml:"services"`
	// Accounts name the customer account of source organizations,
	// companies and accounts.
	Accounts []Account `yaml:"accounts"`
	// Gates are the CI jobs that are security gates, first match wins.
	Gates []Gate `yaml:"gates"`
	// Incidents says which incidents are security incidents.
	Incidents Incidents `yaml:"incidents"`
	// CRM maps deal fields and picklists.
	CRM CRM `yaml:"crm"`
	// Support maps ticket fields and picklists.
	Support Support `yaml:"support"`
	// Jira says what Jira issues are (impact import jira).
	Jira Jira `yaml:"jira"`
	// Catalog configures ownership imports (impact catalog import).
	Catalog Catalog `yaml:"catalog"`

	name     string                       // file name, for errors
	services map[string]map[string]string // system -> source id (folded) -> service_id
	accounts map[string]map[string]string // system -> source id (folded) -> account_id
}

// Service is one catalog service and its ids in the source systems.
type Service struct {
	ID        string `yaml:"id"`        // catalog service_id
	GitHub    List   `yaml:"github"`    // repositories, owner/name
	GitLab    List   `yaml:"gitlab"`    // projects, path_with_namespace or numeric project id
	PagerDuty List   `yaml:"pagerduty"` // PagerDuty service ids or names
	Jira      List   `yaml:"jira"`      // Jira components (impact import jira)
}

// Account is one customer account and its ids in the source systems.
type Account struct {
	ID         string `yaml:"id"`         // contract account_id
	Name       string `yaml:"name"`       // optional display name (account_name)
	Zendesk    List   `yaml:"zendesk"`    // Zendesk organization ids
	HubSpot    List   `yaml:"hubspot"`    // HubSpot company ids
	Salesforce List   `yaml:"salesforce"` // Salesforce Account Ids
	Jira       List   `yaml:"jira"`       // Jira Service Management organizations or customer option values (impact import jira)
}

// Gate selects CI jobs, whole CI runs or deployment reviews that are
// security gates.
type Gate struct {
	Source   string `yaml:"source"`   // github or gitlab; required
	Repo     string `yaml:"repo"`     // glob on owner/name or project path; default any
	Workflow string `yaml:"workflow"` // GitHub: glob on the workflow name; default any
	Stage    string `yaml:"stage"`    // GitLab: glob on the job's stage; default any
	Job      string `yaml:"job"`      // glob on the job name; without it the entry selects whole runs
	// Environment (GitHub): deployment reviews of environments matching
	// this glob are gates (the entry then selects reviews, not jobs).
	Environment string `yaml:"environment"`
	Blocking    *bool  `yaml:"blocking"` // a failure blocks deployment; default true
	Tool        string `yaml:"tool"`     // tool name in gate events; default "<workflow or stage>/<job>"
}

// Incidents configures incident sources.
type Incidents struct {
	PagerDuty PagerDuty `yaml:"pagerduty"`
}

// PagerDuty says which PagerDuty incidents are security incidents: those on
// one of Services or with one of Priorities. With neither set no PagerDuty
// incident is a security incident (every one is ignored).
type PagerDuty struct {
	Services   List     `yaml:"services"`   // service ids or names
	Priorities List     `yaml:"priorities"` // priority names, on any service
	Severity   Picklist `yaml:"severity"`   // priority name -> critical|high|medium|low; default P1 critical, P2 high, P3 medium, P4 low, P5 low
	Urgency    Picklist `yaml:"urgency"`    // urgency, for incidents without priority -> severity; default high high, low low
	Category   string   `yaml:"category"`   // incident category; default security_incident
}

// CRM maps opportunity fields.
type CRM struct {
	Stages         Picklist `yaml:"stages"`          // stage id or label -> open|won|lost|no_decision; default: the CRM's own closed/won flags
	Segments       Picklist `yaml:"segments"`        // -> smb|mid_market|enterprise; no default
	LossReasons    Picklist `yaml:"loss_reasons"`    // -> price|product|competitor|security|timing|other; no default
	DealTypes      Picklist `yaml:"deal_types"`      // -> new|expansion|renewal; default HubSpot's newbusiness new, existingbusiness expansion, empty new
	ReviewChannels Picklist `yaml:"review_channels"` // -> trust_center|questionnaire|call|redline; default questionnaire
	HubSpot        HubSpot  `yaml:"hubspot"`
	// Currency converts deal amounts to USD (importers).
	Currency Currency `yaml:"currency"`
	// Salesforce describes the Salesforce report exports (impact import salesforce).
	Salesforce SalesforceExport `yaml:"salesforce"`
}

// HubSpot names the HubSpot deal properties the mappers read.
type HubSpot struct {
	// Pipelines restricts deals to these pipeline ids; default every pipeline.
	Pipelines  List              `yaml:"pipelines"`
	Properties HubSpotProperties `yaml:"properties"`
	// TimeZone is the portal's time zone (IANA name): the zone of the
	// date-times of a deals CSV export, which carry no offset. Default UTC.
	TimeZone string `yaml:"time_zone"`
}

// HubSpotProperties are deal property internal names. Empty ones are not
// read (the defaults are HubSpot's standard properties).
type HubSpotProperties struct {
	Segment         string `yaml:"segment"`                   // picklist crm.segments; no default
	LossReason      string `yaml:"loss_reason"`               // picklist crm.loss_reasons; default closed_lost_reason
	DealType        string `yaml:"deal_type"`                 // picklist crm.deal_types; default dealtype
	Region          string `yaml:"region"`                    // free text; no default
	Industry        string `yaml:"industry"`                  // free text; no default
	Product         string `yaml:"product"`                   // free text; no default
	Currency        string `yaml:"currency"`                  // ISO 4217; default deal_currency_code
	ReviewRequested string `yaml:"security_review_requested"` // date/datetime (or true/false) property: review requested; no default
	ReviewCompleted string `yaml:"security_review_completed"` // date/datetime (or true/false) property: review completed; no default
	ReviewChannel   string `yaml:"security_review_channel"`   // picklist crm.review_channels; no default
}

// Support maps ticket fields.
type Support struct {
	// SecurityTags mark a ticket security_related (any one of them);
	// default [security].
	SecurityTags List `yaml:"security_tags"`
	// CSAT maps satisfaction ratings to 1-5; numbers 1-5 map to
	// themselves; default good 5, bad 1 (Zendesk's two-point rating).
	CSAT Picklist `yaml:"csat"`
}

// Picklist maps source values to contract values. Keys match ignoring case
// and surrounding space; "*" maps every other value, a missing one too.
type Picklist map[string]string

// List is a list of ids; a single scalar is a list of one.
type List []string

// The contract values each picklist may map to.
var (
	stageValues    = []string{"open", "won", "lost", "no_decision"}
	segmentValues  = []string{"smb", "mid_market", "enterprise"}
	lossValues     = []string{"price", "product", "competitor", "security", "timing", "other"}
	dealTypeValues = []string{"new", "expansion", "renewal"}
	channelValues  = []string{"trust_center", "questionnaire", "call", "redline"}
	severityValues = []string{"critical", "high", "medium", "low"}
	csatValues     = []string{"1", "2", "3", "4", "5"}
	gateSources    = []string{"github", "gitlab"}
)

// Source systems whose ids Services and Accounts list.
const (
	GitHub     = "github"
	GitLab     = "gitlab"
	PagerDutyS = "pagerduty"
	Zendesk    = "zendesk"
	HubSpotS   = "hubspot"
	Salesforce = "salesforce"
	JiraS      = "jira"
)

// Defaults of picklists whose source is explicit enough to have one.
var (
	defaultSeverity = Picklist{"p1": "critical", "p2": "high", "p3": "medium", "p4": "low", "p5": "low"}
	defaultUrgency  = Picklist{"high": "high", "low": "low"}
	defaultDealType = Picklist{"newbusiness": "new", "existingbusiness": "expansion", "": "new",
		// Salesforce's standard Opportunity Type values.
		"new customer": "new", "existing customer - upgrade": "expansion",
		"existing customer - replacement": "renewal", "existing customer - downgrade": "renewal"}
	defaultChannel = Picklist{"*": "questionnaire"}
	defaultCSAT    = Picklist{"good": "5", "bad": "1", "1": "1", "2": "2", "3": "3", "4": "4", "5": "5"}
)

// fold is the picklist and id matching key.
func fold(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// lookup maps v through p (or def when p is empty). ok is false when
// neither v nor "*" is listed; u then describes the gap.
func lookup(p, def Picklist, key string, allowed []string, v string) (string, *sources.Unmapped) {
	if len(p) == 0 {
		p = def
	}
	if out, ok := p[fold(v)]; ok {
		return out, nil
	}
	if out, ok := p["*"]; ok {
		return out, nil
	}
	return "", &sources.Unmapped{Key: key, Value: strings.TrimSpace(v), Allowed: allowed}
}

// Stage maps a CRM stage to an outcome (open, won, lost, no_decision).
// ok is false when crm.stages does not list it: the caller then uses the
// CRM's own closed/won flags.
func (f *File) Stage(stage string) (string, bool) {
	out, u := lookup(f.CRM.Stages, nil, "crm.stages", stageValues, stage)
	return out, u == nil
}

// Segment maps a segment value through crm.segments.
func (f *File) Segment(v string) (string, *sources.Unmapped) {
	return lookup(f.CRM.Segments, nil, "crm.segments", segmentValues, v)
}

// LossReason maps a loss reason through crm.loss_reasons.
func (f *File) LossReason(v string) (string, *sources.Unmapped) {
	return lookup(f.CRM.LossReasons, nil, "crm.loss_reasons", lossValues, v)
}

// DealType maps a deal type through crm.deal_types.
func (f *File) DealType(v string) (string, *sources.Unmapped) {
	return lookup(f.CRM.DealTypes, defaultDealType, "crm.deal_types", dealTypeValues, v)
}

// ReviewChannel maps a security review channel through crm.review_channels.
func (f *File) ReviewChannel(v string) (string, *sources.Unmapped) {
	return lookup(f.CRM.ReviewChannels, defaultChannel, "crm.review_channels", channelValues, v)
}

// IncidentSeverity maps a PagerDuty priority name (or, when it has none,
// its urgency) to a contract severity.
func (f *File) IncidentSeverity(priority, urgency string) (string, *sources.Unmapped) {
	pd := &f.Incidents.PagerDuty
	if strings.TrimSpace(priority) != "" {
		return lookup(pd.Severity, defaultSeverity, "incidents.pagerduty.severity", severityValues, priority)
	}
	return lookup(pd.Urgency, defaultUrgency, "incidents.pagerduty.urgency", severityValues, urgency)
}

// IncidentCategory is the category of PagerDuty security incidents.
func (f *File) IncidentCategory() string {
	return sources.Or(f.Incidents.PagerDuty.Category, "security_incident")
}

// SecurityIncident reports whether a PagerDuty incident on the service
// (id or name) with the priority (name) is a security incident.
func (f *File) SecurityIncident(serviceID, serviceName, priority string) bool {
	pd := &f.Incidents.PagerDuty
	return pd.Services.Has(serviceID) || pd.Services.Has(serviceName) || (priority != "" && pd.Priorities.Has(priority))
}

// CSAT maps a satisfaction rating ("good", "bad", "4", ...) to a score 1-5.
func (f *File) CSAT(v string) (int64, *sources.Unmapped) {
	out, u := lookup(f.Support.CSAT, defaultCSAT, "support.csat", csatValues, v)
	if u != nil {
		return 0, u
	}
	return int64(out[0] - '0'), nil
}

// SecurityRelated reports whether any tag marks a ticket as security
// related (support.security_tags; default "security").
func (f *File) SecurityRelated(tags []string) bool {
	st := f.Support.SecurityTags
	if len(st) == 0 {
		st = List{"security"}
	}
	for _, t := range tags {
		if st.Has(t) {
			return true
		}
	}
	return false
}

// Has reports whether l lists v, ignoring case and surrounding space.
func (l List) Has(v string) bool {
	v = fold(v)
	if v == "" {
		return false
	}
	return slices.ContainsFunc(l, func(x string) bool { return fold(x) == v })
}

// Service returns the catalog service_id of a source id (a GitHub
// repository owner/name, a GitLab project path or id, a PagerDuty service
// id or name): the services entry listing it, else def.
func (f *File) Service(system, id, def string) string {
	if s, ok := f.services[system][fold(id)]; ok {
		return s
	}
	return def
}

// Account returns the account_id of a source id (a Zendesk organization
// id, a HubSpot company id, a Salesforce Account Id): the accounts entry
// listing it, else "<system>:<id>", which joins nothing outside that
// system until the account is listed.
func (f *File) Account(system, id string) string {
	if a, ok := f.accounts[system][fold(id)]; ok {
		return a
	}
	return system + ":" + strings.TrimSpace(id)
}

// AccountName returns the name of the account listing the source id, "".
func (f *File) AccountName(system, id string) string {
	a, ok := f.accounts[system][fold(id)]
	if !ok {
		return ""
	}
	for _, acc := range f.Accounts {
		if acc.ID == a {
			return acc.Name
		}
	}
	return ""
}

// GateQuery describes a CI job, a whole CI run or a deployment review, to
// find out whether it is a security gate.
type GateQuery struct {
	Source      string // github or gitlab
	Repo        string // owner/name or GitLab project path
	Workflow    string // GitHub workflow name
	Stage       string // GitLab job stage
	Job         string // job name; "" for a whole run (GitHub workflow_run, GitLab pipeline)
	Environment string // GitHub deployment review: the environment reviewed
}

// GateMatch is the gate configuration matching a query.
type GateMatch struct {
	Tool     string
	Blocking bool
}

// Gate returns the first gates entry matching q. An entry with job selects
// jobs; one without job (and without environment) selects whole runs; one
// with environment selects deployment reviews of that environment. So a
// run and its jobs are never both counted as the same gate.
func (f *File) Gate(q GateQuery) (GateMatch, bool) {
	for _, g := range f.Gates {
		if g.Source != q.Source || !glob(g.Repo, q.Repo) || !glob(g.Workflow, q.Workflow) {
			continue
		}
		var tool string
		switch {
		case q.Environment != "":
			if g.Environment == "" || !glob(g.Environment, q.Environment) {
				continue
			}
			tool = "deployment_review/" + q.Environment
		case g.Environment != "":
			continue
		case q.Job == "":
			if g.Job != "" || g.Stage != "" {
				continue
			}
			tool = q.Workflow
		default:
			if g.Job == "" || !glob(g.Job, q.Job) || !glob(g.Stage, q.Stage) {
				continue
			}
			tool = sources.Or(q.Workflow, q.Stage) + "/" + q.Job
		}
		return GateMatch{Tool: sources.Or(g.Tool, tool), Blocking: g.Blocking == nil || *g.Blocking}, true
	}
	return GateMatch{}, false
}

// glob matches name against a path.Match pattern, ignoring case; an empty
// pattern matches everything.
func glob(pattern, name string) bool {
	if pattern == "" {
		return true
	}
	ok, err := path.Match(fold(pattern), fold(name))
	return err == nil && ok
}

// HubSpotProperty returns a configured property name, or def when the
// file leaves it empty.
func HubSpotProperty(name, def string) string { return sources.Or(name, def) }

// String describes the file for logs.
func (f *File) String() string {
	if f.name == "" {
		return "default mapping"
	}
	return fmt.Sprintf("mapping %s (%d services, %d accounts, %d gates)", f.name, len(f.Services), len(f.Accounts), len(f.Gates))
}
