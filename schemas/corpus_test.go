package schemas

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// readCorpusFile reads a go test fuzz v1 corpus file of FuzzDecode: two
// []byte arguments.
func readCorpusFile(path string) (value, headers []byte, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<20), 4<<20)
	var args [][]byte
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "go test fuzz") {
			continue
		}
		lit, ok := strings.CutPrefix(line, "[]byte(")
		if !ok || !strings.HasSuffix(lit, ")") {
			return nil, nil, fmt.Errorf("unexpected corpus line %q", line)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
		if err != nil {
			return nil, nil, fmt.Errorf("corpus line %q: %w", line, err)
		}
		args = append(args, []byte(s))
	}
	if len(args) != 2 {
		return nil, nil, fmt.Errorf("want 2 arguments, got %d", len(args))
	}
	return args[0], args[1], sc.Err()
}
