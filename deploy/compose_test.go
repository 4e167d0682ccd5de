package deploy

import (
	"bufio"
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/secimpact/impact/ingest"
	"github.com/secimpact/impact/ingest/gateway"
	"github.com/secimpact/impact/internal/config"
	"github.com/secimpact/impact/internal/readonly"
)

// repoRoot is where docker-compose.yml lives; tests run in ./deploy.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatalf("repo root: %v", err)
	}
	return root
}

// testEnv is what an operator's .env provides. The values are obviously
// fake; the loader gets nothing from the OS environment or a local .env, so
// a developer's real secrets never influence (or leak into) the test.
func testEnv() map[string]string {
	return map[string]string{
		"IMPACT_WRITER_PASSWORD": "test-writer",
		"IMPACT_READER_PASSWORD": "test-reader",
		"GRAFANA_ADMIN_PASSWORD": "test-admin",
		"IMPACT_EVENTS_TOKEN":    "test-events-token",
	}
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func projectOptions(t *testing.T, env map[string]string, extra ...cli.ProjectOptionsFn) *cli.ProjectOptions {
	t.Helper()
	return projectFilesOptions(t, []string{"docker-compose.yml"}, env, extra...)
}

// projectFilesOptions loads files (relative to the repository root) layered
// in order, like `docker compose -f a -f b`.
func projectFilesOptions(t *testing.T, files []string, env map[string]string, extra ...cli.ProjectOptionsFn) *cli.ProjectOptions {
	t.Helper()
	root := repoRoot(t)
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(root, f))
	}
	opts := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(root),
		cli.WithEnv(envList(env)),
		// Every profile (demo, tools): their services must be as sound as
		// the default ones.
		cli.WithProfiles([]string{"*"}),
	}
	opts = append(opts, extra...)
	o, err := cli.NewProjectOptions(paths, opts...)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	return o
}

// loadProject loads docker-compose.yml the way `docker compose` does
// (interpolation, merge keys, validation against the compose schema).
func loadProject(t *testing.T) *types.Project {
	t.Helper()
	p, err := projectOptions(t, testEnv()).LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	return p
}

// rawServices is the compose model before interpolation: what is literally
// written in the file, with YAML anchors and merge keys resolved.
func rawServices(t *testing.T) map[string]map[string]any {
	t.Helper()
	o := projectOptions(t, testEnv(), cli.WithInterpolation(false))
	model, err := o.LoadModel(context.Background())
	if err != nil {
		t.Fatalf("load raw compose model: %v", err)
	}
	services, ok := model["services"].(map[string]any)
	if !ok {
		t.Fatalf("raw compose model has no services map: %T", model["services"])
	}
	out := map[string]map[string]any{}
	for name, s := range services {
		m, ok := s.(map[string]any)
		if !ok {
			t.Fatalf("service %s: %T, want map", name, s)
		}
		out[name] = m
	}
	return out
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v, ok := s.Environment[key]; ok && v != nil {
		return *v
	}
	return ""
}

func TestComposeServices(t *testing.T) {
	p := loadProject(t)
	want := []string{"clickhouse", "gateway", "grafana", "ingest", "kafka", "kafka-init", "migrate", "query", "simulate", "transform"}
	got := p.ServiceNames()
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}
	for _, tc := range []struct{ service, profile string }{
		{"simulate", "demo"},
		{"query", "tools"},
	} {
		if s := service(t, p, tc.service); !slices.Contains(s.Profiles, tc.profile) {
			t.Errorf("%s: profiles %v, want it only under %q", tc.service, s.Profiles, tc.profile)
		}
	}
	// Everything the product needs runs without a profile.
	for _, name := range []string{"kafka", "kafka-init", "clickhouse", "migrate", "ingest", "transform", "grafana", "gateway"} {
		if s := service(t, p, name); len(s.Profiles) != 0 {
			t.Errorf("%s: profiles %v; core services must start with a plain `docker compose up`", name, s.Profiles)
		}
	}
}

// exactVersion is a full release tag (3 or 4 numeric parts, optional
// variant suffix) and optionally a digest: never latest, never a floating
// major or minor like 25.8 or 12.
var exactVersion = regexp.MustCompile(`^[a-z0-9./_-]+:v?\d+\.\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$`)

func TestImagesPinned(t *testing.T) {
	p := loadProject(t)
	for _, s := range p.AllServices() {
		t.Run(s.Name, func(t *testing.T) {
			if s.Image == "" {
				t.Fatalf("no image: every service must name a pinned image (built ones too, so `up` never rebuilds silently)")
			}
			if !exactVersion.MatchString(s.Image) {
				t.Errorf("image %q is not pinned to an exact version (want name:MAJOR.MINOR.PATCH[.BUILD])", s.Image)
			}
			if strings.HasSuffix(s.Image, ":latest") {
				t.Errorf("image %q uses latest", s.Image)
			}
		})
	}
	// The Kafka brokers kafka-go cannot join: 4.0.0 rejects JoinGroup v1.
	for _, s := range p.AllServices() {
		if strings.HasPrefix(s.Image, "apache/kafka:4.0.0") {
			t.Errorf("%s: %s rejects kafka-go's JoinGroup v1; use 3.9.x or >= 4.1", s.Name, s.Image)
		}
	}
}

