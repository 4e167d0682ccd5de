package schemas

import "time"

// Enumerations shared by several families.
const (
	severities4 = "critical|high|medium|low"
)

// families is event contract v1, one entry per event family. Field order is
// column order in the typed table (after the envelope columns).
var families = []*family{
	{
		name: "security.finding", title: "Security finding",
		types: typesOf("security.finding", "opened", "updated", "fixed", "dismissed", "reopened"),
		table: "finding_events",
		fields: []field{
			id("finding_id", "Finding id, stable for the life of the finding."),
			str("scanner", "Tool or team that found it."),
			enum("category", "sca|sast|dast|container|cloud|secret|pentest|other", "Kind of finding."),
			optStr("title", textLen, "Short title."),
			optStr("cve_id", idLen, "CVE id, e.g. CVE-2024-3094."),
			optStr("cwe_id", idLen, "CWE id, e.g. CWE-79."),
			enum("severity", "critical|high|medium|low|info", "Severity after triage."),
			optNum("cvss", 0, 10, "CVSS base score, 0-10."),
			optNum("epss", 0, 1, "EPSS probability, 0-1."),
			optBool("kev", "Listed in the CISA Known Exploited Vulnerabilities catalog."),
			id("service_id", "Service the finding is in (catalog id)."),
			optStr("repo", idLen, "Source repository."),
			enum("status", "open|fixed|dismissed", "Current status."),
			ts("detected_at", "When the finding was first detected."),
			optTS("fixed_at", "When it was fixed."),
			optTS("dismissed_at", "When it was dismissed."),
			optStr("dismissed_reason", textLen, "Why it was dismissed."),
			optTS("sla_due_at", "Remediation due date; derived from detected_at and the SLA policy when absent."),
			optBool("internet_facing", "The affected asset is reachable from the internet."),
		},
		derivesSLA: true,
		build: func(v *values) Payload {
			return &Finding{
				FindingID: v.str(), Scanner: v.str(), Category: v.str(), Title: v.optStr(),
				CVEID: v.optStr(), CWEID: v.optStr(), Severity: v.str(), CVSS: v.optNum(),
				EPSS: v.optNum(), KEV: v.optBool(), ServiceID: v.str(), Repo: v.optStr(),
				Status: v.str(), DetectedAt: v.time(), FixedAt: v.optTime(), DismissedAt: v.optTime(),
				DismissedReason: v.optStr(), SLADueAt: v.optTime(), InternetFacing: v.optBool(),
			}
		},
	},
	{
		name: "security.gate", title: "Security gate evaluation in CI/CD",
		types: typesOf("security.gate", "evaluated"),
		table: "gate_events",
		fields: []field{
			id("run_id", "Pipeline run id."),
			id("service_id", "Service the pipeline builds."),
			optStr("commit_sha", idLen, "Commit evaluated."),
			str("tool", "Gate tool."),
			enum("result", "pass|fail|waived", "Gate verdict."),
			boolean("blocking", "A failing result blocks the deployment."),
			optInt("findings_critical", 0, maxMoney, "Critical findings counted by the gate."),
			optInt("findings_high", 0, maxMoney, "High findings counted by the gate."),
			optInt("findings_medium", 0, maxMoney, "Medium findings counted by the gate."),
			optInt("findings_low", 0, maxMoney, "Low findings counted by the gate."),
			ts("started_at", "When the evaluation started."),
			ts("completed_at", "When the evaluation completed."),
		},
		build: func(v *values) Payload {
			return &GateEvaluation{
				RunID: v.str(), ServiceID: v.str(), CommitSHA: v.optStr(), Tool: v.str(),
				Result: v.str(), Blocking: v.boolean(), FindingsCritical: v.optInt(),
				FindingsHigh: v.optInt(), FindingsMedium: v.optInt(), FindingsLow: v.optInt(),
				StartedAt: v.time(), CompletedAt: v.time(),
			}
		},
	},
	{
		name: "security.incident", title: "Security incident",
		types: typesOf("security.incident", "detected", "updated", "resolved"),
		table: "incident_events",
		fields: []field{
			id("incident_id", "Incident id."),
			enum("severity", severities4, "Incident severity."),
			str("category", "Incident category, e.g. phishing, data_leak."),
			enum("status", "open|contained|resolved", "Current status."),
			strs("affected_service_ids", "Services affected."),
			strs("affected_account_ids", "Customer accounts affected."),
			optStrs("contributing_departments", "Departments whose decisions contributed (post-incident review)."),
			optInt("records_exposed", 0, maxMoney, "Records exposed."),
			optBool("customer_notified", "Customers were notified."),
			optNum("cost_usd", 0, maxMoney, "Total cost in USD."),
			ts("detected_at", "When it was detected."),
			optTS("resolved_at", "When it was resolved."),
		},
		build: func(v *values) Payload {
			return &Incident{
				IncidentID: v.str(), Severity: v.str(), Category: v.str(), Status: v.str(),
				AffectedServiceIDs: v.strs(), AffectedAccountIDs: v.strs(),
				ContributingDepartments: v.strs(), RecordsExposed: v.optInt(),
				CustomerNotified: v.optBool(), CostUSD: v.optNum(), DetectedAt: v.time(),
				ResolvedAt: v.optTime(),
			}
		},
	},
	{
		name: "security.policy_exception", title: "Policy exception: a department working around security policy",
		types: typesOf("security.policy_exception", "opened", "resolved"),
		table: "policy_exception_events",
		fields: []field{
			id("exception_id", "Exception id."),
			str("department", "Department working around policy."),
			enum("kind", "unsanctioned_saas|regulated_data_sharing|tool_without_assessment|other", "Kind of exception."),
			enum("risk_tier", severities4, "Risk tier."),
			optStr("description", textLen, "What happened."),
			ts("opened_at", "When it was opened."),
			optTS("resolved_at", "When it was resolved."),
		},
		build: func(v *values) Payload {
			return &PolicyException{
				ExceptionID: v.str(), Department: v.str(), Kind: v.str(), RiskTier: v.str(),
				Description: v.optStr(), OpenedAt: v.time(), ResolvedAt: v.optTime(),
			}
		},
	},
	{
		name: "security.review", title: "A customer's security review of us during a deal",
		types: typesOf("security.review", "requested", "updated", "completed"),
		table: "review_events",
		fields: []field{
			id("review_id", "Review id."),
			id("account_id", "Customer account."),
			id("opportunity_id", "Opportunity (deal) the review belongs to."),
			enum("channel", "trust_center|questionnaire|call|redline", "How the review was done."),
			optStr("questionnaire", idLen, "Questionnaire name, e.g. SIG Lite, CAIQ."),
			optInt("question_count", 0, maxMoney, "Questions asked."),
			optInt("auto_answered", 0, maxMoney, "Questions answered automatically (trust center, answer library)."),
			optNum("effort_hours", 0, maxMoney, "Security team effort in hours."),
			enum("status", "requested|in_progress|completed", "Current status."),
			ts("requested_at", "When the customer requested it."),
			optTS("completed_at", "When it was completed."),
		},
		build: func(v *values) Payload {
			return &SecurityReview{
				ReviewID: v.str(), AccountID: v.str(), OpportunityID: v.str(), Channel: v.str(),
				Questionnaire: v.optStr(), QuestionCount: v.optInt(), AutoAnswered: v.optInt(),
				EffortHours: v.optNum(), Status: v.str(), RequestedAt: v.time(), CompletedAt: v.optTime(),
			}
		},
	},
	{
		name: "security.vendor_assessment", title: "Our assessment of a vendor a department wants",
		types: typesOf("security.vendor_assessment", "requested", "completed"),
		table: "vendor_assessment_events",
		fields: []field{
			id("assessment_id", "Assessment id."),
			id("vendor_id", "Vendor id."),
			optStr("vendor_name", idLen, "Vendor name."),
			str("department", "Department requesting the vendor."),
			enum("risk_tier", severities4, "Risk tier."),
			enum("status", "requested|completed", "Current status."),
			optEnum("decision", "approved|approved_with_conditions|rejected", "Decision once completed."),
			ts("requested_at", "When it was requested."),
			optTS("completed_at", "When it was completed."),
			optNum("assessment_cost_usd", 0, maxMoney, "Cost of the assessment in USD."),
			optNum("annual_monitoring_cost_usd", 0, maxMoney, "Yearly cost of monitoring the vendor in USD."),
		},
		build: func(v *values) Payload {
			return &VendorAssessment{
				AssessmentID: v.str(), VendorID: v.str(), VendorName: v.optStr(), Department: v.str(),
				RiskTier: v.str(), Status: v.str(), Decision: v.optStr(), RequestedAt: v.time(),
				CompletedAt: v.optTime(), AssessmentCostUSD: v.optNum(), AnnualMonitoringCostUSD: v.optNum(),
			}
		},
	},
	{
		name: "deployment", title: "Deployment",
		types: typesOf("deployment", "started", "finished"),
		table: "deployment_events",
		fields: []field{
			id("deployment_id", "Deployment id."),
			id("service_id", "Service deployed."),
			str("environment", "Target environment, e.g. production."),
			optStr("commit_sha", idLen, "Commit deployed."),
			optTS("first_commit_at", "Time of the oldest commit in the deployment (lead time start)."),
			ts("started_at", "When the deployment started."),
			optTS("finished_at", "When it finished."),
			enum("status", "in_progress|success|failure|rolled_back", "Current status."),
			enum("trigger", "feature|hotfix|security_fix|rollback|config", "Why it was deployed."),
			optNum("security_gate_wait_seconds", 0, maxMoney, "Seconds spent waiting on security gates."),
			optStrs("fixes_finding_ids", "Findings this deployment fixes."),
		},
		build: func(v *values) Payload {
			return &Deployment{
				DeploymentID: v.str(), ServiceID: v.str(), Environment: v.str(), CommitSHA: v.optStr(),
				FirstCommitAt: v.optTime(), StartedAt: v.time(), FinishedAt: v.optTime(),
				Status: v.str(), Trigger: v.str(), SecurityGateWaitSeconds: v.optNum(),
				FixesFindingIDs: v.strs(),
			}
		},
	},
	{
		name: "crm.opportunity", title: "Sales opportunity (deal)",
		types: typesOf("crm.opportunity", "created", "stage_changed", "closed"),
		table: "opportunity_events",
		fields: []field{
			id("opportunity_id", "Opportunity id."),
			id("account_id", "Customer account."),
			optStr("account_name", idLen, "Account name."),
			enum("segment", "smb|mid_market|enterprise", "Customer segment."),
			optStr("region", idLen, "Sales region."),
			optStr("industry", idLen, "Customer industry."),
			enum("deal_type", "new|expansion|renewal", "Deal type."),
			str("stage", "CRM stage name."),
			num("amount_usd", 0, maxMoney, "Deal amount in USD."),
			optStr("currency", idLen, "Original currency (ISO 4217)."),
			optNum("amount", 0, maxMoney, "Amount in the original currency."),
			optStr("product", idLen, "Product sold."),
			ts("created_at", "When the opportunity was created."),
			optTS("closed_at", "When it closed."),
			enum("outcome", "open|won|lost|no_decision", "Outcome."),
			optEnum("loss_reason", "price|product|competitor|security|timing|other", "Why it was lost."),
			boolean("security_review_required", "The customer required a security review."),
			optStr("security_review_id", idLen, "The security review (review_id)."),
		},
		build: func(v *values) Payload {
			return &Opportunity{
				OpportunityID: v.str(), AccountID: v.str(), AccountName: v.optStr(), Segment: v.str(),
				Region: v.optStr(), Industry: v.optStr(), DealType: v.str(), Stage: v.str(),
				AmountUSD: v.num(), Currency: v.optStr(), Amount: v.optNum(), Product: v.optStr(),
				CreatedAt: v.time(), ClosedAt: v.optTime(), Outcome: v.str(), LossReason: v.optStr(),
				SecurityReviewRequired: v.boolean(), SecurityReviewID: v.optStr(),
			}
		},
	},
	{
		name: "support.ticket", title: "Support ticket",
		types: typesOf("support.ticket", "created", "updated", "solved", "rated"),
		table: "ticket_events",
		fields: []field{
			id("ticket_id", "Ticket id."),
			id("account_id", "Customer account."),
			enum("status", "new|open|pending|solved|closed", "Current status."),
			enum("priority", "low|normal|high|urgent", "Priority."),
			optStr("channel", idLen, "Channel, e.g. email, chat."),
			optStrs("tags", "Ticket tags."),
			boolean("security_related", "The ticket is about security."),
			optStr("incident_id", idLen, "Related security incident."),
			ts("created_at", "When the ticket was created."),
			optTS("first_reply_at", "First agent reply."),
			optTS("solved_at", "When it was solved."),
			optInt("csat_score", 1, 5, "Customer satisfaction score, 1-5."),
			optTS("csat_at", "When the customer rated."),
		},
		build: func(v *values) Payload {
			return &Ticket{
				TicketID: v.str(), AccountID: v.str(), Status: v.str(), Priority: v.str(),
				Channel: v.optStr(), Tags: v.strs(), SecurityRelated: v.boolean(),
				IncidentID: v.optStr(), CreatedAt: v.time(), FirstReplyAt: v.optTime(),
				SolvedAt: v.optTime(), CSATScore: v.optInt(), CSATAt: v.optTime(),
			}
		},
	},
	{
		name: "catalog.service", title: "Service catalog entry",
		types: typesOf("catalog.service", "upserted"),
		table: "service_events",
		fields: []field{
			id("service_id", "Service id."),
			optStr("service_name", idLen, "Service name."),
			str("team", "Owning team."),
			str("department", "Owning department."),
			optStr("product", idLen, "Product the service belongs to."),
			enum("tier", severities4, "Business criticality tier."),
			boolean("internet_facing", "Reachable from the internet."),
			ts("effective_at", "When this catalog state took effect."),
		},
		build: func(v *values) Payload {
			return &Service{
				ServiceID: v.str(), ServiceName: v.optStr(), Team: v.str(), Department: v.str(),
				Product: v.optStr(), Tier: v.str(), InternetFacing: v.boolean(), EffectiveAt: v.time(),
			}
		},
	},
}

