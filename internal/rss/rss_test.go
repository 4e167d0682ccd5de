package rss

import (
	"runtime"
	"testing"
)

func TestParseHWM(t *testing.T) {
	tests := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{"typical", "Name:\timpact\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n", 12345 << 10, false},
		{"missing", "Name:\timpact\nVmRSS:\t 100 kB\n", 0, true},
		{"bad unit", "VmHWM:\t 5 MB\n", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHWM([]byte(tt.status))
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("parseHWM = %d, %v; want %d, err %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestPeakGrows checks the live reading: touching 64 MiB raises the peak
// by at least that much.
func TestPeakGrows(t *testing.T) {
	before, err := Peak()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = byte(i)
	}
	after, err := Peak()
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(b)
	if after-before < 60<<20 && after < 64<<20 {
		t.Errorf("peak %d -> %d after touching 64 MiB", before, after)
	}
}
