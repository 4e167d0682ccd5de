package gateway

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
)

// TestProducer: a round's messages to two topics of a three-broker
// cluster go in one produce request per partition leader; each lands on
// the partition murmur2 of its key gives (as the Java client and
// kafka-go's Writer place it), in order, headers and times kept. Messages
// for a topic that does not exist fail alone with Kafka's error (a
// temporary one: rounds retry it until the request's deadline); the others
// are acknowledged.
func TestProducer(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.DefaultNumPartitions(6))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	kc := config.Kafka{Brokers: c.ListenAddrs()}
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := admin.CreateTopics(ctx, []string{"a", "b"}, 6); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	tr, err := kafkaio.Transport(kc)
	if err != nil {
		t.Fatal(err)
	}
	p := &producer{addr: kafka.TCP(kc.Brokers...), transport: tr, timeout: 10 * time.Second}
	at := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	var msgs []kafka.Message
	for i := range 60 {
		topic := []string{"a", "b"}[i%2]
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(fmt.Sprintf("entity-%d", i%20)), Value: []byte(fmt.Sprint(i)),
			Time: at.Add(time.Duration(i) * time.Second), Headers: []kafka.Header{{Key: "h", Value: []byte(fmt.Sprint(i))}}})
	}
	if errs := p.attempt(ctx, msgs); errs != nil {
		t.Fatalf("errors %v", errs)
	}
	if st := p.stats(); st.Messages != 60 || st.Requests > 3 {
		t.Errorf("%d messages in %d produce requests, want 60 in one per leader (3)", st.Messages, st.Requests)
	}
	got := readAll(t, kc, "a", "b")
	if len(got) != 60 {
		t.Fatalf("%d messages in the topics", len(got))
	}
	ps := []int{0, 1, 2, 3, 4, 5}
	lastOnPartition := map[string]int{}
	for _, m := range got {
		var i int
		fmt.Sscan(string(m.Value), &i)
		want := msgs[i]
		if part := (kafka.Murmur2Balancer{}).Balance(want, ps...); m.Partition != part {
			t.Errorf("message %d on partition %d, murmur2 says %d", i, m.Partition, part)
		}
		if !m.Time.Equal(want.Time) || len(m.Headers) != 1 || string(m.Headers[0].Value) != fmt.Sprint(i) || string(m.Key) != string(want.Key) {
			t.Errorf("message %d: %+v", i, m)
		}
		k := fmt.Sprint(m.Topic, m.Partition)
		if prev, ok := lastOnPartition[k]; ok && prev > i {
			t.Errorf("message %d after %d on %s", i, prev, k)
		}
		lastOnPartition[k] = i
	}

	// A topic that is not there (this cluster creates none by itself).
	mixed := []kafka.Message{{Topic: "a", Key: []byte("k"), Value: []byte("ok")}, {Topic: "missing", Key: []byte("k"), Value: []byte("no")}}
	errs := p.attempt(ctx, mixed)
	var ke kafka.Error
	if len(errs) != 2 || errs[0] != nil || !errors.As(errs[1], &ke) || ke != kafka.UnknownTopicOrPartition {
		t.Errorf("errors %v", errs)
	}
}
