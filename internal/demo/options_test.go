package demo

import (
	"context"
	"math"
	"strings"
	"testing"
)

// TestOptionsValidate: zero values are the defaults; a negative or
// nonsensical value is an error naming its field, returned before any
// server starts.
func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{name: "zero value", o: Options{}},
		{name: "set", o: Options{Days: 30, Scale: 0.2, Out: "x"}},
		{name: "negative days", o: Options{Days: -1}, wantErr: "Days -1 is negative"},
		{name: "negative scale", o: Options{Scale: -0.5}, wantErr: "Scale -0.5"},
		{name: "NaN scale", o: Options{Scale: math.NaN()}, wantErr: "Scale NaN"},
		{name: "infinite scale", o: Options{Scale: math.Inf(1)}, wantErr: "Scale +Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate = %v, want %q (\"\": valid)", err, tt.wantErr)
			}
			if tt.wantErr == "" {
				return
			}
			if _, err := Run(context.Background(), tt.o); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v, want the Validate error", err)
			}
		})
	}
	if d := (Options{}).withDefaults(); d.Days != 365 || d.Out != "out" || d.Logger == nil || d.Now.IsZero() {
		t.Errorf("defaults %+v", d)
	}
}