// Finding is the data of security.finding.* events.
type Finding struct {
	FindingID       string     `json:"finding_id"`
	Scanner         string     `json:"scanner"`
	Category        string     `json:"category"`
	Title           *string    `json:"title,omitempty"`
	CVEID           *string    `json:"cve_id,omitempty"`
	CWEID           *string    `json:"cwe_id,omitempty"`
	Severity        string     `json:"severity"`
	CVSS            *float64   `json:"cvss,omitempty"`
	EPSS            *float64   `json:"epss,omitempty"`
	KEV             *bool      `json:"kev,omitempty"`
	ServiceID       string     `json:"service_id"`
	Repo            *string    `json:"repo,omitempty"`
	Status          string     `json:"status"`
	DetectedAt      time.Time  `json:"detected_at"`
	FixedAt         *time.Time `json:"fixed_at,omitempty"`
	DismissedAt     *time.Time `json:"dismissed_at,omitempty"`
	DismissedReason *string    `json:"dismissed_reason,omitempty"`
	SLADueAt        *time.Time `json:"sla_due_at,omitempty"`
	InternetFacing  *bool      `json:"internet_facing,omitempty"`
	// SLAPolicyVersion is always empty now: sla_due_at is only what the
	// source sent. Rows stored by earlier releases, whose decoder derived
	// a due date, carry that policy's version, and the transform (the one
	// owner of the SLA policy) ignores their sla_due_at.
	SLAPolicyVersion string `json:"-"`
}

