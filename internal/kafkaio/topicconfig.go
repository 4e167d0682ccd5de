package kafkaio

import (
	"context"
	"fmt"
	"strconv"

	"github.com/segmentio/kafka-go"
)

// DefaultMaxMessageBytes is Apache Kafka's default max.message.bytes
// (message.max.bytes on the broker): the largest record batch a topic
// accepts unless configured otherwise.
const DefaultMaxMessageBytes = 1_048_588

// MaxMessageBytes returns the effective max.message.bytes of each topic
// (the topic's own setting or the broker default it inherits), read with a
// DescribeConfigs request.
func (a *Admin) MaxMessageBytes(ctx context.Context, topics []string) (map[string]int, error) {
	req := &kafka.DescribeConfigsRequest{}
	for _, t := range topics {
		req.Resources = append(req.Resources, kafka.DescribeConfigRequestResource{
			ResourceType: kafka.ResourceTypeTopic,
			ResourceName: t,
			ConfigNames:  []string{"max.message.bytes"},
		})
	}
	resp, err := a.client.DescribeConfigs(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %v: %w", topics, err)
	}
	out := map[string]int{}
	for _, r := range resp.Resources {
		if r.Error != nil {
			return nil, fmt.Errorf("describe configs of %s: %w", r.ResourceName, r.Error)
		}
		for _, e := range r.ConfigEntries {
			if e.ConfigName != "max.message.bytes" {
				continue
			}
			n, err := strconv.Atoi(e.ConfigValue)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("max.message.bytes of %s: %q is not a positive integer", r.ResourceName, e.ConfigValue)
			}
			out[r.ResourceName] = n
		}
	}
	for _, t := range topics {
		if _, ok := out[t]; !ok {
			return nil, fmt.Errorf("describe configs of %s: no max.message.bytes in the answer", t)
		}
	}
	return out, nil
}
