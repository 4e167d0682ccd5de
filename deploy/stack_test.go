package deploy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/secimpact/impact/internal/chlocal"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/kafkalocal"
)

// TestStackWithoutDocker runs the compose file's own command lines for the
// impact services, in compose order, as processes against real servers: a
// local ClickHouse server stands in for `clickhouse`, an embedded Kafka for
// `kafka`. It proves the wiring Docker cannot be asked about here: the
// commands and flags exist and work together, the environment variable
// names are the ones the binary reads, migrate is idempotent, ingest's
// health check turns healthy on the port ingest really listens on, two
// replicas (--scale ingest=2) share the consumer group's partitions, the
// reader user can read what the writer wrote, and ingest stops within
// compose's grace period.
//
// The translation is explicit: compose host names become the local
// addresses, impact_writer becomes the local server's default user and
// impact_reader its read-only user (both without password), and the
// --listen port a free port.
func TestStackWithoutDocker(t *testing.T) {
	bin := imageBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	vars := testEnv()
	vars["IMPACT_SIMULATE_DAYS"] = "14" // the documented knob; keeps the run short
	p, err := projectOptions(t, vars).LoadProject(ctx)
	if err != nil {
		t.Fatalf("load compose: %v", err)
	}

	ch, err := chlocal.Start(ctx, chlocal.Options{})
	if err != nil {
		t.Fatalf("start clickhouse: %v", err)
	}
	t.Cleanup(func() { ch.Close() })

	// kafka-init's job: the topic list and partition count come from the
	// compose file, not from this test.
	initSvc := service(t, p, "kafka-init")
	topics := kafkaInitTopics(t, initSvc)
	partitions, err := strconv.Atoi(env(initSvc, "PARTITIONS"))
	if err != nil {
		t.Fatalf("kafka-init PARTITIONS: %v", err)
	}
	kafka, err := kafkalocal.StartEmbedded(ctx, kafkalocal.Options{})
	if err != nil {
		t.Fatalf("start kafka: %v", err)
	}
	t.Cleanup(func() { kafka.Close() })
	if err := kafkalocal.CreateTopics(ctx, config.Kafka{Brokers: kafka.Brokers()}, topics, partitions); err != nil {
		t.Fatalf("create topics: %v", err)
	}

	st := &stack{t: t, bin: bin, ch: ch, brokers: kafka.Brokers()}

	// migrate: a one-shot that must exit 0, and again on the next `up`.
	mig := service(t, p, "migrate")
	for i := 0; i < 2; i++ {
		if out, err := st.run(ctx, mig, mig.Command); err != nil {
			t.Fatalf("migrate run %d: %v\n%s", i+1, err, out)
		}
	}

	// ingest as `docker compose up --scale ingest=2`: the same command
	// line twice (only the --listen port differs, as containers would),
	// each health-checked the way compose does it.
	in := service(t, p, "ingest")
	type replica struct {
		proc *proc
		port int
	}
	var replicas []replica
	for i := 0; i < 2; i++ {
		port := freePort(t)
		replicas = append(replicas, replica{st.start(ctx, in, rewriteListen(t, in.Command, port)), port})
	}
	tails := func() string {
		var b strings.Builder
		for i, r := range replicas {
			fmt.Fprintf(&b, "--- ingest replica %d ---\n%s\n", i+1, r.proc.tail())
		}
		return b.String()
	}
	anyExited := func() bool {
		for _, r := range replicas {
			if r.proc.exited() {
				return true
			}
		}
		return false
	}
	for i, r := range replicas {
		probe := rewriteProbe(t, in.HealthCheck.Test, r.port)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			out, err := st.run(ctx, in, probe)
			if err == nil {
				break
			}
			if time.Now().After(deadline) || anyExited() {
				t.Fatalf("ingest replica %d never became healthy (%v: %s)\n%s", i+1, err, out, tails())
			}
			time.Sleep(time.Second)
		}
	}

	// The gateway: its compose command line (listen ports made free), its
	// health check on the ops port, and a CloudEvent posted with the token
	// of the env file, which ingest then stores like any other.
	gw := service(t, p, "gateway")
	gwPort, opsPort := freePort(t), freePort(t)
	gwArgs := append([]string{}, gw.Command...)
	for i := range gwArgs {
		switch {
		case i > 0 && gwArgs[i-1] == "--listen":
			gwArgs[i] = fmt.Sprintf("127.0.0.1:%d", gwPort)
		case i > 0 && gwArgs[i-1] == "--ops-listen":
			gwArgs[i] = fmt.Sprintf("127.0.0.1:%d", opsPort)
		}
	}
	gwProc := st.start(ctx, gw, gwArgs)
	gwProbe := rewriteProbe(t, gw.HealthCheck.Test, opsPort)
	for deadline := time.Now().Add(time.Minute); ; {
		out, err := st.run(ctx, gw, gwProbe)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || gwProc.exited() {
			t.Fatalf("gateway never became healthy (%v: %s)\n%s", err, out, gwProc.tail())
		}
		time.Sleep(500 * time.Millisecond)
	}
	event := `{"specversion":"1.0","id":"stack-1","source":"stack-test","type":"catalog.service.upserted","time":"` +
		time.Now().UTC().Format(time.RFC3339) + `","data":{"service_id":"gateway-check","team":"t","department":"d","tier":"low","internet_facing":false,"effective_at":"` +
		time.Now().UTC().Format(time.RFC3339) + `"}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/events", gwPort), strings.NewReader(event))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("Authorization", "Bearer "+vars["IMPACT_EVENTS_TOKEN"])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /events to the gateway: %v %v\n%s", err, resp, gwProc.tail())
	} else {
		resp.Body.Close()
	}

	// simulate (profile demo) publishes to Kafka and exits 0.
	sim := service(t, p, "simulate")
	if out, err := st.run(ctx, sim, sim.Command); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}

	// The read path, as the `query` service (impact_reader).
	q := service(t, p, "query")
	queryArgs := func(sql string) []string {
		return append(append([]string{}, q.Entrypoint[1:]...), "--format", "csv", sql)
	}
	count := func(sql string) int {
		t.Helper()
		out, err := st.run(ctx, q, queryArgs(sql))
		if err != nil {
			t.Fatalf("query %q: %v\n%s", sql, err, out)
		}
		n, ok := lastInt(out)
		if !ok {
			t.Fatalf("query %q printed no count:\n%s", sql, out)
		}
		return n
	}
	// Caught up: lag 0 on every partition of both replicas and the table
	// counts, read as impact_reader, unchanged over three seconds (flushes
	// are by age).
	const counts = "SELECT (SELECT count() FROM events_raw) * 1000000 + (SELECT count() FROM ingest_rejects)"
	deadline := time.Now().Add(3 * time.Minute)
	last, stable := -1, 0
	perReplica := make([]float64, len(replicas))
	for stable < 3 {
		if time.Now().After(deadline) || anyExited() {
			t.Fatalf("ingest did not catch up (counts %d)\n%s", last, tails())
		}
		time.Sleep(time.Second)
		caughtUp := true
		for i, r := range replicas {
			lag, consumed, err := ingestProgress(ctx, fmt.Sprintf("http://127.0.0.1:%d/metrics", r.port))
			perReplica[i] = consumed
			if err != nil || lag != 0 {
				caughtUp = false
			}
		}
		if !caughtUp {
			stable = 0
			continue
		}
		n := count(counts)
		if n == last && n > 0 {
			stable++
		} else {
			last, stable = n, 0
		}
	}
	// Both replicas did work: the group split the partitions between them.
	t.Logf("events consumed per ingest replica: %v", perReplica)
	for i, c := range perReplica {
		if c == 0 {
			t.Errorf("ingest replica %d consumed nothing; replicas must share the partitions", i+1)
		}
	}
	raw, rejects := last/1000000, last%1000000
	t.Logf("ingested: events_raw %d rows, ingest_rejects %d rows", raw, rejects)
	if raw == 0 {
		t.Error("events_raw is empty after ingest caught up")
	}
	if rejects == 0 {
		t.Error("ingest_rejects is empty, but simulate plants invalid events")
	}
	// The compose default command of `query` works as is.
	if out, err := st.run(ctx, q, append(append([]string{}, q.Entrypoint[1:]...), q.Command...)); err != nil || !strings.Contains(out, "events_raw") {
		t.Errorf("query service default command: %v\n%s", err, out)
	}
	// The reader cannot write.
	if out, err := st.run(ctx, q, queryArgs("CREATE TABLE impact.x (a UInt8) ENGINE = Memory")); err == nil {
		t.Errorf("impact_reader could run DDL:\n%s", out)
	}

	if n := count("SELECT count() FROM service_events WHERE service_id = 'gateway-check'"); n != 1 {
		t.Errorf("the event posted to the gateway: %d rows in service_events, want 1", n)
	}

	// transform, once, on what ingest wrote.
	tr := service(t, p, "transform")
	if out, err := st.run(ctx, tr, append(append([]string{}, tr.Command...), "--once")); err != nil {
		t.Errorf("transform --once: %v\n%s", err, out)
	}

	// `docker compose stop`: SIGTERM, then SIGKILL after stop_grace_period.
	grace := 10 * time.Second
	if in.StopGracePeriod != nil {
		grace = time.Duration(*in.StopGracePeriod)
	}
	for i, r := range replicas {
		if err := r.proc.stop(grace); err != nil {
			t.Errorf("ingest replica %d on SIGTERM: %v\n%s", i+1, err, r.proc.tail())
		}
	}
	if err := gwProc.stop(time.Duration(*gw.StopGracePeriod)); err != nil {
		t.Errorf("gateway on SIGTERM: %v\n%s", err, gwProc.tail())
	}
}

// stack runs the impact image's command lines as local processes.
type stack struct {
	t       *testing.T
	bin     string
	ch      *chlocal.Server
	brokers []string
}

// env is the service's compose environment translated to the local servers.
// Nothing is inherited from the test's own environment (CI exports
// IMPACT_KAFKA_BROKERS for other tests), except what any process needs.
func (s *stack) env(svc types.ServiceConfig) []string {
	s.t.Helper()
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range svc.Environment {
		val := ""
		if v != nil {
			val = *v
		}
		switch k {
		case "IMPACT_KAFKA_BROKERS":
			val = strings.Join(s.brokers, ",")
		case "IMPACT_CLICKHOUSE_ADDR":
			val = s.ch.Addr()
		case "IMPACT_CLICKHOUSE_HTTP_ADDR":
			val = s.ch.HTTPAddr()
		case "IMPACT_CLICKHOUSE_USER":
			switch val {
			case "impact_writer":
				val = s.ch.Config("").Username()
			case "impact_reader":
				val = s.ch.ReaderConfig("").Username()
			default:
				s.t.Fatalf("%s: unknown ClickHouse user %q in compose", svc.Name, val)
			}
		case "IMPACT_CLICKHOUSE_PASSWORD":
			val = "" // the local server's users have none
		}
		out = append(out, k+"="+val)
	}
	return out
}

// run runs one command line to completion and returns its output.
func (s *stack) run(ctx context.Context, svc types.ServiceConfig, args []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.bin, args...)
	cmd.Env = s.env(svc)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// proc is a long-running service process.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func (s *stack) start(ctx context.Context, svc types.ServiceConfig, args []string) *proc {
	s.t.Helper()
	p := &proc{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(s.bin, args...)
	p.cmd.Env = s.env(svc)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("start %s: %v", svc.Name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	s.t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace for a clean exit, as compose does.
func (p *proc) stop(grace time.Duration) error {
	if p.exited() {
		return fmt.Errorf("had already exited: %w", p.err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("exited with %w", p.err)
		}
		return nil
	case <-time.After(grace):
		return fmt.Errorf("still running %v after SIGTERM; compose would SIGKILL it", grace)
	}
}

func (p *proc) tail() string {
	s := p.out.String()
	if len(s) > 4000 {
		s = s[len(s)-4000:]
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func kafkaInitTopics(t *testing.T, s types.ServiceConfig) []string {
	t.Helper()
	script := strings.Join(s.Command, "\n")
	i := strings.Index(script, "for t in ")
	j := strings.Index(script, "; do")
	if i < 0 || j < i {
		t.Fatalf("kafka-init has no topic loop:\n%s", script)
	}
	return strings.Fields(script[i+len("for t in ") : j])
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// rewriteListen replaces the fixed container port of --listen with a free
// loopback port (tests never use fixed ports).
func rewriteListen(t *testing.T, args []string, port int) []string {
	t.Helper()
	out := append([]string{}, args...)
	for i, a := range out {
		if a == "--listen" && i+1 < len(out) {
			out[i+1] = fmt.Sprintf("127.0.0.1:%d", port)
			return out
		}
	}
	t.Fatalf("ingest command %v has no --listen", args)
	return nil
}

// rewriteProbe turns the compose health check ["CMD", "/usr/local/bin/impact",
// "healthcheck", URL] into healthcheck arguments on the local port.
func rewriteProbe(t *testing.T, test []string, port int) []string {
	t.Helper()
	if len(test) < 4 || test[0] != "CMD" || !strings.HasSuffix(test[1], "/impact") {
		t.Fatalf("ingest health check %v is not [CMD .../impact healthcheck URL]", test)
	}
	out := append([]string{}, test[2:]...)
	for i, a := range out {
		if strings.HasPrefix(a, "http://127.0.0.1:") {
			rest := strings.TrimPrefix(a, "http://127.0.0.1:")
			_, path, _ := strings.Cut(rest, "/")
			out[i] = fmt.Sprintf("http://127.0.0.1:%d/%s", port, path)
		}
	}
	return out
}

// ingestProgress reads the summed consumer lag and consumed count from
// ingest's Prometheus endpoint.
func ingestProgress(ctx context.Context, url string) (lag, consumed float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var sawLag bool
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			if j := strings.LastIndexByte(line, '}'); j >= 0 {
				rest = strings.TrimSpace(line[j+1:])
			}
		}
		v, perr := strconv.ParseFloat(strings.Fields(rest + " 0")[0], 64)
		if perr != nil {
			continue
		}
		switch name {
		case "impact_ingest_consumer_lag":
			lag += v
			sawLag = true
		case "impact_ingest_events_consumed_total":
			consumed += v
		}
	}
	if !sawLag {
		return 0, consumed, fmt.Errorf("no impact_ingest_consumer_lag in %s", url)
	}
	return lag, consumed, sc.Err()
}

// lastInt finds the last integer line in query output (CSV, one cell).
func lastInt(out string) (int, bool) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(lines[i]), `"`)); err == nil {
			return n, true
		}
	}
	return 0, false
}
