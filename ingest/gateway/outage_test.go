package gateway

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/secimpact/impact/ingest/sources/sourcetest"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/schemas"
)

// TestKafkaOutage stops the Kafka broker under a running gateway: every
// delivery is answered 503 with Retry-After while it is down, and once the
// broker is back the senders' retries are accepted; every delivery's events
// are then in Kafka, the ones acknowledged before the outage included.
// The broker is an embedded kfake cluster of this test alone (stopping the
// shared CI broker would break other packages' tests), restarted on the
// same port and data directory, as a real broker restart keeps both.
func TestKafkaOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	start := func() *kfake.Cluster {
		t.Helper()
		var c *kfake.Cluster
		var err error
		for i := 0; i < 50; i++ { // the port may linger a moment after the stop
			c, err = kfake.NewCluster(kfake.Ports(port), kfake.DataDir(dir), kfake.NumBrokers(1),
				kfake.DefaultNumPartitions(2), kfake.AllowAutoTopicCreation())
			if err == nil {
				return c
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("start kafka on port %d: %v", port, err)
		return nil
	}
	broker := start()
	kc := config.Kafka{Brokers: []string{"127.0.0.1:" + strconv.Itoa(port)}, Topics: config.DefaultTopics()}
	cfg := Config{
		Kafka: kc, Mapping: testMapping(t), Secrets: Secrets{GitHub: testSecrets.GitHub},
		PublishTimeout: 3 * time.Second, RateLimit: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	admin, err := kafkaio.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.CreateTopics(t.Context(), append(kc.Topics.Sources(), cfg.RawTopic(GitHub)), 2); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	e := startEnv(t, cfg, nil)

	// Four Dependabot alerts; the first arrives before the outage.
	alert := func(n int) []byte {
		return sourcetest.Edit(t, sharedFixture(t, "github", "dependabot_alert.created.json"), map[string]any{"alert.number": n})
	}
	hdr := func(n int) map[string]string {
		return map[string]string{"X-GitHub-Event": "dependabot_alert", "X-GitHub-Delivery": "delivery-" + strconv.Itoa(n)}
	}
	if code, _, rep := e.post(t, "/webhooks/github", GitHub, alert(1), hdr(1)); code != http.StatusAccepted {
		t.Fatalf("before the outage: %d %v", code, rep)
	}

	broker.Close()
	for n := 2; n <= 4; n++ {
		code, h, rep := e.post(t, "/webhooks/github", GitHub, alert(n), hdr(n))
		if code != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || rep["outcome"] != "unavailable" {
			t.Fatalf("delivery %d during the outage: %d %v %v", n, code, h, rep)
		}
	}
	resp, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz during the outage: %d", resp.StatusCode)
	}

	broker = start()
	defer broker.Close()
	// The senders retry (GitHub: redeliver; others retry on 5xx).
	deadline := time.Now().Add(30 * time.Second)
	for n := 2; n <= 4; {
		code, _, rep := e.post(t, "/webhooks/github", GitHub, alert(n), hdr(n))
		switch {
		case code == http.StatusAccepted:
			n++
		case time.Now().After(deadline):
			t.Fatalf("delivery %d after the restart: %d %v", n, code, rep)
		default:
			time.Sleep(200 * time.Millisecond)
		}
	}
	ids := map[string]bool{}
	for _, m := range readAll(t, kc, kc.Topics.Security) {
		ev, err := schemas.Decode(m.Value, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[ev.Payload.EntityID()] = true
	}
	for n := 1; n <= 4; n++ {
		if id := "github:wolfy1339/pika-pack/dependabot/" + strconv.Itoa(n); !ids[id] {
			t.Errorf("finding %s lost (have %v)", id, ids)
		}
	}
	if raw := endOffsets(t, kc, cfg.RawTopic(GitHub)); raw < 4 {
		t.Errorf("%d raw deliveries, want 4", raw)
	}
}
