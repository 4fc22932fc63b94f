package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/batchscore/batchscore/internal/azurite"
	"github.com/batchscore/batchscore/internal/localhost"
	"github.com/batchscore/batchscore/internal/localrun"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
)

const benchE2EUsage = `usage: batchscore bench-e2e [-app app] [-azurite PATH] [-synthetic 100x10] [-rows 720] [-set KEY=VALUE]... [-out DIR]
Runs the synthetic fleet through the whole local pipeline (as batchscore run does), then, in the
same command, what the storage emulator and SQLite do on their own with the same work: the
storage operations of each scored sensor (queue receive + delete, model blob GET, predictions
blob PUT, at the host.json queue concurrency) in a fresh Azurite, and the readings inserted into a
fresh SQLite file in the same batches. Prints pipeline rate / bare rate per stage.
`

// settingsFlag collects repeated -set KEY=VALUE.
type settingsFlag map[string]string

func (s settingsFlag) String() string { return fmt.Sprint(map[string]string(s)) }

func (s settingsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	s[k] = val
	return nil
}

// runBenchE2E is `batchscore bench-e2e`.
func runBenchE2E(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-e2e", flag.ContinueOnError)
	app := fs.String("app", "app", "app folder for this computer, as make app lays it out")
	az := fs.String("azurite", "", "Azurite executable (default $AZURITE_BIN or node_modules/.bin/azurite)")
	fleet := fs.String("synthetic", "100x10", "synthetic fleet DEVICESxSENSORS")
	rows := fs.Int("rows", 720, "readings per sensor (5 s apart)")
	out := fs.String("out", "out/bench-e2e", "folder for the pipeline run's output")
	partitions := fs.Int("partitions", 4, "event hub partitions")
	set := settingsFlag{}
	fs.Var(set, "set", "app setting for the pipeline run, KEY=VALUE (repeatable), e.g. FANOUT_CHUNK_SIZE=20")
	if help, err := parseFlags(fs, args, benchE2EUsage, stdout); help || err != nil {
		return err
	}
	devices, sensors, err := localrun.ParseFleet(*fleet)
	if err != nil {
		return usageError{err}
	}
	if _, err := os.Stat(filepath.Join(*app, "host.json")); err != nil {
		return fmt.Errorf("bench-e2e: no app folder at %s (%w): run `make bench-e2e`, or `make app` first", *app, err)
	}
	appSettings, err := localrun.AppSettings(*app)
	if err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}
	for k, v := range set {
		appSettings[k] = v
	}
	chunk, cerr := strconv.Atoi(appSettings["FANOUT_CHUNK_SIZE"])
	if cerr != nil || chunk < 1 {
		chunk = 1
	}
	hc, _, err := localhost.LoadApp(*app, appSettings)
	if err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}
	syn := &localrun.Synthetic{Devices: devices, Sensors: sensors, Rows: *rows, Noise: 0.05, AnomalyRate: 0.01, Seed: 1}
	load0 := loadAverage()

	// CPU time, which other users of the cores do not inflate as they do
	// wall-clock time: this process, and its children once they have ended
	// (the handler and Azurite, stopped and waited for at the end of each part).
	self0, kids0, cpuOK := processCPUTimes()

	// 1. The pipeline.
	fmt.Fprintf(stdout, "pipeline: batchscore run -synthetic %s -rows %d%s\n", *fleet, *rows, setArgs(set))
	res, err := localrun.Run(ctx, localrun.Config{AppDir: *app, AzuriteBin: *az, Synthetic: syn, OutDir: *out,
		Partitions: *partitions, Settings: set, Stdout: io.Discard})
	if err != nil {
		return fmt.Errorf("bench-e2e: pipeline: %w", err)
	}
	ingest, scoring := stage(res, "ingest"), stage(res, "scoring")
	readings := devices * sensors * *rows
	for _, s := range res.Stages {
		fmt.Fprintf(stdout, "  %-24s %10s  %s\n", s.Name, s.Duration.Round(time.Millisecond), s.Detail)
	}

	self1, kids1, _ := processCPUTimes()

	// 2. The storage operations alone, in a fresh emulator.
	fmt.Fprintf(stdout, "storage alone: %d sensors, %d per message; receive %d when <= %d in flight, GET model and PUT predictions per sensor, delete\n",
		res.Summary.Total, chunk, hc.Queues.BatchSize, hc.Queues.NewBatchThreshold)
	models, err := syn.Models()
	if err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}
	var preds [][]byte
	for _, name := range res.Blobs {
		b, err := os.ReadFile(filepath.Join(res.PredsDir, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("bench-e2e: predictions copy: %w", err)
		}
		preds = append(preds, b)
	}
	ceiling, err := storageCeiling(ctx, *az, models, preds, hc.Queues, chunk)
	if err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}

	_, kids2, _ := processCPUTimes()

	// 3. The readings inserted alone, in a fresh SQLite file, in the pipeline's batches.
	tmp, err := os.MkdirTemp("", "batchscore-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(tmp, "bare.db"))
	if err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}
	defer store.Close()
	batches := localrun.IngestBatches(syn.Readings(), *partitions, hc.EventHubs.MaxEventBatchSize)
	fmt.Fprintf(stdout, "SQLite alone: %d readings in %d transactions (%d events each, as maxEventBatchSize)\n", readings, len(batches), hc.EventHubs.MaxEventBatchSize)
	self2, _, _ := processCPUTimes()
	n, bare, err := localrun.BareInsert(ctx, store, batches)
	self3, _, _ := processCPUTimes()
	if err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}
	if n != readings {
		return fmt.Errorf("bench-e2e: bare insert stored %d of %d readings", n, readings)
	}

	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tpipeline\tper s\talone\tper s\tpipeline / alone\t")
	fmt.Fprintf(tw, "ingest (readings)\t%s\t%s\t%s\t%s\t%.0f %%\t\n", dur(ingest), rate(readings, ingest), dur(bare), rate(readings, bare), 100*bare.Seconds()/ingest.Seconds())
	fmt.Fprintf(tw, "scoring (sensors)\t%s\t%s\t%s\t%s\t%.0f %%\t\n", dur(scoring), rate(res.Summary.Total, scoring), dur(ceiling), rate(res.Summary.Total, ceiling), 100*ceiling.Seconds()/scoring.Seconds())
	fmt.Fprintf(tw, "end to end (sensors)\t%s\t%s\t\t\t\t\n", dur(res.Elapsed), rate(res.Summary.Total, res.Elapsed))
	tw.Flush()
	if cpuOK {
		sensorsN := max(res.Summary.Total, 1)
		fmt.Fprintf(stdout, "\nCPU time (user + system): pipeline %s (handler and Azurite %s; batchscore %s: fleet and model fitting, local host, collect), %.1f ms per sensor with its %d readings;\n",
			dur(self1-self0+kids1-kids0), dur(kids1-kids0), dur(self1-self0), float64((self1-self0+kids1-kids0).Microseconds())/1000/float64(sensorsN), *rows)
		fmt.Fprintf(stdout, "  storage alone: Azurite %s (%.1f ms per sensor); SQLite alone: %s (%.1f us per reading)\n",
			dur(kids2-kids1), float64((kids2-kids1).Microseconds())/1000/float64(sensorsN), dur(self3-self2), float64((self3-self2).Nanoseconds())/1000/float64(readings))
	}
	fmt.Fprintf(stdout, "\n%s, %d CPUs; load average %s at the start, %s at the end\n", cpuModel(), runtime.NumCPU(), load0, loadAverage())
	return nil
}

func storageCeiling(ctx context.Context, bin string, models map[string][]byte, preds [][]byte, q localhost.QueueOptions, chunk int) (time.Duration, error) {
	srv, err := azurite.Start(ctx, azurite.Options{Bin: bin})
	if err != nil {
		return 0, fmt.Errorf("start azurite: %w", err)
	}
	defer srv.Stop()
	acct, err := storage.New(storage.Config{ConnectionString: srv.ConnectionString()})
	if err != nil {
		return 0, err
	}
	return localrun.StorageCeiling(ctx, acct, models, preds, q, chunk)
}

func stage(res *localrun.Result, name string) time.Duration {
	for _, s := range res.Stages {
		if s.Name == name {
			return s.Duration
		}
	}
	return 0
}

func setArgs(set settingsFlag) string {
	var b strings.Builder
	for k, v := range set {
		fmt.Fprintf(&b, " -set %s=%s", k, v)
	}
	return b.String()
}

func dur(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }

func rate(n int, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return localrun.Thousands(int(float64(n) / d.Seconds()))
}
