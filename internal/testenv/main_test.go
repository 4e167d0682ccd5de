package testenv_test

import (
	"testing"

	"github.com/secimpact/impact/internal/testenv"
)

// TestMain is shared by every test file of this package (ClickHouse and
// Kafka): there can be only one.
func TestMain(m *testing.M) { testenv.Main(m) }
