package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/secimpact/impact/schemas"
)

// validate lets a producer check a file against event contract v1 before
// publishing it, with the same decoder ingest uses; schemas export hands
// out the contract itself.
func init() {
	var asJSON bool
	validate := &cobra.Command{
		Use:   "validate FILE.jsonl",
		Short: "Check CloudEvents in a JSON Lines file (- for stdin) against event contract v1",
		Long: `Validate decodes every line as ingest would and prints each rejected line
with the field and rule it broke, then a summary. It exits 1 when any line
is rejected.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := openInput(args[0])
			if err != nil {
				return fmt.Errorf("validate: %w", err)
			}
			defer in.Close()
			out := cmd.OutOrStdout()
			var dec schemas.Decoder
			rep, err := dec.ValidateLines(in, func(line int, rej *schemas.Rejection) {
				if !asJSON {
					fmt.Fprintf(out, "line %d: %s\n", line, rej)
				}
			})
			if err != nil {
				return fmt.Errorf("validate %s: %w", args[0], err)
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return fmt.Errorf("validate: %w", err)
				}
			} else {
				fmt.Fprintf(out, "%d lines: %d accepted, %d rejected\n", rep.Lines, rep.Accepted, rep.Rejected)
				validatePrintCounts(out, "rejected", rep.ByRule)
				validatePrintCounts(out, "accepted", rep.ByType)
			}
			if rep.Rejected > 0 {
				return validateExitError{code: 1, err: fmt.Errorf("%d of %d lines rejected", rep.Rejected, rep.Lines)}
			}
			return nil
		},
	}
	validate.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON instead of one line per rejection")

	var outDir string
	export := &cobra.Command{
		Use:   "export --out DIR",
		Short: "Write the JSON Schemas of event contract v1 (draft 2020-12) to DIR",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return fs.WalkDir(schemas.SchemaFS, "v1", func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := schemas.SchemaFS.ReadFile(path)
				if err != nil {
					return fmt.Errorf("schemas export: %w", err)
				}
				dst := filepath.Join(outDir, filepath.FromSlash(path))
				if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
					return fmt.Errorf("schemas export: %w", err)
				}
				if err := os.WriteFile(dst, b, 0o644); err != nil {
					return fmt.Errorf("schemas export: %w", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), dst)
				return nil
			})
		},
	}
	export.Flags().StringVar(&outDir, "out", "schemas-out", "directory to write v1/*.json into")
	group := &cobra.Command{Use: "schemas", Short: "Event contract v1: JSON Schemas"}
	group.AddCommand(export)
	rootCmd.AddCommand(validate, group)
}

func validatePrintCounts(w io.Writer, label string, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  %s %-50s %d\n", label, k, m[k])
	}
}

// validateExitError carries a process exit code to main.
type validateExitError struct {
	code int
	err  error
}

func (e validateExitError) Error() string { return e.err.Error() }
func (e validateExitError) ExitCode() int { return e.code }
func (e validateExitError) Unwrap() error { return e.err }