func (*Finding) Table() string      { return families[0].table }
func (f *Finding) EntityID() string { return f.FindingID }

// GateEvaluation is the data of security.gate.evaluated events.
type GateEvaluation struct {
	RunID            string    `json:"run_id"`
	ServiceID        string    `json:"service_id"`
	CommitSHA        *string   `json:"commit_sha,omitempty"`
	Tool             string    `json:"tool"`
	Result           string    `json:"result"`
	Blocking         bool      `json:"blocking"`
	FindingsCritical *int64    `json:"findings_critical,omitempty"`
	FindingsHigh     *int64    `json:"findings_high,omitempty"`
	FindingsMedium   *int64    `json:"findings_medium,omitempty"`
	FindingsLow      *int64    `json:"findings_low,omitempty"`
	StartedAt        time.Time `json:"started_at"`
	CompletedAt      time.Time `json:"completed_at"`
}

func (*GateEvaluation) Table() string      { return families[1].table }
func (g *GateEvaluation) EntityID() string { return g.RunID }

// Incident is the data of security.incident.* events.
type Incident struct {
	IncidentID              string     `json:"incident_id"`
	Severity                string     `json:"severity"`
	Category                string     `json:"category"`
	Status                  string     `json:"status"`
	AffectedServiceIDs      []string   `json:"affected_service_ids"`
	AffectedAccountIDs      []string   `json:"affected_account_ids"`
	ContributingDepartments []string   `json:"contributing_departments,omitempty"`
	RecordsExposed          *int64     `json:"records_exposed,omitempty"`
	CustomerNotified        *bool      `json:"customer_notified,omitempty"`
	CostUSD                 *float64   `json:"cost_usd,omitempty"`
	DetectedAt              time.Time  `json:"detected_at"`
	ResolvedAt              *time.Time `json:"resolved_at,omitempty"`
}

