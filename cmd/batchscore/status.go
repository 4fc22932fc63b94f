package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	runstatus "github.com/batchscore/batchscore/functions/run-status"
	"github.com/batchscore/batchscore/internal/localrun"
	"github.com/batchscore/batchscore/internal/sqlstore"
)

const statusUsage = `usage: batchscore status [-run ID | -train] [-sql URL] [-json] [-watch 2s]
Shows a scoring run's sensors (total, done, failed, poisoned, in flight), anomalies, slowest sensors
and the sensors whose model needs a look. The default is the latest scoring run; -train shows the
latest run of the train function instead.
-json prints the run-status function's document (snake_case keys, durations in ms).
`

// runStatus is `batchscore status`: the progress of a scoring run from the SQL store.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	runID := fs.String("run", "", "run id (default: the latest scoring run)")
	train := fs.Bool("train", false, "show the latest train run (train-...) instead of the latest scoring run")
	sqlURL := fs.String("sql", os.Getenv("SQL_URL"), "SQL store URL (default $SQL_URL), e.g. sqlite:out/latest/batchscore.db")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	watch := fs.Duration("watch", 0, "print again at this interval until the run has no pending, running or retrying sensor")
	if help, err := parseFlags(fs, args, statusUsage, stdout); help || err != nil {
		return err
	}
	if *train && *runID != "" {
		return usageError{errors.New("status: -train names the latest train run; leave out -run")}
	}
	if *train {
		*runID = runstatus.LatestTrain
	}
	if *sqlURL == "" {
		return usageError{errors.New("status: no -sql URL and SQL_URL is not set")}
	}
	if err := sqliteExists(*sqlURL); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	st, err := sqlstore.Open(ctx, *sqlURL)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	defer st.Close()
	fn := runstatus.New(st)
	for {
		id, err := fn.RunID(ctx, *runID)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		sum, err := st.RunSummary(ctx, id)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		// The run-status function's document: the same keys (snake_case,
		// durations in ms) from the CLI and from GET /api/run-status, and
		// the model health verdicts the text shows.
		doc, err := fn.Status(ctx, id)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(doc); err != nil {
				return fmt.Errorf("status: %w", err)
			}
		} else {
			printSummary(stdout, sum)
			printHealth(stdout, doc)
		}
		if *watch <= 0 || (sum.Pending == 0 && sum.Running == 0 && sum.Failed == 0) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
		}
	}
}

func printSummary(w io.Writer, s sqlstore.Summary) {
	fmt.Fprintf(w, "run %s  window (%s, %s]  created %s\n", s.Run.ID,
		s.Run.Window.Start.UTC().Format(time.RFC3339), s.Run.Window.End.UTC().Format(time.RFC3339),
		s.Run.Created.UTC().Format(time.RFC3339))
	n := localrun.Thousands
	fmt.Fprintf(w, "sensors: %s total, %s done, %s empty, %s failed (retrying), %s poisoned, %s in flight, %s pending\n",
		n(s.Total), n(s.Done), n(s.Empty), n(s.Failed), n(s.Poisoned), n(s.Running), n(s.Pending))
	fmt.Fprintf(w, "rows: %s scored, %s anomalies\n", n(s.Rows), n(s.Anomalies))
	if s.Run.Train() {
		// A train run has no fan-out: the train function fits every sensor itself.
		fmt.Fprintln(w, "kind: train (one outcome per sensor's fit: rows are training windows, anomalies held-out ones)")
	} else {
		kind, fanned := "backfill", "not finished"
		if s.Run.Scheduled {
			kind = "scheduled"
		}
		if !s.Run.FannedOut.IsZero() {
			fanned = "finished " + s.Run.FannedOut.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "fan-out: %s, %s\n", kind, fanned)
	}
	if m := s.Run.Ingest; !m.Oldest.IsZero() {
		behind := ""
		if m.Oldest.Before(s.Run.Window.End) {
			behind = ", before the window end"
		}
		fmt.Fprintf(w, "ingest at fan-out: every partition stored up to %s (newest %s)%s\n",
			m.Oldest.UTC().Format(time.RFC3339), m.Newest.UTC().Format(time.RFC3339), behind)
	}
	if len(s.Slowest) == 0 {
		return
	}
	fmt.Fprintln(w, "slowest sensors:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, o := range s.Slowest {
		fmt.Fprintf(tw, "  %s\t%s\t%s rows\t%s anomalies\t%d attempts\t\n", o.Key, o.Duration.Round(time.Millisecond), n(o.Rows), n(o.Anomalies), o.Attempts)
	}
	tw.Flush()
}

// printHealth lists the scored sensors whose model needs a look (the
// run-status document's unhealthy and model_health) with the verdict in words.
func printHealth(w io.Writer, doc runstatus.Status) {
	if doc.Unhealthy == 0 {
		return
	}
	noun := "sensors need"
	if doc.Unhealthy == 1 {
		noun = "sensor needs"
	}
	fmt.Fprintf(w, "model health: %s %s a look\n", localrun.Thousands(doc.Unhealthy), noun)
	for _, h := range doc.ModelHealth {
		fmt.Fprintf(w, "  %s/%s  %s: %s\n", h.Device, h.Sensor, h.Status, h.Reason)
	}
	if n := doc.Unhealthy - len(doc.ModelHealth); n > 0 {
		fmt.Fprintf(w, "  and %s more\n", localrun.Thousands(n))
	}
}

// sqliteExists refuses a sqlite:PATH URL whose file does not exist: status only
// reads, and opening would create an empty database.
func sqliteExists(url string) error {
	path, ok := strings.CutPrefix(url, "sqlite:")
	if !ok || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no SQLite database at %s (make run writes out/<run>/batchscore.db; the latest is out/latest/batchscore.db)", path)
	}
	return nil
}