func TestHealthChecks(t *testing.T) {
	p := loadProject(t)
	// Whatever another service waits on with service_healthy must define a
	// health check, and so must these, which people and probes rely on even
	// where compose does not wait on them (ingest readiness, Grafana UI).
	mustBeHealthy := map[string]bool{"kafka": true, "clickhouse": true, "grafana": true, "ingest": true, "gateway": true}
	for _, s := range p.AllServices() {
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionHealthy {
				mustBeHealthy[dep] = true
			}
		}
	}
	for name := range mustBeHealthy {
		t.Run(name, func(t *testing.T) {
			s := service(t, p, name)
			hc := s.HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
				t.Fatalf("no health check, but others depend on %s being healthy", name)
			}
			if hc.Interval == nil || hc.Retries == nil || hc.StartPeriod == nil {
				t.Errorf("health check should set interval, retries and start_period explicitly: %+v", hc)
			}
		})
	}
	// Ingest's probe is its own readiness endpoint, not merely "process up",
	// on the port ingest actually listens on.
	in := service(t, p, "ingest")
	probe := strings.Join(in.HealthCheck.Test, " ")
	if !strings.Contains(probe, "/readyz") {
		t.Errorf("ingest health check must probe /readyz, got %q", probe)
	}
	listen := ""
	for i, a := range in.Command {
		if a == "--listen" && i+1 < len(in.Command) {
			listen = in.Command[i+1]
		} else if v, ok := strings.CutPrefix(a, "--listen="); ok {
			listen = v
		}
	}
	_, port, err := net.SplitHostPort(listen)
	if err != nil {
		t.Fatalf("ingest --listen %q: %v (the health endpoint must listen beyond loopback for Prometheus)", listen, err)
	}
	if !strings.Contains(probe, "127.0.0.1:"+port+"/readyz") {
		t.Errorf("ingest health check %q does not probe the --listen port %s", probe, port)
	}
}

func TestStartOrder(t *testing.T) {
	p := loadProject(t)
	for _, tc := range []struct {
		service, dependency, condition string
	}{
		{"migrate", "clickhouse", types.ServiceConditionHealthy},
		{"ingest", "migrate", types.ServiceConditionCompletedSuccessfully},
		{"ingest", "kafka-init", types.ServiceConditionCompletedSuccessfully},
		{"ingest", "kafka", types.ServiceConditionHealthy},
		{"transform", "migrate", types.ServiceConditionCompletedSuccessfully},
		{"kafka-init", "kafka", types.ServiceConditionHealthy},
		{"grafana", "clickhouse", types.ServiceConditionHealthy},
		{"simulate", "kafka-init", types.ServiceConditionCompletedSuccessfully},
		{"query", "clickhouse", types.ServiceConditionHealthy},
		{"gateway", "kafka", types.ServiceConditionHealthy},
		{"gateway", "kafka-init", types.ServiceConditionCompletedSuccessfully},
	} {
		t.Run(tc.service+"->"+tc.dependency, func(t *testing.T) {
			d, ok := service(t, p, tc.service).DependsOn[tc.dependency]
			if !ok {
				t.Fatalf("%s does not depend on %s", tc.service, tc.dependency)
			}
			if d.Condition != tc.condition {
				t.Errorf("%s waits for %s with condition %q, want %q", tc.service, tc.dependency, d.Condition, tc.condition)
			}
		})
	}
}

func TestRestartPolicies(t *testing.T) {
	p := loadProject(t)
	oneShot := map[string]bool{"kafka-init": true, "migrate": true, "simulate": true, "query": true}
	for _, s := range p.AllServices() {
		t.Run(s.Name, func(t *testing.T) {
			switch {
			case oneShot[s.Name]:
				// "always"/"unless-stopped" would rerun a finished job forever
				// and service_completed_successfully would never hold.
				if s.Restart != types.RestartPolicyOnFailure && s.Restart != types.RestartPolicyNo {
					t.Errorf("one-shot job has restart %q, want on-failure or no", s.Restart)
				}
			default:
				if s.Restart != types.RestartPolicyUnlessStopped && s.Restart != types.RestartPolicyAlways {
					t.Errorf("long-running service has restart %q, want unless-stopped or always", s.Restart)
				}
			}
		})
	}
}

