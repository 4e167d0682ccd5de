package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/testenv"
	"github.com/secimpact/impact/schemas/migrations"
)

// TestMigrateCommand: a fresh server is created and migrated; the second
// run has nothing to do; two concurrent runs on another fresh database
// both succeed; a dry run prints DDL and creates nothing.
func TestMigrateCommand(t *testing.T) {
	ctx := context.Background()
	srv := testenv.ClickHouseServer(t)
	all, err := migrations.Load(nil)
	if err != nil {
		t.Fatal(err)
	}

	dry := srv.Config("dry")
	var out bytes.Buffer
	if err := runMigrate(ctx, &out, dry, migrations.Options{Database: "dry", DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "CREATE TABLE IF NOT EXISTS events_raw") || !strings.Contains(out.String(), "would apply") {
		t.Errorf("dry run output lacks DDL or summary:\n%s", out.String())
	}
	if exists, err := chconn.DatabaseExists(ctx, dry); err != nil || exists {
		t.Errorf("dry run created the database (exists=%v, err=%v)", exists, err)
	}
	// On a cluster of 18.16 servers the DDL has no column comments (they
	// cannot be replicated there); a dry run shows it as it would run. A
	// dry run runs nothing, so no cluster is needed.
	out.Reset()
	if err := runMigrate(ctx, &out, dry, migrations.Options{Database: "dry", Cluster: "c18", DryRun: true}); err != nil {
		t.Fatal(err)
	}
	admin, err := chconn.Open(ctx, srv.Config("default"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var version string
	if err := admin.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if want := strings.HasPrefix(version, "18."); !strings.Contains(out.String(), "ON CLUSTER c18") || strings.Contains(out.String(), " COMMENT ") == want {
		t.Errorf("cluster dry run on %s: want ON CLUSTER DDL, with column comments only from 20.1:\n%.2000s", version, out.String())
	}

	ch := srv.Config("impact")
	steps := []struct{ want string }{
		{"applied " + strconv.Itoa(len(all)) + " migrations"},
		{"nothing to do"},
	}
	for i, step := range steps {
		out.Reset()
		if err := runMigrate(ctx, &out, ch, migrations.Options{Database: "impact"}); err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if !strings.Contains(out.String(), step.want) {
			t.Errorf("run %d printed %q, want %q", i+1, out.String(), step.want)
		}
	}

	conc := srv.Config("concurrent")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runMigrate(ctx, &bytes.Buffer{}, conc, migrations.Options{Database: "concurrent"})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent run %d: %v", i, err)
		}
	}
	conn, err := chconn.Open(ctx, conc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(all) {
		t.Errorf("schema_migrations has %d rows after two concurrent runs, want %d", n, len(all))
	}
}

// TestMigrateTwoProcesses runs `impact migrate` in two processes at once
// (this test binary re-executed as the command) against a fresh database:
// both succeed, exactly one applies the migrations, and each is recorded
// once.
func TestMigrateTwoProcesses(t *testing.T) {
	if os.Getenv("IMPACT_TEST_MIGRATE_CHILD") == "1" {
		rootCmd.SetArgs(strings.Fields(os.Getenv("IMPACT_TEST_MIGRATE_ARGS")))
		if err := rootCmd.ExecuteContext(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "impact:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	ctx := context.Background()
	srv := testenv.ClickHouseServer(t)
	all, err := migrations.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	args := "migrate --clickhouse-addr " + srv.Addr() + " --clickhouse-database twoproc"
	outs := make([]string, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateTwoProcesses$")
			cmd.Env = append(os.Environ(), "IMPACT_TEST_MIGRATE_CHILD=1", "IMPACT_TEST_MIGRATE_ARGS="+args)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	applied := 0
	for i := range outs {
		if errs[i] != nil {
			t.Errorf("process %d: %v\n%s", i, errs[i], outs[i])
		}
		t.Logf("process %d: %s", i, strings.TrimSpace(outs[i]))
		if strings.Contains(outs[i], "applied "+strconv.Itoa(len(all))+" migrations") {
			applied++
		}
	}
	if applied != 1 {
		t.Errorf("%d processes applied the migrations, want exactly 1", applied)
	}
	conn, err := chconn.Open(ctx, srv.Config("twoproc"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(all) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(all))
	}
}
