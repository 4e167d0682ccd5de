package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// rounds publishes the messages of concurrent requests together: one
// goroutine takes every request waiting and writes all their messages in
// one round (produce.go: one produce request per partition leader), and
// while a round is in flight the next one gathers. At low load a request
// waits one round trip; at high load rounds grow, and the produce requests
// per message fall. Per-request writes through kafka-go's Writer (a
// produce request per partition, its batch sealed by a linger) cost the
// broker a request per message or two: 2,000-2,900 requests/s on the real
// broker with a 2 ms linger, the broker's CPU setting the pace.
type rounds struct {
	p       *producer
	timeout time.Duration // a round's wait for the acknowledgement
	linger  time.Duration // wait from a round's first request for more; 0: none
	max     int           // messages in one round, at most (the first request's may exceed it)
	// maxBytes bounds a round's messages (the first request's may exceed
	// it): within Kafka's default message.max.bytes (1 MB) for a
	// partition's batch even if the whole round lands on one partition.
	maxBytes int

	queue  chan *pending
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// pending is one request's messages and where its outcome goes.
type pending struct {
	msgs    []kafka.Message
	err     chan error
	arrived time.Time
}

var errClosed = errors.New("the gateway is shutting down")

func newRounds(p *producer, timeout, linger time.Duration) *rounds {
	r := &rounds{p: p, timeout: timeout, linger: linger, max: 10_000, maxBytes: 900 << 10,
		queue: make(chan *pending, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// publish writes msgs in the next round and waits for its outcome, at most
// until ctx is done (the round may still write them: a retried delivery is
// the same events).
func (r *rounds) publish(ctx context.Context, msgs []kafka.Message) error {
	p := &pending{msgs: msgs, err: make(chan error, 1)}
	if r.linger > 0 {
		p.arrived = time.Now()
	}
	select {
	case <-r.stop:
		return errClosed
	default:
	}
	select {
	case r.queue <- p:
	case <-r.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.err:
		return err
	case <-r.done: // queued after the last round
		select {
		case err := <-p.err:
			return err
		default:
			return errClosed
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close writes what is queued and stops; publish fails afterwards.
func (r *rounds) close() {
	r.closed.Do(func() { close(r.stop) })
	<-r.done
}

func (r *rounds) run() {
	defer close(r.done)
	var (
		group []*pending
		msgs  []kafka.Message
		size  int
		carry *pending // taken from the queue, too big for the round: the next one's first
	)
	// add puts p in the round unless it would take the round over its
	// bounds (a round's first request always goes in).
	add := func(p *pending) bool {
		n := pendingBytes(p)
		if len(group) > 0 && (len(msgs)+len(p.msgs) > r.max || size+n > r.maxBytes) {
			carry = p
			return false
		}
		group, msgs, size = append(group, p), append(msgs, p.msgs...), size+n
		return true
	}
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-r.queue:
			case <-r.stop:
				// Publish what was queued before the stop, then end.
				for {
					select {
					case p := <-r.queue:
						r.write([]*pending{p}, p.msgs)
					default:
						return
					}
				}
			}
		}
		group, msgs, size = group[:0], msgs[:0], 0
		add(first)
		// The linger counts from the first request's arrival: one that
		// waited out the previous round has waited long enough.
		if wait := r.linger - time.Since(first.arrived); r.linger > 0 && wait > 0 {
			t := time.NewTimer(wait)
		gather:
			for carry == nil {
				select {
				case p := <-r.queue:
					add(p)
				case <-t.C:
					break gather
				}
			}
			t.Stop()
		}
	drain:
		for carry == nil {
			select {
			case p := <-r.queue:
				add(p)
			default:
				break drain
			}
		}
		r.write(group, msgs)
		clear(group) // let the requests' messages go
		clear(msgs)
	}
}

// pendingBytes is what a request's messages weigh in a produce request.
func pendingBytes(p *pending) int {
	n := 0
	for i := range p.msgs {
		m := &p.msgs[i]
		n += len(m.Key) + len(m.Value) + 64
		for _, h := range m.Headers {
			n += len(h.Key) + len(h.Value)
		}
	}
	return n
}

// write publishes one round and tells each request its outcome: a request
// fails when any of its messages failed.
func (r *rounds) write(group []*pending, msgs []kafka.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	wes := r.p.write(ctx, msgs)
	cancel()
	if wes == nil {
		for _, p := range group {
			p.err <- nil
		}
		return
	}
	i := 0
	for _, p := range group {
		var perr error
		for _, e := range wes[i : i+len(p.msgs)] {
			if e != nil {
				perr = e
				break
			}
		}
		i += len(p.msgs)
		p.err <- perr
	}
}
