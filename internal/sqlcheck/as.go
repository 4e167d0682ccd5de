package sqlcheck

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
)

//go:embed chdb_as.py
var asScript string

// Answer is what the server answered one query run as a restricted user.
type Answer struct {
	OK    bool
	Rows  string // TabSeparated result when OK
	Error string // the server's message otherwise
}

// RunAs runs setup as chdb's unrestricted user, then each query as the
// user "default" of usersXML (a complete users configuration: profiles,
// users, quotas), in a fresh chdb data directory, and returns the answers
// in order. It proves what a current ClickHouse enforces for a user
// defined in a users file: grants, allow_databases, profiles and their
// readonly setting. chdb (clickhouse-local) always runs as "default", so
// the user under test must be named so there; its password is not
// checked. clickhouse-local reads no access_control_improvements, so a
// profile may not mark settings changeable_in_readonly here (a server's
// default config enables that). A setup statement that fails is an error.
func RunAs(ctx context.Context, setup []string, usersXML string, queries []string) (Result, []Answer, error) {
	in, err := json.Marshal(map[string]any{"setup": setup, "users_xml": usersXML, "queries": queries})
	if err != nil {
		return Result{}, nil, fmt.Errorf("encode chdb request: %w", err)
	}
	stdout, stderr, err := runScript(ctx, "", asScript, in)
	if err != nil {
		return Result{}, nil, err
	}
	var resp struct {
		Version string `json:"version"`
		User    string `json:"user"`
		Setup   []struct {
			Index int    `json:"index"`
			Error string `json:"error"`
		} `json:"setup"`
		Results []struct {
			OK    bool   `json:"ok"`
			Rows  string `json:"rows"`
			Error string `json:"error"`
		} `json:"results"`
	}
	if err := json.Unmarshal(stdout, &resp); err != nil {
		return Result{}, nil, fmt.Errorf("read chdb output: %w: %s", err, stderr)
	}
	var errs []error
	for _, s := range resp.Setup {
		errs = append(errs, &Error{Index: s.Index, Statement: setup[s.Index], Message: s.Error})
	}
	if len(errs) > 0 {
		return Result{Version: resp.Version}, nil, fmt.Errorf("setup as the unrestricted user: %w", errors.Join(errs...))
	}
	if resp.User != "default" || len(resp.Results) != len(queries) {
		return Result{Version: resp.Version}, nil, fmt.Errorf("chdb ran as %q and answered %d of %d queries", resp.User, len(resp.Results), len(queries))
	}
	out := make([]Answer, len(queries))
	for i, r := range resp.Results {
		out[i] = Answer{OK: r.OK, Rows: r.Rows, Error: r.Error}
	}
	return Result{Version: resp.Version}, out, nil
}
