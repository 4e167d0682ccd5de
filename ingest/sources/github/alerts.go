package github

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// Alert is a GitHub security alert as webhooks and the REST API carry it:
// the union of code scanning, Dependabot, secret scanning and (legacy)
// repository vulnerability alerts.
type Alert struct {
	Number    int64        `json:"number"`
	State     string       `json:"state"`
	CreatedAt sources.Time `json:"created_at"`
	UpdatedAt sources.Time `json:"updated_at"`
	FixedAt   sources.Time `json:"fixed_at"`

	DismissedAt      sources.Time `json:"dismissed_at"`
	DismissedReason  *string      `json:"dismissed_reason"`
	DismissedComment *string      `json:"dismissed_comment"`
	AutoDismissedAt  sources.Time `json:"auto_dismissed_at"`

	// code scanning
	Rule struct {
		ID                    string   `json:"id"`
		Name                  string   `json:"name"`
		Severity              string   `json:"severity"`
		SecuritySeverityLevel string   `json:"security_severity_level"`
		Description           string   `json:"description"`
		Tags                  []string `json:"tags"`
	} `json:"rule"`
	Tool struct {
		Name string `json:"name"`
	} `json:"tool"`

	// Dependabot
	Dependency struct {
		Package struct {
			Ecosystem string `json:"ecosystem"`
			Name      string `json:"name"`
		} `json:"package"`
		ManifestPath string `json:"manifest_path"`
	} `json:"dependency"`
	SecurityAdvisory struct {
		GHSAID   string  `json:"ghsa_id"`
		CVEID    *string `json:"cve_id"`
		Summary  string  `json:"summary"`
		Severity string  `json:"severity"`
		CVSS     struct {
			Score float64 `json:"score"`
		} `json:"cvss"`
		CWEs []struct {
			CWEID string `json:"cwe_id"`
		} `json:"cwes"`
		EPSS []struct {
			Percentage float64 `json:"percentage"`
		} `json:"epss"`
	} `json:"security_advisory"`

	// secret scanning
	SecretType            string       `json:"secret_type"`
	SecretTypeDisplayName string       `json:"secret_type_display_name"`
	Resolution            *string      `json:"resolution"`
	ResolvedAt            sources.Time `json:"resolved_at"`
	ResolutionComment     *string      `json:"resolution_comment"`

	// repository_vulnerability_alert (deprecated by GitHub, still sent)
	AffectedPackageName string  `json:"affected_package_name"`
	ExternalIdentifier  string  `json:"external_identifier"`
	GHSAID              string  `json:"ghsa_id"`
	Severity            string  `json:"severity"`
	DismissReason       *string `json:"dismiss_reason"`
}

// findingType maps an alert action and the alert's resulting status to the
// contract event type. An empty action (an imported alert) derives it from
// the status alone.
func findingType(action, status string) string {
	switch action {
	case "created", "create":
		return "security.finding.opened"
	case "reopened", "reopened_by_user", "reintroduced", "auto_reopened", "reopen":
		return "security.finding.reopened"
	}
	switch status {
	case "fixed":
		return "security.finding.fixed"
	case "dismissed":
		return "security.finding.dismissed"
	}
	if action == "" {
		return "security.finding.opened"
	}
	return "security.finding.updated" // appeared_in_branch, assignees_changed, validated, ...
}

// alertStatus maps an alert state (and, for secret scanning, its
// resolution) to the contract status.
func alertStatus(state string, resolution *string) (string, error) {
	switch state {
	case "open":
		return "open", nil
	case "fixed":
		return "fixed", nil
	case "dismissed", "auto_dismissed":
		return "dismissed", nil
	case "resolved": // secret scanning: revoking the secret fixes it, the rest dismiss it
		if resolution != nil && *resolution == "revoked" {
			return "fixed", nil
		}
		return "dismissed", nil
	}
	return "", fmt.Errorf("alert state %q has no contract status", state)
}

// codeScanningSeverity: security_severity_level when the rule has one (a
// security query), else the rule's level: error high, warning medium,
// note low, none info.
func codeScanningSeverity(level, severity string) string {
	switch level {
	case "critical", "high", "medium", "low":
		return level
	}
	switch severity {
	case "error":
		return "high"
	case "warning":
		return "medium"
	case "note":
		return "low"
	}
	return "info"
}

// advisorySeverity maps GitHub advisory severities (low, moderate/medium,
// high, critical) to the contract.
func advisorySeverity(s string) (string, error) {
	switch lower(s) {
	case "critical", "high", "medium", "low":
		return lower(s), nil
	case "moderate":
		return "medium", nil
	}
	return "", fmt.Errorf("advisory severity %q has no contract severity", s)
}

