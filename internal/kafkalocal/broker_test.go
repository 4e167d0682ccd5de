package kafkalocal_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
)

// TestStartBroker starts a fresh Apache Kafka broker with the Go launcher
// (scripts/kafka-broker.sh; fetches the jars with Maven on first use), runs
// a consumer group on it before __consumer_offsets exists, and checks that
// Close stops the process and removes its data.
func TestStartBroker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	b, err := kafkalocal.StartBroker(ctx, kafkalocal.BrokerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Apache Kafka broker ready at %v in %v", b.Brokers(), time.Since(start).Round(time.Millisecond))
	closed := false
	defer func() {
		if !closed {
			_ = b.Close()
		}
	}()
	if len(b.Brokers()) != 1 {
		t.Fatalf("Brokers() = %v, want one address", b.Brokers())
	}
	host, _, err := net.SplitHostPort(b.Brokers()[0])
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("broker address %q: want 127.0.0.1:port (%v)", b.Brokers()[0], err)
	}

	cfg := config.Kafka{Brokers: b.Brokers(), Topics: config.DefaultTopics().WithSuffix(".fresh")}
	topics := []string{cfg.Topics.Security, cfg.Topics.CRM}
	if err := kafkalocal.CreateTopics(ctx, cfg, topics, 4); err != nil {
		t.Fatal(err)
	}
	admin, err := kafkaio.NewAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	parts, err := admin.Partitions(ctx, topics)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range topics {
		if len(parts[tp]) != 4 {
			t.Fatalf("topic %s has partitions %v, want 4", tp, parts[tp])
		}
	}
	produce(ctx, t, cfg, topics, 40)
	got, _ := consumeAndCommit(ctx, t, cfg, "fresh-broker-group", topics, 40)
	if got != 40 {
		t.Fatalf("consumed %d messages, want 40", got)
	}

	state := b.StateDir()
	if _, err := os.Stat(state + "/broker.log"); err != nil {
		t.Fatalf("broker log: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("state dir %s still there after Close (stat: %v)", state, err)
	}
	if c, err := net.DialTimeout("tcp", b.Brokers()[0], time.Second); err == nil {
		c.Close()
		t.Fatalf("broker port %s still accepts connections after Close", b.Brokers()[0])
	}
}

// TestBrokerStopsWhenOwnerDies checks the script's watchdog: a broker whose
// owner process (KAFKA_OWNER_PID, a killed test binary in real life) is gone
// stops and removes its state by itself.
func TestBrokerStopsWhenOwnerDies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM; skipped with -short")
	}
	script, err := filepath.Abs("../../scripts/kafka-broker.sh")
	if err != nil {
		t.Fatal(err)
	}
	owner := exec.Command("sleep", "600")
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	defer owner.Process.Kill()
	state := filepath.Join(t.TempDir(), "state")
	// Starting is TestFreshBroker's subject; this test's is the watchdog. A
	// start failed once in CI within a second, with nothing on stdout, and
	// its stderr was not kept: it is logged now, and the start tried once
	// more.
	for attempt := 1; ; attempt++ {
		start := exec.Command("bash", script, "start")
		start.Env = append(os.Environ(), "KAFKA_STATE_DIR="+state, "KAFKA_OWNER_PID="+strconv.Itoa(owner.Process.Pid))
		var stderr strings.Builder
		start.Stderr = &stderr
		out, err := start.Output()
		if err == nil && strings.HasPrefix(string(out), "IMPACT_KAFKA_BROKERS=127.0.0.1:") {
			break
		}
		logs, _ := os.ReadFile(filepath.Join(state, "broker.log"))
		if attempt == 2 {
			t.Fatalf("start: %v, output %q, stderr:\n%s\nbroker.log:\n%s", err, out, stderr.String(), logs)
		}
		t.Logf("start (attempt %d): %v, output %q, stderr:\n%s\nbroker.log:\n%s", attempt, err, out, stderr.String(), logs)
	}
	pidText, err := os.ReadFile(filepath.Join(state, "broker.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGKILL) // only if the test fails

	if err := owner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = owner.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("broker %d still running 30s after its owner died", pid)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for {
		if _, err := os.Stat(state); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state dir %s left behind", state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
