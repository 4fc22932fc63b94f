// Package localrun runs the whole pipeline on one machine, as `make run` does:
// Azurite, an embedded SQLite database and the custom handler driven by the local
// Functions host (internal/localhost), fed with the reference data (or a synthetic
// fleet), scored in one run, checked against the reference predictions and
// summarised in a table and a self-contained HTML report.
//
// Stack is the running pipeline with the steps as methods (the end-to-end tests
// use them one by one); Run is the whole of `batchscore run`.
package localrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/batchscore/batchscore/internal/localhost"
	"github.com/batchscore/batchscore/internal/proccpu"
	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
)

// Window is the aggregation width of the pipeline (AGGREGATE_WINDOW).
const Window = 5 * time.Second

// Config configures Run.
type Config struct {
	AppDir     string
	AzuriteBin string
	// Data is a TS,Device,Sensor,Value CSV; Models a folder of model blobs;
	// Expected the reference predictions (compared when set). All three default
	// to the reference data when Data and Models are empty and Synthetic is nil.
	Data, Models, Expected string
	// Synthetic, when set, replaces Data/Models with a generated fleet.
	Synthetic *Synthetic
	// OutDir holds one folder per run, named by its start time (UTC), with the
	// predictions copy, the report, the SQLite file and the logs, and a pointer
	// "latest" to the newest; default ./out.
	OutDir     string
	Partitions int // event hub partitions; default 4
	Settings   map[string]string
	Queues     *localhost.QueueOptions
	Terminal   bool // show progress bars (else plain lines)
	MaxPlots   int  // sensors plotted in the report; 0 = all up to 200
	Stdout     io.Writer
}

// Result is what a run produced.
type Result struct {
	RunID      string
	Window     sensor.Window
	Summary    sqlstore.Summary
	Sensors    []SensorResult
	Stages     []Stage
	Parity     *Parity
	Blobs      []string // prediction blob names in container preds
	Dir        string   // this run's folder in OutDir
	PredsDir   string
	ReportPath string
	LogPath    string // the host's log lines (text)
	HandlerLog string // the handler's log lines (JSON Lines)
	Elapsed    time.Duration
	ScoringCPU ScoringCPU // what Azurite and the handler used during the scoring stage
	RawSizes   []int64    // sizes of the raw blobs ingest wrote, which Azurite holds while scoring
}

// ScoringCPU is the CPU time (user + system, all threads) Azurite and the
// handler used from the start of fan-out to the last outcome, read from
// /proc. Measured is false when it could not be read, or the handler was
// restarted meanwhile.
type ScoringCPU struct {
	Azurite, Handler time.Duration
	Measured         bool
}

// cpuMark is the CPU time of Azurite and of the handler process at one moment.
type cpuMark struct {
	azurite, handler time.Duration
	pid              int
	err              error
}

func markCPU(st *Stack) cpuMark {
	w := st.Host.Workers()
	if !w.Running {
		return cpuMark{err: errors.New("no handler running")}
	}
	az, err := proccpu.Of(st.Azurite.PID())
	h, herr := proccpu.Of(w.PID)
	return cpuMark{azurite: az, handler: h, pid: w.PID, err: errors.Join(err, herr)}
}

// since returns the CPU used from m0 to m.
func (m cpuMark) since(m0 cpuMark) ScoringCPU {
	if m.err != nil || m0.err != nil || m.pid != m0.pid {
		return ScoringCPU{}
	}
	return ScoringCPU{Azurite: m.azurite - m0.azurite, Handler: m.handler - m0.handler, Measured: true}
}

// ErrParity is wrapped by Run's error when predictions differ from the reference.
var ErrParity = errors.New("predictions differ from the reference")

