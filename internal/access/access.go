// Package access gives each department a ClickHouse user that reads only
// that department's numbers.
//
// Enforcement is the database boundary, because it is the one ClickHouse
// 18.16 has: 18.16 knows no row filters (its users.xml takes no
// <databases><db><table><filter>, and no CREATE ROW POLICY exists), only
// allow_databases, which it checks for every table a query reads, views
// and subqueries included. So transform copies each registered
// department's rows of the analyst tables into a database of its own
// (transform.RegisterDepartments, internal/department.Database), and the
// department's user may read that database and nothing else:
//
//   - ClickHouse 18.16: <allow_databases> lists the department's database;
//     every other database answers "Access denied", and system.tables,
//     system.columns and system.parts list only the allowed database's
//     tables. readonly=1 (the impact_reader profile) refuses writes, DDL,
//     SET and every table function (remote(), merge(), url() ...).
//   - Current releases: <grants> give SELECT on the department's database
//     only (allow_databases would grant every privilege on it, and a user
//     may not have both); the same profile and its constraints apply.
//
// Because a department's database holds only its own rows, no expression
// a user writes (a throwIf in WHERE, say) is ever evaluated on another
// department's rows: the row-policy side channels of filtering in place
// do not arise.
//
// Users live in a users.d file of the server's configuration, which both
// versions reload without a restart. The file holds SHA-256 hashes; the
// passwords live in a secrets file (Secrets) that only `impact access`
// writes and `impact provision` reads, and are never printed.
package access

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/secimpact/impact/internal/department"
	"github.com/secimpact/impact/internal/readonly"
)

// Credential is one department reader's password and when it was set.
// Its String, GoString and Format never show the password.
type Credential struct {
	Password  string    `yaml:"password"`
	RotatedAt time.Time `yaml:"rotated_at"`
}

// String describes the credential without its password.
func (c Credential) String() string {
	return "credential set " + c.RotatedAt.UTC().Format(time.RFC3339)
}

// GoString is String, so %#v does not print the password either.
func (c Credential) GoString() string { return c.String() }

// Format prints String for every verb.
func (c Credential) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// Version identifies the credential without revealing it: its rotation
// time in Unix seconds. Provisioning stores it beside the data source to
// know when the password must be sent again.
func (c Credential) Version() string { return strconv.FormatInt(c.RotatedAt.Unix(), 10) }

// Secrets is the secrets file: department name -> credential.
type Secrets struct {
	path        string
	Departments map[string]Credential `yaml:"departments"`
}

// LoadSecrets reads the secrets file at path; a missing file is an empty
// one. It refuses a file others may read.
func LoadSecrets(path string) (*Secrets, error) {
	s := &Secrets{path: path, Departments: map[string]Credential{}}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("read secrets file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secrets file %s is readable by others (mode %v): chmod 600 it", path, fi.Mode().Perm())
	}
	if err := yaml.Unmarshal(b, s); err != nil {
		// yaml errors quote the offending line, which may hold a password.
		return nil, fmt.Errorf("secrets file %s is not valid YAML of the form departments: {NAME: {password: ..., rotated_at: ...}}", path)
	}
	if s.Departments == nil {
		s.Departments = map[string]Credential{}
	}
	for name, c := range s.Departments {
		if name == "" || c.Password == "" {
			return nil, fmt.Errorf("secrets file %s: department %q has no password", path, name)
		}
	}
	return s, nil
}

// Action is what Ensure did to a department's credential.
type Action string

// Ensure actions.
const (
	Created   Action = "created"
	Rotated   Action = "rotated"
	Unchanged Action = "unchanged"
)

// Ensure gives the department a credential: a new random password when it
// has none, or when rotate is set. now stamps new credentials.
func (s *Secrets) Ensure(name string, rotate bool, now time.Time) (Action, error) {
	if name == "" {
		return "", errors.New("the empty department has no reader")
	}
	c, ok := s.Departments[name]
	if ok && !rotate {
		return Unchanged, nil
	}
	pw, err := newPassword()
	if err != nil {
		return "", err
	}
	at := now.UTC().Truncate(time.Second)
	if ok && !at.After(c.RotatedAt) {
		at = c.RotatedAt.Add(time.Second) // a new version even within the same second
	}
	s.Departments[name] = Credential{Password: pw, RotatedAt: at}
	if ok {
		return Rotated, nil
	}
	return Created, nil
}

