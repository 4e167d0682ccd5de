package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, USER...
	args string
}

// stage is one FROM ... section.
type stage struct {
	base, name string
	insts      []instruction
}

// parseDockerfile splits a Dockerfile into stages. It understands what our
// Dockerfile uses (comments, line continuations, FROM ... AS name), which is
// all these checks need; it is not a general parser.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		insts []instruction
		cur   strings.Builder
		start int
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		insts = append(insts, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var stages []stage
	for _, in := range insts {
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			var st stage
			for _, w := range f {
				if !strings.HasPrefix(w, "--") {
					st.base = w
					break
				}
			}
			if len(f) >= 3 && strings.EqualFold(f[len(f)-2], "AS") {
				st.name = f[len(f)-1]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			continue // ARG before FROM
		}
		stages[len(stages)-1].insts = append(stages[len(stages)-1].insts, in)
	}
	return stages
}

var pinnedBase = regexp.MustCompile(`^[a-z0-9./_-]+:\d+\.\d+\.\d+(-[a-z0-9.]+)?(@sha256:[0-9a-f]{64})?$|^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$|^scratch$`)

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stage(s); want a multi-stage build (builder + minimal runtime)", len(stages))
	}
	names := map[string]bool{}
	for i, st := range stages {
		if !pinnedBase.MatchString(st.base) && !names[st.base] {
			t.Errorf("stage %d: base image %q is not pinned (exact version tag, digest, or scratch)", i, st.base)
		}
		if st.name != "" {
			names[st.name] = true
		}
	}

	build := stages[0]
	var static bool
	for _, in := range build.insts {
		if in.cmd == "RUN" && strings.Contains(in.args, "CGO_ENABLED=0") && strings.Contains(in.args, "go build") && strings.Contains(in.args, "./cmd/impact") {
			static = true
		}
	}
	if !static {
		t.Error("builder stage has no RUN with CGO_ENABLED=0 go build ... ./cmd/impact: the runtime image has no libc")
	}

	final := stages[len(stages)-1]
	if final.base != "scratch" && !strings.Contains(final.base, "distroless") {
		t.Errorf("runtime base %q; want scratch or distroless (no shell, no package manager)", final.base)
	}
	var user, entrypoint string
	var copiesBinary bool
	for _, in := range final.insts {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "COPY":
			if strings.Contains(in.args, "--from=") && strings.Contains(in.args, "impact") {
				copiesBinary = true
			}
		case "RUN":
			t.Errorf("line %d: RUN in the runtime stage (%s); it has no shell", in.line, in.args)
		}
	}
	if !copiesBinary {
		t.Error("runtime stage does not COPY --from the builder's impact binary")
	}
	uid, _, _ := strings.Cut(user, ":")
	switch uid {
	case "":
		t.Error("runtime stage sets no USER; it would run as root")
	case "0", "root":
		t.Errorf("runtime stage runs as USER %q", user)
	}
	if !strings.Contains(entrypoint, "impact") {
		t.Errorf("ENTRYPOINT = %q, want the impact binary", entrypoint)
	}
	var labels bool
	for _, st := range stages {
		for _, in := range st.insts {
			if in.cmd == "LABEL" && strings.Contains(in.args, "org.opencontainers.image.source") {
				labels = true
			}
		}
	}
	if !labels {
		t.Error("no OCI labels (org.opencontainers.image.*)")
	}
}

// TestBuilderMatchesGoMod keeps the builder image on the toolchain go.mod
// asks for: an older one refuses to build, a newer one drifts from CI.
func TestBuilderMatchesGoMod(t *testing.T) {
	root := repoRoot(t)
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+(\.\d+)?)$`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	want := string(m[1])
	if tc := regexp.MustCompile(`(?m)^toolchain go(\S+)$`).FindSubmatch(mod); tc != nil {
		want = string(tc[1])
	}
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	base := stages[0].base
	if !strings.HasPrefix(base, "golang:"+want) || (len(base) > len("golang:"+want) && base[len("golang:"+want)] != '-' && base[len("golang:"+want)] != '@') {
		t.Errorf("builder image %q, want golang:%s (go.mod)", base, want)
	}
}

func TestDockerignore(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(raw), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	// .git bloats the context; .env holds the stack's secrets and must never
	// end up in an image layer.
	for _, must := range []string{".git", ".env"} {
		if !lines[must] {
			t.Errorf(".dockerignore does not exclude %s", must)
		}
	}
	for _, mustNot := range []string{"go.mod", "go.sum", "cmd", "*.go"} {
		if lines[mustNot] {
			t.Errorf(".dockerignore excludes %s, which the build needs", mustNot)
		}
	}
}
