package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/schemas"
)

// docExample is one Kafka message a producer example in
// docs/run-for-real.md would send.
type docExample struct {
	where   string
	topic   string
	key     string
	value   string
	headers []schemas.Header
}

// producerExamples extracts the messages of the kcat and console-producer
// examples: kcat's -t/-k/-H flags with the echoed value, and the console
// producer's "headers<TAB>key|value" line.
func producerExamples(t *testing.T, doc string) []docExample {
	t.Helper()
	var out []docExample
	blocks := regexp.MustCompile("(?s)```(?:sh|)\n(.*?)```").FindAllStringSubmatch(doc, -1)
	flag := regexp.MustCompile(`-(t|k|H) (\S+)`)
	for i, b := range blocks {
		body := b[1]
		if strings.Contains(body, "kcat -P") {
			m := regexp.MustCompile(`(?s)echo '(\{.*?\})' \|`).FindStringSubmatch(body)
			if m == nil {
				t.Errorf("kcat example in block %d has no echo '...' value", i)
				continue
			}
			ex := docExample{where: fmt.Sprintf("kcat block %d", i), value: m[1]}
			for _, f := range flag.FindAllStringSubmatch(body, -1) {
				switch f[1] {
				case "t":
					ex.topic = f[2]
				case "k":
					ex.key = f[2]
				case "H":
					k, v, _ := strings.Cut(f[2], "=")
					ex.headers = append(ex.headers, schemas.Header{Key: k, Value: []byte(v)})
				}
			}
			out = append(out, ex)
		}
	}
	// The console producer line: name:value headers, a tab, key|value.
	for _, line := range strings.Split(doc, "\n") {
		hdrs, rest, ok := strings.Cut(line, "\t")
		if !ok || !strings.Contains(rest, "|{") {
			continue
		}
		key, value, _ := strings.Cut(rest, "|")
		ex := docExample{where: "console producer line", key: key, value: value, topic: "security.events"}
		for _, h := range strings.Split(hdrs, ",") {
			k, v, _ := strings.Cut(h, ":")
			ex.headers = append(ex.headers, schemas.Header{Key: k, Value: []byte(v)})
		}
		out = append(out, ex)
	}
	return out
}

// TestProducerExamples decodes every producer example of
// docs/run-for-real.md with the ingest decoder: an example that ingest would
// reject to the DLQ would teach producers the wrong contract.
func TestProducerExamples(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "run-for-real.md"))
	if err != nil {
		t.Fatal(err)
	}
	examples := producerExamples(t, string(raw))
	var binary, structured int
	topics := config.DefaultTopics()
	for _, ex := range examples {
		t.Run(ex.where+" "+ex.key, func(t *testing.T) {
			ev, err := schemas.Decode([]byte(ex.value), ex.headers)
			if err != nil {
				t.Fatalf("ingest would reject it: %v\nvalue: %s", err, ex.value)
			}
			if ex.key != ev.Subject || ex.key != ev.Payload.EntityID() {
				t.Errorf("key %q, subject %q, entity id %q: the key must be the entity id (and subject)", ex.key, ev.Subject, ev.Payload.EntityID())
			}
			if want := topics.ForType(ev.Type); ex.topic != want {
				t.Errorf("published to %q, but %s belongs on %q", ex.topic, ev.Type, want)
			}
			for _, h := range ex.headers {
				if h.Key == "ce_specversion" {
					binary++
					return
				}
			}
			structured++
		})
	}
	if binary == 0 || structured == 0 {
		t.Errorf("docs show %d binary and %d structured examples; want both modes", binary, structured)
	}
}
