package catalog_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/ingest/sources/catalog"
	"github.com/secimpact/impact/ingest/sources/export"
)

// TestOptionsValidate: zero values mean "not given"; a bad value is an
// error naming its field, before any file is read.
func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		o    catalog.Options
		want string // "" = valid
	}{
		{"zero", catalog.Options{}, ""},
		{"set", catalog.Options{Repo: "kestrel/customer-portal", EffectiveAt: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}, ""},
		{"repo without owner", catalog.Options{Repo: "customer-portal"}, "Repo \"customer-portal\" is not owner/name"},
		{"repo URL", catalog.Options{Repo: "github.com/kestrel/portal"}, "is not owner/name"},
		{"repo with space", catalog.Options{Repo: "kestrel/customer portal"}, "is not owner/name"},
		{"date before 1971", catalog.Options{EffectiveAt: time.Date(1970, 6, 1, 0, 0, 0, 0, time.UTC)}, "EffectiveAt 1970-06-01 is outside"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if (tt.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
		if tt.want != "" {
			err := catalog.Import(context.Background(), nil, nil, tt.o, func(export.Outcome) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: Import = %v, want the Validate error", tt.name, err)
			}
		}
	}
}
