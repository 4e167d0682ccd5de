package sqlparam_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/sqlcheck"
	"github.com/secimpact/impact/internal/sqlparam"
	"github.com/secimpact/impact/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// hostile are strings a value must not escape its literal with.
var hostile = []string{
	"", "plain", "R&D's lab", `back\slash`, `\'; DROP TABLE findings; --`, "'", `\`, `\\'`,
	"tab\tnew\nline", "ünïcode ✓", "@department", "%s {x} $1 ?",
}

// literalChecks binds each hostile string and makes the server fail unless
// the literal it reads holds exactly the string's bytes.
func literalChecks(t *testing.T) []string {
	var stmts []string
	for _, s := range hostile {
		q, err := sqlparam.Bind(fmt.Sprintf("SELECT throwIf(hex(@v) != '%s') FORMAT Null", strings.ToUpper(hex.EncodeToString([]byte(s)))), map[string]string{"v": s})
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, q)
	}
	return stmts
}

// TestLiteralOnServers: every bound string reads back byte for byte on
// ClickHouse 18.16 and on current ClickHouse (chdb).
func TestLiteralOnServers(t *testing.T) {
	stmts := literalChecks(t)
	t.Run("18.16", func(t *testing.T) {
		conn, err := chconn.Open(context.Background(), testenv.ClickHouse(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for _, q := range stmts {
			if err := conn.Exec(context.Background(), q); err != nil {
				t.Errorf("%s: %v", q, err)
			}
		}
	})
	t.Run("current", func(t *testing.T) { sqlcheck.RunChDB(t, stmts) })
}