func (*Incident) Table() string      { return families[2].table }
func (i *Incident) EntityID() string { return i.IncidentID }

// PolicyException is the data of security.policy_exception.* events.
type PolicyException struct {
	ExceptionID string     `json:"exception_id"`
	Department  string     `json:"department"`
	Kind        string     `json:"kind"`
	RiskTier    string     `json:"risk_tier"`
	Description *string    `json:"description,omitempty"`
	OpenedAt    time.Time  `json:"opened_at"`
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
}

func (*PolicyException) Table() string      { return families[3].table }
func (p *PolicyException) EntityID() string { return p.ExceptionID }

// SecurityReview is the data of security.review.* events.
type SecurityReview struct {
	ReviewID      string     `json:"review_id"`
	AccountID     string     `json:"account_id"`
	OpportunityID string     `json:"opportunity_id"`
	Channel       string     `json:"channel"`
	Questionnaire *string    `json:"questionnaire,omitempty"`
	QuestionCount *int64     `json:"question_count,omitempty"`
	AutoAnswered  *int64     `json:"auto_answered,omitempty"`
	EffortHours   *float64   `json:"effort_hours,omitempty"`
	Status        string     `json:"status"`
	RequestedAt   time.Time  `json:"requested_at"`
	CompletedAt   *time.Time `json:"completed_at,omitempty"`
}

