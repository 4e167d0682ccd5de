package kafkalocal_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/testenv"
)

const memberEnv = "KAFKALOCAL_TEST_MEMBER" // brokers|group|topics for the child member

// TestKilledMemberIsReplaced: a group member in another process is killed
// with SIGKILL (no LeaveGroup); once its session times out the broker
// rebalances and the surviving member gets every partition. Ingest's
// "two ingesters, one killed" test relies on this; kfake and Apache Kafka
// both do it.
func TestKilledMemberIsReplaced(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a session timeout; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := testenv.Kafka(t)
	topics := cfg.Topics.Sources()
	group := "takeover" + testenv.TopicSuffix(t)
	total := len(topics) * testenv.KafkaPartitions

	survivor := newGroupMember(t, cfg, group, topics)
	defer survivor.Close()
	gen, err := kafkaio.NextGeneration(ctx, survivor)
	if err != nil {
		t.Fatal(err)
	}
	if n := assigned(gen); n != total {
		t.Fatalf("alone: %d partitions, want %d", n, total)
	}

	child := exec.Command(os.Args[0], "-test.run=^TestGroupMemberProcess$")
	child.Env = append(os.Environ(), memberEnv+"="+strings.Join(cfg.Brokers, ",")+"|"+group+"|"+strings.Join(topics, ","))
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()

	gen, err = kafkaio.NextGeneration(ctx, survivor)
	if err != nil {
		t.Fatal(err)
	}
	if n := assigned(gen); n == 0 || n == total {
		t.Fatalf("with the child member: %d of %d partitions, want a share", n, total)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killed := time.Now()
	gen, err = kafkaio.NextGeneration(ctx, survivor)
	if err != nil {
		t.Fatal(err)
	}
	if n := assigned(gen); n != total {
		t.Fatalf("after the child was killed: %d partitions, want %d", n, total)
	}
	t.Logf("survivor had every partition %v after the kill (session timeout %v)", time.Since(killed).Round(100*time.Millisecond), memberSession)
}

// TestGroupMemberProcess is the child of TestKilledMemberIsReplaced: it
// joins the group and holds its assignment until killed.
func TestGroupMemberProcess(t *testing.T) {
	spec := os.Getenv(memberEnv)
	if spec == "" {
		t.Skip("child process of TestKilledMemberIsReplaced")
	}
	parts := strings.Split(spec, "|")
	cfg := config.Kafka{Brokers: strings.Split(parts[0], ",")}
	cg := newGroupMember(t, cfg, parts[1], strings.Split(parts[2], ","))
	ctx := context.Background()
	for {
		if _, err := kafkaio.NextGeneration(ctx, cg); err != nil {
			t.Fatal(err)
		}
	}
}

// memberSession is short so the test waits little for the killed member.
const memberSession = 6 * time.Second

func newGroupMember(t *testing.T, cfg config.Kafka, group string, topics []string) *kafka.ConsumerGroup {
	t.Helper()
	dialer, err := kafkaio.Dialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: group, Brokers: cfg.Brokers, Dialer: dialer, Topics: topics,
		HeartbeatInterval: 500 * time.Millisecond, SessionTimeout: memberSession,
		RebalanceTimeout: memberSession, JoinGroupBackoff: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(fmt.Errorf("new consumer group member: %w", err))
	}
	return cg
}

func assigned(gen *kafka.Generation) int {
	n := 0
	for _, as := range gen.Assignments {
		n += len(as)
	}
	return n
}
