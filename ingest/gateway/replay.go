package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/internal/kafkaio"
)

// ReplayOptions configures Replay.
type ReplayOptions struct {
	// Source is the webhook source whose raw topic is replayed (github, ...).
	Source string
	// From and To bound the deliveries replayed by arrival time (the raw
	// message's Kafka timestamp): From inclusive (zero: the topic's start),
	// To exclusive (zero: everything there when the replay starts).
	From, To time.Time
	// DryRun maps without publishing.
	DryRun bool
}

// Validate names the first bad field.
func (o ReplayOptions) Validate() error {
	switch {
	case !slices.Contains(Sources, o.Source):
		return fmt.Errorf("replay options: Source %q is not one of %v", o.Source, Sources)
	case !o.From.IsZero() && !o.To.IsZero() && !o.From.Before(o.To):
		return fmt.Errorf("replay options: From %s is not before To %s", o.From.Format(time.RFC3339), o.To.Format(time.RFC3339))
	}
	return nil
}

// ReplayStats counts what a replay did.
type ReplayStats struct {
	Read      int                    `json:"read"`      // raw deliveries read
	Mapped    int                    `json:"mapped"`    // deliveries giving events
	Ignored   int                    `json:"ignored"`   // deliveries carrying nothing for the contract
	Unmapped  int                    `json:"unmapped"`  // deliveries withheld by a picklist gap
	Invalid   int                    `json:"invalid"`   // deliveries the mapper refused (logged)
	Events    int                    `json:"events"`    // contract events published (or, dry run, mapped)
	Values    sources.UnmappedCounts `json:"-"`         // unmapped values with counts
	Suggested []string               `json:"suggested"` // mapping lines to add, most frequent first
}

// Replay re-maps the raw deliveries of one source through the current
// mapping file (cfg.Mapping) and publishes the events, with the ids they
// had or would have had: unchanged events are the same events again,
// events a corrected mapping now produces are new, and corrected events
// replace the old ones (the typed tables keep the latest insert of an
// event id). HubSpot deliveries re-read each deal's current state from the
// API (the webhook never carried it).
func Replay(ctx context.Context, cfg Config, opts ReplayOptions, log *slog.Logger) (ReplayStats, error) {
	st := ReplayStats{Values: sources.UnmappedCounts{}}
	if err := opts.Validate(); err != nil {
		return st, err
	}
	m := cfg.Mapping
	if m == nil {
		m = &mapping.File{}
	}
	if log == nil {
		log = slog.Default()
	}
	src, ok := newSources(&cfg, m)[opts.Source]
	if !ok {
		return st, fmt.Errorf("replay: unknown source %q (one of %v)", opts.Source, Sources)
	}
	if opts.Source == HubSpot && cfg.HubSpot == nil {
		return st, errors.New("replay: HubSpot deliveries need API access to read the deals (IMPACT_HUBSPOT_ACCESS_TOKEN)")
	}
	topic := cfg.RawTopic(opts.Source)
	client, err := kafkaio.Client(cfg.Kafka)
	if err != nil {
		return st, fmt.Errorf("replay: %w", err)
	}
	admin, err := kafkaio.NewAdmin(cfg.Kafka)
	if err != nil {
		return st, fmt.Errorf("replay: %w", err)
	}
	defer admin.Close()
	parts, err := admin.Partitions(ctx, []string{topic})
	if err != nil {
		return st, fmt.Errorf("replay: partitions of %s: %w", topic, err)
	}
	var w *kafka.Writer
	if !opts.DryRun {
		if w, err = kafkaio.NewWriter(cfg.Kafka); err != nil {
			return st, fmt.Errorf("replay: %w", err)
		}
		defer w.Close()
	}
	dialer, err := kafkaio.Dialer(cfg.Kafka)
	if err != nil {
		return st, fmt.Errorf("replay: %w", err)
	}
	g := &Gateway{cfg: cfg}
	for _, p := range parts[topic] {
		first, last, err := offsets(ctx, client, topic, p, opts.From)
		if err != nil {
			return st, err
		}
		if first < 0 || first >= last {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: cfg.Kafka.Brokers, Topic: topic, Partition: p, Dialer: dialer,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 500 * time.Millisecond,
		})
		if err := r.SetOffset(first); err != nil {
			r.Close()
			return st, fmt.Errorf("replay: seek %s[%d] to %d: %w", topic, p, first, err)
		}
		var batch []kafka.Message
		for off := first; off < last; {
			msg, err := r.FetchMessage(ctx)
			if err != nil {
				r.Close()
				return st, fmt.Errorf("replay: read %s[%d] at %d: %w", topic, p, off, err)
			}
			off = msg.Offset + 1
			if !opts.To.IsZero() && !msg.Time.Before(opts.To) {
				break
			}
			st.Read++
			meta, received := replayMeta(msg)
			res, err := src.mapFn(ctx, meta, msg.Value, received)
			if err != nil {
				var ue *upstreamError
				if errors.As(err, &ue) {
					r.Close()
					return st, fmt.Errorf("replay: %s[%d] at %d: %w", topic, p, msg.Offset, err)
				}
				st.Invalid++
				log.Warn("replay: delivery not mapped", "topic", topic, "partition", p, "offset", msg.Offset, "err", err)
				continue
			}
			msgs, err := g.eventMessages(res.Events)
			if err != nil {
				st.Invalid++
				log.Warn("replay: delivery mapped to an event the contract refuses", "topic", topic, "partition", p, "offset", msg.Offset, "err", err)
				continue
			}
			switch res.Outcome() {
			case "mapped":
				st.Mapped++
			case "unmapped":
				st.Unmapped++
			default:
				st.Ignored++
			}
			st.Values.Add(res.Unmapped...)
			st.Events += len(res.Events)
			batch = append(batch, msgs...)
			if len(batch) >= 1000 {
				if err := flush(ctx, w, &batch); err != nil {
					r.Close()
					return st, err
				}
			}
		}
		r.Close()
		if err := flush(ctx, w, &batch); err != nil {
			return st, err
		}
	}
	for _, c := range st.Values.Sorted() {
		st.Suggested = append(st.Suggested, fmt.Sprintf("%s   (x %d)", c.Suggestion(), c.Count))
	}
	return st, nil
}