// cweFromTags reads CodeQL's external/cwe/cwe-089 tags.
func cweFromTags(tags []string) *string {
	for _, t := range tags {
		if n, ok := strings.CutPrefix(t, "external/cwe/cwe-"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				return sources.Ptr("CWE-" + strconv.Itoa(v))
			}
		}
	}
	return nil
}

// finding builds the event of an alert whose status and identity the caller
// filled in: it dates the change and closes the finding.
func (x *mapper) finding(action string, f *schemas.Finding, a *Alert, dismissedAt sources.Time, reason *string) (sources.Result, error) {
	if a.CreatedAt.IsZero() {
		return sources.Result{}, fmt.Errorf("alert %d has no created_at", a.Number)
	}
	f.DetectedAt = a.CreatedAt.UTC()
	f.ServiceID = x.service()
	f.Repo = sources.Ptr(x.repo)
	typ := findingType(action, f.Status)
	var (
		at    time.Time
		dated bool
		err   error
	)
	switch {
	case typ == "security.finding.opened":
		at, dated = a.CreatedAt.Time, true
	case f.Status == "fixed":
		at, dated, err = x.when(a.FixedAt, a.ResolvedAt)
	case f.Status == "dismissed":
		at, dated, err = x.when(dismissedAt, a.ResolvedAt)
	default:
		at, dated, err = x.when(a.UpdatedAt)
	}
	if err != nil {
		return sources.Result{}, fmt.Errorf("alert %d: %w", a.Number, err)
	}
	switch f.Status {
	case "fixed":
		f.FixedAt = sources.Ptr(at.UTC())
	case "dismissed":
		f.DismissedAt = sources.Ptr(at.UTC())
		if reason != nil && *reason != "" {
			f.DismissedReason = reason
		}
	}
	return sources.Mapped(x.event(typ, at, dated, f)), nil
}

// CodeScanningAlert maps a code scanning alert of repo (owner/name) after
// action ("" for an alert read from the REST API). received is the arrival
// time, used when the payload does not date the change; key identifies the
// delivery or record in that case (see the package documentation).
func CodeScanningAlert(m *mapping.File, repo string, action string, a *Alert, received time.Time, key string) (sources.Result, error) {
	x := &mapper{m: mappingOrDefault(m), repo: repo, received: received, key: key}
	return x.codeScanning(action, a)
}

func (x *mapper) codeScanning(action string, a *Alert) (sources.Result, error) {
	if a.State == "" {
		// GitHub documents a null state for alerts found outside the
		// default branch until they are dismissed or fixed: a pull
		// request's finding, not yet one of the service's code.
		return sources.Ignore("code_scanning_alert %d %s: state null, an alert outside the default branch (not in the service's code until it appears there)", a.Number, action), nil
	}
	status, err := alertStatus(a.State, nil)
	if err != nil {
		return sources.Result{}, fmt.Errorf("code_scanning_alert %d: %w", a.Number, err)
	}
	f := &schemas.Finding{
		FindingID: fmt.Sprintf("github:%s/code-scanning/%d", x.repo, a.Number),
		Scanner:   "github-code-scanning/" + lower(sources.Or(a.Tool.Name, "unknown")),
		Category:  "sast",
		Title:     sources.NonEmpty(sources.Or(a.Rule.Description, sources.Or(a.Rule.Name, a.Rule.ID))),
		CWEID:     cweFromTags(a.Rule.Tags),
		Severity:  codeScanningSeverity(a.Rule.SecuritySeverityLevel, a.Rule.Severity),
		Status:    status,
	}
	reason := a.DismissedReason
	if c := deref(a.DismissedComment); c != "" {
		reason = sources.Ptr(sources.Or(deref(reason), "dismissed") + ": " + c)
	}
	return x.finding(action, f, a, a.DismissedAt, reason)
}

// DependabotAlert maps a Dependabot alert; see CodeScanningAlert.
func DependabotAlert(m *mapping.File, repo string, action string, a *Alert, received time.Time, key string) (sources.Result, error) {
	x := &mapper{m: mappingOrDefault(m), repo: repo, received: received, key: key}
	return x.dependabot(action, a)
}

