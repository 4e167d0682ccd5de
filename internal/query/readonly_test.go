package query_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/query"
	"github.com/secimpact/impact/internal/readonly"
	"github.com/secimpact/impact/internal/testenv"
)

// readPath is one way read-only SQL reaches ClickHouse.
type readPath struct {
	name string
	// run returns the result as CSV without a header.
	run func(ctx context.Context, sql string) (string, error)
	// limits are the limits the path must keep: setting -> most lenient
	// value allowed (0 means "must not be 0", i.e. no limit).
	limits map[string]int
}

// readPaths are the analyst's `impact query` (as impact_reader, and as an
// admin user, whose queries it must make read-only itself) and Grafana's
// plugin, which sends the panel SQL as impact_reader through clickhouse-go
// with its query timeout as the context deadline (sqlds).
func readPaths(t *testing.T, admin, reader driver.Conn) []readPath {
	viaQuery := func(conn driver.Conn) func(context.Context, string) (string, error) {
		return func(ctx context.Context, sql string) (string, error) {
			var out bytes.Buffer
			_, err := query.Run(ctx, conn, sql, &out, query.Options{Format: query.CSV})
			_, body, _ := strings.Cut(out.String(), "\n")
			return body, err
		}
	}
	grafana := func(ctx context.Context, sql string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 60*time.Second) // the plugin's default query timeout
		defer cancel()
		rows, err := reader.Query(ctx, sql)
		if err != nil {
			return "", err
		}
		defer rows.Close()
		var out strings.Builder
		vals := make([]any, len(rows.Columns()))
		for rows.Next() {
			strs := make([]string, len(vals))
			for i := range vals {
				vals[i] = &strs[i]
			}
			if err := rows.Scan(vals...); err != nil {
				// Not every column is a string; these tests only read
				// strings back.
				continue
			}
			out.WriteString(strings.Join(strs, ",") + "\n")
		}
		return out.String(), rows.Err()
	}
	profile := map[string]int{}
	for _, s := range readonly.Profile() {
		if v, err := strconv.Atoi(s.Value); err == nil {
			profile[s.Name] = v
		}
	}
	timeout := int(query.DefaultTimeout.Seconds())
	return []readPath{
		{"impact query as impact_reader", viaQuery(reader), profile},
		// An admin user keeps its own limits except those impact query
		// sets: readonly and the timeout.
		{"impact query as admin", viaQuery(admin), map[string]int{"readonly": 1, "max_execution_time": timeout}},
		{"Grafana plugin as impact_reader", grafana, profile},
	}
}

// secretServer is a web server the read paths must never make ClickHouse
// fetch from.
func secretServer(t *testing.T) (url string, hits *atomic.Int64) {
	hits = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		fmt.Fprintln(w, "top-secret")
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/secret", hits
}

func openConns(t *testing.T) (admin, reader driver.Conn, addr string) {
	t.Helper()
	ctx := context.Background()
	cfg := testenv.ClickHouse(t)
	admin, err := chconn.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	reader, err = chconn.Open(ctx, testenv.Reader(cfg))
	if err != nil {
		t.Fatalf("connect as the read-only user: %v", err)
	}
	t.Cleanup(func() { reader.Close() })
	return admin, reader, cfg.Addr
}

// serverCode returns the ClickHouse error code in err, or 0.
func serverCode(err error) int32 {
	var ex *proto.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return 0
}

