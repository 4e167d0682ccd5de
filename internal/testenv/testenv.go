// Package testenv gives tests real servers: a ClickHouse database and Kafka
// brokers with topics of their own, on servers shared by all tests of one
// test binary and stopped when it exits.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
package testenv

import (
	"os"
	"sync"
	"testing"
)

var cleanups struct {
	sync.Mutex
	fns []func()
}

// registerCleanup arranges for fn to run when Main returns, after every test
// of the binary; shared servers register their stop function here. Cleanups
// run in reverse order of registration.
func registerCleanup(fn func()) {
	cleanups.Lock()
	defer cleanups.Unlock()
	cleanups.fns = append(cleanups.fns, fn)
}

func runCleanups() {
	cleanups.Lock()
	fns := cleanups.fns
	cleanups.fns = nil
	cleanups.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// Main runs the tests and then stops every shared server the tests started.
// Call it from TestMain; it does not return.
func Main(m *testing.M) {
	code := m.Run()
	runCleanups()
	os.Exit(code)
}
