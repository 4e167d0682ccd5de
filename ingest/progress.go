package ingest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/secimpact/impact/schemas"
)

// progress tracks, per assigned partition, the high watermark the last
// fetch saw and the offset this member last committed. Lag is measured
// from the committed offset (not the fetch position), so a member that
// fetches but cannot store or commit shows growing lag; and a partition
// with lag whose commit has not advanced for the stall timeout makes
// /readyz fail.
type progress struct {
	mu     sync.Mutex
	member string // group member id of this generation
	parts  []partProgress
	lag    *prometheus.GaugeVec
	now    func() time.Time
}

type partProgress struct {
	topic     string
	partition int
	committed int64 // offset committed (or where reading started); -1 unknown
	hwm       int64 // high watermark of the last fetch; -1 unknown
	// since is when the partition last made progress: its commit advanced,
	// or it went from no lag to lag. Stalled = lag > 0 for longer than the
	// stall timeout since then.
	since time.Time
	gauge prometheus.Gauge
}

func newProgress(lag *prometheus.GaugeVec) *progress {
	return &progress{lag: lag, now: time.Now}
}

// reset starts a generation of member with parts.
func (pg *progress) reset(member string, parts []assignment) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	pg.member = member
	for _, p := range pg.parts {
		pg.lag.DeleteLabelValues(p.topic, strconv.Itoa(p.partition))
	}
	now := pg.now()
	pg.parts = make([]partProgress, len(parts))
	for i, p := range parts {
		pg.parts[i] = partProgress{topic: p.topic, partition: p.partition, committed: max(p.offset, -1), hwm: -1, since: now,
			gauge: pg.lag.WithLabelValues(p.topic, strconv.Itoa(p.partition))}
	}
}

// start records where reading starts when nothing was committed before:
// the lag baseline. last is the partition's end offset then.
func (pg *progress) start(i int, offset, last int64) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if i >= len(pg.parts) {
		return
	}
	p := &pg.parts[i]
	if p.committed < 0 {
		p.committed = offset
	}
	if p.hwm < 0 {
		pg.setHWM(p, last)
	}
}

// highWater records the high watermark a fetch returned.
func (pg *progress) highWater(i int, hwm int64) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if i < len(pg.parts) && hwm >= 0 {
		pg.setHWM(&pg.parts[i], hwm)
	}
}

func (pg *progress) setHWM(p *partProgress, hwm int64) {
	if p.lagLocked() == 0 && p.committed >= 0 && hwm > p.committed {
		p.since = pg.now() // lag starts now
	}
	p.hwm = hwm
	p.gauge.Set(float64(p.lagLocked()))
}

// committed records a successful commit of offset on partition index i.
func (pg *progress) committed(i int, offset int64) {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if i >= len(pg.parts) {
		return
	}
	p := &pg.parts[i]
	if offset > p.committed {
		p.committed = offset
		p.since = pg.now()
	}
	p.gauge.Set(float64(p.lagLocked()))
}

func (p *partProgress) lagLocked() int64 {
	if p.hwm < 0 || p.committed < 0 {
		return 0
	}
	return max(p.hwm-p.committed, 0)
}

// stalled describes the first partition with lag whose commit has not
// advanced for timeout, "" when none.
func (pg *progress) stalled(timeout time.Duration) string {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	now := pg.now()
	for _, p := range pg.parts {
		if lag := p.lagLocked(); lag > 0 && now.Sub(p.since) > timeout {
			return "partition " + p.topic + "/" + strconv.Itoa(p.partition) + ": " + strconv.FormatInt(lag, 10) +
				" messages past the committed offset " + strconv.FormatInt(p.committed, 10) + " and no commit for " +
				now.Sub(p.since).Round(time.Second).String()
		}
	}
	return ""
}

// progressInterval is how often progress is written to ProgressTable.
const progressInterval = 15 * time.Second

// reportProgress writes, every progressInterval while this member holds a
// generation, one ingest_progress row per assigned partition: what the
// pipeline-health dashboard's stall alert reads. Best effort: a failed
// report is logged and the next one tried.
func (in *Ingester) reportProgress(ctx context.Context, conn driver.Conn) {
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	query := "INSERT INTO " + schemas.ProgressTable + " (" + strings.Join(schemas.ProgressColumns, ", ") + ")"
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if !in.joined.Load() {
			continue
		}
		rows := in.progress.rows(in.cfg.GroupID, time.Now().UTC())
		if len(rows) == 0 {
			continue
		}
		if err := insertRows(ctx, conn, query, rows); err != nil {
			in.log.Debug("write consumer progress failed", "table", schemas.ProgressTable, "err", err)
		}
	}
}

// rows returns the ProgressTable rows of the current generation.
func (pg *progress) rows(group string, now time.Time) [][]any {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	out := make([][]any, 0, len(pg.parts))
	for _, p := range pg.parts {
		out = append(out, []any{group, p.topic, int32(p.partition), pg.member, p.committed, p.hwm,
			p.lagLocked(), p.since.UTC().Truncate(time.Second), now.Truncate(time.Second)})
	}
	return out
}

func insertRows(ctx context.Context, conn driver.Conn, query string, rows [][]any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := conn.PrepareBatch(ctx, query)
	if err != nil {
		return err
	}
	defer b.Close()
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			return err
		}
	}
	return b.Send()
}