// Save writes the secrets file atomically with mode 0600.
func (s *Secrets) Save() error {
	b, err := yaml.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode secrets: %w", err)
	}
	head := []byte("# Passwords of the department readers (impact access). Keep it secret: mode 0600.\n")
	return writeAtomic(s.path, append(head, b...), 0o600)
}

// Names returns the departments with a credential, sorted.
func (s *Secrets) Names() []string {
	out := make([]string, 0, len(s.Departments))
	for n := range s.Departments {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func newPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Reader is one department's ClickHouse reader.
type Reader struct {
	Department string
	User       string // department.User
	Database   string // department.Database
	Credential Credential
}

// Readers returns the reader of every department with a credential, for
// the analyst database base, sorted by department.
func (s *Secrets) Readers(base string) []Reader {
	var out []Reader
	for _, n := range s.Names() {
		out = append(out, Reader{Department: n, User: department.User(n), Database: department.Database(base, n), Credential: s.Departments[n]})
	}
	return out
}

// Server is what the users file must suit.
type Server int

// Server generations.
const (
	// Current releases: <clickhouse> root, <grants>.
	Current Server = iota
	// Legacy is ClickHouse 18.16 (and releases before 20.4, which
	// introduced SQL access control): <yandex> root, <allow_databases>.
	Legacy
)

// ServerFor returns the generation of a server reporting version (SELECT
// version(), e.g. "18.16.1" or "26.9.2.1").
func ServerFor(version string) (Server, error) {
	major, rest, _ := strings.Cut(version, ".")
	minorS, _, _ := strings.Cut(rest, ".")
	ma, err1 := strconv.Atoi(major)
	mi, err2 := strconv.Atoi(minorS)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("clickhouse version %q: want MAJOR.MINOR[.PATCH]", version)
	}
	if ma < 20 || ma == 20 && mi < 4 {
		return Legacy, nil
	}
	return Current, nil
}

// UsersXML returns the users.d file defining every reader: its password
// as a SHA-256 hash, the impact_reader profile (package readonly; the
// server's users configuration defines it), the default quota, any
// network, and read access to the department's database alone.
func UsersXML(readers []Reader, server Server) []byte {
	root := "clickhouse"
	if server == Legacy {
		root = "yandex"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "<?xml version=\"1.0\"?>\n")
	fmt.Fprintf(&b, "<!-- Written by impact access: one read-only user per department, reading only the\n")
	fmt.Fprintf(&b, "     department's database. Passwords are in the secrets file, hashed here. -->\n")
	fmt.Fprintf(&b, "<%s>\n    <users>\n", root)
	for _, r := range readers {
		sum := sha256.Sum256([]byte(r.Credential.Password))
		fmt.Fprintf(&b, "        <%s>\n", r.User)
		fmt.Fprintf(&b, "            <password_sha256_hex>%s</password_sha256_hex>\n", hex.EncodeToString(sum[:]))
		fmt.Fprintf(&b, "            <networks><ip>::/0</ip></networks>\n")
		fmt.Fprintf(&b, "            <profile>%s</profile>\n", readonly.ProfileName)
		fmt.Fprintf(&b, "            <quota>default</quota>\n")
		if server == Legacy {
			fmt.Fprintf(&b, "            <allow_databases><database>%s</database></allow_databases>\n", xmlText(r.Database))
		} else {
			fmt.Fprintf(&b, "            <grants><query>GRANT SELECT ON %s.*</query></grants>\n", xmlText(r.Database))
		}
		fmt.Fprintf(&b, "        </%s>\n", r.User)
	}
	fmt.Fprintf(&b, "    </users>\n</%s>\n", root)
	return b.Bytes()
}

// WriteUsersFile writes the users file atomically (mode 0644: it holds
// hashes, and the server must read it) when its content differs, and
// reports whether it did.
func WriteUsersFile(path string, content []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return false, nil
	}
	if err := writeAtomic(path, content, 0o644); err != nil {
		return false, err
	}
	return true, nil
}

func writeAtomic(path string, content []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a successful rename there is nothing left to remove
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s)) // writes to a bytes.Buffer cannot fail
	return b.String()
}
