// Package gitlab maps GitLab webhook deliveries (vulnerability, pipeline,
// job and deployment events) onto security.finding.*, security.gate.* and
// deployment.* events.
package gitlab

// System is the source system name in event ids and the mapping file.
const System = "gitlab"
