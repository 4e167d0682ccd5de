package bench

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/secimpact/impact/internal/rss"
)

// The machine the benchmark runs on may be shared, so wall time alone
// says little: CPU seconds of the ClickHouse server process and of this
// process are reported beside it (on a dedicated 2-core machine, wall time
// is at least CPU / 2).

// processCPU returns utime+stime of pid in seconds (0 if unknown or
// unreadable).
func processCPU(pid int) float64 {
	if pid == 0 {
		return 0
	}
	cpu, _ := rss.CPUOf(strconv.Itoa(pid))
	return cpu
}

// selfCPU returns this process's user+system CPU seconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// loadAverages returns the 1, 5 and 15-minute load averages (0 if
// unreadable).
func loadAverages() [3]float64 {
	var out [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return out
	}
	f := strings.Fields(string(b))
	for i := 0; i < 3 && i < len(f); i++ {
		out[i], _ = strconv.ParseFloat(f[i], 64)
	}
	return out
}
