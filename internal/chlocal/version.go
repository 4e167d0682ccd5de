package chlocal

import (
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"time"
)

// Version is a server release as `clickhouse server --version` reports it.
// The zero Version means the binary does not say: Debian's 18.16
// clickhouse-server has no --version option.
type Version struct{ Major, Minor int }

// constraints reports whether the release takes settings constraints with
// changeable_in_readonly in a profile (22.11 and later; 18.16 refuses a
// profile holding <constraints> altogether).
func (v Version) constraints() bool {
	return v.Major > 22 || v.Major == 22 && v.Minor >= 11
}

var versionRe = regexp.MustCompile(`version (\d+)\.(\d+)`)

// probeVersion asks the binary for its release before the configuration
// is written, since the configuration depends on it.
func probeVersion(bin string, args []string) Version {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, append(append([]string{}, args...), "--version")...).CombinedOutput()
	m := versionRe.FindSubmatch(out)
	if m == nil {
		return Version{}
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return Version{Major: major, Minor: minor}
}

// Version returns the server's release as its binary reported it before
// it started; zero for 18.16 (see Version).
func (s *Server) Version() Version { return s.version }