func (x *mapper) dependabot(action string, a *Alert) (sources.Result, error) {
	status, err := alertStatus(a.State, nil)
	if err != nil {
		return sources.Result{}, fmt.Errorf("dependabot_alert %d: %w", a.Number, err)
	}
	adv := &a.SecurityAdvisory
	sev, err := advisorySeverity(adv.Severity)
	if err != nil {
		return sources.Result{}, fmt.Errorf("dependabot_alert %d: %w", a.Number, err)
	}
	f := &schemas.Finding{
		FindingID: dependabotID(x.repo, a.Number),
		Scanner:   "github-dependabot",
		Category:  "sca",
		Title:     sources.NonEmpty(adv.Summary),
		CVEID:     adv.CVEID,
		Severity:  sev,
		Status:    status,
	}
	if adv.CVSS.Score > 0 {
		f.CVSS = sources.Ptr(adv.CVSS.Score)
	}
	if len(adv.EPSS) > 0 {
		f.EPSS = sources.Ptr(adv.EPSS[0].Percentage)
	}
	if len(adv.CWEs) > 0 {
		f.CWEID = sources.NonEmpty(adv.CWEs[0].CWEID)
	}
	dismissedAt := a.DismissedAt
	if dismissedAt.IsZero() {
		dismissedAt = a.AutoDismissedAt
	}
	reason := a.DismissedReason
	if c := deref(a.DismissedComment); c != "" {
		reason = sources.Ptr(sources.Or(deref(reason), "dismissed") + ": " + c)
	}
	return x.finding(action, f, a, dismissedAt, reason)
}

// dependabotID is shared by dependabot_alert and the legacy
// repository_vulnerability_alert, which GitHub sends for the same alert.
func dependabotID(repo string, number int64) string {
	return fmt.Sprintf("github:%s/dependabot/%d", repo, number)
}

func (x *mapper) vulnerabilityAlert(action string, a *Alert) (sources.Result, error) {
	if a.Number == 0 {
		return sources.Result{}, fmt.Errorf("repository_vulnerability_alert: alert has no number")
	}
	state := a.State
	if action == "resolve" && state == "open" {
		state = "fixed"
	}
	status, err := alertStatus(state, nil)
	if err != nil {
		return sources.Result{}, fmt.Errorf("repository_vulnerability_alert %d: %w", a.Number, err)
	}
	sev, err := advisorySeverity(a.Severity)
	if err != nil {
		return sources.Result{}, fmt.Errorf("repository_vulnerability_alert %d: %w", a.Number, err)
	}
	f := &schemas.Finding{
		FindingID: dependabotID(x.repo, a.Number),
		Scanner:   "github-dependabot",
		Category:  "sca",
		Title:     sources.NonEmpty(strings.TrimSpace(a.AffectedPackageName + " " + sources.Or(a.GHSAID, a.ExternalIdentifier))),
		Severity:  sev,
		Status:    status,
	}
	if strings.HasPrefix(a.ExternalIdentifier, "CVE-") {
		f.CVEID = sources.Ptr(a.ExternalIdentifier)
	}
	return x.finding(action, f, a, a.DismissedAt, a.DismissReason)
}

// SecretScanningAlert maps a secret scanning alert; see CodeScanningAlert.
// A leaked secret is severity high: GitHub rates none, and a valid
// credential in a repository is exploitable as it stands.
func SecretScanningAlert(m *mapping.File, repo string, action string, a *Alert, received time.Time, key string) (sources.Result, error) {
	x := &mapper{m: mappingOrDefault(m), repo: repo, received: received, key: key}
	return x.secretScanning(action, a)
}

func (x *mapper) secretScanning(action string, a *Alert) (sources.Result, error) {
	state := a.State
	if state == "" {
		// The webhook's alert (secret-scanning-alert-webhook) has no state,
		// unlike the REST API's: a resolution makes it resolved.
		state = "open"
		if deref(a.Resolution) != "" {
			state = "resolved"
		}
	}
	status, err := alertStatus(state, a.Resolution)
	if err != nil {
		return sources.Result{}, fmt.Errorf("secret_scanning_alert %d: %w", a.Number, err)
	}
	f := &schemas.Finding{
		FindingID: fmt.Sprintf("github:%s/secret-scanning/%d", x.repo, a.Number),
		Scanner:   "github-secret-scanning",
		Category:  "secret",
		Title:     sources.NonEmpty(sources.Or(a.SecretTypeDisplayName, a.SecretType)),
		CWEID:     sources.Ptr("CWE-798"), // use of hard-coded credentials
		Severity:  "high",
		Status:    status,
	}
	reason := a.Resolution
	if c := deref(a.ResolutionComment); c != "" {
		reason = sources.Ptr(sources.Or(deref(reason), "resolved") + ": " + c)
	}
	return x.finding(action, f, a, a.ResolvedAt, reason)
}
