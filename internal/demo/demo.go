// Package demo runs the whole impact pipeline on embedded defaults, the job
// `impact demo` does for a new user: an in-process Kafka and a local
// ClickHouse server, the migrations, a simulated organisation published to
// Kafka, ingest through the real consumer group until drained, one
// transform, the Grafana dashboards, the executive brief, and a summary
// with the headline findings checked against the simulation's truth.
package demo

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/secimpact/impact/dashboards/brief"
	"github.com/secimpact/impact/internal/chconn"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkaio"
	"github.com/secimpact/impact/internal/simulate"
	"github.com/secimpact/impact/schemas/migrations"
	"github.com/secimpact/impact/transform/stats"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// Options configure Run. The zero value simulates 365 days with seed 0 on
// an embedded Kafka and a local ClickHouse server, writing to ./out.
type Options struct {
	Days  int     // simulated days; default 365
	Seed  uint64  // simulation seed
	Scale float64 // volume multiplier; default 1
	Out   string  // output directory; default "out"

	// Kafka is used when Brokers is set (topics get a unique suffix so a
	// shared cluster's topics are never mixed with the demo's); otherwise
	// an embedded Kafka is started.
	Kafka config.Kafka
	// ClickHouse is used when Addr is set (its database must not hold
	// events yet); otherwise a local server (chlocal) is started.
	ClickHouse config.ClickHouse
	// ClickHouseBinary is the server executable of the local ClickHouse;
	// empty means search (see chlocal.Options.Binary).
	ClickHouseBinary string

	// Keep leaves the servers running after the summary until ctx is
	// done (Ctrl-C), so the data can be queried; Ready tells the caller
	// where they are.
	Keep bool
	// Ready, when set, is called with the summary once everything is
	// written, before Run waits (Keep) or stops the servers.
	Ready func(Summary)

	// Progress receives the progress display (usually stderr); nil means
	// none. Live redraws one line in place (for a terminal); otherwise
	// Logger gets one line per stage start and end.
	Progress io.Writer
	Live     bool
	Logger   *slog.Logger

	// Now is the brief's generated-at time; zero means time.Now().
	Now time.Time
}

// Summary is what a demo run did, the JSON of `impact demo --json`.
type Summary struct {
	Seed      uint64     `json:"seed"`
	Days      int        `json:"days"`
	Start     time.Time  `json:"start"` // simulated window
	End       time.Time  `json:"end"`
	Period    PeriodJSON `json:"brief_period"`
	Stages    []Stage    `json:"stages"`
	Seconds   float64    `json:"seconds"` // whole run, servers included
	Headlines []Headline `json:"headlines"`
	// WinRateByBucket is the whole-window win rate per landmark review bucket.
	WinRateByBucket []Headline `json:"win_rate_by_bucket"`
	// CostOfRisk is the scorecard's incident cost + control spend per
	// department (kept for the analyst contract); IncidentCost and
	// ControlSpend are the two parts the demo shows, apart.
	CostOfRisk   []Headline `json:"cost_of_risk_by_department"`
	IncidentCost []Headline `json:"incident_cost_by_department"`
	ControlSpend []Headline `json:"control_spend_by_department"`
	// Brief is the brief's headline figures for its period (the last full
	// quarter): the same stored rows the dashboards show for that range.
	Brief      []BriefFigure `json:"brief_headlines"`
	Checks     []Check       `json:"checks"` // observed vs the simulation's truth
	Paths      Paths         `json:"paths"`
	ClickHouse CHInfo        `json:"clickhouse"`
	Kafka      KafkaInfo     `json:"kafka"`
}

// PeriodJSON is the brief's period, To exclusive.
type PeriodJSON struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Stage is one step of the run with its duration and counts.
type Stage struct {
	Name    string           `json:"name"`
	Seconds float64          `json:"seconds"`
	Counts  map[string]int64 `json:"counts,omitempty"`
}

// Headline is one figure of impact_stats as the demo prints it.
type Headline struct {
	Metric    string   `json:"metric"`
	Dimension string   `json:"dimension"`
	Value     string   `json:"dimension_value"`
	Title     string   `json:"title,omitempty"`
	N         uint64   `json:"n"`
	Estimate  *float64 `json:"estimate"`
	Low       *float64 `json:"ci_low"`
	High      *float64 `json:"ci_high"`
	Unit      string   `json:"unit"`
	Method    string   `json:"method"`
	Evidence  string   `json:"evidence"`
	Wording   string   `json:"wording,omitempty"`
	// Cluster is what the interval treats as the unit (account, service);
	// NaiveLow/NaiveHigh the interval treating observations as independent.
	Cluster   string   `json:"cluster,omitempty"`
	NaiveLow  *float64 `json:"naive_ci_low,omitempty"`
	NaiveHigh *float64 `json:"naive_ci_high,omitempty"`
	MDE       *float64 `json:"detectable_at_80pct_power,omitempty"`
	Period    string   `json:"period"`
	Note      string   `json:"note,omitempty"`
}