func TestOnlyGrafanaPublishesPorts(t *testing.T) {
	p := loadProject(t)
	// Grafana for people, the gateway for webhook senders; nothing else.
	published := map[string]uint32{"grafana": 3000, "gateway": 8088}
	for _, s := range p.AllServices() {
		t.Run(s.Name, func(t *testing.T) {
			port, ok := published[s.Name]
			if !ok {
				if len(s.Ports) > 0 {
					t.Errorf("publishes %v; only Grafana and the gateway may publish a host port (use deploy/compose.ports.yml)", s.Ports)
				}
				return
			}
			if len(s.Ports) != 1 || s.Ports[0].Target != port || s.Ports[0].Published != fmt.Sprint(port) {
				t.Errorf("%s ports = %+v, want exactly host %d -> %d", s.Name, s.Ports, port, port)
			}
			if s.Ports[0].HostIP != "127.0.0.1" {
				t.Errorf("%s binds %q by default, want 127.0.0.1 (opt in to other interfaces with GRAFANA_BIND / GATEWAY_BIND)", s.Name, s.Ports[0].HostIP)
			}
		})
	}
}

func TestVolumes(t *testing.T) {
	p := loadProject(t)
	root := repoRoot(t)
	// State lives in named volumes so `docker compose down` (without -v)
	// keeps it and nothing is written into the checkout.
	for _, tc := range []struct{ service, target string }{
		{"kafka", "/var/lib/kafka/data"},
		{"clickhouse", "/var/lib/clickhouse"},
		{"grafana", "/var/lib/grafana"},
	} {
		t.Run(tc.service+" "+tc.target, func(t *testing.T) {
			var found bool
			for _, v := range service(t, p, tc.service).Volumes {
				if v.Target != tc.target {
					continue
				}
				found = true
				if v.Type != types.VolumeTypeVolume {
					t.Errorf("%s is a %s mount, want a named volume", tc.target, v.Type)
				}
				if _, ok := p.Volumes[v.Source]; !ok {
					t.Errorf("volume %q is not declared under top-level volumes", v.Source)
				}
			}
			if !found {
				t.Errorf("no volume at %s", tc.target)
			}
		})
	}
	// Every bind mount (Grafana provisioning, ClickHouse config) comes from
	// the repository, exists, and is mounted read-only.
	for _, s := range p.AllServices() {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			t.Run(s.Name+" "+v.Target, func(t *testing.T) {
				rel, err := filepath.Rel(root, v.Source)
				if err != nil || strings.HasPrefix(rel, "..") {
					t.Fatalf("bind source %s is outside the repository", v.Source)
				}
				if _, err := os.Stat(v.Source); err != nil {
					t.Errorf("bind source ./%s does not exist in the repository: %v", rel, err)
				}
				if !v.ReadOnly {
					t.Errorf("bind mount ./%s should be read-only (:ro)", rel)
				}
			})
		}
	}
}

