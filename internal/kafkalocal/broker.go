package kafkalocal

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/secimpact/impact/internal/config"
)

// BrokerOptions configures StartBroker. The zero value finds
// scripts/kafka-broker.sh above the working directory and keeps the broker's
// state in a new temporary directory.
type BrokerOptions struct {
	// Script is the path of kafka-broker.sh; default: scripts/kafka-broker.sh
	// in the nearest parent directory of the working directory holding go.mod.
	Script string
	// StateDir holds the broker's config, data, pid and log; default a new
	// temporary directory, removed by Close.
	StateDir string
	// Stderr receives the script's progress messages; default os.Stderr.
	Stderr io.Writer
}

// Broker is a real Apache Kafka broker (KRaft, single node) run by
// scripts/kafka-broker.sh as a separate process.
type Broker struct {
	script   string
	stateDir string
	stderr   io.Writer
	brokers  []string
}

// StartBroker starts an Apache Kafka broker on free loopback ports with the
// script (fetching the jars with Maven on first use, which needs Java and
// Maven or apt-get to install them) and waits until it serves requests.
// Close stops it and deletes its data.
func StartBroker(ctx context.Context, opts BrokerOptions) (*Broker, error) {
	script := opts.Script
	if script == "" {
		var err error
		if script, err = findScript(); err != nil {
			return nil, fmt.Errorf("start kafka broker: %w", err)
		}
	}
	state := opts.StateDir
	if state == "" {
		var err error
		if state, err = os.MkdirTemp("", "impact-kafka-"); err != nil {
			return nil, fmt.Errorf("start kafka broker: %w", err)
		}
	}
	b := &Broker{script: script, stateDir: state, stderr: opts.Stderr}
	if b.stderr == nil {
		b.stderr = os.Stderr
	}
	out, err := b.run(ctx, "start")
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("start kafka broker: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "IMPACT_KAFKA_BROKERS="); ok {
			b.brokers = config.SplitList(v)
		}
	}
	if len(b.brokers) == 0 {
		_ = b.Close()
		return nil, fmt.Errorf("start kafka broker: %s printed no IMPACT_KAFKA_BROKERS line: %q", script, out)
	}
	return b, nil
}

// Brokers returns the bootstrap address of the broker.
func (b *Broker) Brokers() []string { return b.brokers }

// StateDir returns the directory with the broker's config, data and log
// (broker.log).
func (b *Broker) StateDir() string { return b.stateDir }

// Close stops the broker and deletes its state directory.
func (b *Broker) Close() error {
	_, err := b.run(context.Background(), "stop")
	if rerr := os.RemoveAll(b.stateDir); err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("stop kafka broker: %w", err)
	}
	return nil
}

func (b *Broker) run(ctx context.Context, verb string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", b.script, verb)
	// KAFKA_OWNER_PID: should this process die without Close, the script's
	// watchdog stops the broker, so a killed test binary leaks nothing.
	cmd.Env = append(os.Environ(), "KAFKA_STATE_DIR="+b.stateDir, "KAFKA_OWNER_PID="+strconv.Itoa(os.Getpid()))
	cmd.Stderr = b.stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", b.script, verb, err)
	}
	return out, nil
}

// findScript looks for scripts/kafka-broker.sh in the module root above the
// working directory (tests run in their package directory).
func findScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "scripts", "kafka-broker.sh")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("find kafka-broker.sh: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find kafka-broker.sh: no go.mod above the working directory")
		}
		dir = parent
	}
}