// Run executes the local pipeline end to end and prints progress, the per-sensor
// table, where the predictions are, the parity line and the report path.
func Run(ctx context.Context, c Config) (*Result, error) {
	started := time.Now()
	out := c.Stdout
	if out == nil {
		out = io.Discard
	}
	if c.OutDir == "" {
		c.OutDir = "out"
	}
	if c.Partitions < 1 {
		c.Partitions = 4
	}
	dir, err := runFolder(c.OutDir, started)
	if err != nil {
		return nil, err
	}
	prog := newProgress(out, c.Terminal)
	res := &Result{Dir: dir, LogPath: filepath.Join(dir, "host.log"), HandlerLog: filepath.Join(dir, "handler.jsonl")}

	// Set-up: the inputs (generating a synthetic fleet and fitting its models
	// takes a while) and the events cut from them while Azurite and the handler
	// start.
	t0 := time.Now()
	logf, err := os.Create(res.LogPath)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	defer logf.Close()
	hlogf, err := os.Create(res.HandlerLog)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	defer hlogf.Close()
	sqlPath := filepath.Join(dir, "batchscore.db")
	type stackStart struct {
		st  *Stack
		d   time.Duration
		err error
	}
	stackc := make(chan stackStart, 1)
	go func() {
		st, err := StartStack(ctx, StackOptions{AppDir: c.AppDir, AzuriteBin: c.AzuriteBin, AzuriteInMemory: true, Settings: c.Settings, Queues: c.Queues,
			Log: logf, HandlerLog: hlogf, SQLPath: sqlPath})
		stackc <- stackStart{st, time.Since(t0), err}
	}()
	readings, models, expected, label, inputList, err := inputs(c)
	bodies, times := EventBodies(readings)
	inputsD := time.Since(t0)
	sr := <-stackc
	if sr.err != nil {
		return nil, fmt.Errorf("%w (log: %s)", sr.err, res.LogPath)
	}
	st := sr.st
	defer st.Close()
	if err != nil {
		return nil, err
	}
	if len(readings) == 0 {
		return nil, errors.New("no readings to ingest")
	}
	res.Window = dataWindow(readings)
	res.RunID = res.Window.RunID()
	fmt.Fprintf(out, "input: %s: %s readings of %s sensors, %s models, window (%s, %s]\n", label,
		Thousands(len(readings)), Thousands(countKeys(readings)), Thousands(len(models)),
		res.Window.Start.Format(time.RFC3339), res.Window.End.Format(time.RFC3339))
	res.Stages = append(res.Stages, Stage{Name: "setup", Duration: time.Since(t0), Detail: fmt.Sprintf("inputs read or generated and cut into events (%s) while Azurite, SQLite and the handler started (%s)",
		ms(inputsD), ms(sr.d))})
	fmt.Fprintf(out, "setup: Azurite %s, handler up (%s)\n", st.Azurite.BlobURL(), ms(time.Since(t0)))

	// Ingest, and meanwhile the models are uploaded: scoring is the first to
	// read them, and Azurite has little else to do during ingest.
	t0 = time.Now()
	uploaded := make(chan error, 1)
	var uploadD time.Duration
	go func() {
		err := st.UploadModels(ctx, models)
		uploadD = time.Since(t0)
		uploaded <- err
	}()
	prog.start("ingest", "events", len(bodies))
	err = st.IngestEvents(ctx, bodies, times, c.Partitions, func(done, total int) { prog.set(done, "") })
	if err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, res.LogPath)
	}
	ingestD := time.Since(t0)
	if err := <-uploaded; err != nil {
		return nil, err
	}
	ing := st.Host.FunctionStats(FnIngest)
	d := time.Since(t0)
	res.Stages = append(res.Stages, Stage{Name: "ingest", Duration: d, Detail: fmt.Sprintf("%s events in %d batches over %d partitions in %s, %s readings/s; %s models uploaded meanwhile (%s)",
		Thousands(len(bodies)), ing.Batches, c.Partitions, ms(ingestD), Thousands(int(float64(len(readings))/ingestD.Seconds())), Thousands(len(models)), ms(uploadD))})
	prog.finish(fmt.Sprintf("ingest: %s readings in %s events, %d batches (%s); %s models uploaded (%s)", Thousands(len(readings)), Thousands(len(bodies)), ing.Batches, ms(ingestD), Thousands(len(models)), ms(uploadD)))

	// Fan-out. Scoring starts while fan-out still enqueues, so the scoring stage is
	// timed from the start of fan-out.
	t0 = time.Now()
	fanStart := t0
	cpu0 := markCPU(st)
	if _, err := st.Backfill(ctx, res.Window); err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, res.LogPath)
	}
	run, err := st.Store.Run(ctx, res.RunID)
	if err != nil {
		return nil, fmt.Errorf("fan-out registered no run %s: %w", res.RunID, err)
	}
	d = time.Since(t0)
	res.Stages = append(res.Stages, Stage{Name: "fan-out", Duration: d, Detail: fmt.Sprintf("run %s, %s sensors enqueued", res.RunID, Thousands(run.Sensors))})
	fmt.Fprintf(out, "fan-out: run %s, %s sensors enqueued (%s)\n", res.RunID, Thousands(run.Sensors), ms(d))

	// Scoring.
	prog.start("scoring", "sensors", run.Sensors)
	sum, err := st.WaitRun(ctx, res.RunID, func(s sqlstore.Summary) {
		prog.set(s.Done+s.Empty+s.Poisoned, fmt.Sprintf("%d in flight, %d retrying", s.Running, s.Failed))
	})
	if err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, res.LogPath)
	}
	lastOutcome := time.Now()
	res.ScoringCPU = markCPU(st).since(cpu0)
	res.Summary = sum
	d = time.Since(fanStart)
	score := st.Host.FunctionStats(FnScore)
	res.Stages = append(res.Stages, Stage{Name: "scoring", Duration: d, Detail: fmt.Sprintf("from the start of fan-out (it overlaps it) to the last sensor's outcome: %s sensors, %s rows, %.1f sensors/s; %s invocations, %d retried, %d poisoned",
		Thousands(sum.Total), Thousands(sum.Rows), float64(sum.Total)/d.Seconds(), Thousands(score.Invocations), score.Released, score.Poisoned)})
	prog.finish(fmt.Sprintf("scoring: %s done, %s empty, %s poisoned of %s sensors; %s rows, %s anomalies (%s, %.1f sensors/s)",
		Thousands(sum.Done), Thousands(sum.Empty), Thousands(sum.Poisoned), Thousands(sum.Total), Thousands(sum.Rows), Thousands(sum.Anomalies), ms(d), float64(sum.Total)/d.Seconds()))

	outcomes, err := st.Store.Outcomes(ctx, res.RunID)
	if err != nil {
		return nil, fmt.Errorf("outcomes: %w", err)
	}
	var busy time.Duration
	for _, o := range outcomes {
		res.Sensors = append(res.Sensors, SensorResult{Key: o.Key, Status: o.Status, Rows: o.Rows, Anomalies: o.Anomalies,
			Attempts: o.Attempts, Duration: o.Duration, Blob: o.Blob, Error: o.Error})
		busy += o.Duration
	}
	sort.Slice(res.Sensors, func(i, j int) bool { return lessKey(res.Sensors[i].Key, res.Sensors[j].Key) })
	res.Stages = append(res.Stages, Stage{Name: "score-sensor, summed", Duration: busy, Summed: true,
		Detail: fmt.Sprintf("the %s sensors' score-sensor times added up (model load, SQL points, scoring, predictions blob write); they run in parallel, so this exceeds the scoring stage", Thousands(len(outcomes)))})

	// Predictions: each blob is copied and parsed in the goroutine that
	// downloaded it, then they are compared.
	res.PredsDir = filepath.Join(dir, "preds")
	if err := os.RemoveAll(filepath.Join(res.PredsDir, res.RunID)); err != nil {
		return nil, fmt.Errorf("clear predictions copy: %w", err)
	}
	var (
		parsedMu sync.Mutex
		parsed   = map[string][]Prediction{}
	)
	collect := func(name string, data []byte) error {
		p := filepath.Join(res.PredsDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("predictions copy: %w", err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return fmt.Errorf("predictions copy: %w", err)
		}
		ps, err := ReadPredictions(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("predictions blob %s: %w", name, err)
		}
		parsedMu.Lock()
		defer parsedMu.Unlock()
		parsed[name] = ps
		return nil
	}

	blobs, err := st.PredictionBlobs(ctx, res.RunID, collect)
	if err != nil {
		return nil, err
	}
	preds := map[sensor.Key][]Prediction{}
	var all []Prediction // for the parity check only
	rows := 0
	for name := range blobs {
		res.Blobs = append(res.Blobs, name)
	}
	sort.Strings(res.Blobs)
	for _, name := range res.Blobs {
		ps := parsed[name]
		// A blob holds one sensor's rows: append them by runs of one key.
		for i := 0; i < len(ps); {
			j := i + 1
			for j < len(ps) && ps[j].Key == ps[i].Key {
				j++
			}
			if k := ps[i].Key; preds[k] == nil {
				preds[k] = ps[i:j:j]
			} else {
				preds[k] = append(preds[k], ps[i:j]...)
			}
			i = j
		}
		if expected != nil {
			all = append(all, ps...)
		}
		rows += len(ps)
	}
	res.Stages = append(res.Stages, Stage{Name: "collect", Duration: time.Since(lastOutcome), Detail: fmt.Sprintf("after the last outcome: %s prediction blobs downloaded, copied and parsed, %s rows",
		Thousands(len(blobs)), Thousands(rows))})

	res.ReportPath = filepath.Join(dir, "report.html")
	printTable(out, res.Sensors, res.ReportPath)
	printHealth(out, res.Sensors)
	fmt.Fprintf(out, "predictions: %s blobs in container %q under %s/ (Azurite, gone when the run ends); copies in %s\n",
		Thousands(len(res.Blobs)), PredsContainer, res.RunID, filepath.Join(res.PredsDir, res.RunID))

	parityLine := ""
	var parityErr error
	if expected != nil {
		var par Parity
		par, parityLine, parityErr = checkParity(out, expected, all)
		res.Parity = &par
	}
	res.Elapsed = time.Since(started)
	res.Stages = append(res.Stages, Stage{Name: "total", Duration: res.Elapsed, Total: true,
		Detail: fmt.Sprintf("from start to the parity check, set-up and ingest included (the report is written after): %s sensors, %.1f sensors/s end to end", Thousands(sum.Total), float64(sum.Total)/res.Elapsed.Seconds())})
	printStages(out, res.Stages)
	raw, err := st.Storage.Blobs().List(ctx, RawContainer, "")
	if err != nil {
		return nil, fmt.Errorf("list raw blobs: %w", err)
	}
	for _, b := range raw {
		res.RawSizes = append(res.RawSizes, b.Size)
	}

	maxPlots := c.MaxPlots
	if maxPlots == 0 {
		maxPlots = 200
	}
	facts := map[sensor.Key]ModelFacts{}
	for name, data := range models {
		if k, ok := sensor.ParseModelName(name); ok {
			facts[k] = ReadModelFacts(data)
		}
	}
	var rb bytes.Buffer
	if err := WriteHTML(&rb, Report{Title: "batchscore local run (" + label + ")", RunID: res.RunID, Window: res.Window,
		Generated: time.Now(), Inputs: inputList, Sensors: res.Sensors, Stages: res.Stages, Parity: parityLine,
		ParityOK: parityLine != "" && parityErr == nil, Preds: preds, Models: facts, MaxPlots: maxPlots}); err != nil {
		return nil, err
	}
	if err := os.WriteFile(res.ReportPath, rb.Bytes(), 0o644); err != nil {
		return nil, fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(out, "report: %s\n", res.ReportPath)
	fmt.Fprintf(out, "logs: %s (host, text), %s (handler, JSON Lines)\n", res.LogPath, res.HandlerLog)
	fmt.Fprintf(out, "status: bin/batchscore status -sql sqlite:%s -run %s\n", sqlPath, res.RunID)
	if err := pointLatest(c.OutDir, dir); err != nil {
		return res, err
	}
	if parityErr != nil {
		return res, parityErr
	}
	if sum.Poisoned > 0 {
		return res, fmt.Errorf("%d sensors poisoned (see the table and %s)", sum.Poisoned, res.LogPath)
	}
	return res, nil
}

// checkParity compares the predictions with the reference's, prints every
// mismatch and the parity line, and returns the comparison, the line, and an
// error wrapping ErrParity when any prediction differs, is missing or is extra.
func checkParity(out io.Writer, expected, got []Prediction) (Parity, string, error) {
	par := Compare(expected, got)
	line := fmt.Sprintf("%s of %s predictions identical to the reference", Thousands(par.Identical), Thousands(par.Expected))
	for _, m := range par.Mismatches {
		fmt.Fprintln(out, "  mismatch:", m)
	}
	fmt.Fprintf(out, "%s (largest decision difference %.3g)\n", line, par.MaxDecisionDiff)
	if !par.OK() {
		return par, line, fmt.Errorf("%w: %s", ErrParity, line)
	}
	return par, line, nil
}

func inputs(c Config) (readings []sensor.Reading, models map[string][]byte, expected []Prediction, label string, in []Input, err error) {
	if s := c.Synthetic; s != nil {
		if err := s.Validate(); err != nil {
			return nil, nil, nil, "", nil, err
		}
		models, err := s.Models()
		if err != nil {
			return nil, nil, nil, "", nil, fmt.Errorf("synthetic models: %w", err)
		}
		label := fmt.Sprintf("synthetic %dx%d, %d rows per sensor", s.Devices, s.Sensors, s.Rows)
		in := []Input{{"data", fmt.Sprintf("%s, noise %g, injected anomalies %g, seed %d", label, s.Noise, s.AnomalyRate, s.Seed)},
			{"models", fmt.Sprintf("%d generated RBF one-class SVMs (JSON)", len(models))}}
		return s.Readings(), models, nil, label, in, nil
	}
	data, modelsDir, exp := c.Data, c.Models, c.Expected
	label = "reference"
	if data == "" || modelsDir == "" {
		ref, err := reference.Find(".")
		if err != nil {
			return nil, nil, nil, "", nil, err
		}
		if data == "" {
			data = ref.Data
			if exp == "" {
				exp = ref.Expected
			}
		}
		if modelsDir == "" {
			modelsDir = ref.Models
		}
	}
	if c.Data != "" {
		label = c.Data
	}
	f, err := os.Open(data)
	if err != nil {
		return nil, nil, nil, "", nil, fmt.Errorf("readings: %w", err)
	}
	defer f.Close()
	if readings, err = reference.ReadReadings(f); err != nil {
		return nil, nil, nil, "", nil, fmt.Errorf("readings %s: %w", data, err)
	}
	if models, err = ReadModels(modelsDir); err != nil {
		return nil, nil, nil, "", nil, err
	}
	if exp != "" {
		ef, err := os.Open(exp)
		if err != nil {
			return nil, nil, nil, "", nil, fmt.Errorf("expected predictions: %w", err)
		}
		defer ef.Close()
		if expected, err = ReadPredictions(ef); err != nil {
			return nil, nil, nil, "", nil, fmt.Errorf("expected predictions %s: %w", exp, err)
		}
	}
	in = []Input{{"data", fmt.Sprintf("%s (%s readings)", relPath(data), Thousands(len(readings)))},
		{"models", fmt.Sprintf("%s (%s model files, uploaded unchanged)", relPath(modelsDir), Thousands(len(models)))}}
	if exp != "" {
		in = append(in, Input{"reference predictions", fmt.Sprintf("%s (%s rows)", relPath(exp), Thousands(len(expected)))})
	}
	return readings, models, expected, label, in, nil
}

// dataWindow is the scoring window that covers every reading: (first TS - width,
// last TS], both ends aligned to the window width.
func dataWindow(rs []sensor.Reading) sensor.Window {
	first, last := rs[0].TS, rs[0].TS
	for _, r := range rs {
		if r.TS.Before(first) {
			first = r.TS
		}
		if r.TS.After(last) {
			last = r.TS
		}
	}
	return sensor.Window{
		Start: sensor.WindowEnd(first, Window).Add(-Window),
		End:   sensor.WindowEnd(last, Window),
	}
}

func countKeys(rs []sensor.Reading) int {
	seen := map[sensor.Key]bool{}
	for _, r := range rs {
		seen[r.Key] = true
	}
	return len(seen)
}

// tableAll is the largest fleet printTable lists in full.
const tableAll = 40

// printTable prints the per-sensor table. A larger fleet gets three aligned
// sections: every sensor that is not done or empty, the first 20 sensors, and the
// 10 slowest, with a line saying how many are left out (the report has them all).
func printTable(w io.Writer, rs []SensorResult, reportPath string) {
	header := []string{"sensor", "status", "rows", "anomalies", "attempts", "time"}
	cells := func(r SensorResult) []string {
		return []string{r.Key.String(), r.Status, Thousands(r.Rows), Thousands(r.Anomalies), strconv.Itoa(r.Attempts), ms(r.Duration)}
	}
	type section struct {
		title string
		rows  []SensorResult
	}
	var secs []section
	if len(rs) <= tableAll {
		secs = []section{{"", rs}}
	} else {
		var bad []SensorResult
		for _, r := range rs {
			if r.Status != sensor.StatusDone && r.Status != sensor.StatusEmpty {
				bad = append(bad, r)
			}
		}
		if len(bad) > 0 {
			secs = append(secs, section{fmt.Sprintf("not done (%s of %s):", Thousands(len(bad)), Thousands(len(rs))), bad[:min(len(bad), 20)]})
		}
		secs = append(secs, section{fmt.Sprintf("first 20 of %s sensors:", Thousands(len(rs))), rs[:20]})
		slow := append([]SensorResult(nil), rs...)
		sort.SliceStable(slow, func(i, j int) bool { return slow[i].Duration > slow[j].Duration })
		secs = append(secs, section{"slowest 10 sensors:", slow[:10]})
	}
	width := make([]int, len(header))
	widen := func(c []string) {
		for i, s := range c {
			width[i] = max(width[i], len(s))
		}
	}
	widen(header)
	for _, sec := range secs {
		for _, r := range sec.rows {
			widen(cells(r))
		}
	}
	line := func(c []string) {
		var b strings.Builder
		for i, s := range c {
			if i > 0 {
				b.WriteString("  ")
			}
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", width[i], s)
			} else {
				fmt.Fprintf(&b, "%*s", width[i], s)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	for _, sec := range secs {
		if sec.title != "" {
			fmt.Fprintln(w, sec.title)
		}
		line(header)
		for _, r := range sec.rows {
			line(cells(r))
		}
	}
	if len(rs) > tableAll {
		fmt.Fprintf(w, "(%s sensors in all: every one is in %s)\n", Thousands(len(rs)), reportPath)
	}
}

func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// runFolder makes the folder of a run started at t in outDir: its start time,
// UTC, to the second (a second run within the same second gets a suffix).
func runFolder(outDir string, t time.Time) (string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("output folder: %w", err)
	}
	name := t.UTC().Format("20060102T150405Z")
	for i := 1; ; i++ {
		dir := filepath.Join(outDir, name)
		if i > 1 {
			dir += "-" + strconv.Itoa(i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", fmt.Errorf("run folder: %w", err)
		}
	}
}

// pointLatest makes outDir/latest a symbolic link to the run folder dir (a
// relative one, so out/ can be moved); where links cannot be made (Windows
// without the privilege) outDir/latest is a text file naming the folder.
func pointLatest(outDir, dir string) error {
	latest := filepath.Join(outDir, "latest")
	if err := os.Remove(latest); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("out/latest: %w", err)
	}
	name := filepath.Base(dir)
	if err := os.Symlink(name, latest); err == nil {
		return nil
	}
	if err := os.WriteFile(latest, []byte(name+"\n"), 0o644); err != nil {
		return fmt.Errorf("out/latest: %w", err)
	}
	return nil
}

// printStages prints the wall-clock stages, the total, and then the figures that
// are sums over sensors (not wall-clock time), each with what it covers.
func printStages(w io.Writer, stages []Stage) {
	fmt.Fprintln(w, "stages (wall-clock time):")
	for _, s := range stages {
		if !s.Summed {
			fmt.Fprintf(w, "  %-22s %9s  %s\n", s.Name, ms(s.Duration), s.Detail)
		}
	}
	for _, s := range stages {
		if s.Summed {
			fmt.Fprintln(w, "summed over sensors (not wall-clock time):")
			fmt.Fprintf(w, "  %-22s %9s  %s\n", s.Name, ms(s.Duration), s.Detail)
		}
	}
}

// relPath shows path relative to the working directory when it is inside it.
func relPath(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(r, "..") {
		return filepath.ToSlash(r)
	}
	return path
}
