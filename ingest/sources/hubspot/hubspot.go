// Package hubspot maps HubSpot deals (the CRM v3 deal objects the webhook
// gateway fetches after a deal webhook, and those the REST API lists) onto
// crm.opportunity.* and security.review.* events.
package hubspot

// System is the source system name in event ids and the mapping file.
const System = "hubspot"

// Source is the CloudEvents source attribute of HubSpot events. With the
// id it is an event's identity, so the gateway and the importer use it
// alike.
const Source = "hubspot"

// DealID is the contract opportunity_id of a HubSpot deal id.
func DealID(id string) string { return "hubspot:deal/" + id }
