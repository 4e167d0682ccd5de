package zendesk

import (
	"context"
	"encoding/json"

	"github.com/secimpact/impact/ingest/sources"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/schemas"
)

// Import reads saved Zendesk export pages — the incremental ticket export
// (/api/v2/incremental/tickets/cursor.json or the time-based
// /api/v2/incremental/tickets.json, ideally with include=metric_sets), any
// ticket list ({"tickets": [...]}), and the satisfaction ratings list
// (/api/v2/satisfaction_ratings.json) — and calls emit with one Outcome per
// ticket and per rating.
//
// A ticket becomes its creation (created_at, status new), its solution
// when its metric set dates it, and its current state through MapTicket,
// the same mapping as the gateway's. A rating from the ratings list dates
// the ticket's CSAT (and gives the score of a ticket exported before it was
// rated). The incremental export lists a ticket again when it changed
// while the export ran: the copy updated last is used, the others are
// ignored. A page that is not such an export is an error naming the file,
// line and field.
func Import(ctx context.Context, files []export.File, m *mapping.File, emit func(export.Outcome) error) error {
	if m == nil {
		m = &mapping.File{}
	}
	var (
		tickets []*exported
		ratings []*exportedRating
	)
	err := export.ReadFiles(ctx, files, func(name string, data []byte) error {
		ts, rs, err := readExportPage(name, data)
		tickets, ratings = append(tickets, ts...), append(ratings, rs...)
		return err
	})
	if err != nil {
		return err
	}
	// The latest copy of each ticket, and the latest rating of each.
	latest := map[sources.ID]*exported{}
	for _, t := range tickets {
		if cur := latest[t.ID]; cur == nil || t.UpdatedAt.After(cur.UpdatedAt.Time) {
			latest[t.ID] = t
		}
	}
	rated := map[sources.ID]*exportedRating{}
	for _, r := range ratings {
		if cur := rated[r.TicketID]; cur == nil || r.UpdatedAt.After(cur.UpdatedAt.Time) {
			rated[r.TicketID] = r
		}
	}
	for _, t := range tickets {
		out := export.Outcome{File: t.file, Line: t.line}
		if latest[t.ID] != t {
			out.Ignored = "an older copy of a ticket the export lists again (it changed while the export ran)"
		} else {
			res, err := exportedTicket(m, t, rated[t.ID])
			if err != nil {
				return export.At(t.file, t.line, t.path, err)
			}
			out.Events, out.Unmapped, out.Ignored = res.Events, res.Unmapped, res.Ignored
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	for _, r := range ratings {
		out := export.Outcome{File: r.file, Line: r.line}
		switch {
		case latest[r.TicketID] == nil:
			out.Ignored = "rating of a ticket the ticket export does not list"
		case rated[r.TicketID] != r:
			out.Ignored = "an older rating of a ticket rated again"
		default:
			out.Folded = true // dates its ticket's rating
		}
		if err := emit(out); err != nil {
			return err
		}
	}
	return nil
}

type exported struct {
	Ticket
	file, path string
	line       int
}

// exportedRating is a satisfaction rating of the ratings list.
type exportedRating struct {
	ID        sources.ID      `json:"id"`
	TicketID  sources.ID      `json:"ticket_id"`
	Score     json.RawMessage `json:"score"`
	CreatedAt sources.Time    `json:"created_at"`
	UpdatedAt sources.Time    `json:"updated_at"`

	file, path string
	line       int
}

// readExportPage reads a tickets page (with its sideloaded metric_sets) or
// a satisfaction ratings page, told apart by their array.
func readExportPage(file string, data []byte) ([]*exported, []*exportedRating, error) {
	if _, ok := export.Members(data)["satisfaction_ratings"]; ok {
		var rs []*exportedRating
		_, err := export.Page(file, data, "satisfaction_ratings", func(r export.Record) error {
			x := &exportedRating{file: file, path: r.Path, line: r.Line}
			if err := r.Unmarshal(file, x, "a satisfaction rating"); err != nil {
				return err
			}
			if x.TicketID.Zero() {
				return export.Errorf(file, r.Line, r.Path+".ticket_id", "missing: not a satisfaction rating")
			}
			rs = append(rs, x)
			return nil
		})
		return nil, rs, err
	}
	var ts []*exported
	meta, err := export.Page(file, data, "tickets", func(r export.Record) error {
		t := &exported{file: file, path: r.Path, line: r.Line}
		if err := r.Unmarshal(file, &t.Ticket, "a Zendesk ticket"); err != nil {
			return err
		}
		if t.ID.Zero() || t.CreatedAt.IsZero() {
			return export.Errorf(file, r.Line, r.Path, "a ticket needs id and created_at")
		}
		ts = append(ts, t)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	// include=metric_sets sideloads the metric sets beside the tickets.
	if raw, ok := meta["metric_sets"]; ok {
		var sets []struct {
			TicketID sources.ID `json:"ticket_id"`
			MetricSet
		}
		if err := json.Unmarshal(raw, &sets); err != nil {
			return nil, nil, export.Errorf(file, 0, "metric_sets", "not ticket metric sets: %v", err)
		}
		byTicket := map[sources.ID]*MetricSet{}
		for i := range sets {
			byTicket[sets[i].TicketID] = &sets[i].MetricSet
		}
		for _, t := range ts {
			if ms := byTicket[t.ID]; ms != nil && t.MetricSet == nil {
				t.MetricSet = ms
			}
		}
	}
	return ts, nil, nil
}

// exportedTicket maps an exported ticket's history as far as the export
// dates it: created, solved, and its current state.
func exportedTicket(m *mapping.File, t *exported, r *exportedRating) (sources.Result, error) {
	tk := t.Ticket
	if r != nil {
		score := r.Score
		if _, _, ok := rating(m, tk.SatisfactionRating.scoreOrNil()); ok {
			score = tk.SatisfactionRating.Score // the ticket's own copy is the current one
		}
		tk.SatisfactionRating = &Rating{Score: score, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	}
	current, err := MapTicket(m, &tk)
	if err != nil || len(current.Events) == 0 {
		return current, err
	}
	cur := current.Events[0]
	if !cur.Time.After(tk.CreatedAt.Time) {
		return current, nil // the export shows it as created
	}
	now := cur.Data.(*schemas.Ticket)
	created, _, err := ticketData(m, &tk)
	if err != nil {
		return sources.Result{}, err
	}
	created.Status, created.CSATScore = "new", nil
	res := sources.Result{Unmapped: current.Unmapped}
	res.Events = append(res.Events, event(created, "support.ticket.created", tk.CreatedAt.Time))
	if s := now.SolvedAt; s != nil && s.Before(cur.Time) && s.After(tk.CreatedAt.Time) {
		solved := *now
		solved.Status, solved.CSATScore, solved.CSATAt = "solved", nil, nil
		res.Events = append(res.Events, event(&solved, "support.ticket.solved", *s))
	}
	res.Events = append(res.Events, current.Events...)
	return res, nil
}

// scoreOrNil is the rating's score, nil without a rating.
func (r *Rating) scoreOrNil() json.RawMessage {
	if r == nil {
		return nil
	}
	return r.Score
}