func TestGrafanaProvisioning(t *testing.T) {
	p := loadProject(t)
	root := repoRoot(t)
	g := service(t, p, "grafana")
	var prov string
	for _, v := range g.Volumes {
		if v.Target == "/etc/grafana/provisioning" {
			prov = v.Source
		}
	}
	if prov == "" {
		t.Fatal("grafana mounts nothing at /etc/grafana/provisioning")
	}
	if rel, _ := filepath.Rel(root, prov); rel != filepath.Join("dashboards", "provisioning") {
		t.Errorf("provisioning mounted from ./%s, want ./dashboards/provisioning (written by `impact dashboards export`)", rel)
	}
	// Grafana reads providers from these two subdirectories; an empty or
	// missing one means a stack with no datasource or no dashboards.
	for _, sub := range []string{"datasources", "dashboards"} {
		entries, err := os.ReadDir(filepath.Join(prov, sub))
		if err != nil {
			t.Errorf("provisioning/%s: %v", sub, err)
			continue
		}
		var yamls int
		for _, e := range entries {
			if n := e.Name(); strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
				yamls++
			}
		}
		if yamls == 0 {
			t.Errorf("provisioning/%s has no .yaml provider file", sub)
		}
	}
	// Grafana expands $VAR / ${VAR} in provisioning files from its own
	// environment; an unset one silently becomes "" (no host, no password).
	ref := regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	usedVars := map[string]bool{}
	err := filepath.WalkDir(prov, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, m := range ref.FindAllSubmatch(raw, -1) {
			usedVars[string(m[1])] = true
			if _, ok := g.Environment[string(m[1])]; !ok {
				t.Errorf("./%s uses $%s, which the grafana service does not set", rel, m[1])
			}
		}
		// File providers must point inside the mounted directory, at a
		// directory that exists in the repository.
		var doc struct {
			Providers []struct {
				Name    string `yaml:"name"`
				Type    string `yaml:"type"`
				Options struct {
					Path string `yaml:"path"`
				} `yaml:"options"`
			} `yaml:"providers"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Errorf("./%s: %v", rel, err)
			return nil
		}
		for _, pr := range doc.Providers {
			if pr.Type != "" && pr.Type != "file" {
				continue
			}
			in, ok := strings.CutPrefix(pr.Options.Path, "/etc/grafana/provisioning/")
			if !ok {
				t.Errorf("./%s: provider %q reads %q, outside the mounted /etc/grafana/provisioning", rel, pr.Name, pr.Options.Path)
				continue
			}
			dir := filepath.Join(prov, filepath.FromSlash(in))
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Errorf("./%s: provider %q path: %v", rel, pr.Name, err)
				continue
			}
			var jsons int
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".json") {
					jsons++
				}
			}
			if jsons == 0 {
				t.Errorf("./%s: provider %q path %s holds no dashboard JSON", rel, pr.Name, pr.Options.Path)
			}
		}
		return nil
	})
	if err != nil {
		t.Errorf("walk provisioning: %v", err)
	}

	// The provisioned ClickHouse datasource, with Grafana's environment
	// expanded, must reach the compose ClickHouse as the read-only user.
	dsFiles, _ := filepath.Glob(filepath.Join(prov, "datasources", "*.y*ml"))
	var chSources int
	for _, f := range dsFiles {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		expanded := ref.ReplaceAllStringFunc(string(raw), func(m string) string {
			return env(g, ref.FindStringSubmatch(m)[1])
		})
		var doc struct {
			Datasources []struct {
				Name     string         `yaml:"name"`
				Type     string         `yaml:"type"`
				JSONData map[string]any `yaml:"jsonData"`
				Secure   map[string]any `yaml:"secureJsonData"`
			} `yaml:"datasources"`
		}
		if err := yaml.Unmarshal([]byte(expanded), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, ds := range doc.Datasources {
			if ds.Type != "grafana-clickhouse-datasource" {
				continue
			}
			chSources++
			addr := net.JoinHostPort(fmt.Sprint(ds.JSONData["host"]), fmt.Sprint(ds.JSONData["port"]))
			for _, c := range []struct{ what, got, want string }{
				{"host:port", addr, env(service(t, p, "migrate"), "IMPACT_CLICKHOUSE_ADDR")},
				{"protocol", fmt.Sprint(ds.JSONData["protocol"]), "native"},
				{"username", fmt.Sprint(ds.JSONData["username"]), "impact_reader"},
				{"defaultDatabase", fmt.Sprint(ds.JSONData["defaultDatabase"]), "impact"},
				{"password", fmt.Sprint(ds.Secure["password"]), testEnv()["IMPACT_READER_PASSWORD"]},
			} {
				if c.got != c.want {
					t.Errorf("datasource %q: %s = %q, want %q", ds.Name, c.what, c.got, c.want)
				}
			}
		}
	}
	if chSources == 0 {
		t.Error("no grafana-clickhouse-datasource in dashboards/provisioning/datasources")
	}
	// And no dead configuration: every IMPACT_* variable given to Grafana
	// is used by a provisioning file.
	for k := range g.Environment {
		if strings.HasPrefix(k, "IMPACT_") && !usedVars[k] {
			t.Errorf("grafana sets %s, which no provisioning file uses", k)
		}
	}

	pre := env(g, "GF_PLUGINS_PREINSTALL_SYNC") + env(g, "GF_PLUGINS_PREINSTALL") + env(g, "GF_INSTALL_PLUGINS")
	if !regexp.MustCompile(`grafana-clickhouse-datasource@\d+\.\d+\.\d+`).MatchString(pre) {
		t.Errorf("grafana-clickhouse-datasource is not preinstalled at a pinned version (plugins env = %q)", pre)
	}
	if u := env(g, "IMPACT_CLICKHOUSE_USER"); u != "impact_reader" {
		t.Errorf("grafana's datasource user = %q, want the read-only impact_reader", u)
	}
}

var (
	secretKey = regexp.MustCompile(`(?i)(password|passwd|secret|token|credential|private_key|api_key)`)
	// A secret value may only be a reference to a variable: ${NAME} or
	// ${NAME:?message} / ${NAME?message}, or ${NAME:-} for an optional one
	// whose absence disables a feature (a gateway source); a non-empty
	// default (${NAME:-x}) would be a committed secret.
	requiredRef = regexp.MustCompile(`^\$\{[A-Z][A-Z0-9_]*((:?\?[^}]*)|:-)?\}$`)
)

func TestNoSecretLiterals(t *testing.T) {
	for name, s := range rawServices(t) {
		envs, _ := s["environment"].(map[string]any)
		for k, v := range envs {
			if !secretKey.MatchString(k) || strings.HasSuffix(k, "_FILE") {
				continue
			}
			val := fmt.Sprint(v)
			if !requiredRef.MatchString(val) {
				t.Errorf("%s: environment %s = %q; secrets must be ${VAR:?...} references to the env file", name, k, val)
			}
		}
	}

	// Belt and braces over the raw text: credentials in URLs, key material,
	// and `password: literal` anywhere (labels, commands, healthchecks).
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pat := range []*regexp.Regexp{
		regexp.MustCompile(`://[^/\s:@]+:[^@\s/$]+@`),
		regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`),
		regexp.MustCompile(`(?im)^\s*-?\s*["']?[a-z0-9_.-]*(password|secret|token)[a-z0-9_.-]*["']?\s*[:=]\s*["']?[^$\s"'{]\S*`),
		regexp.MustCompile(`(?i)--password[ =]+[^$\s]`),
	} {
		for _, m := range pat.FindAll(raw, -1) {
			t.Errorf("docker-compose.yml: secret-looking literal %q (pattern %s)", m, pat)
		}
	}

	// The same rule for the ClickHouse user file: passwords only from_env.
	users := readUsers(t)
	for name, u := range users {
		if u.Password.Text != "" || u.PasswordSHA256 != "" {
			t.Errorf("users.d: %s has a literal password; use from_env", name)
		}
	}
}

