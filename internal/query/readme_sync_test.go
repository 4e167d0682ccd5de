package query_test

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeShowsTestedExamples keeps the README's analyst examples equal to
// the statements TestReadmeExamples runs, so the README cannot drift.
func TestReadmeShowsTestedExamples(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range readmeExamples(t) {
		var body []string
		for _, line := range strings.Split(ex.sql, "\n") {
			if !strings.HasPrefix(line, "--") {
				body = append(body, line)
			}
		}
		if !strings.Contains(string(readme), strings.TrimSpace(strings.Join(body, "\n"))) {
			t.Errorf("README lacks the tested example %s; copy it from testdata/readme_examples.sql", ex.name)
		}
	}
}
