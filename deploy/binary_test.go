package deploy

import (
	"bytes"
	"context"
	"debug/elf"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  string
)

// imageBinary builds cmd/impact with the Dockerfile's own build command
// (read from the Dockerfile, so a broken flag there fails here), once per
// test binary.
func imageBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the impact binary; skipped with -short")
	}
	buildOnce.Do(func() {
		root := repoRoot(t)
		var run string
		for _, in := range parseDockerfile(t, filepath.Join(root, "Dockerfile"))[0].insts {
			if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
				run = in.args
			}
		}
		if run == "" {
			buildErr = "Dockerfile builder stage has no RUN ... go build"
			return
		}
		// Only the build itself: what follows && prepares the image layout.
		run, _, _ = strings.Cut(run, "&&")
		dir, err := os.MkdirTemp("", "impact-image-")
		if err != nil {
			buildErr = err.Error()
			return
		}
		builtBin = filepath.Join(dir, "impact")
		if !strings.Contains(run, "/out/impact") {
			buildErr = "Dockerfile go build does not write /out/impact: " + run
			return
		}
		run = strings.ReplaceAll(run, "/out/impact", builtBin)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", run)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = "build as in the Dockerfile (" + run + "): " + err.Error() + "\n" + string(out)
		}
	})
	if buildErr != "" {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// TestBinaryStatic: the runtime image is scratch, so a binary that needs a
// dynamic loader or libc would not even start there.
func TestBinaryStatic(t *testing.T) {
	bin := imageBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("open built binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a PT_INTERP program header (dynamic loader); build with CGO_ENABLED=0")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("binary links shared libraries %v", libs)
	}
}

// TestHealthcheckCommand runs the probe the ingest container uses against
// real HTTP servers.
func TestHealthcheckCommand(t *testing.T) {
	bin := imageBinary(t)
	status := func(code int) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		}))
		t.Cleanup(s.Close)
		return s.URL + "/readyz"
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	// A port that was free a moment ago: connection refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/readyz"
	l.Close()

	for _, tc := range []struct {
		name string
		args []string
		ok   bool
	}{
		{"ready", []string{status(http.StatusOK)}, true},
		{"no content", []string{status(http.StatusNoContent)}, true},
		{"not ready", []string{status(http.StatusServiceUnavailable)}, false},
		{"not found", []string{status(http.StatusNotFound)}, false},
		{"refused", []string{closed}, false},
		{"timeout", []string{"--timeout", "300ms", slow.URL}, false},
		{"no url", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			cmd := exec.Command(bin, append([]string{"healthcheck"}, tc.args...)...)
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if tc.ok && err != nil {
				t.Errorf("healthcheck %v failed: %v\n%s", tc.args, err, out.String())
			}
			if !tc.ok && err == nil {
				t.Errorf("healthcheck %v exited 0; want non-zero\n%s", tc.args, out.String())
			}
		})
	}
}

// TestComposeCommandsExist runs every command line the compose file gives
// the impact image with --help, so a renamed subcommand or flag breaks this
// test instead of a deployment.
func TestComposeCommandsExist(t *testing.T) {
	bin := imageBinary(t)
	p := loadProject(t)
	for _, s := range p.AllServices() {
		if s.Build == nil {
			continue
		}
		lines := map[string][]string{}
		args := []string(s.Command)
		if len(s.Entrypoint) > 0 {
			// entrypoint ["/usr/local/bin/impact", "query"]: keep the
			// subcommand, drop the binary path.
			args = append(append([]string{}, s.Entrypoint[1:]...), args...)
		}
		lines["command"] = args
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 1 && hc.Test[0] == "CMD" && strings.HasSuffix(hc.Test[1], "/impact") {
			lines["healthcheck"] = hc.Test[2:]
		}
		for what, args := range lines {
			t.Run(s.Name+" "+what, func(t *testing.T) {
				if len(args) == 0 {
					t.Fatal("no command: the image's default is --help")
				}
				var out bytes.Buffer
				cmd := exec.Command(bin, append(append([]string{}, args...), "--help")...)
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Run(); err != nil {
					t.Fatalf("impact %s --help: %v\n%s", strings.Join(args, " "), err, out.String())
				}
				if !strings.Contains(out.String(), "Usage:") || !strings.Contains(out.String(), "impact "+args[0]) {
					t.Errorf("impact %s --help did not print the subcommand's usage:\n%s", strings.Join(args, " "), out.String())
				}
			})
		}
	}
}
