package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/secimpact/impact/ingest/importer"
	"github.com/secimpact/impact/ingest/sources/export"
	"github.com/secimpact/impact/ingest/sources/mapping"
	"github.com/secimpact/impact/internal/kafkaio"
)

// import brings history in from the exports tools already make, so the
// first brief is about the organisation's own last year rather than what
// webhooks delivered since installation.
func init() {
	var flags importFlags
	var names []string
	for _, s := range importer.Sources() {
		names = append(names, fmt.Sprintf("  %-11s %s", s.Name, s.Exports))
	}
	cmd := &cobra.Command{
		Use:   "import SOURCE FILE... [--mapping FILE] [--dry-run] [--since DATE]",
		Short: "Import history from a tool's export files (CRM, support, incidents, scanners) to Kafka",
		Long: `import reads the export files of one tool, maps every record to contract
events through the same mappers and mapping file as impact gateway, and
publishes them to Kafka. Sources and the exports they read:

` + strings.Join(names, "\n") + `

Every file is validated before anything is published: a wrong CSV header, a
truncated JSON page or a date in an unknown format stops the import with an
error naming the file, line and field, and nothing is published. Records the
mapping file cannot map (an unknown picklist value) are left out and listed
with the mapping line that would map them. Importing the same files again
publishes the same events (ids derive from the record and the change), so
an import can be repeated after fixing the mapping. A directory argument
stands for the files in it. docs/import.md gives each tool's export steps.`,
		Example: `  impact import salesforce opportunities.csv opportunity_field_history.csv --mapping mapping.yaml
  impact import zendesk tickets-*.json satisfaction_ratings.json --dry-run
  impact import jira search-page-*.json --since 2026-01-01`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, ok := importer.Lookup(args[0])
			if !ok {
				known := []string{}
				for _, s := range importer.Sources() {
					known = append(known, s.Name)
				}
				return fmt.Errorf("import: unknown source %q (known: %s)", args[0], strings.Join(known, ", "))
			}
			files, err := exportFiles(args[1:])
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			return runImport(cmd, src, files, flags)
		},
	}
	addImportFlags(cmd, &flags)
	rootCmd.AddCommand(cmd)
}

type importFlags struct {
	mapping, since string
	dryRun, json   bool
}

// runImport runs an import and prints its summary (text or JSON), also
// when it failed: the summary says what was read before.
func runImport(cmd *cobra.Command, src importer.Source, files []export.File, f importFlags) error {
	m, err := loadMapping(f.mapping)
	if err != nil {
		return err
	}
	o := importer.Options{Mapping: m, DryRun: f.dryRun}
	if f.since != "" {
		if o.Since, err = time.Parse(time.DateOnly, f.since); err != nil {
			return fmt.Errorf("--since: want YYYY-MM-DD: %w", err)
		}
	}
	if w, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(w.Fd())) && !f.json {
		o.Progress = w
	}
	if !f.dryRun {
		if o.Publish, err = kafkaPublisher(cmd.Context(), cmd.Name()); err != nil {
			return err
		}
	}
	s, err := importer.Run(cmd.Context(), src, files, o)
	if s != nil {
		var werr error
		if f.json {
			werr = json.NewEncoder(cmd.OutOrStdout()).Encode(s)
		} else {
			werr = s.WriteText(cmd.OutOrStdout())
		}
		if err == nil {
			err = werr
		}
	}
	return err
}

// addImportFlags adds the flags import and catalog import share.
func addImportFlags(cmd *cobra.Command, f *importFlags) {
	addKafkaFlags(cmd)
	fs := cmd.Flags()
	fs.StringVar(&f.mapping, "mapping", os.Getenv("IMPACT_MAPPING_FILE"), "mapping file (env IMPACT_MAPPING_FILE); default: the built-in defaults")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate and summarise, publish nothing")
	fs.StringVar(&f.since, "since", "", "leave out events before this date, YYYY-MM-DD (UTC)")
	fs.BoolVar(&f.json, "json", false, "print the summary as JSON")
}

// loadMapping reads the mapping file; "" is the all-defaults mapping.
func loadMapping(name string) (*mapping.File, error) {
	if name == "" {
		return &mapping.File{}, nil
	}
	return mapping.Load(name)
}

// exportFiles expands the arguments: a directory stands for the regular
// files in it (sorted, hidden ones left out).
func exportFiles(args []string) ([]export.File, error) {
	var out []export.File
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			out = append(out, export.OSFile(a))
			continue
		}
		entries, err := os.ReadDir(a)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				names = append(names, filepath.Join(a, e.Name()))
			}
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, export.OSFile(n))
		}
	}
	return out, nil
}

// kafkaPublisher checks the brokers and returns a publisher of event JSON
// Lines, acknowledged by all in-sync replicas, keyed by entity id.
func kafkaPublisher(ctx context.Context, command string) (importer.Publisher, error) {
	if err := kafkaio.Ping(ctx, cfg.Kafka); err != nil {
		return nil, fmt.Errorf("%s: %w", command, err)
	}
	if err := ensureTopics(ctx, command); err != nil {
		return nil, err
	}
	return func(ctx context.Context, r io.Reader) (int, error) {
		w, err := kafkaio.NewWriter(cfg.Kafka)
		if err != nil {
			return 0, err
		}
		stats, err := kafkaio.Publish(ctx, w, r, kafkaio.PublishOptions{Topics: cfg.Kafka.Topics})
		if cerr := w.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("flush writer: %w", cerr)
		}
		return stats.Published, err
	}, nil
}
