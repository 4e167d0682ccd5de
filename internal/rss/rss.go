// Package rss reads a process's peak resident set size from /proc.
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
