package github_test

import (
	"fmt"
	"os"
	"time"

	"github.com/secimpact/impact/schemas"
	"github.com/secimpact/impact/schemas/github"
)

func ExampleOptions_Convert() {
	body, err := os.ReadFile("testdata/fixtures/dependabot_alert.created.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	conv := github.Options{Service: func(repo string) string { return "svc-pika-pack" }}
	event, err := conv.Convert(github.Delivery{
		Event:    "dependabot_alert",                     // X-GitHub-Event
		ID:       "72d3162e-cc78-11e3-81ab-4c9367dc0958", // X-GitHub-Delivery
		Received: time.Date(2023, 6, 24, 13, 57, 13, 0, time.UTC),
		Body:     body,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev, err := schemas.Decode(event, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	f := ev.Payload.(*schemas.Finding)
	fmt.Println(ev.Type, f.FindingID, f.Severity, *f.CVEID, f.ServiceID)
	// Output: security.finding.opened github:wolfy1339/pika-pack/dependabot/20 medium CVE-2022-25883 svc-pika-pack
}
