// Package salesforce maps Salesforce report exports to contract events:
// the Opportunities report and the Opportunity Field History report
// (Reports > Export > "Details Only", Comma Delimited .csv, UTF-8).
//
// The Opportunities report gives each deal's current state; the Field
// History report gives every tracked change (stage, amount, close date,
// ...) with its edit time. Together they become crm.opportunity.created,
// .stage_changed and .closed events at the real times of the changes,
// each carrying the deal's full state as it was then, rebuilt backwards
// from the current state. The security review a customer asked for
// becomes security.review.requested and .completed, dated by two report
// columns or by the changes of a tracked status field.
//
// Salesforce writes numbers and dates in the exporting user's locale
// ("1.234.567,89", "31.12.2025 14:03") and time zone, without an offset;
// the mapping file says which (crm.salesforce). Amounts are converted to
// USD with crm.currency; the original currency and amount are kept.
package salesforce

import (
	"strings"
)

// System names Salesforce in event sources, ids and the mapping file.
const System = "salesforce"

// Source is the CloudEvents source attribute of events from Salesforce.
const Source = "salesforce"

// OpportunityID is the contract opportunity_id of a Salesforce Opportunity
// Id (18-character form).
func OpportunityID(id string) string { return "salesforce:opportunity/" + ID18(id) }

// ReviewID is the review_id of the security review of an opportunity.
func ReviewID(id string) string { return "salesforce:security-review/" + ID18(id) }

// ID18 returns the 18-character, case-insensitive form of a Salesforce
// record id. Reports may show the 15-character case-sensitive form; the
// API and the Field History report use either, so ids are compared in the
// 18-character form. Other strings are returned unchanged.
func ID18(id string) string {
	id = strings.TrimSpace(id)
	if len(id) != 15 || !alnum(id) {
		return id
	}
	const suffix = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var b strings.Builder
	b.WriteString(id)
	for chunk := 0; chunk < 3; chunk++ {
		n := 0
		for i := 0; i < 5; i++ {
			if c := id[chunk*5+i]; c >= 'A' && c <= 'Z' {
				n |= 1 << i
			}
		}
		b.WriteByte(suffix[n])
	}
	return b.String()
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