func flush(ctx context.Context, w *kafka.Writer, batch *[]kafka.Message) error {
	if w == nil || len(*batch) == 0 {
		*batch = (*batch)[:0]
		return nil
	}
	if err := w.WriteMessages(ctx, *batch...); err != nil {
		return fmt.Errorf("replay: publish: %w", err)
	}
	*batch = (*batch)[:0]
	return nil
}

// offsets returns the first offset at or after from (the partition's
// start when from is zero; -1 when no message is that recent) and the end
// offset now.
func offsets(ctx context.Context, c *kafka.Client, topic string, p int, from time.Time) (int64, int64, error) {
	req := kafka.OffsetRequest{Partition: p, Timestamp: kafka.FirstOffset}
	if !from.IsZero() {
		req = kafka.TimeOffsetOf(p, from)
	}
	resp, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		topic: {req, kafka.LastOffsetOf(p)},
	}})
	if err != nil {
		return 0, 0, fmt.Errorf("replay: offsets of %s[%d]: %w", topic, p, err)
	}
	var first, last int64 = -1, -1
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return 0, 0, fmt.Errorf("replay: offsets of %s[%d]: %w", topic, p, po.Error)
		}
		last = po.LastOffset
		first = po.FirstOffset
		if !from.IsZero() {
			// The broker answers the first offset whose timestamp is at or
			// after from, or -1 when there is none.
			first = -1
			for off := range po.Offsets {
				first = off
			}
		}
	}
	return first, last, nil
}

// replayMeta rebuilds the vendor headers and arrival time kept on a raw
// message.
func replayMeta(msg kafka.Message) (http.Header, time.Time) {
	meta := http.Header{}
	received := msg.Time
	for _, h := range msg.Headers {
		switch h.Key {
		case headerReceived:
			if t, err := time.Parse(time.RFC3339Nano, string(h.Value)); err == nil {
				received = t
			}
		case headerContentType:
		default:
			meta.Add(h.Key, string(h.Value))
		}
	}
	return meta, received
}
