package mapping

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
)

// This file holds the keys only the importers read (impact import, impact
// catalog import): currency conversion, the Salesforce report formats, what
// Jira issues are, and the catalog options.

// Currency converts deal amounts to USD. Rates are USD per unit of each
// currency (ISO 4217 code): EUR: 1.08 means one euro is 1.08 dollars. USD
// is always 1. The original currency and amount are kept in the events
// (currency, amount); amount_usd is the converted amount.
type Currency struct {
	// Default is the currency of amounts the export gives none for (the
	// CRM's corporate currency); default USD.
	Default string `yaml:"default"`
	// Rates maps a currency code to USD per unit.
	Rates Picklist `yaml:"rates"`

	rates map[string]float64
}

// ToUSD converts amount in currency (an ISO 4217 code; "" is the default
// currency) to USD. A currency without a rate is reported as unmapped.
func (f *File) ToUSD(amount float64, currency string) (usd float64, code string, u *sources.Unmapped) {
	code = strings.ToUpper(strings.TrimSpace(currency))
	if code == "" {
		code = strings.ToUpper(sources.Or(f.CRM.Currency.Default, "USD"))
	}
	if code == "USD" {
		return amount, code, nil
	}
	rate, ok := f.CRM.Currency.rates[code]
	if !ok {
		return 0, code, &sources.Unmapped{Key: "crm.currency.rates", Value: code, Allowed: []string{"<USD per 1 " + code + ">"}}
	}
	// Cents: a converted amount has no meaningful digits beyond them.
	return math.Round(amount*rate*100) / 100, code, nil
}

// SalesforceExport describes the Salesforce report exports (Opportunities report
// and Opportunity Field History report, "Details Only", CSV): the
// exporting user's locale and time zone, which Salesforce applies to every
// number and date of the export, and the labels of the columns the
// contract needs beyond the standard ones.
type SalesforceExport struct {
	// Locale of the exporting user (Setup > Personal Information > Locale):
	// en_US (default), en_GB, en_CA, en_AU, de_DE, de_AT, de_CH, fr_FR,
	// fr_CA, nl_NL, es_ES, it_IT, sv_SE, ja_JP. It sets the number format
	// and date formats below unless they are given.
	Locale string `yaml:"locale"`
	// TimeZone of the exporting user (IANA name, e.g. Europe/Berlin): the
	// zone of the export's date-times, which carry no offset. Default UTC.
	TimeZone string `yaml:"time_zone"`
	// DateFormat and DateTimeFormat override the locale's, written with
	// YYYY MM M DD D HH H hh h mm ss A, e.g. DD.MM.YYYY and DD.MM.YYYY HH:mm.
	DateFormat     string `yaml:"date_format"`
	DateTimeFormat string `yaml:"datetime_format"`
	// DecimalSeparator overrides the locale's ("," or ".").
	DecimalSeparator string `yaml:"decimal_separator"`
	// Columns are report column labels (as in the export's header).
	Columns SalesforceColumns `yaml:"columns"`
	// ReviewStatus is a tracked picklist field whose changes in the Field
	// History report date the security review: the first change to one of
	// Requested values is the request, to one of Completed the completion.
	ReviewStatus ReviewStatus `yaml:"review_status"`
}

// SalesforceColumns are the labels of the report columns that have no
// standard Salesforce field. Empty ones use the default label shown.
type SalesforceColumns struct {
	Segment         string `yaml:"segment"`                   // picklist crm.segments; default "Segment"
	LossReason      string `yaml:"loss_reason"`               // picklist crm.loss_reasons; default "Loss Reason"
	ReviewRequested string `yaml:"security_review_requested"` // date the customer asked for a security review; default "Security Review Requested"
	ReviewCompleted string `yaml:"security_review_completed"` // date it was completed; default "Security Review Completed"
	ReviewChannel   string `yaml:"security_review_channel"`   // picklist crm.review_channels; default "Security Review Channel"
	Region          string `yaml:"region"`                    // default "Billing Country"
	Industry        string `yaml:"industry"`                  // default "Industry"
	Product         string `yaml:"product"`                   // default "Product"
}

// ReviewStatus names a tracked field dating the security review.
type ReviewStatus struct {
	Field     string `yaml:"field"`     // the field's label in the Field History report
	Requested List   `yaml:"requested"` // values meaning "requested" (or in progress)
	Completed List   `yaml:"completed"` // values meaning "completed"
}