// TestReadPathsRefuseTableFunctions: no read path can make the server
// fetch a URL, query another server or run any other table function
// (18.16 refuses them all under readonly=1; current releases allow only
// readonly.HarmlessTableFunctions, proven in package readonly's tests).
func TestReadPathsRefuseTableFunctions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, reader, addr := openConns(t)
	secret, hits := secretServer(t)
	host, port, _ := net.SplitHostPort(addr)

	attacks := []string{
		fmt.Sprintf("SELECT * FROM url('%s', TSV, 's String')", secret),
		fmt.Sprintf("SELECT s FROM (SELECT 1 AS k) ANY LEFT JOIN (SELECT 1 AS k, s FROM url('%s', TSV, 's String')) USING k", secret),
		fmt.Sprintf("SELECT * FROM remote('%s:%s', system.one)", host, port),
		fmt.Sprintf("SELECT * FROM remote('%s:%s', system.one, 'default', '')", host, port),
		"SELECT * FROM file('users.xml', TSV, 's String')",
		"SELECT * FROM mysql('127.0.0.1:1', 'db', 't', 'u', 'p')",
	}
	// Every table function this server knows, called bare: the refusal
	// comes before the arguments are looked at. 18.16 refuses them all;
	// current releases run the harmless ones.
	var version string
	if err := admin.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	refuseAll := strings.HasPrefix(version, "18.")
	rows, err := admin.Query(ctx, "SELECT name FROM system.table_functions ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		all = append(all, name)
	}
	rows.Close()
	for _, name := range all {
		if refuseAll || !slices.Contains(readonly.HarmlessTableFunctions, name) {
			attacks = append(attacks, "SELECT * FROM "+name+"()")
		}
	}
	t.Logf("ClickHouse %s table functions: %v", version, all)

	for _, p := range readPaths(t, admin, reader) {
		t.Run(p.name, func(t *testing.T) {
			for _, sql := range attacks {
				_, err := p.run(ctx, sql)
				if err == nil {
					t.Errorf("ran: %s", sql)
					continue
				}
				if c := serverCode(err); c != 164 && c != 497 { // READONLY, ACCESS_DENIED
					t.Errorf("%s: refused for the wrong reason (code %d): %v", sql, c, err)
				}
				if strings.HasPrefix(p.name, "impact query") && serverCode(err) == 164 && !errors.Is(err, query.ErrReadOnly) {
					t.Errorf("%s: error does not say impact query is read-only: %v", sql, err)
				}
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server fetched the secret URL %d times", n)
	}
}

// TestReadPathsRefuseLimitChanges: no read path can lift a limit of the
// read-only profile, by SET, by a SETTINGS clause or by settings sent with
// the query; and readonly itself cannot be lowered.
func TestReadPathsRefuseLimitChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, reader, _ := openConns(t)
	const show = "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'max_execution_time', 'max_result_rows', 'max_memory_usage')"
	lift := []string{
		"SET max_execution_time = 0",
		"SET readonly = 0",
		show + " SETTINGS readonly = 0",
		show + " SETTINGS readonly = 2",
		show + " SETTINGS max_execution_time = 0",
		show + " SETTINGS max_execution_time = 100000",
		show + " SETTINGS max_result_rows = 0",
		show + " SETTINGS max_result_rows = 100000000000",
		show + " SETTINGS max_memory_usage = 0",
		show + " SETTINGS max_memory_usage = 100000000000",
	}
	for _, p := range readPaths(t, admin, reader) {
		t.Run(p.name, func(t *testing.T) {
			for _, sql := range lift {
				out, err := p.run(ctx, sql)
				if err != nil {
					if c := serverCode(err); c != 164 && c != 452 { // READONLY, SETTING_CONSTRAINT_VIOLATION
						t.Errorf("%s: refused for the wrong reason (code %d): %v", sql, c, err)
					}
					continue
				}
				if strings.HasPrefix(sql, "SET ") {
					t.Errorf("ran: %s", sql)
					continue
				}
				// It ran: only if it changed nothing that matters.
				checkLimits(t, sql, out, p.limits)
			}
		})
	}

	// Settings sent with the query (as clickhouse-go does for the plugin
	// and impact query): 18.16 ignores them for a readonly=1 user, current
	// releases refuse them; either way the profile's limits hold.
	t.Run("per-query settings", func(t *testing.T) {
		p := readPaths(t, admin, reader)[2]
		for _, set := range []clickhouse.Settings{
			{"max_execution_time": 0}, {"max_execution_time": 100000}, {"readonly": 0},
			{"readonly": 2}, {"max_result_rows": 0}, {"max_memory_usage": 0},
		} {
			out, err := p.run(clickhouse.Context(ctx, clickhouse.WithSettings(set)), show)
			if err != nil {
				if c := serverCode(err); c != 164 && c != 452 {
					t.Errorf("%v: refused for the wrong reason: %v", set, err)
				}
				continue
			}
			checkLimits(t, fmt.Sprint(set), out, p.limits)
		}
	})
}

// checkLimits checks the name,value lines of out against limits: each
// value must be at least 1 and at most the limit.
func checkLimits(t *testing.T, what, out string, limits map[string]int) {
	t.Helper()
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		name, value, _ := strings.Cut(line, ",")
		limit, ok := limits[name]
		if !ok {
			continue
		}
		seen++
		v, err := strconv.Atoi(value)
		if err != nil || v < 1 || v > limit {
			t.Errorf("%s: %s = %s, limit is %d", what, name, value, limit)
		}
	}
	if seen != len(limits) {
		t.Errorf("%s: read %d of the %d limits in %q", what, seen, len(limits), out)
	}
}

// TestReadPathsKeepLimits: the read paths still answer, within the time
// and row limits.
func TestReadPathsKeepLimits(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	admin, reader, _ := openConns(t)

	t.Run("timeout", func(t *testing.T) {
		for _, conn := range []driver.Conn{admin, reader} {
			start := time.Now()
			_, err := query.Run(ctx, conn, "SELECT count() FROM system.numbers", &bytes.Buffer{}, query.Options{Timeout: 2 * time.Second})
			took := time.Since(start)
			if err == nil {
				t.Fatal("an endless query finished")
			}
			// The server stops it (admin: TIMEOUT_EXCEEDED) or the client
			// does (a reader on 18.16, whose per-query settings the
			// server ignores).
			if took > 2*time.Second+5*time.Second {
				t.Errorf("the 2s query ran %s", took)
			}
			t.Logf("stopped after %s: %v", took.Round(100*time.Millisecond), err)
		}
		if _, err := query.Run(ctx, reader, "SELECT 1", &bytes.Buffer{}, query.Options{Timeout: readonly.MaxExecutionTime + time.Second}); err == nil {
			t.Errorf("a timeout above the profile's %s was accepted", readonly.MaxExecutionTime)
		}
	})

	t.Run("result rows", func(t *testing.T) {
		rows, err := reader.Query(ctx, fmt.Sprintf("SELECT number FROM system.numbers LIMIT %d", readonly.MaxResultRows+1))
		if err == nil {
			for rows.Next() {
			}
			err = rows.Err()
			rows.Close()
		}
		if c := serverCode(err); c != 396 { // TOO_MANY_ROWS_OR_BYTES
			t.Errorf("a result of %d rows: got %v, want the result-rows limit", readonly.MaxResultRows+1, err)
		}
	})

	t.Run("answers", func(t *testing.T) {
		var out bytes.Buffer
		res, err := query.Run(ctx, reader, "SELECT number AS n FROM system.numbers LIMIT 5", &out, query.Options{Format: query.CSV, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Truncated || out.String() != "n\n0\n1\n2\n" {
			t.Errorf("got %q (truncated %v)", out.String(), res.Truncated)
		}
	})
}
