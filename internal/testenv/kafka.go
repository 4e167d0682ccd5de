package testenv

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/kafkalocal"
)

// KafkaPartitions is the partition count of every topic Kafka creates:
// several, so tests see more than one partition per topic.
const KafkaPartitions = 3

// KafkaMode reports which Kafka the tests use: "real" when
// IMPACT_TEST_KAFKA=real (an Apache Kafka broker at IMPACT_KAFKA_BROKERS, or
// one started from scripts/kafka-broker.sh when that is unset), else
// "embedded" (an in-process kfake cluster).
func KafkaMode() string {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("IMPACT_TEST_KAFKA")), "real") {
		return "real"
	}
	return "embedded"
}

var sharedKafka struct {
	sync.Mutex
	cfg config.Kafka // brokers and security settings, no topics
	err error
	ok  bool
}

var topicSeq atomic.Int64

// Kafka returns connection settings for a Kafka cluster shared by the test
// binary, with topic names of this test only (the contract's six topics with
// a unique suffix), each created with KafkaPartitions partitions and deleted
// when the test ends. The cluster is started on first use and stopped by Main.
func Kafka(t testing.TB) config.Kafka {
	t.Helper()
	base, err := kafkaCluster(t)
	if err != nil {
		t.Fatalf("testenv: kafka (%s): %v", KafkaMode(), err)
	}
	cfg := base
	cfg.Brokers = append([]string(nil), base.Brokers...)
	cfg.Topics = config.DefaultTopics().WithSuffix(TopicSuffix(t))
	topics := append(cfg.Topics.Sources(), cfg.Topics.DLQTopic())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := kafkalocal.CreateTopics(ctx, cfg, topics, KafkaPartitions); err != nil {
		t.Fatalf("testenv: kafka (%s): %v", KafkaMode(), err)
	}
	// The cluster outlives the test: drop its topics so a long run does not
	// pile up thousands of partitions on the broker (or in kfake's memory).
	t.Cleanup(func() { deleteTopics(t, cfg, topics) })
	return cfg
}

func deleteTopics(t testing.TB, cfg config.Kafka, topics []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := kafkaio.NewAdmin(cfg)
	if err == nil {
		err = admin.DeleteTopics(ctx, topics)
		admin.Close()
	}
	if err != nil {
		t.Logf("testenv: delete topics of %s: %v", t.Name(), err)
	}
}

var unsafeTopicChars = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// TopicSuffix returns a suffix unique to this call across processes (test
// binaries of several packages share one real broker), made of the test name,
// the process id and a sequence number; usable in topic and group names.
func TopicSuffix(t testing.TB) string {
	name := unsafeTopicChars.ReplaceAllString(t.Name(), "_")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return fmt.Sprintf(".%s.%d.%d", name, os.Getpid(), topicSeq.Add(1))
}

func kafkaCluster(t testing.TB) (config.Kafka, error) {
	sharedKafka.Lock()
	defer sharedKafka.Unlock()
	if sharedKafka.ok || sharedKafka.err != nil {
		return sharedKafka.cfg, sharedKafka.err
	}
	sharedKafka.cfg, sharedKafka.err = startKafka(t)
	sharedKafka.ok = sharedKafka.err == nil
	return sharedKafka.cfg, sharedKafka.err
}

func startKafka(t testing.TB) (config.Kafka, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if KafkaMode() == "real" {
		// Security settings (TLS, SASL) come from the environment too, so
		// the suite can run against a secured cluster.
		cfg := config.FromEnv().Kafka
		cfg.Topics = config.Topics{}
		if len(cfg.Brokers) > 0 {
			return cfg, nil
		}
		t.Logf("testenv: IMPACT_KAFKA_BROKERS unset; starting an Apache Kafka broker")
		b, err := kafkalocal.StartBroker(ctx, kafkalocal.BrokerOptions{})
		if err != nil {
			return config.Kafka{}, err
		}
		registerCleanup(func() { _ = b.Close() })
		cfg.Brokers = b.Brokers()
		return cfg, nil
	}
	e, err := kafkalocal.StartEmbedded(ctx, kafkalocal.Options{Partitions: KafkaPartitions})
	if err != nil {
		return config.Kafka{}, err
	}
	registerCleanup(func() { _ = e.Close() })
	return config.Kafka{Brokers: e.Brokers()}, nil
}