func TestRequiredSecretsFailLoudly(t *testing.T) {
	for _, missing := range []string{"IMPACT_WRITER_PASSWORD", "IMPACT_READER_PASSWORD", "GRAFANA_ADMIN_PASSWORD", "IMPACT_EVENTS_TOKEN"} {
		t.Run(missing, func(t *testing.T) {
			e := testEnv()
			delete(e, missing)
			_, err := projectOptions(t, e).LoadProject(context.Background())
			if err == nil {
				t.Fatalf("compose loaded without %s; it must refuse (${%s:?...})", missing, missing)
			}
			if !strings.Contains(err.Error(), missing) {
				t.Errorf("error does not name the missing variable %s: %v", missing, err)
			}
		})
	}
}

// TestEnvExample checks deploy/impact.env.example lists every variable the
// compose file requires, with secrets left empty, and that a copy of it with
// the secrets filled in is enough to load the stack.
func TestEnvExample(t *testing.T) {
	root := repoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	// Comments may show ${VAR:?} as an example; only YAML counts.
	raw = regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAll(raw, nil)
	required := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*):?\?`).FindAllSubmatch(raw, -1) {
		required[string(m[1])] = true
	}
	optional := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*):?-`).FindAllSubmatch(raw, -1) {
		optional[string(m[1])] = true
	}
	if len(required) == 0 {
		t.Fatal("docker-compose.yml requires no variables; secrets must come from the env file")
	}

	f, err := os.Open(filepath.Join(root, "deploy", "impact.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := map[string]string{}
	documented := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		commented := strings.HasPrefix(line, "#")
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "#"), "=")
		if !ok || !regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`).MatchString(k) {
			continue
		}
		documented[k] = true
		if !commented {
			set[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for k := range required {
		v, ok := set[k]
		if !ok {
			t.Errorf("env example does not list required %s", k)
		} else if v != "" {
			t.Errorf("env example sets %s=%q; leave secrets empty so nobody runs with a published one", k, v)
		}
	}
	for k := range optional {
		if !documented[k] {
			t.Errorf("env example does not document optional %s", k)
		}
	}
	filled := map[string]string{}
	for k := range set {
		filled[k] = "filled-" + strings.ToLower(k)
	}
	if _, err := projectOptions(t, filled).LoadProject(context.Background()); err != nil {
		t.Errorf("compose does not load with the env example's variables filled in: %v", err)
	}
}

// TestConnections checks who talks to whom, as whom: the impact services
// reach Kafka and ClickHouse by their compose names, write as impact_writer,
// and the read paths (Grafana, query) use impact_reader.
func TestConnections(t *testing.T) {
	p := loadProject(t)
	for _, tc := range []struct {
		service, user, password string
		kafka                   bool
	}{
		{"migrate", "impact_writer", "test-writer", false},
		{"ingest", "impact_writer", "test-writer", true},
		{"transform", "impact_writer", "test-writer", false},
		{"simulate", "impact_writer", "test-writer", true},
		{"query", "impact_reader", "test-reader", false},
		{"grafana", "impact_reader", "test-reader", false},
	} {
		t.Run(tc.service, func(t *testing.T) {
			s := service(t, p, tc.service)
			if got := env(s, "IMPACT_CLICKHOUSE_ADDR"); got != "clickhouse:9000" && tc.service != "grafana" {
				t.Errorf("IMPACT_CLICKHOUSE_ADDR = %q, want clickhouse:9000", got)
			}
			if got := env(s, "IMPACT_CLICKHOUSE_USER"); got != tc.user {
				t.Errorf("IMPACT_CLICKHOUSE_USER = %q, want %s", got, tc.user)
			}
			if got := env(s, "IMPACT_CLICKHOUSE_PASSWORD"); got != tc.password {
				t.Errorf("IMPACT_CLICKHOUSE_PASSWORD comes from the wrong variable (got %q)", got)
			}
			if got := env(s, "IMPACT_CLICKHOUSE_DATABASE"); got != "impact" {
				t.Errorf("IMPACT_CLICKHOUSE_DATABASE = %q, want impact (the users.d grants name it)", got)
			}
			if tc.kafka {
				if got := config.SplitList(env(s, "IMPACT_KAFKA_BROKERS")); !slices.Equal(got, []string{"kafka:9092"}) {
					t.Errorf("IMPACT_KAFKA_BROKERS = %v, want [kafka:9092]", got)
				}
			}
		})
	}
	ch := service(t, p, "clickhouse")
	for _, u := range readUsers(t) {
		if u.Password.FromEnv == "" {
			continue
		}
		if _, ok := ch.Environment[u.Password.FromEnv]; !ok {
			t.Errorf("users.d reads password from %s, which the clickhouse service does not set", u.Password.FromEnv)
		}
	}
}

// TestKafkaTopics checks the topics kafka-init creates are exactly the
// topics of event contract v1 (config.DefaultTopics), so ingest never
// subscribes to a topic that does not exist (auto-creation is off).
func TestKafkaTopics(t *testing.T) {
	p := loadProject(t)
	k := service(t, p, "kafka")
	if got := env(k, "KAFKA_AUTO_CREATE_TOPICS_ENABLE"); got != "false" {
		t.Errorf("KAFKA_AUTO_CREATE_TOPICS_ENABLE = %q, want false", got)
	}
	if got := env(k, "KAFKA_PROCESS_ROLES"); got != "broker,controller" {
		t.Errorf("KAFKA_PROCESS_ROLES = %q, want KRaft combined mode broker,controller", got)
	}
	script := strings.Join(service(t, p, "kafka-init").Command, "\n")
	m := regexp.MustCompile(`for t in ([a-z. ]+); do`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("kafka-init command has no `for t in ...; do` topic list:\n%s", script)
	}
	got := strings.Fields(m[1])
	d := config.DefaultTopics()
	want := append(d.Sources(), d.DLQTopic())
	// The gateway's raw topics (the default prefix), so it never writes
	// to a topic the broker would refuse to create.
	var gc gateway.Config
	for _, s := range gateway.Sources {
		want = append(want, gc.RawTopic(s))
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("kafka-init creates %v, want the contract and raw topics %v", got, want)
	}
	if !strings.Contains(script, "--if-not-exists") {
		t.Error("kafka-init must be idempotent (--if-not-exists): it runs on every `up`")
	}
}

// users.d XML, just the parts the tests check.
type chPassword struct {
	FromEnv string `xml:"from_env,attr"`
	Text    string `xml:",chardata"`
}

type chUser struct {
	Password       chPassword `xml:"password"`
	PasswordSHA256 string     `xml:"password_sha256_hex"`
	Profile        string     `xml:"profile"`
	Networks       []string   `xml:"networks>ip"`
	Grants         []string   `xml:"grants>query"`
}

func readUsers(t *testing.T) map[string]chUser {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "clickhouse", "users.d", "impact.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// The users section holds one element per user name, so walk tokens
	// rather than declare a struct per name.
	dec := xml.NewDecoder(strings.NewReader(string(raw)))
	users := map[string]chUser{}
	depth := 0
	inUsers := false
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 && el.Name.Local == "users" {
				inUsers = true
				continue
			}
			if inUsers && depth == 3 {
				var u chUser
				if err := dec.DecodeElement(&u, &el); err != nil {
					t.Fatalf("users.d user %s: %v", el.Name.Local, err)
				}
				users[el.Name.Local] = u
				depth--
			}
		case xml.EndElement:
			if depth == 2 && el.Name.Local == "users" {
				inUsers = false
			}
			depth--
		}
	}
	if len(users) == 0 {
		t.Fatal("users.d/impact.xml defines no users")
	}
	return users
}

func TestClickHouseUsers(t *testing.T) {
	users := readUsers(t)
	for _, tc := range []struct {
		user, profile, passwordEnv string
		grants                     []string
	}{
		{"impact_writer", "impact_writer", "IMPACT_WRITER_PASSWORD", []string{"GRANT ALL ON impact.*", "GRANT ALL ON impact_dept_*.*", "GRANT SHOW DATABASES ON default.*"}},
		{"impact_reader", "impact_reader", "IMPACT_READER_PASSWORD", []string{"GRANT SELECT ON impact.*"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			u, ok := users[tc.user]
			if !ok {
				t.Fatalf("no user %s", tc.user)
			}
			if u.Password.FromEnv != tc.passwordEnv {
				t.Errorf("password from_env = %q, want %s", u.Password.FromEnv, tc.passwordEnv)
			}
			if u.Profile != tc.profile {
				t.Errorf("profile = %q, want %s", u.Profile, tc.profile)
			}
			if !slices.Equal(u.Grants, tc.grants) {
				t.Errorf("grants = %q, want %q", u.Grants, tc.grants)
			}
		})
	}
	if d, ok := users["default"]; !ok || !slices.Equal(d.Networks, []string{"::1", "127.0.0.1"}) {
		t.Errorf("default user must be loopback-only, got networks %v", d.Networks)
	}

	// The reader's profile is package readonly's, constraints included
	// (compose runs a current ClickHouse).
	checkReaderProfile(t)
}

// checkReaderProfile compares users.d's impact_reader profile with
// readonly.Profile and readonly.Constraints, so the production profile and
// the one the tests run under (chlocal) cannot drift apart.
func checkReaderProfile(t *testing.T) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "clickhouse", "users.d", "impact.xml"))
	if err != nil {
		t.Fatal(err)
	}
	type element struct {
		XMLName xml.Name
		Value   string    `xml:",chardata"`
		Inner   []element `xml:",any"`
	}
	var doc struct {
		Profiles element `xml:"profiles"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse users.d: %v", err)
	}
	var reader *element
	for i := range doc.Profiles.Inner {
		if doc.Profiles.Inner[i].XMLName.Local == readonly.ProfileName {
			reader = &doc.Profiles.Inner[i]
		}
	}
	if reader == nil {
		t.Fatalf("users.d has no %s profile", readonly.ProfileName)
	}
	gotSettings := map[string]string{}
	gotConstraints := map[string]readonly.Constraint{}
	for _, e := range reader.Inner {
		if e.XMLName.Local != "constraints" {
			gotSettings[e.XMLName.Local] = strings.TrimSpace(e.Value)
			continue
		}
		for _, c := range e.Inner {
			con := readonly.Constraint{Name: c.XMLName.Local}
			changeable := false
			for _, b := range c.Inner {
				switch b.XMLName.Local {
				case "min":
					con.Min = strings.TrimSpace(b.Value)
				case "max":
					con.Max = strings.TrimSpace(b.Value)
				case "changeable_in_readonly":
					changeable = true
				default:
					t.Errorf("constraint %s: unexpected <%s>", con.Name, b.XMLName.Local)
				}
			}
			if !changeable {
				t.Errorf("constraint %s is not changeable_in_readonly: under readonly=1 it would change nothing", con.Name)
			}
			gotConstraints[con.Name] = con
		}
	}
	wantSettings := map[string]string{}
	for _, s := range readonly.Profile() {
		wantSettings[s.Name] = s.Value
	}
	if !maps.Equal(gotSettings, wantSettings) {
		t.Errorf("users.d %s profile settings %v, package readonly says %v", readonly.ProfileName, gotSettings, wantSettings)
	}
	wantConstraints := map[string]readonly.Constraint{}
	for _, c := range readonly.Constraints() {
		wantConstraints[c.Name] = c
	}
	if !maps.Equal(gotConstraints, wantConstraints) {
		t.Errorf("users.d %s profile constraints %v, package readonly says %v", readonly.ProfileName, gotConstraints, wantConstraints)
	}
	if u := readUsers(t)["impact_reader"]; u.Profile != readonly.ProfileName || !slices.Equal(u.Grants, readonly.Grants("impact")) {
		t.Errorf("impact_reader: profile %q, grants %q; want %q and %q", u.Profile, u.Grants, readonly.ProfileName, readonly.Grants("impact"))
	}
}

