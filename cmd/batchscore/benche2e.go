package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/batchscore/batchscore/internal/azurite"
	"github.com/batchscore/batchscore/internal/localhost"
	"github.com/batchscore/batchscore/internal/localrun"
	"github.com/batchscore/batchscore/internal/proccpu"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
)

const benchE2EUsage = `usage: batchscore bench-e2e [-app app] [-azurite PATH] [-synthetic 100x10] [-rows 720] [-set KEY=VALUE]... [-count 1] [-out DIR]
Runs the synthetic fleet through the whole local pipeline (as batchscore run does), then, in the
same command, what the storage emulator and SQLite do on their own with the same work: the
storage operations of each scored sensor (queue receive + delete, model blob GET, predictions
blob PUT, at the host.json queue concurrency) in a fresh Azurite, and the readings inserted into a
fresh SQLite file in the same batches. Prints pipeline rate / bare rate per stage, and the CPU
Azurite and the handler used while scoring. With -count N it does all of that N times and ends
with the medians (and ranges) of the N runs.
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

// benchE2E is one bench-e2e configuration.
type benchE2E struct {
	app, azurite, out string
	devices, sensors  int
	rows, partitions  int
	set               settingsFlag
	chunk             int
	queues            localhost.QueueOptions
	maxEventBatch     int
	syn               *localrun.Synthetic
}

// e2eRun is what one run of bench-e2e measured.
type e2eRun struct {
	readings, sensors      int
	ingest, scoring, total time.Duration
	bare                   time.Duration    // the readings inserted alone
	ceiling                localrun.Ceiling // a fresh emulator
	held                   localrun.Ceiling // an emulator holding blobs of the run's raw blobs' sizes
	cpu                    localrun.ScoringCPU
}

func (r e2eRun) ingestShare() float64  { return r.bare.Seconds() / r.ingest.Seconds() }
func (r e2eRun) scoringShare() float64 { return r.ceiling.Elapsed.Seconds() / r.scoring.Seconds() }
func (r e2eRun) heldShare() float64    { return r.held.Elapsed.Seconds() / r.scoring.Seconds() }

// runBenchE2E is `batchscore bench-e2e`.
func runBenchE2E(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-e2e", flag.ContinueOnError)
	b := benchE2E{set: settingsFlag{}}
	fs.StringVar(&b.app, "app", "app", "app folder for this computer, as make app lays it out")
	fs.StringVar(&b.azurite, "azurite", "", "Azurite executable (default $AZURITE_BIN or node_modules/.bin/azurite)")
	fleet := fs.String("synthetic", "100x10", "synthetic fleet DEVICESxSENSORS")
	fs.IntVar(&b.rows, "rows", 720, "readings per sensor (5 s apart)")
	fs.StringVar(&b.out, "out", "out/bench-e2e", "folder for the pipeline run's output")
	fs.IntVar(&b.partitions, "partitions", 4, "event hub partitions")
	count := fs.Int("count", 1, "runs, each pipeline then alone; more than one ends with their medians")
	fs.Var(b.set, "set", "app setting for the pipeline run, KEY=VALUE (repeatable), e.g. FANOUT_CHUNK_SIZE=20")
	if help, err := parseFlags(fs, args, benchE2EUsage, stdout); help || err != nil {
		return err
	}
	var err error
	if b.devices, b.sensors, err = localrun.ParseFleet(*fleet); err != nil {
		return usageError{err}
	}
	if *count < 1 {
		return usageError{fmt.Errorf("-count %d: want at least 1", *count)}
	}
	if _, err := os.Stat(filepath.Join(b.app, "host.json")); err != nil {
		return fmt.Errorf("bench-e2e: no app folder at %s (%w): run `make bench-e2e`, or `make app` first", b.app, err)
	}
	appSettings, err := localrun.AppSettings(b.app)
	if err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}
	for k, v := range b.set {
		appSettings[k] = v
	}
	b.chunk, err = strconv.Atoi(appSettings["FANOUT_CHUNK_SIZE"])
	if err != nil || b.chunk < 1 {
		b.chunk = 1
	}
	hc, _, err := localhost.LoadApp(b.app, appSettings)
	if err != nil {
		return fmt.Errorf("bench-e2e: %w", err)
	}
	b.queues, b.maxEventBatch = hc.Queues, hc.EventHubs.MaxEventBatchSize
	b.syn = &localrun.Synthetic{Devices: b.devices, Sensors: b.sensors, Rows: b.rows, Noise: 0.05, AnomalyRate: 0.01, Seed: 1}
	load0 := loadAverage()
	var runs []e2eRun
	for i := range *count {
		if *count > 1 {
			fmt.Fprintf(stdout, "run %d of %d\n", i+1, *count)
		}
		r, err := b.run(ctx, stdout)
		if err != nil {
			return err
		}
		runs = append(runs, r)
		if *count > 1 {
			fmt.Fprintln(stdout)
		}
	}
	if *count > 1 {
		printMedians(stdout, runs)
	}
	fmt.Fprintf(stdout, "\n%s, %d CPUs; load average %s at the start, %s at the end\n", cpuModel(), runtime.NumCPU(), load0, loadAverage())
	return nil
}

// run runs the pipeline, then the storage operations and the inserts alone,
// and prints what it measured.
func (b benchE2E) run(ctx context.Context, stdout io.Writer) (e2eRun, error) {
	// CPU time, which other users of the cores do not inflate as they do
	// wall-clock time: this process, and its children once they have ended
	// (the handler and Azurite, stopped and waited for at the end of each part).
	self0, kids0, cpuOK := processCPUTimes()

	// 1. The pipeline.
	fmt.Fprintf(stdout, "pipeline: batchscore run -synthetic %dx%d -rows %d%s\n", b.devices, b.sensors, b.rows, setArgs(b.set))
	res, err := localrun.Run(ctx, localrun.Config{AppDir: b.app, AzuriteBin: b.azurite, Synthetic: b.syn, OutDir: b.out,
		Partitions: b.partitions, Settings: b.set, Stdout: io.Discard})
	if err != nil {
		return e2eRun{}, fmt.Errorf("bench-e2e: pipeline: %w", err)
	}
	r := e2eRun{readings: b.devices * b.sensors * b.rows, sensors: res.Summary.Total,
		ingest: stage(res, "ingest"), scoring: stage(res, "scoring"), total: res.Elapsed, cpu: res.ScoringCPU}
	for _, s := range res.Stages {
		fmt.Fprintf(stdout, "  %-24s %10s  %s\n", s.Name, s.Duration.Round(time.Millisecond), s.Detail)
	}

	self1, kids1, _ := processCPUTimes()

	// 2. The storage operations alone, in a fresh emulator.
	fmt.Fprintf(stdout, "storage alone: %d sensors, %d per message; receive %d when <= %d in flight, GET model and PUT predictions per sensor, delete\n",
		res.Summary.Total, b.chunk, b.queues.BatchSize, b.queues.NewBatchThreshold)
	models, err := b.syn.Models()
	if err != nil {
		return e2eRun{}, fmt.Errorf("bench-e2e: %w", err)
	}
	var preds [][]byte
	for _, name := range res.Blobs {
		p, err := os.ReadFile(filepath.Join(res.PredsDir, filepath.FromSlash(name)))
		if err != nil {
			return e2eRun{}, fmt.Errorf("bench-e2e: predictions copy: %w", err)
		}
		preds = append(preds, p)
	}
	work := localrun.CeilingWork{Models: models, Preds: preds, Queues: b.queues, Chunk: b.chunk}
	if r.ceiling, err = storageCeiling(ctx, b.azurite, work); err != nil {
		return e2eRun{}, fmt.Errorf("bench-e2e: %w", err)
	}
	// Again in an emulator that first takes blobs of the sizes of the raw
	// blobs ingest wrote, which the pipeline's Azurite holds (in memory) while
	// scoring: what the emulator alone does in the pipeline's state.
	work.Hold = res.RawSizes
	var rawBytes int64
	for _, n := range res.RawSizes {
		rawBytes += n
	}
	fmt.Fprintf(stdout, "storage alone, holding %d blobs of %.1f MB first, the sizes of the run's raw blobs\n", len(res.RawSizes), float64(rawBytes)/1e6)
	if r.held, err = storageCeiling(ctx, b.azurite, work); err != nil {
		return e2eRun{}, fmt.Errorf("bench-e2e: %w", err)
	}

	_, kids2, _ := processCPUTimes()

	// 3. The readings inserted alone, in a fresh SQLite file, in the pipeline's batches.
	tmp, err := os.MkdirTemp("", "batchscore-bench-")
	if err != nil {
		return e2eRun{}, err
	}
	defer os.RemoveAll(tmp)
	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(tmp, "bare.db"))
	if err != nil {
		return e2eRun{}, fmt.Errorf("bench-e2e: %w", err)
	}
	defer store.Close()
	batches := localrun.IngestBatches(b.syn.Readings(), b.partitions, b.maxEventBatch)
	fmt.Fprintf(stdout, "SQLite alone: %d readings in %d transactions (%d events each, as maxEventBatchSize)\n", r.readings, len(batches), b.maxEventBatch)
	self2, _, _ := processCPUTimes()
	n, bare, err := localrun.BareInsert(ctx, store, batches)
	self3, _, _ := processCPUTimes()
	if err != nil {
		return e2eRun{}, fmt.Errorf("bench-e2e: %w", err)
	}
	if n != r.readings {
		return e2eRun{}, fmt.Errorf("bench-e2e: bare insert stored %d of %d readings", n, r.readings)
	}
	r.bare = bare

	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tpipeline\tper s\talone\tper s\tpipeline / alone\t")
	fmt.Fprintf(tw, "ingest (readings)\t%s\t%s\t%s\t%s\t%.0f %%\t\n", dur(r.ingest), rate(r.readings, r.ingest), dur(bare), rate(r.readings, bare), 100*r.ingestShare())
	fmt.Fprintf(tw, "scoring (sensors)\t%s\t%s\t%s\t%s\t%.0f %%\t\n", dur(r.scoring), rate(r.sensors, r.scoring), dur(r.ceiling.Elapsed), rate(r.sensors, r.ceiling.Elapsed), 100*r.scoringShare())
	fmt.Fprintf(tw, "  emulator holding the raw data\t\t\t%s\t%s\t%.0f %%\t\n", dur(r.held.Elapsed), rate(r.sensors, r.held.Elapsed), 100*r.heldShare())
	fmt.Fprintf(tw, "end to end (sensors)\t%s\t%s\t\t\t\t\n", dur(r.total), rate(r.sensors, r.total))
	tw.Flush()
	sensorsN := max(r.sensors, 1)
	perSensor := func(d time.Duration) string {
		return fmt.Sprintf("%s (%.2f ms per sensor)", dur(d), float64(d.Microseconds())/1000/float64(sensorsN))
	}
	if r.cpu.Measured && r.ceiling.EmulatorCPU > 0 && r.held.EmulatorCPU > 0 {
		fmt.Fprintf(stdout, "\nCPU while scoring (user + system, all threads): pipeline: Azurite %s, handler %s; alone: Azurite %s, holding the raw data %s\n",
			perSensor(r.cpu.Azurite), perSensor(r.cpu.Handler), perSensor(r.ceiling.EmulatorCPU), perSensor(r.held.EmulatorCPU))
	}
	if cpuOK {
		fmt.Fprintf(stdout, "CPU time (user + system): pipeline %s (handler and Azurite %s; batchscore %s: fleet and model fitting, local host, collect), %.1f ms per sensor with its %d readings;\n",
			dur(self1-self0+kids1-kids0), dur(kids1-kids0), dur(self1-self0), float64((self1-self0+kids1-kids0).Microseconds())/1000/float64(sensorsN), b.rows)
		fmt.Fprintf(stdout, "  storage alone: the two Azurites %s, start to stop (model uploads and held blobs included); SQLite alone: %s (%.1f us per reading)\n",
			dur(kids2-kids1), dur(self3-self2), float64((self3-self2).Nanoseconds())/1000/float64(r.readings))
	}
	return r, nil
}

// printMedians prints the median and the range of each rate and share over runs.
func printMedians(w io.Writer, runs []e2eRun) {
	// spread returns the median, lowest and highest of f over the runs.
	spread := func(f func(r e2eRun) float64) (med, lo, hi float64) {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return (v[(len(v)-1)/2] + v[len(v)/2]) / 2, v[0], v[len(v)-1]
	}
	perSecond := func(f func(r e2eRun) float64) string {
		med, lo, hi := spread(f)
		n := func(x float64) string { return localrun.Thousands(int(math.Round(x))) }
		return fmt.Sprintf("%s (%s-%s)", n(med), n(lo), n(hi))
	}
	percent := func(f func(r e2eRun) float64) string {
		med, lo, hi := spread(func(r e2eRun) float64 { return 100 * f(r) })
		return fmt.Sprintf("%.0f %% (%.0f-%.0f)", med, lo, hi)
	}
	fmt.Fprintf(w, "%d runs: median (lowest-highest)\n", len(runs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tpipeline per s\talone per s\tpipeline / alone\t")
	fmt.Fprintf(tw, "ingest (readings)\t%s\t%s\t%s\t\n",
		perSecond(func(r e2eRun) float64 { return float64(r.readings) / r.ingest.Seconds() }),
		perSecond(func(r e2eRun) float64 { return float64(r.readings) / r.bare.Seconds() }),
		percent(e2eRun.ingestShare))
	fmt.Fprintf(tw, "scoring (sensors)\t%s\t%s\t%s\t\n",
		perSecond(func(r e2eRun) float64 { return float64(r.sensors) / r.scoring.Seconds() }),
		perSecond(func(r e2eRun) float64 { return float64(r.sensors) / r.ceiling.Elapsed.Seconds() }),
		percent(e2eRun.scoringShare))
	fmt.Fprintf(tw, "  emulator holding the raw data\t\t%s\t%s\t\n",
		perSecond(func(r e2eRun) float64 { return float64(r.sensors) / r.held.Elapsed.Seconds() }),
		percent(e2eRun.heldShare))
	fmt.Fprintf(tw, "end to end (sensors)\t%s\t\t\t\n",
		perSecond(func(r e2eRun) float64 { return float64(r.sensors) / r.total.Seconds() }))
	tw.Flush()
}

func storageCeiling(ctx context.Context, bin string, w localrun.CeilingWork) (localrun.Ceiling, error) {
	srv, err := azurite.Start(ctx, azurite.Options{Bin: bin})
	if err != nil {
		return localrun.Ceiling{}, fmt.Errorf("start azurite: %w", err)
	}
	defer srv.Stop()
	acct, err := storage.New(storage.Config{ConnectionString: srv.ConnectionString()})
	if err != nil {
		return localrun.Ceiling{}, err
	}
	w.CPU = func() (time.Duration, error) { return proccpu.Of(srv.PID()) }
	return localrun.StorageCeiling(ctx, acct, w)
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
