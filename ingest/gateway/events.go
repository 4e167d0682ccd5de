package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/secimpact/impact/schemas"
)

// eventsReply is the JSON answer of POST /events.
type eventsReply struct {
	Outcome  string `json:"outcome"`
	Accepted int    `json:"accepted,omitempty"`
	Error    string `json:"error,omitempty"`
	Index    *int   `json:"index,omitempty"` // the rejected event of a batch
	Field    string `json:"field,omitempty"`
	Rule     string `json:"rule,omitempty"`
}

// serveEvents is POST /events: CloudEvents over HTTP, authenticated by the
// bearer token, in the three modes of the CloudEvents HTTP binding:
// structured (Content-Type application/cloudevents+json, one event), batch
// (application/cloudevents-batch+json, a JSON array) and binary (ce-*
// headers, the body as data). Every event is validated against contract v1
// with the decoder ingest uses before any is published: one invalid event
// rejects the request (400, naming the event, field and rule) and nothing
// is published. Accepted events go to their contract topics keyed by entity
// id, as structured-mode JSON; 202 once Kafka acknowledged.
func (g *Gateway) serveEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	g.metrics.inFlight.Inc()
	defer g.metrics.inFlight.Dec()
	if g.cfg.Secrets.Events == "" {
		g.answer(w, "unknown", http.StatusNotFound, reply{Outcome: "not_found", Error: "no such endpoint"})
		return
	}
	defer func() { g.metrics.duration.WithLabelValues(Events).Observe(time.Since(start).Seconds()) }()
	if !g.admit(w, Events) {
		return
	}
	// The token is a header: checked before the body is read.
	if err := verifyBearer(g.cfg.Secrets.Events, r, g.now()); err != nil {
		g.reject(w, r, Events, err)
		return
	}
	if !g.checkEncoding(w, r, Events) {
		return
	}
	body, ok := g.readBody(w, r, Events)
	if !ok {
		return
	}
	evs, rej, idx := decodeHTTP(r.Header, body)
	if rej != nil {
		g.metrics.results.WithLabelValues(Events, "invalid").Inc()
		g.metrics.requests.WithLabelValues(Events, "bad_request").Inc()
		rep := eventsReply{Outcome: "bad_request", Error: rej.Error(), Field: rej.Field, Rule: rej.Rule}
		if idx >= 0 {
			rep.Index = &idx
		}
		writeJSON(w, http.StatusBadRequest, rep)
		return
	}
	msgs := make([]kafka.Message, 0, len(evs))
	for _, ev := range evs {
		msgs = append(msgs, kafka.Message{
			Topic:   g.cfg.Kafka.Topics.ForType(ev.Type),
			Key:     []byte(sourcesKey(ev)),
			Value:   ev.Raw,
			Headers: []kafka.Header{{Key: headerContentType, Value: []byte(schemas.StructuredContentType)}},
		})
	}
	if err := g.publish(r.Context(), Events, msgs); err != nil {
		g.metrics.requests.WithLabelValues(Events, "unavailable").Inc()
		w.Header().Set("Retry-After", "30")
		writeJSON(w, http.StatusServiceUnavailable, eventsReply{Outcome: "unavailable", Error: "kafka: " + err.Error()})
		return
	}
	g.metrics.results.WithLabelValues(Events, "mapped").Inc()
	for _, ev := range evs {
		g.metrics.events.WithLabelValues(Events, ev.Type).Inc()
	}
	g.metrics.requests.WithLabelValues(Events, "accepted").Inc()
	writeJSON(w, http.StatusAccepted, eventsReply{Outcome: "accepted", Accepted: len(evs)})
}

// sourcesKey is the Kafka key: the entity id.
func sourcesKey(ev *schemas.Event) string {
	if ev.Subject != "" {
		return ev.Subject
	}
	return ev.Payload.EntityID()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeHTTP decodes the events of a request. On a rejection idx is the
// index of the bad event in a batch, else -1.
func decodeHTTP(h http.Header, body []byte) ([]*schemas.Event, *schemas.Rejection, int) {
	mediaType, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch {
	case mediaType == "application/cloudevents-batch+json":
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, &schemas.Rejection{Rule: "json", Detail: "a batch must be a JSON array of events: " + err.Error()}, -1
		}
		if len(items) == 0 {
			return nil, &schemas.Rejection{Rule: "json", Detail: "empty batch"}, -1
		}
		out := make([]*schemas.Event, 0, len(items))
		for i, it := range items {
			ev, err := schemas.Decode(it, nil)
			if err != nil {
				return nil, asRejection(err), i
			}
			out = append(out, ev)
		}
		return out, nil, -1
	case strings.HasPrefix(mediaType, "application/cloudevents"):
		ev, err := schemas.Decode(body, nil)
		if err != nil {
			return nil, asRejection(err), -1
		}
		return []*schemas.Event{ev}, nil, -1
	case h.Get("Ce-Specversion") != "":
		// Binary mode: ce-<attribute> headers (percent-encoded per the
		// HTTP binding), the body is data, Content-Type its datacontenttype.
		var hs []schemas.Header
		for k, vs := range h {
			lk := strings.ToLower(k)
			if name, ok := strings.CutPrefix(lk, "ce-"); ok && len(vs) > 0 {
				v, err := url.PathUnescape(vs[0])
				if err != nil {
					return nil, &schemas.Rejection{Field: name, Rule: "format", Detail: "header is not percent-encoded correctly"}, -1
				}
				hs = append(hs, schemas.Header{Key: "ce_" + name, Value: []byte(v)})
			}
		}
		ct := h.Get("Content-Type")
		if ct == "" {
			ct = "application/json"
		}
		hs = append(hs, schemas.Header{Key: "content-type", Value: []byte(ct)})
		ev, err := schemas.Decode(body, hs)
		if err != nil {
			return nil, asRejection(err), -1
		}
		return []*schemas.Event{ev}, nil, -1
	}
	return nil, &schemas.Rejection{Rule: "content_type", Detail: fmt.Sprintf("Content-Type %q: send application/cloudevents+json, application/cloudevents-batch+json, or binary mode with ce-* headers", h.Get("Content-Type"))}, -1
}

func asRejection(err error) *schemas.Rejection {
	var rej *schemas.Rejection
	if errors.As(err, &rej) {
		return rej
	}
	return &schemas.Rejection{Rule: "json", Detail: err.Error()}
}
