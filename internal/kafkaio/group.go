package kafkaio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
)

// NextGeneration waits for the next generation of cg, retrying the errors
// kafka-go's ConsumerGroup.Next reports while the group is still forming.
// On Apache Kafka the first group of a fresh broker gets "Group Coordinator
// Not Available" while __consumer_offsets is created, and a joining member
// may see RebalanceInProgress; Next returns those instead of retrying, and
// cg keeps retrying internally (after JoinGroupBackoff), so the right answer
// is to call Next again. Other errors, and the end of ctx, are returned.
func NextGeneration(ctx context.Context, cg *kafka.ConsumerGroup) (*kafka.Generation, error) {
	for {
		gen, err := cg.Next(ctx)
		if err == nil {
			return gen, nil
		}
		if !Retriable(err) || ctx.Err() != nil {
			return nil, fmt.Errorf("join consumer group: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("join consumer group: %w (last: %w)", ctx.Err(), err)
		case <-timeAfter(50):
		}
	}
}

func timeAfter(ms int) <-chan time.Time { return time.After(time.Duration(ms) * time.Millisecond) }

// Retriable reports whether err is a transient Kafka condition worth
// retrying: a kafka error the protocol marks temporary, a group rebalance, or
// a lost or refused connection (a broker restarting).
func Retriable(err error) bool {
	var kerr kafka.Error
	if errors.As(err, &kerr) {
		switch kerr {
		case kafka.RebalanceInProgress, kafka.UnknownMemberId, kafka.IllegalGeneration:
			return true
		}
		return kerr.Temporary()
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET)
}
