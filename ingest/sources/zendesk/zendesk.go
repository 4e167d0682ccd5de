// Package zendesk maps Zendesk tickets (event-subscription webhooks,
// trigger webhooks with the recommended body template, and the ticket
// objects of the REST API) onto support.ticket.* events.
package zendesk

// System is the source system name in event ids and the mapping file.
const System = "zendesk"

// Source is the CloudEvents source attribute of Zendesk events. With the
// id it is an event's identity, so the gateway and the importer use it
// alike.
const Source = "zendesk"

// TicketID is the contract ticket_id of a Zendesk ticket id.
func TicketID(id string) string { return "zendesk:ticket/" + id }
