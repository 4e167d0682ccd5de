package access

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/transform"
)

// Options configures Provision. SecretsFile and UsersFile are required.
type Options struct {
	// SecretsFile holds the readers' passwords (LoadSecrets); created
	// when missing, written with mode 0600.
	SecretsFile string
	// UsersFile is the users.d file of the ClickHouse server to write
	// (e.g. /etc/clickhouse-server/users.d/impact-departments.xml).
	UsersFile string
	// Departments to give a reader; empty: every department the data
	// names (transform.Departments).
	Departments []string
	// Rotate names departments whose password is replaced; RotateAll
	// replaces every one.
	Rotate    []string
	RotateAll bool
	// Server is the generation the users file must suit; nil: asked from
	// the server (SELECT version()).
	Server *Server
	// Now stamps new credentials; nil: time.Now.
	Now func() time.Time
}

// Validate names the first bad field.
func (o Options) Validate() error {
	switch {
	case o.SecretsFile == "":
		return errors.New("access: SecretsFile is required (the file holding the readers' passwords)")
	case o.UsersFile == "":
		return errors.New("access: UsersFile is required (the users.d file the ClickHouse server reads)")
	}
	for _, d := range append(append([]string(nil), o.Departments...), o.Rotate...) {
		if d == "" {
			return errors.New("access: Departments and Rotate may not name the empty department")
		}
	}
	return nil
}

// ReaderResult is what Provision did for one department.
type ReaderResult struct {
	Department string
	User       string
	Database   string
	Password   Action // created, rotated or unchanged; the password itself is never reported
}

func (r ReaderResult) String() string {
	return fmt.Sprintf("%-24s user %-36s database %-40s password %s", r.Department, r.User, r.Database, r.Password)
}

// Report is the outcome of Provision.
type Report struct {
	Readers          []ReaderResult
	UsersFileChanged bool
	SliceRows        uint64 // rows copied into the departments' databases
}

// Provision gives every department (Options.Departments, else every
// department the data in conn's database names) a read-only ClickHouse
// user that reads only its own database: it registers the departments
// with transform and fills their databases (transform.RegisterDepartments,
// RefreshDepartments), creates or rotates their passwords in the secrets
// file, and writes the users file. conn must be allowed to create
// databases (the writer). The server picks the users file up within
// seconds (WaitReaders waits for that).
func Provision(ctx context.Context, conn driver.Conn, opts Options) (Report, error) {
	var rep Report
	if err := opts.Validate(); err != nil {
		return rep, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	server := opts.Server
	if server == nil {
		var v string
		if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
			return rep, fmt.Errorf("access: ask the server's version: %w", err)
		}
		s, err := ServerFor(v)
		if err != nil {
			return rep, fmt.Errorf("access: %w", err)
		}
		server = &s
	}
	secrets, err := LoadSecrets(opts.SecretsFile)
	if err != nil {
		return rep, fmt.Errorf("access: %w", err)
	}
	names := opts.Departments
	if len(names) == 0 {
		if names, err = transform.Departments(ctx, conn); err != nil {
			return rep, fmt.Errorf("access: %w", err)
		}
		if len(names) == 0 {
			return rep, errors.New("access: the data names no department yet: run impact transform first, or name them")
		}
	}
	depts, err := transform.RegisterDepartments(ctx, conn, names)
	if err != nil {
		return rep, fmt.Errorf("access: %w", err)
	}
	sl, err := transform.RefreshDepartments(ctx, conn, transform.Options{})
	if err != nil {
		return rep, fmt.Errorf("access: %w", err)
	}
	rep.SliceRows = sl.Rows
	rotate := map[string]bool{}
	for _, r := range opts.Rotate {
		rotate[r] = true
	}
	for _, d := range depts {
		a, err := secrets.Ensure(d.Name, opts.RotateAll || rotate[d.Name], now())
		if err != nil {
			return rep, fmt.Errorf("access: %w", err)
		}
		delete(rotate, d.Name)
		rep.Readers = append(rep.Readers, ReaderResult{Department: d.Name, Database: d.Database, Password: a})
	}
	for r := range rotate {
		return rep, fmt.Errorf("access: --rotate %q: no such department among %d provisioned", r, len(depts))
	}
	// The secrets first: a users file naming a password nobody holds
	// would lock the department out.
	if err := secrets.Save(); err != nil {
		return rep, fmt.Errorf("access: %w", err)
	}
	base, err := database(ctx, conn)
	if err != nil {
		return rep, err
	}
	readers := secrets.Readers(base)
	for i := range rep.Readers {
		for _, r := range readers {
			if r.Department == rep.Readers[i].Department {
				rep.Readers[i].User = r.User
			}
		}
	}
	if rep.UsersFileChanged, err = WriteUsersFile(opts.UsersFile, UsersXML(readers, *server)); err != nil {
		return rep, fmt.Errorf("access: %w", err)
	}
	return rep, nil
}

func database(ctx context.Context, conn driver.Conn) (string, error) {
	var db string
	if err := conn.QueryRow(ctx, "SELECT currentDatabase()").Scan(&db); err != nil {
		return "", fmt.Errorf("access: read current database: %w", err)
	}
	return db, nil
}

// Config returns the connection settings of reader r on the server of cc
// (address, TLS): its user, password and database.
func (r Reader) Config(cc config.ClickHouse) config.ClickHouse {
	cc.User, cc.Password, cc.Database = r.User, r.Credential.Password, r.Database
	return cc
}

// WaitReaders waits until every reader can log in on the server of cc
// (the server reloads its users files every few seconds) or timeout
// passes, and returns the last login error then.
func WaitReaders(ctx context.Context, cc config.ClickHouse, readers []Reader, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, r := range readers {
		for {
			err := login(ctx, r.Config(cc))
			if err == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("reader of department %q cannot log in after %s: %w", r.Department, timeout, err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

func login(ctx context.Context, cc config.ClickHouse) error {
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close()
	var one uint8
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}
