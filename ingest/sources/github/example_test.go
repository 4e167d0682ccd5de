package github_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/secimpact/impact/ingest/sources/github"
	"github.com/secimpact/impact/ingest/sources/mapping"
)

func ExampleMap() {
	// GitHub's published example of a Dependabot alert delivery, kept
	// beside the repository in ../shared/fixtures.
	body, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "shared", "fixtures", "github", "dependabot_alert.created.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := mapping.Parse("mapping.yaml", []byte("version: 1\nservices:\n  - id: svc-pika-pack\n    github: wolfy1339/pika-pack\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := github.Map(m, github.Delivery{
		Event:    "dependabot_alert", // X-GitHub-Event
		Received: time.Now(),
		Body:     body,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range res.Events {
		fmt.Println(ev.Type, ev.Key(), ev.Time.Format(time.RFC3339))
	}
	// Output: security.finding.opened github:wolfy1339/pika-pack/dependabot/20 2023-06-24T13:57:12Z
}
