// Package deploy holds the production deployment of impact: the ClickHouse
// server and user configuration mounted by ../docker-compose.yml and the
// environment example, plus the tests that check the compose file and the
// Dockerfile without needing Docker (images pinned, health checks, start
// order, no secrets, paths that exist, only Grafana on a host port).
//
// It has no Go API; the tests are the point.
package deploy
