package kafkalocal_test

import (
	"encoding/base64"
	"os/exec"
	"strings"
	"sync"
	"testing"
)

// TestClusterID checks the ids kafka-broker.sh formats its storage with.
// An id starting with '-' made kafka-storage fail ("argument
// --cluster-id/-t: expected one argument"); random ids start so once in 64,
// so 640 of them would meet one with a probability of 1-(63/64)^640 > 0.9999.
func TestClusterID(t *testing.T) {
	const n, workers = 640, 4
	ids := make(chan string, n)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/workers; i++ {
				out, err := exec.Command("bash", "../../scripts/kafka-broker.sh", "cluster-id").Output()
				if err != nil {
					errs <- err
					return
				}
				ids <- strings.TrimSpace(string(out))
			}
		}()
	}
	wg.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		t.Fatalf("kafka-broker.sh cluster-id: %v", err)
	}
	seen := map[string]bool{}
	for id := range ids {
		raw, err := base64.RawURLEncoding.DecodeString(id)
		switch {
		case err != nil || len(raw) != 16:
			t.Errorf("id %q: not 16 bytes in URL-safe base64 without padding (%v)", id, err)
		case strings.HasPrefix(id, "-"):
			t.Errorf("id %q starts with '-': the storage tool takes it for an option", id)
		case seen[id]:
			t.Errorf("id %q given twice", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Errorf("got %d ids, want %d", len(seen), n)
	}
}
