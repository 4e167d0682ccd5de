// Package department names what impact keeps per department: the
// ClickHouse database holding the department's slice of the analyst
// tables, the read-only ClickHouse user that may read it, and the slug the
// Grafana objects of the department (team, folder, data source, dashboard)
// are keyed by.
//
// Department names come from events and the service catalog ("R&D's lab"
// is a department like any other), so they never become identifiers
// directly: Slug keeps a readable part and adds a hash of the exact name,
// so two names never share a slug and the result is a safe identifier in
// ClickHouse (database and user names) and in Grafana (uids of at most 40
// characters).
package department

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxReadable is how many characters of the name a slug keeps: with the
// prefix "impact-dept-" and the hash, Grafana uids stay within their 40
// characters.
const maxReadable = 20

// Slug returns the department's slug: the name lowercased, runs of
// characters other than a-z and 0-9 turned into one '-', at most 20 of
// them, then '-' and the first 6 hex digits of the SHA-256 of the exact
// name. "Engineering" is "engineering-" plus its hash; "R&D's lab" is
// "r-d-s-lab-" plus its hash. The empty name (findings of services the
// catalog does not know) has no slug: it is no department.
func Slug(name string) string {
	if name == "" {
		return ""
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= maxReadable {
			break
		}
	}
	readable := strings.TrimRight(b.String()[:min(b.Len(), maxReadable)], "-")
	sum := sha256.Sum256([]byte(name))
	h := hex.EncodeToString(sum[:3])
	if readable == "" {
		return h
	}
	return readable + "-" + h
}

// ident is the slug as a ClickHouse identifier part: '-' becomes '_'.
func ident(name string) string { return strings.ReplaceAll(Slug(name), "-", "_") }

// Database returns the ClickHouse database holding the department's slice
// of the analyst tables of database base: base + "_dept_" + the slug with
// '_' for '-'. Transform fills it; the department's user reads only it.
func Database(base, name string) string { return base + "_dept_" + ident(name) }

// User returns the read-only ClickHouse user of the department.
func User(name string) string { return "impact_dept_" + ident(name) }
