package query_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/query"
	"github.com/secimpact/impact/internal/readonly"
)

// TestOptionsValidate: zero values are the defaults; a bad value is an
// error naming its field, returned before the query is sent (conn nil).
func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    query.Options
		want string // "" = valid
	}{
		{"zero", query.Options{}, ""},
		{"set", query.Options{Format: query.JSON, Limit: -1, Timeout: readonly.MaxExecutionTime}, ""},
		{"unknown format", query.Options{Format: "xml"}, "Format \"xml\""},
		{"negative timeout", query.Options{Timeout: -time.Second}, "Timeout -1s"},
		{"timeout above the profile", query.Options{Timeout: readonly.MaxExecutionTime + time.Second}, "Timeout"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
		if tt.want != "" {
			if _, err := query.Run(context.Background(), nil, "SELECT 1", io.Discard, tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Run = %v, want the Validate error", tt.name, err)
			}
		}
	}
}
