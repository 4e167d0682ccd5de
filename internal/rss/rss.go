// Package rss reads a process's peak resident set size (and its CPU time)
// from /proc.
//
// Why not getrusage: a child started with fork+exec inherits, in
// ru_maxrss, the high-water mark of its parent's address space at exec time
// (Linux keeps the larger of the two), so a benchmark that forks its
// subject from a big parent would report the parent's memory. VmHWM in
// /proc/PID/status belongs to the process's own address space.
package rss

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// Peak returns the peak RSS (VmHWM) of the current process in bytes.
func Peak() (int64, error) { return PeakOf("self") }

// PeakOf returns the peak RSS of process pid ("self" or a number) in bytes.
func PeakOf(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("read peak rss: %w", err)
	}
	return parseHWM(b)
}

func parseHWM(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		line := sc.Bytes()
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("read peak rss: unexpected VmHWM line %q", line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read peak rss: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("read peak rss: no VmHWM in status")
}

// CPUOf returns the CPU time (user + system) process pid ("self" or a
// number) has used so far, in seconds.
func CPUOf(pid string) (float64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	return parseCPU(b)
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

func parseCPU(stat []byte) (float64, error) {
	// The command name (field 2) may hold spaces: count fields after its ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("read cpu time: no command name in /proc stat")
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("read cpu time: short /proc stat")
	}
	u, err1 := strconv.ParseUint(string(f[11]), 10, 64) // utime, field 14
	s, err2 := strconv.ParseUint(string(f[12]), 10, 64) // stime, field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("read cpu time: %w", err)
	}
	return float64(u+s) / clockTicks, nil
}