// BriefFigure is one headline of the brief (percentage points for win-rate
// differences).
type BriefFigure struct {
	Title    string   `json:"title"`
	Estimate *float64 `json:"estimate"`
	Low      *float64 `json:"ci_low"`
	High     *float64 `json:"ci_high"`
	N        int64    `json:"n"`
	Unit     string   `json:"unit"`
	Evidence string   `json:"evidence"`
	Period   string   `json:"period"`
}

// Check compares one observed figure with the simulation's truth.
type Check struct {
	Name     string  `json:"name"`
	Observed float64 `json:"observed"`
	Truth    float64 `json:"truth"`
	Match    bool    `json:"match"`
}

// Paths are the files the demo wrote.
type Paths struct {
	Out     string   `json:"out"`
	Truth   string   `json:"truth"`
	Brief   string   `json:"brief"`
	Grafana string   `json:"grafana"`
	Files   []string `json:"grafana_files"`
}

// CHInfo tells where the data is.
type CHInfo struct {
	Addr       string `json:"addr"`
	HTTPAddr   string `json:"http_addr,omitempty"`
	Database   string `json:"database"`
	Local      bool   `json:"local"` // started by the demo (gone when it exits, unless --keep)
	ReaderUser string `json:"reader_user,omitempty"`
	Dir        string `json:"dir,omitempty"`
}

// KafkaInfo tells which Kafka carried the events.
type KafkaInfo struct {
	Brokers  []string `json:"brokers"`
	Embedded bool     `json:"embedded"`
	Topics   []string `json:"topics"`
	Group    string   `json:"group"`
}

const stageCount = 7

func dropTopics(kc config.Kafka, topics []string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := kafkaio.NewAdmin(kc)
	if err == nil {
		err = a.DeleteTopics(ctx, topics)
		a.Close()
	}
	if err != nil {
		log.Warn("demo: could not delete the demo topics", "topics", topics, "err", err)
	}
}

// prepare creates and migrates the database. On a server the demo did not
// start it refuses a database that already holds events, because the
// truth comparison (and the brief) would mix runs.
func prepare(ctx context.Context, cc config.ClickHouse, external bool) (driver.Conn, int, error) {
	if err := chconn.EnsureDatabase(ctx, cc); err != nil {
		return nil, 0, fmt.Errorf("create database %s: %w", cc.Database, err)
	}
	conn, err := chconn.Open(ctx, cc)
	if err != nil {
		return nil, 0, fmt.Errorf("connect to ClickHouse: %w", err)
	}
	if external {
		n, err := count(ctx, conn, "has_events_raw.sql")
		if err == nil && n > 0 {
			n, err = count(ctx, conn, "events_raw.sql")
			if err == nil && n > 0 {
				conn.Close()
				return nil, 0, fmt.Errorf("database %s at %s already holds %d events: set IMPACT_CLICKHOUSE_DATABASE to a new name (or unset IMPACT_CLICKHOUSE_ADDR to use a local server)", cc.Database, cc.Addr, n)
			}
		}
		if err != nil {
			conn.Close()
			return nil, 0, fmt.Errorf("check database %s: %w", cc.Database, err)
		}
	}
	res, err := migrations.Apply(ctx, conn, migrations.Options{Database: cc.Database, SkipLock: !external})
	if err != nil {
		conn.Close()
		return nil, 0, fmt.Errorf("migrate %s: %w", cc.Database, err)
	}
	return conn, len(res.Applied), nil
}

func readSQL(name string) (string, error) {
	b, err := sqlFiles.ReadFile("sql/" + name)
	if err != nil {
		return "", fmt.Errorf("read query %s: %w", name, err)
	}
	return string(b), nil
}