func (*SecurityReview) Table() string      { return families[4].table }
func (r *SecurityReview) EntityID() string { return r.ReviewID }

// VendorAssessment is the data of security.vendor_assessment.* events.
type VendorAssessment struct {
	AssessmentID            string     `json:"assessment_id"`
	VendorID                string     `json:"vendor_id"`
	VendorName              *string    `json:"vendor_name,omitempty"`
	Department              string     `json:"department"`
	RiskTier                string     `json:"risk_tier"`
	Status                  string     `json:"status"`
	Decision                *string    `json:"decision,omitempty"`
	RequestedAt             time.Time  `json:"requested_at"`
	CompletedAt             *time.Time `json:"completed_at,omitempty"`
	AssessmentCostUSD       *float64   `json:"assessment_cost_usd,omitempty"`
	AnnualMonitoringCostUSD *float64   `json:"annual_monitoring_cost_usd,omitempty"`
}

func (*VendorAssessment) Table() string      { return families[5].table }
func (a *VendorAssessment) EntityID() string { return a.AssessmentID }

// Deployment is the data of deployment.* events.
type Deployment struct {
	DeploymentID            string     `json:"deployment_id"`
	ServiceID               string     `json:"service_id"`
	Environment             string     `json:"environment"`
	CommitSHA               *string    `json:"commit_sha,omitempty"`
	FirstCommitAt           *time.Time `json:"first_commit_at,omitempty"`
	StartedAt               time.Time  `json:"started_at"`
	FinishedAt              *time.Time `json:"finished_at,omitempty"`
	Status                  string     `json:"status"`
	Trigger                 string     `json:"trigger"`
	SecurityGateWaitSeconds *float64   `json:"security_gate_wait_seconds,omitempty"`
	FixesFindingIDs         []string   `json:"fixes_finding_ids,omitempty"`
}