// TestPortsOverride checks deploy/compose.ports.yml publishes exactly Kafka's
// external listener and ClickHouse, on loopback unless told otherwise.
func TestPortsOverride(t *testing.T) {
	p, err := projectFilesOptions(t, []string{"docker-compose.yml", "deploy/compose.ports.yml"}, testEnv()).LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load docker-compose.yml + deploy/compose.ports.yml: %v", err)
	}
	want := map[string][]uint32{"kafka": {9094}, "clickhouse": {9000, 8123}, "grafana": {3000}, "gateway": {8088}}
	for _, s := range p.AllServices() {
		var got []uint32
		for _, port := range s.Ports {
			got = append(got, port.Target)
			if port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %d on %q by default, want 127.0.0.1", s.Name, port.Target, port.HostIP)
			}
			if port.Published != fmt.Sprint(port.Target) {
				t.Errorf("%s publishes container port %d as host port %s; keep them equal so the docs hold", s.Name, port.Target, port.Published)
			}
		}
		if !slices.Equal(got, want[s.Name]) {
			t.Errorf("%s publishes %v, want %v", s.Name, got, want[s.Name])
		}
	}
	// The published port must be the listener Kafka advertises to outside
	// clients, or producers bootstrap and then dial an unreachable address.
	k := service(t, p, "kafka")
	if !strings.Contains(env(k, "KAFKA_LISTENERS"), "EXTERNAL://:9094") {
		t.Errorf("KAFKA_LISTENERS = %q has no EXTERNAL listener on 9094", env(k, "KAFKA_LISTENERS"))
	}
	if !strings.Contains(env(k, "KAFKA_ADVERTISED_LISTENERS"), "EXTERNAL://localhost:9094") {
		t.Errorf("KAFKA_ADVERTISED_LISTENERS = %q does not advertise EXTERNAL at localhost:9094 by default", env(k, "KAFKA_ADVERTISED_LISTENERS"))
	}
}

