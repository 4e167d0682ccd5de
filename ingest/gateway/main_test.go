package gateway

import (
	"testing"

	"github.com/secimpact/impact/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
