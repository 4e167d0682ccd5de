package access_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/department"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/internal/sqlparam"
	"github.com/secimpact/impact/transform"
)

// TestDeployWriterCanBuildSlices runs transform's department slice
// statements on a current ClickHouse as the writer user of
// deploy/clickhouse/users.d/impact.xml, with exactly its grants: the
// compose writer must be able to create and fill impact_dept_* databases,
// and nothing else beside impact.
func TestDeployWriterCanBuildSlices(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/clickhouse/users.d/impact.xml")
	if err != nil {
		t.Fatal(err)
	}
	var grants []string
	writer := regexp.MustCompile(`(?s)<impact_writer>\s*<password.*?</impact_writer>`).FindString(string(raw))
	for _, m := range regexp.MustCompile(`<query>([^<]+)</query>`).FindAllStringSubmatch(writer, -1) {
		grants = append(grants, "<query>"+m[1]+"</query>")
	}
	if len(grants) == 0 {
		t.Fatal("no impact_writer grants in deploy/clickhouse/users.d/impact.xml")
	}
	users := `<clickhouse><profiles><default/></profiles><users><default><password></password><networks><ip>::/0</ip></networks>
<profile>default</profile><quota>default</quota><grants>` + strings.Join(grants, "") + `</grants></default></users><quotas><default/></quotas></clickhouse>`

	dept := department.Database("impact", "R&D's lab")
	slice, err := transform.DepartmentSliceSQL("impact", dept)
	if err != nil {
		t.Fatal(err)
	}
	var setup []string
	for _, table := range transform.SlicedTables() {
		setup = append(setup, "CREATE DATABASE IF NOT EXISTS impact", ddl(t, table))
	}
	queries := []string{"CREATE DATABASE IF NOT EXISTS " + dept}
	for _, q := range slice {
		q, err := sqlparam.Bind(q, map[string]string{"department": "R&D's lab"})
		if err != nil {
			t.Fatal(err)
		}
		queries = append(queries, q)
	}
	queries = append(queries, "CREATE DATABASE elsewhere")
	res, answers, err := sqlcheck.RunAs(context.Background(), setup, users, queries)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range answers[:len(answers)-1] {
		if !a.OK {
			t.Errorf("the deploy writer cannot run %s: %s", queries[i], a.Error)
		}
	}
	if answers[len(answers)-1].OK {
		t.Errorf("the deploy writer may create any database")
	}
	t.Logf("%d statements as the deploy writer on ClickHouse %s (chdb)", len(queries), res.Version)
}

// ddl is the live table's definition for a test database impact: the
// model's DDL file, rendered.
func ddl(t *testing.T, table string) string {
	t.Helper()
	stmts, err := transform.TableDDL("impact", table)
	if err != nil {
		t.Fatal(err)
	}
	return stmts
}