// SalesforceLocale is how one Salesforce locale writes numbers and dates.
type SalesforceLocale struct {
	Decimal, Group rune
	Date, DateTime string
}

// SalesforceLocales are the locales the importer knows (Salesforce's
// "Supported Locales" formats for the most common ones).
var SalesforceLocales = map[string]SalesforceLocale{
	"en_US": {'.', ',', "M/D/YYYY", "M/D/YYYY h:mm A"},
	"en_CA": {'.', ',', "YYYY-MM-DD", "YYYY-MM-DD h:mm A"},
	"en_GB": {'.', ',', "DD/MM/YYYY", "DD/MM/YYYY HH:mm"},
	"en_AU": {'.', ',', "D/MM/YYYY", "D/MM/YYYY h:mm A"},
	"de_DE": {',', '.', "DD.MM.YYYY", "DD.MM.YYYY HH:mm"},
	"de_AT": {',', ' ', "DD.MM.YYYY", "DD.MM.YYYY HH:mm"},
	"de_CH": {'.', '\'', "DD.MM.YYYY", "DD.MM.YYYY HH:mm"},
	"fr_FR": {',', ' ', "DD/MM/YYYY", "DD/MM/YYYY HH:mm"},
	"fr_CA": {',', ' ', "YYYY-MM-DD", "YYYY-MM-DD HH:mm"},
	"nl_NL": {',', '.', "D-M-YYYY", "D-M-YYYY HH:mm"},
	"es_ES": {',', '.', "D/M/YYYY", "D/M/YYYY H:mm"},
	"it_IT": {',', '.', "DD/MM/YYYY", "DD/MM/YYYY HH:mm"},
	"sv_SE": {',', ' ', "YYYY-MM-DD", "YYYY-MM-DD HH:mm"},
	"ja_JP": {'.', ',', "YYYY/MM/DD", "YYYY/MM/DD H:mm"},
}

// SalesforceFormat returns the number and date formats of the Salesforce
// exports: the locale's, overridden by the explicit keys.
func (f *File) SalesforceFormat() (loc SalesforceLocale) {
	s := &f.CRM.Salesforce
	loc = SalesforceLocales[sources.Or(s.Locale, "en_US")]
	if s.DateFormat != "" {
		loc.Date = s.DateFormat
	}
	if s.DateTimeFormat != "" {
		loc.DateTime = s.DateTimeFormat
	}
	if s.DecimalSeparator != "" {
		loc.Decimal = rune(s.DecimalSeparator[0])
		loc.Group = ','
		if loc.Decimal == ',' {
			loc.Group = '.'
		}
	}
	return loc
}

// Jira says what Jira issues are. Each entry of Issues selects issues by
// project, issue type and labels and says which contract entity they are;
// the first matching entry wins, and issues no entry selects are ignored.
type Jira struct {
	Issues []JiraIssues `yaml:"issues"`
	// Fields names the fields holding what the contract needs: a field id
	// ("customfield_10050", "priority", "components", "labels") or a name
	// as shown in Jira (resolved through the search's names expansion).
	Fields JiraFields `yaml:"fields"`
	// Severities maps the severity field's values (default: priority
	// names) to critical|high|medium|low|info; default Highest critical,
	// High high, Medium medium, Low low, Lowest info.
	Severities Picklist `yaml:"severities"`
	// Priorities maps priority names to ticket priorities
	// low|normal|high|urgent; default Highest urgent, High high, Medium
	// normal, Low low, Lowest low.
	Priorities Picklist `yaml:"priorities"`
	// Dismissed lists resolutions that close a finding without a fix;
	// default "Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce",
	// "Declined". Every other resolution of a done issue is a fix.
	Dismissed List `yaml:"dismissed"`
	// Scanner names the scanner of findings from Jira; default "jira".
	Scanner string `yaml:"scanner"`
	// Category is the category of findings from Jira
	// (sca|sast|dast|container|cloud|secret|pentest|other); default pentest.
	Category string `yaml:"category"`
}

