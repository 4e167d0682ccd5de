package access_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secimpact/impact/internal/access"
)

func TestSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "readers.yaml")
	s, err := access.LoadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		rotate bool
		want   access.Action
	}{
		{"Sales", false, access.Created},
		{"R&D's lab", false, access.Created},
		{"Sales", false, access.Unchanged},
		{"Sales", true, access.Rotated},
	} {
		before := s.Departments[tc.name]
		got, err := s.Ensure(tc.name, tc.rotate, t0)
		if err != nil {
			t.Fatal(err)
		}
		after := s.Departments[tc.name]
		if got != tc.want {
			t.Errorf("Ensure(%q, %v) = %s, want %s", tc.name, tc.rotate, got, tc.want)
		}
		if changed := before.Password != after.Password; changed != (tc.want != access.Unchanged) {
			t.Errorf("Ensure(%q, %v): password changed %v", tc.name, tc.rotate, changed)
		}
		if tc.want == access.Rotated && after.Version() == before.Version() {
			t.Errorf("a rotation within the same second keeps the version %s", after.Version())
		}
		if len(after.Password) < 32 {
			t.Errorf("password of %d characters", len(after.Password))
		}
	}
	if _, err := s.Ensure("", false, t0); err == nil {
		t.Error("the empty department got a password")
	}
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	again, err := access.LoadSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.Departments["Sales"] != s.Departments["Sales"] || len(again.Departments) != 2 {
		t.Errorf("reloaded secrets differ")
	}

	// Never printed: not by any verb, not in the users file.
	c := s.Departments["Sales"]
	users := string(access.UsersXML(s.Readers("impact"), access.Current))
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s %q", c, c, c, c, c), fmt.Sprint(s.Readers("impact")), users} {
		if strings.Contains(out, c.Password) {
			t.Errorf("password printed: %s", out)
		}
	}
	if !strings.Contains(users, "<grants><query>GRANT SELECT ON impact_dept_sales-") && !strings.Contains(users, "GRANT SELECT ON impact_dept_sales_") {
		t.Errorf("users file for current releases:\n%s", users)
	}
	legacy := string(access.UsersXML(s.Readers("impact"), access.Legacy))
	if !strings.HasPrefix(strings.SplitN(legacy, "\n", 4)[3], "<yandex>") || !strings.Contains(legacy, "<allow_databases><database>impact_dept_sales_") || strings.Contains(legacy, "<grants>") {
		t.Errorf("users file for 18.16:\n%s", legacy)
	}

	// A secrets file others can read is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := access.LoadSecrets(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable secrets file: %v", err)
	}
	// A broken file does not echo its content.
	if err := os.WriteFile(path, []byte("departments: {Sales: {password: hunter2-secret, rotated_at: [}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := access.LoadSecrets(path); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("broken secrets file: %v", err)
	}
}

func TestServerFor(t *testing.T) {
	for v, want := range map[string]access.Server{"18.16.1": access.Legacy, "20.3.9.70": access.Legacy, "20.4.2": access.Current, "26.9.2.1": access.Current, "24.8.1.1": access.Current} {
		if got, err := access.ServerFor(v); err != nil || got != want {
			t.Errorf("ServerFor(%s) = %v, %v", v, got, err)
		}
	}
	if _, err := access.ServerFor("nonsense"); err == nil {
		t.Error("ServerFor(nonsense) succeeded")
	}
}