// TestKafkaVersionMatchesTestBroker keeps the compose broker on the Apache
// Kafka release the real-broker tests run (scripts/kafka/pom.xml), so what
// CI proves about kafka-go and the broker holds in production.
func TestKafkaVersionMatchesTestBroker(t *testing.T) {
	pom, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "kafka", "pom.xml"))
	if err != nil {
		t.Fatalf("read the real-broker pom: %v", err)
	}
	m := regexp.MustCompile(`<kafka\.version>([^<]+)</kafka\.version>`).FindSubmatch(pom)
	if m == nil {
		t.Fatal("scripts/kafka/pom.xml has no <kafka.version>")
	}
	want := "apache/kafka:" + string(m[1])
	p := loadProject(t)
	for _, name := range []string{"kafka", "kafka-init"} {
		if got := service(t, p, name).Image; got != want {
			t.Errorf("%s image %s, want %s (the broker the tests run)", name, got, want)
		}
	}
}

// TestIngestScales checks `docker compose up --scale ingest=N` can work:
// replicas share the consumer group, so nothing may pin one container
// (container_name, host ports, a group id per container).
func TestIngestScales(t *testing.T) {
	p := loadProject(t)
	s := service(t, p, "ingest")
	if s.ContainerName != "" {
		t.Errorf("ingest sets container_name %q; --scale needs compose-generated names", s.ContainerName)
	}
	if len(s.Ports) > 0 {
		t.Errorf("ingest publishes ports %v; replicas would collide", s.Ports)
	}
	for _, a := range s.Command {
		if a == "--group" || strings.HasPrefix(a, "--group=") {
			t.Errorf("ingest command sets %q; all replicas must share the default group", a)
		}
	}
	if s.Deploy != nil && s.Deploy.Replicas != nil && *s.Deploy.Replicas < 1 {
		t.Errorf("ingest deploy.replicas = %d", *s.Deploy.Replicas)
	}
}