// JiraIssues selects issues and says what they are.
type JiraIssues struct {
	Project string `yaml:"project"` // project key, glob; default any
	Types   List   `yaml:"types"`   // issue type names; default any
	Labels  List   `yaml:"labels"`  // any of these labels; default any
	As      string `yaml:"as"`      // finding, ticket or incident; required
}

// JiraFields are the fields of Jira issues the mapper reads.
type JiraFields struct {
	Service             string `yaml:"service"`                  // findings, incidents: default components (each component a service, through services[].jira)
	Account             string `yaml:"account"`                  // tickets: the customer organization (through accounts[].jira); default "Organizations"
	AffectedAccounts    string `yaml:"affected_accounts"`        // incidents: the affected customers (through accounts[].jira); no default
	Severity            string `yaml:"severity"`                 // findings, incidents: default priority
	CVE                 string `yaml:"cve"`                      // findings: no default (a CVE id in the labels is used)
	CVSS                string `yaml:"cvss"`                     // findings: no default
	Cost                string `yaml:"cost"`                     // incidents: cost in USD; no default
	ContributingDepts   string `yaml:"contributing_departments"` // incidents: no default
	CSAT                string `yaml:"csat"`                     // tickets: JSM satisfaction; default "Satisfaction"
	RecordsExposed      string `yaml:"records_exposed"`          // incidents: no default
	IncidentCategory    string `yaml:"incident_category"`        // incidents: default the issue type name
	InternetFacing      string `yaml:"internet_facing"`          // findings: no default
	DueDate             string `yaml:"sla_due"`                  // findings: default duedate
	SecurityRelatedFlag string `yaml:"security_related"`         // tickets: a checkbox or yes/no field; default: support.security_tags on the labels
}

// Catalog configures impact catalog import.
type Catalog struct {
	// DepartmentTypes are the Backstage Group spec.type values that are
	// departments: a component's department is the first ancestor of its
	// owner group with one of these types. Default: the owner group's
	// parent.
	DepartmentTypes List `yaml:"department_types"`
	// Departments maps team names (Backstage group names without a parent,
	// CODEOWNERS teams, ...) to their department.
	Departments Picklist `yaml:"departments"`
	// DefaultTier is the tier of services that state none
	// (critical|high|medium|low); default medium.
	DefaultTier string `yaml:"default_tier"`
	// InternetFacingTags mark a Backstage component internet facing (any of
	// its tags); default internet-facing.
	InternetFacingTags List `yaml:"internet_facing_tags"`
}

var (
	findingSeverities = []string{"critical", "high", "medium", "low", "info"}
	ticketPriorities  = []string{"low", "normal", "high", "urgent"}
	jiraKinds         = []string{"finding", "ticket", "incident"}
	categories        = []string{"sca", "sast", "dast", "container", "cloud", "secret", "pentest", "other"}
)

var (
	defaultJiraSeverity = Picklist{"highest": "critical", "high": "high", "medium": "medium", "low": "low", "lowest": "info"}
	defaultJiraPriority = Picklist{"highest": "urgent", "high": "high", "medium": "normal", "low": "low", "lowest": "low"}
	defaultDismissed    = List{"Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce", "Declined"}
)

// JiraSeverity maps a severity value (default: priority name) of a finding
// or incident.
func (f *File) JiraSeverity(v string) (string, *sources.Unmapped) {
	return lookup(f.Jira.Severities, defaultJiraSeverity, "jira.severities", findingSeverities, v)
}

// JiraPriority maps a priority name to a ticket priority.
func (f *File) JiraPriority(v string) (string, *sources.Unmapped) {
	return lookup(f.Jira.Priorities, defaultJiraPriority, "jira.priorities", ticketPriorities, v)
}

// JiraDismissed reports whether a resolution closes a finding unfixed.
func (f *File) JiraDismissed(resolution string) bool {
	d := f.Jira.Dismissed
	if len(d) == 0 {
		d = defaultDismissed
	}
	return d.Has(resolution)
}

// JiraKind returns what an issue is (finding, ticket, incident), or "" when
// no jira.issues entry selects it.
func (f *File) JiraKind(project, issueType string, labels []string) string {
	for _, e := range f.Jira.Issues {
		if !glob(e.Project, project) {
			continue
		}
		if len(e.Types) > 0 && !e.Types.Has(issueType) {
			continue
		}
		if len(e.Labels) > 0 && !slices.ContainsFunc(labels, e.Labels.Has) {
			continue
		}
		return e.As
	}
	return ""
}

