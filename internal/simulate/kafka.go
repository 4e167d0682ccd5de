package simulate

import (
	"context"
	"fmt"
	"io"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/internal/kafkaio"
)

// Publish simulates opts and publishes every line to Kafka through
// kafkaio.Publish, so topic routing (config.Topics.ForType), keys (the
// subject) and content modes are exactly those of `impact publish` on the
// file WriteJSONL would write. The caller owns (and closes) w.
func Publish(ctx context.Context, w *kafka.Writer, opts Options, po kafkaio.PublishOptions) (*Truth, kafkaio.Stats, error) {
	pr, pw := io.Pipe()
	type result struct {
		truth *Truth
		err   error
	}
	done := make(chan result, 1)
	go func() {
		t, err := WriteJSONL(ctx, pw, opts)
		pw.CloseWithError(err) // nil: the reader sees EOF
		done <- result{t, err}
	}()
	stats, perr := kafkaio.Publish(ctx, w, pr, po)
	// If Publish stopped early, unblock the generator's pending write.
	pr.CloseWithError(io.ErrClosedPipe)
	res := <-done
	if perr != nil {
		return nil, stats, fmt.Errorf("publish simulated events: %w", perr)
	}
	if res.err != nil {
		return nil, stats, fmt.Errorf("simulate: %w", res.err)
	}
	return res.truth, stats, nil
}
