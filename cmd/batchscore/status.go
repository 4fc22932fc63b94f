package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/batchscore/batchscore/internal/localrun"
	"github.com/batchscore/batchscore/internal/sqlstore"
)

const statusUsage = `usage: batchscore status [-run ID] [-sql URL] [-json] [-watch 2s]
Shows a scoring run's sensors (total, done, failed, poisoned, in flight), anomalies and slowest sensors.
`

// runStatus is `batchscore status`: the progress of a scoring run from the SQL store.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	runID := fs.String("run", "", "run id (default: the latest run)")
	sqlURL := fs.String("sql", os.Getenv("SQL_URL"), "SQL store URL (default $SQL_URL), e.g. sqlite:out/batchscore.db")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	watch := fs.Duration("watch", 0, "print again at this interval until the run has no pending, running or retrying sensor")
	if help, err := parseFlags(fs, args, statusUsage, stdout); help || err != nil {
		return err
	}
	if *sqlURL == "" {
		return usageError{errors.New("status: no -sql URL and SQL_URL is not set")}
	}
	st, err := sqlstore.Open(ctx, *sqlURL)
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	defer st.Close()
	for {
		id := *runID
		if id == "" {
			r, err := st.LatestRun(ctx)
			if err != nil {
				return fmt.Errorf("status: %w", err)
			}
			id = r.ID
		}
		sum, err := st.RunSummary(ctx, id)
		if err != nil {
			return fmt.Errorf("status: %w", err)
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(sum); err != nil {
				return fmt.Errorf("status: %w", err)
			}
		} else {
			printSummary(stdout, sum)
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
