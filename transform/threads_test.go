package transform

import "testing"

// TestSharedThreads: the server's max_threads as 18.16 and current
// releases show it, shared among the concurrent builds, at least 1; a
// setting without a number is left alone (0).
func TestSharedThreads(t *testing.T) {
	for _, tc := range []struct {
		setting string
		n, want int
	}{
		{"2", 2, 1},
		{"1", 2, 1},
		{"16", 2, 8},
		{"17", 2, 8},
		{"'auto(2)'", 2, 1},
		{"'auto(32)'", 2, 16},
		{"8", 1, 8},
		{"0", 2, 0},
		{"auto", 2, 0},
		{"", 2, 0},
	} {
		if got := sharedThreads(tc.setting, tc.n); got != tc.want {
			t.Errorf("sharedThreads(%q, %d) = %d, want %d", tc.setting, tc.n, got, tc.want)
		}
	}
}
