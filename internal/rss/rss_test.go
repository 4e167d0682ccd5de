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

func TestCPU(t *testing.T) {
	got, err := parseCPU([]byte("4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 31 0 0 20 0 3 0 100 1000 10"))
	if err != nil || got != 2.81 {
		t.Errorf("parseCPU = %v, %v; want 2.81", got, err)
	}
	if _, err := parseCPU([]byte("4242 (cmd) S 1")); err == nil {
		t.Error("short stat: no error")
	}
	before, err := CPUOf("self")
	if err != nil {
		t.Fatal(err)
	}
	for { // spin until the kernel has counted a tick or two
		if now, _ := CPUOf("self"); now >= before+0.02 {
			break
		}
	}
}