// Statements returns every SQL statement the demo itself sends (the
// pipeline packages check their own), for checks on other servers.
func Statements() ([]string, error) {
	ents, err := sqlFiles.ReadDir("sql")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		q, err := readSQL(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

func count(ctx context.Context, conn driver.Conn, name string) (uint64, error) {
	q, err := readSQL(name)
	if err != nil {
		return 0, err
	}
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", strings.TrimSuffix(name, ".sql"), err)
	}
	return n, nil
}

// headlineOrder is the order the demo prints its headlines in: the
// adjusted estimate first, the pooled one beside it.
var headlineOrder = []string{"win_rate_diff_fast_minus_slow/stratified", "win_rate_diff_fast_minus_slow/all", "revenue_lost_security_usd/all",
	"revenue_associated_slow_reviews_usd/stratified", "csat_incident_drop/paired", "gate_delay_hours/all"}

var titles = map[string]string{
	"win_rate_diff_fast_minus_slow/stratified":       "Win-rate difference, fast (<= 5 d) minus slow (pending at 15 d) security reviews, within segments",
	"win_rate_diff_fast_minus_slow/all":              "Win-rate difference, pooled over segments (confounded by segment: quote the one above)",
	"revenue_lost_security_usd/all":                  "Revenue recorded as lost to security",
	"revenue_associated_slow_reviews_usd/stratified": "Revenue associated with slow reviews (adjusted difference x slow-review pipeline)",
	"csat_incident_drop/paired":                      "CSAT change after a security incident, same accounts",
	"gate_delay_hours/all":                           "Extra median deployment lead time when a security gate blocks, like with like",
}

func ptr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// headlines reads the whole-window figures of impact_stats.
func headlines(ctx context.Context, conn driver.Conn, sum *Summary) error {
	q, err := readSQL("headlines.sql")
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("read headline figures: %w", err)
	}
	defer rows.Close()
	var byKey = map[string]Headline{}
	for rows.Next() {
		var h Headline
		if err := rows.Scan(&h.Metric, &h.Dimension, &h.Value, &h.N, &h.Estimate, &h.Low, &h.High, &h.Unit, &h.Method, &h.Evidence,
			&h.NaiveLow, &h.NaiveHigh, &h.Cluster, &h.MDE, &h.Period, &h.Note); err != nil {
			return fmt.Errorf("read headline figures: %w", err)
		}
		switch h.Metric {
		case "win_rate":
			h.Title = "Win rate, review bucket " + h.Value
			sum.WinRateByBucket = append(sum.WinRateByBucket, h)
		case "cost_of_risk_usd":
			h.Title = "Incident cost + control spend, " + h.Value
			sum.CostOfRisk = append(sum.CostOfRisk, h)
		case "incident_cost_usd":
			h.Title = "Incident cost, " + h.Value
			sum.IncidentCost = append(sum.IncidentCost, h)
		case "control_spend_usd":
			h.Title = "Control spend, " + h.Value
			sum.ControlSpend = append(sum.ControlSpend, h)
		default:
			byKey[h.Metric+"/"+h.Dimension] = h
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read headline figures: %w", err)
	}
	for _, k := range headlineOrder {
		h, ok := byKey[k]
		if !ok {
			continue
		}
		h.Title = titles[k]
		h.Wording = wording(h)
		sum.Headlines = append(sum.Headlines, h)
	}
	// Buckets in display order.
	order := map[string]int{}
	for i, b := range simulate.Buckets {
		order[b] = i
	}
	sortBy(sum.WinRateByBucket, func(a, b Headline) bool { return order[a.Value] < order[b.Value] })
	for _, s := range [][]Headline{sum.CostOfRisk, sum.IncidentCost, sum.ControlSpend} {
		sortBy(s, func(a, b Headline) bool { return val(a.Estimate) > val(b.Estimate) })
	}
	return nil
}

func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

func sortBy[T any](s []T, less func(a, b T) bool) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && less(s[j], s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// wording is the "associated with" sentence of a headline.
func wording(h Headline) string {
	e := val(h.Estimate)
	if h.Evidence == "insufficient" || math.IsNaN(e) {
		return "Too few observations to say anything (below the minimum n)."
	}
	more := func(pos, neg string) string {
		if e < 0 {
			return neg
		}
		return pos
	}
	switch h.Metric {
	case "win_rate_diff_fast_minus_slow":
		if h.Dimension == "stratified" {
			return fmt.Sprintf("Fast security reviews are associated with a win rate %.1f percentage points %s than slow ones within the same customer segment.", math.Abs(e*100), more("higher", "lower"))
		}
		return fmt.Sprintf("Pooled over segments fast reviews are associated with a win rate %.1f points %s, but enterprise deals review slowly and win less anyway: this mixes segment with review speed (confounded by segment).", math.Abs(e*100), more("higher", "lower"))
	case "revenue_lost_security_usd":
		return fmt.Sprintf("%d deals worth %s USD were lost with security as the recorded reason (what sales recorded, not a causal estimate; every deal at full value).", h.N, thousands(int64(math.Round(e))))
	case "revenue_associated_slow_reviews_usd":
		return fmt.Sprintf("Slow-review deals are associated with %s USD less won revenue than at the fast-review win rate (%s).", thousands(int64(math.Round(e))), h.Note)
	case "csat_incident_drop":
		return fmt.Sprintf("Tickets within 30 days after an incident are associated with a CSAT %.2f points %s than the same accounts' other tickets.", math.Abs(e), more("higher", "lower"))
	case "gate_delay_hours":
		return fmt.Sprintf("Gate-blocked deployments are associated with a median lead time %.1f hours %s than unblocked ones (%s).", math.Abs(e), more("longer", "shorter"), h.Note)
	}
	return ""
}

// checks compares what landed in ClickHouse with the simulation's truth.
func checks(ctx context.Context, conn driver.Conn, sum *Summary, truth *simulate.Truth, published int64, raw, rejects uint64) error {
	add := func(name string, observed, want float64) {
		ok := math.Abs(observed-want) <= 1e-9*math.Max(1, math.Abs(want))
		sum.Checks = append(sum.Checks, Check{Name: name, Observed: observed, Truth: want, Match: ok})
	}
	add("lines_published", float64(published), float64(truth.Delivery.Lines))
	add("valid_events_stored", float64(raw), float64(truth.Delivery.ValidEvents))
	add("invalid_lines_rejected", float64(rejects), float64(truth.Delivery.Invalid))

	q, err := readSQL("deals_by_bucket.sql")
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("read deals by bucket: %w", err)
	}
	defer rows.Close()
	got := map[string][2]uint64{}
	var closed uint64
	for rows.Next() {
		var b string
		var n, won uint64
		if err := rows.Scan(&b, &n, &won); err != nil {
			return fmt.Errorf("read deals by bucket: %w", err)
		}
		got[b] = [2]uint64{n, won}
		closed += n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read deals by bucket: %w", err)
	}
	add("closed_deals", float64(closed), float64(truth.Deals.Closed))
	for _, b := range simulate.Buckets {
		add("closed_deals_"+b, float64(got[b][0]), float64(truth.Deals.ByBucket[b].N))
		add("won_deals_"+b, float64(got[b][1]), float64(truth.Deals.ByBucket[b].Won))
	}
	q, err = readSQL("revenue_lost.sql")
	if err != nil {
		return err
	}
	var nLost uint64
	var usd float64
	if err := conn.QueryRow(ctx, q).Scan(&nLost, &usd); err != nil {
		return fmt.Errorf("read revenue lost: %w", err)
	}
	add("deals_lost_security", float64(nLost), float64(truth.Deals.LostSecurity))
	add("revenue_lost_security_usd", usd, truth.Deals.RevenueLostSecurityUSD)
	if q, err = readSQL("fact_counts.sql"); err != nil {
		return err
	}
	var tickets, deployments, blocked, findings uint64
	if err := conn.QueryRow(ctx, q).Scan(&tickets, &deployments, &blocked, &findings); err != nil {
		return fmt.Errorf("count fact tables: %w", err)
	}
	add("tickets", float64(tickets), float64(truth.Tickets.Tickets))
	add("deployments", float64(deployments), float64(truth.Deployments.Deployments))
	add("deployments_gate_blocked", float64(blocked), float64(truth.Deployments.GateBlocked))
	add("findings", float64(findings), float64(truth.Findings.Findings))
	for _, h := range sum.CostOfRisk {
		if d, ok := truth.Departments[h.Value]; ok {
			add("cost_of_risk_usd_"+h.Value, val(h.Estimate), d.CostOfRiskUSD)
		}
	}
	for _, h := range sum.Headlines {
		if h.Metric != "win_rate_diff_fast_minus_slow" {
			continue
		}
		if h.Dimension == "stratified" {
			if want, ok := stratifiedTruth(truth); ok {
				add("fast_minus_slow_stratified", val(h.Estimate), want)
			}
		} else {
			add("fast_minus_slow_pooled", val(h.Estimate), truth.Deals.FastMinusSlowPooled)
		}
	}
	return nil
}

// stratifiedTruth is the truth's Mantel-Haenszel difference over the
// segments the transform uses: those with the default minimum n of fast
// and slow deals (false when none has).
func stratifiedTruth(truth *simulate.Truth) (float64, bool) {
	var num, den float64
	for _, seg := range simulate.Segments {
		f, s := truth.Deals.BySegmentLandmarkBucket[seg][simulate.BucketFast], truth.Deals.BySegmentLandmarkBucket[seg][simulate.BucketSlow]
		if f.N < stats.DefaultMinN || s.N < stats.DefaultMinN {
			continue
		}
		w := float64(f.N) * float64(s.N) / float64(f.N+s.N)
		num += w * (f.WinRate - s.WinRate)
		den += w
	}
	if den == 0 {
		return 0, false
	}
	return num / den, true
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeBrief(path string, d brief.Data) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write brief: %w", err)
	}
	if err := brief.Render(f, d); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write brief: %w", err)
	}
	return nil
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