func (*Deployment) Table() string      { return families[6].table }
func (d *Deployment) EntityID() string { return d.DeploymentID }

// Opportunity is the data of crm.opportunity.* events.
type Opportunity struct {
	OpportunityID          string     `json:"opportunity_id"`
	AccountID              string     `json:"account_id"`
	AccountName            *string    `json:"account_name,omitempty"`
	Segment                string     `json:"segment"`
	Region                 *string    `json:"region,omitempty"`
	Industry               *string    `json:"industry,omitempty"`
	DealType               string     `json:"deal_type"`
	Stage                  string     `json:"stage"`
	AmountUSD              float64    `json:"amount_usd"`
	Currency               *string    `json:"currency,omitempty"`
	Amount                 *float64   `json:"amount,omitempty"`
	Product                *string    `json:"product,omitempty"`
	CreatedAt              time.Time  `json:"created_at"`
	ClosedAt               *time.Time `json:"closed_at,omitempty"`
	Outcome                string     `json:"outcome"`
	LossReason             *string    `json:"loss_reason,omitempty"`
	SecurityReviewRequired bool       `json:"security_review_required"`
	SecurityReviewID       *string    `json:"security_review_id,omitempty"`
}

func (*Opportunity) Table() string      { return families[7].table }
func (o *Opportunity) EntityID() string { return o.OpportunityID }

// Ticket is the data of support.ticket.* events.
type Ticket struct {
	TicketID        string     `json:"ticket_id"`
	AccountID       string     `json:"account_id"`
	Status          string     `json:"status"`
	Priority        string     `json:"priority"`
	Channel         *string    `json:"channel,omitempty"`
	Tags            []string   `json:"tags,omitempty"`
	SecurityRelated bool       `json:"security_related"`
	IncidentID      *string    `json:"incident_id,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	FirstReplyAt    *time.Time `json:"first_reply_at,omitempty"`
	SolvedAt        *time.Time `json:"solved_at,omitempty"`
	CSATScore       *int64     `json:"csat_score,omitempty"`
	CSATAt          *time.Time `json:"csat_at,omitempty"`
}

func (*Ticket) Table() string      { return families[8].table }
func (t *Ticket) EntityID() string { return t.TicketID }

// Service is the data of catalog.service.upserted events.
type Service struct {
	ServiceID      string    `json:"service_id"`
	ServiceName    *string   `json:"service_name,omitempty"`
	Team           string    `json:"team"`
	Department     string    `json:"department"`
	Product        *string   `json:"product,omitempty"`
	Tier           string    `json:"tier"`
	InternetFacing bool      `json:"internet_facing"`
	EffectiveAt    time.Time `json:"effective_at"`
}

func (*Service) Table() string      { return families[9].table }
func (s *Service) EntityID() string { return s.ServiceID }
