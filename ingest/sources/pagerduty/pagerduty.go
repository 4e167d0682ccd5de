// Package pagerduty maps PagerDuty incidents (V3 webhook deliveries, and
// the incident objects of the REST API) onto security.incident.* events,
// for the incidents the mapping file names as security incidents.
package pagerduty

// System is the source system name in event ids and the mapping file.
const System = "pagerduty"

// Source is the CloudEvents source attribute of PagerDuty events. With the
// id it is an event's identity, so the gateway and the importer use it
// alike.
const Source = "pagerduty"

// IncidentID is the contract incident_id of a PagerDuty incident id.
func IncidentID(id string) string { return "pagerduty:incident/" + id }