// Department returns the department of a team from catalog.departments.
func (f *File) Department(team string) (string, bool) {
	d, ok := f.Catalog.Departments[fold(team)]
	return d, ok
}

// CatalogTier returns the default tier of catalog services.
func (f *File) CatalogTier() string { return sources.Or(f.Catalog.DefaultTier, "medium") }

// checkImports validates the importer keys and builds their indexes.
func (v *validator) checkImports(f *File) {
	for i, s := range f.Services {
		if s.ID != "" {
			v.index(f.services, JiraS, s.Jira, s.ID, fmt.Sprintf("services[%d].jira", i))
		}
	}
	for i, a := range f.Accounts {
		if a.ID != "" {
			v.index(f.accounts, JiraS, a.Jira, a.ID, fmt.Sprintf("accounts[%d].jira", i))
		}
	}
	c := &f.CRM.Currency
	c.rates = map[string]float64{}
	if c.Default != "" && !isCurrency(strings.ToUpper(c.Default)) {
		v.add(v.at("crm.currency.default"), "crm.currency.default", "must be an ISO 4217 code such as EUR (got %q)", c.Default)
	}
	codes := make([]string, 0, len(c.Rates))
	for k := range c.Rates {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	for _, k := range codes {
		code := strings.ToUpper(k)
		kp := "crm.currency.rates." + code
		line := v.lineFolded("crm.currency.rates", k)
		if !isCurrency(code) {
			v.add(line, kp, "must be an ISO 4217 code such as EUR")
			continue
		}
		r, err := strconv.ParseFloat(c.Rates[k], 64)
		if err != nil || r <= 0 || math.IsInf(r, 0) {
			v.add(line, kp, "must be a positive number of USD per 1 %s (got %q)", code, c.Rates[k])
			continue
		}
		c.rates[code] = r
	}
	s := &f.CRM.Salesforce
	if s.Locale != "" {
		if _, ok := SalesforceLocales[s.Locale]; !ok {
			known := make([]string, 0, len(SalesforceLocales))
			for k := range SalesforceLocales {
				known = append(known, k)
			}
			sort.Strings(known)
			v.add(v.at("crm.salesforce.locale"), "crm.salesforce.locale", "unknown locale %q (known: %s; or give date_format, datetime_format and decimal_separator)", s.Locale, strings.Join(known, ", "))
		}
	}
	for key, zone := range map[string]string{"crm.salesforce.time_zone": s.TimeZone, "crm.hubspot.time_zone": f.CRM.HubSpot.TimeZone} {
		if _, err := time.LoadLocation(zone); err != nil {
			v.add(v.at(key), key, "unknown time zone %q (want an IANA name such as Europe/Berlin)", zone)
		}
	}
	if d := s.DecimalSeparator; d != "" && d != "," && d != "." {
		v.add(v.at("crm.salesforce.decimal_separator"), "crm.salesforce.decimal_separator", `must be "," or "." (got %q)`, d)
	}
	if s.ReviewStatus.Field != "" && len(s.ReviewStatus.Requested) == 0 && len(s.ReviewStatus.Completed) == 0 {
		v.add(v.at("crm.salesforce.review_status"), "crm.salesforce.review_status", "names a field but no requested or completed values")
	}
	for i, e := range f.Jira.Issues {
		p := fmt.Sprintf("jira.issues[%d]", i)
		if !slices.Contains(jiraKinds, e.As) {
			v.add(v.at(p+".as"), p+".as", "must be one of %s (got %q)", strings.Join(jiraKinds, ", "), e.As)
		}
	}
	if c := f.Jira.Category; c != "" && !slices.Contains(categories, c) {
		v.add(v.at("jira.category"), "jira.category", "must be one of %s (got %q)", strings.Join(categories, "|"), c)
	}
	v.picklist(f.Jira.Severities, "jira.severities", findingSeverities)
	v.picklist(f.Jira.Priorities, "jira.priorities", ticketPriorities)
	if t := f.Catalog.DefaultTier; t != "" && !slices.Contains(severityValues, t) {
		v.add(v.at("catalog.default_tier"), "catalog.default_tier", "must be one of %s (got %q)", strings.Join(severityValues, "|"), t)
	}
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