// TestStopGracePeriod: `docker compose stop` sends SIGTERM and kills after
// stop_grace_period (default 10s); ingest needs its shutdown timeout to
// flush and commit what it has read, or the next start re-reads it.
func TestStopGracePeriod(t *testing.T) {
	p := loadProject(t)
	s := service(t, p, "ingest")
	if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= ingest.DefaultShutdown {
		t.Errorf("ingest stop_grace_period = %v, want more than ingest's shutdown timeout %v", s.StopGracePeriod, ingest.DefaultShutdown)
	}
	for _, a := range s.Command {
		if a == "--shutdown-timeout" || strings.HasPrefix(a, "--shutdown-timeout=") {
			t.Errorf("ingest command sets %s; compare it with stop_grace_period here", a)
		}
	}
}

// TestGatewayService: the gateway gets every variable it reads (secrets,
// vendor API access, files), listens on the published port, probes its
// readiness on the unpublished ops port, has no ClickHouse credentials, and
// may finish in-flight requests on stop.
func TestGatewayService(t *testing.T) {
	p := loadProject(t)
	g := service(t, p, "gateway")
	// The names gateway.Config.FromEnv reads, each with or without _FILE.
	var read []string
	var c gateway.Config
	_ = c.FromEnv(gateway.Env{Lookup: func(k string) (string, bool) {
		if strings.HasSuffix(k, "_FILE") {
			return "", false
		}
		read = append(read, k)
		return "set", true // so settings that depend on others are read too
	}})
	if len(read) < 10 {
		t.Fatalf("FromEnv read only %v", read)
	}
	for _, k := range read {
		_, plain := g.Environment[k]
		_, file := g.Environment[k+"_FILE"]
		if !plain && !file {
			t.Errorf("gateway does not pass %s (or %s_FILE) through", k, k)
		}
	}
	for k := range g.Environment {
		if strings.HasPrefix(k, "IMPACT_CLICKHOUSE") {
			t.Errorf("gateway gets %s; it writes only to Kafka", k)
		}
	}
	if got := env(g, "IMPACT_KAFKA_BROKERS"); got != "kafka:9092" {
		t.Errorf("IMPACT_KAFKA_BROKERS = %q", got)
	}
	if env(g, "IMPACT_EVENTS_TOKEN") != "test-events-token" {
		t.Errorf("IMPACT_EVENTS_TOKEN comes from the wrong variable")
	}
	args := strings.Join(g.Command, " ")
	if !strings.Contains(args, "--listen :8088") || !strings.Contains(args, "--ops-listen :9465") {
		t.Errorf("command %q: want --listen :8088 (published) and --ops-listen :9465", args)
	}
	if probe := strings.Join(g.HealthCheck.Test, " "); !strings.Contains(probe, "127.0.0.1:9465/readyz") {
		t.Errorf("health check %q must probe the ops port's /readyz", probe)
	}
	if g.StopGracePeriod == nil || time.Duration(*g.StopGracePeriod) <= 30*time.Second {
		t.Errorf("stop_grace_period %v, want more than the gateway's 30 s shutdown timeout", g.StopGracePeriod)
	}
}
