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
//
// A request is answered when all its messages are acknowledged, or when
// one fails for good. A message that failed with an error Kafka calls
// temporary (no leader yet after a topic's creation, a leader moving, a
// connection refused) goes into a later round after a backoff, until the
// request's deadline: one partition's trouble never holds up the others'
// requests.
type rounds struct {
	p       *producer
	timeout time.Duration // a round's wait for the broker's answer
	linger  time.Duration // wait from a round's first request for more; 0: none
	max     int           // messages in one round, at most (the first request's may exceed it)
	// maxBytes bounds a round's messages (the first request's may exceed
	// it): within Kafka's default message.max.bytes (1 MB) for a
	// partition's batch even if the whole round lands on one partition.
	maxBytes int
	backoff  [2]time.Duration // a retried message's first and longest wait

	queue  chan *pending
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// pending is one request's messages and where its outcome goes. Only the
// rounds goroutine touches left and answered.
type pending struct {
	msgs     []kafka.Message
	err      chan error
	arrived  time.Time
	deadline time.Time
	left     int // messages not yet acknowledged
	answered bool
}

func (p *pending) answer(err error) {
	if !p.answered {
		p.answered = true
		p.err <- err
	}
}

// item is one message of a request in a round.
type item struct {
	p       *pending
	i       int       // the message, in p.msgs
	attempt int       // earlier attempts
	due     time.Time // a retry's earliest round
}

var errClosed = errors.New("the gateway is shutting down")

func newRounds(p *producer, timeout, linger time.Duration) *rounds {
	r := &rounds{p: p, timeout: timeout, linger: linger, max: 10_000, maxBytes: 900 << 10,
		backoff: [2]time.Duration{50 * time.Millisecond, time.Second},
		queue:   make(chan *pending, 4096), stop: make(chan struct{}), done: make(chan struct{})}
	go r.run()
	return r
}

// publish writes msgs in the next round and waits for their outcome, at
// most until ctx is done (a round may still write them: a retried delivery
// is the same events). Temporary failures are retried until ctx's
// deadline.
func (r *rounds) publish(ctx context.Context, msgs []kafka.Message) error {
	p := &pending{msgs: msgs, err: make(chan error, 1), arrived: time.Now(), left: len(msgs)}
	if d, ok := ctx.Deadline(); ok {
		p.deadline = d
	} else {
		p.deadline = p.arrived.Add(r.timeout)
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

// close writes what is queued (once, without retries) and stops; publish
// fails afterwards.
func (r *rounds) close() {
	r.closed.Do(func() { close(r.stop) })
	<-r.done
}

func (r *rounds) run() {
	defer close(r.done)
	var (
		round   []item
		msgs    []kafka.Message
		size    int
		retries []item   // temporary failures waiting for their backoff
		carry   *pending // taken from the queue, too big for the round: the next one's first
	)
	// add puts p's messages in the round unless that would take the round
	// over its bounds (a round's first request always goes in).
	add := func(p *pending) bool {
		n := pendingBytes(p)
		if len(round) > 0 && (len(msgs)+len(p.msgs) > r.max || size+n > r.maxBytes) {
			carry = p
			return false
		}
		for i := range p.msgs {
			round = append(round, item{p: p, i: i})
			msgs = append(msgs, p.msgs[i])
		}
		size += n
		return true
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		round, msgs, size = round[:0], msgs[:0], 0
		// The retries that are due, unless their request is answered.
		now := time.Now()
		var next time.Time
		kept := retries[:0]
		for _, it := range retries {
			switch {
			case it.p.answered:
			case !it.due.After(now) && len(msgs) < r.max:
				round = append(round, it)
				msgs = append(msgs, it.p.msgs[it.i])
				size += len(it.p.msgs[it.i].Value)
			default:
				kept = append(kept, it)
				if next.IsZero() || it.due.Before(next) {
					next = it.due
				}
			}
		}
		clear(retries[len(kept):])
		retries = kept
		first := carry
		carry = nil
		if first == nil && len(round) == 0 {
			// Nothing to write: wait for a request or the next retry.
			var wake <-chan time.Time
			if !next.IsZero() {
				timer.Reset(time.Until(next))
				wake = timer.C
			}
			select {
			case first = <-r.queue:
			case <-wake:
				continue
			case <-r.stop:
				r.shutdown(retries)
				return
			}
		}
		if first != nil {
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
		retries = append(retries, r.write(round, msgs)...)
		clear(round) // let the requests' messages go
		clear(msgs)
	}
}

// write makes one attempt at a round's messages, answers the requests it
// settles and returns the items to retry.
func (r *rounds) write(round []item, msgs []kafka.Message) []item {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	errs := r.p.attempt(ctx, msgs)
	cancel()
	now := time.Now()
	var retry []item
	for k, it := range round {
		p := it.p
		if p.answered {
			continue
		}
		var err error
		if errs != nil {
			err = errs[k]
		}
		if err == nil {
			if p.left--; p.left == 0 {
				p.answer(nil)
			}
			continue
		}
		wait := min(r.backoff[0]<<min(it.attempt, 16), r.backoff[1])
		if !temporary(err) || now.Add(wait).After(p.deadline) {
			p.answer(err)
			continue
		}
		it.attempt++
		it.due = now.Add(wait)
		retry = append(retry, it)
	}
	return retry
}

// shutdown writes the queued requests once and fails the retries.
func (r *rounds) shutdown(retries []item) {
	for _, it := range retries {
		it.p.answer(errClosed)
	}
	for {
		select {
		case p := <-r.queue:
			var round []item
			for i := range p.msgs {
				round = append(round, item{p: p, i: i})
			}
			for _, it := range r.write(round, p.msgs) {
				it.p.answer(errClosed)
			}
		default:
			return
		}
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
