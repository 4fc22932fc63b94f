// Package train is the core of the train function, off by default: on its
// schedule (TRAIN_SCHEDULE) it refits every sensor's model from the last
// Config.Days of window averages in SQL, validates each new model on the most
// recent windows, which the fit never saw, and writes only a model that
// passes, keeping the one it replaces.
//
// Trigger: timerTrigger with schedule %TRAIN_SCHEDULE%; the function is
// disabled unless the app setting AzureWebJobs.train.Disabled is false (the
// host's own switch for a function). No output bindings: models go through
// ModelStore (internal/storage), outcomes through OutcomeStore
// (internal/sqlstore).
//
// # Per sensor
//
//  1. The windows ending in (now - Days, now], oldest first (sqlstore Points).
//     Fewer than Config.MinWindows: outcome "empty", the model is left alone.
//  2. The oldest 80 % are fitted (at most Config.MaxFitRows of them, evenly
//     spaced; svm.Fit: StandardScaler, RBF one-class SVM with Config.Nu and
//     Config.Gamma, the settings of batchscore train); the newest 20 % are
//     held out.
//  3. Validation: the new model's anomaly rate on the held-out windows must
//     not exceed Nu + Tolerance, and it must not flag half or more of its own
//     training windows (a degenerate model). A model that fails leaves the
//     current one in place; the outcome is "failed" with the reason.
//  4. The current model blob (the first model_{device}_{sensor}[.ext] in
//     name order, the one timer-fanout uses) is copied to previous/{its name}
//     (names with a '/' are no models to timer-fanout) and the new model is
//     written under that same name (model_{device}_{sensor}.json for a sensor
//     that had none), with metadata train_run = the run id. Nothing is
//     deleted or renamed, so a scoring job queued before the run, which names
//     that blob, scores the new version (its ETag is recorded). A model
//     already carrying this run's train_run is not kept or written again, so
//     a retried invocation does not overwrite previous/ with its own model.
//
// The run is registered as "train-{window}" in the runs table and each
// sensor's outcome recorded like a scoring outcome (rows = training windows,
// anomalies = held-out anomalies, blob = the new model), so run-status shows
// it. Scoring outcomes record the ETag of the model blob they used.
package train

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/svm"
)

// WindowSource reads the stored window averages.
type WindowSource interface {
	Keys(ctx context.Context, w sensor.Window) ([]sensor.Key, error)
	Points(ctx context.Context, key sensor.Key, w sensor.Window, width time.Duration) ([]sensor.Point, error)
}

// ModelStore reads and writes model blobs.
type ModelStore interface {
	List(ctx context.Context, container, prefix string) ([]storage.BlobInfo, error)
	Get(ctx context.Context, container, name string) ([]byte, string, error)
	Metadata(ctx context.Context, container, name string) (map[string]string, error)
	Put(ctx context.Context, container, name string, data []byte, contentType string) error
	PutWithMetadata(ctx context.Context, container, name string, data []byte, contentType string, metadata map[string]string) error
}

// OutcomeStore registers the run and records each sensor's outcome.
type OutcomeStore interface {
	PutRun(ctx context.Context, r sensor.Run) error
	FinishOutcome(ctx context.Context, o sensor.Outcome) error
}

// Config holds the function's settings.
type Config struct {
	ModelsContainer string        // MODELS_CONTAINER, default "models"
	Days            int           // TRAIN_DAYS, the history fitted, default 7
	Nu              float64       // TRAIN_NU, default 0.01
	Gamma           string        // TRAIN_GAMMA: a number, scale or auto; default 0.01
	Tolerance       float64       // TRAIN_TOLERANCE, allowed held-out anomaly rate above Nu, default (and for 0) 0.05
	Width           time.Duration // AGGREGATE_WINDOW, default 5s
	MinWindows      int           // fewer windows: no model, default 100
	MaxFitRows      int           // windows fitted at most (evenly spaced), default 5,000
	Logger          *slog.Logger
}

// recordTimeout bounds the recording of one outcome, which goes on after
// the invocation's context ends.
const recordTimeout = 10 * time.Second

const holdOut = 0.2 // the newest fraction of the windows, kept out of the fit

func (c Config) withDefaults() Config {
	if c.ModelsContainer == "" {
		c.ModelsContainer = "models"
	}
	if c.Days == 0 {
		c.Days = 7
	}
	if c.Nu == 0 {
		c.Nu = 0.01
	}
	if c.Gamma == "" {
		c.Gamma = "0.01"
	}
	if c.Tolerance == 0 {
		c.Tolerance = 0.05
	}
	if c.Width == 0 {
		c.Width = 5 * time.Second
	}
	if c.MinWindows == 0 {
		c.MinWindows = 100
	}
	if c.MaxFitRows == 0 {
		c.MaxFitRows = 5000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports a setting the function cannot work with.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Days < 1 {
		errs = append(errs, fmt.Errorf("TRAIN_DAYS %d: must be at least 1", c.Days))
	}
	if !(c.Nu > 0 && c.Nu <= 1) {
		errs = append(errs, fmt.Errorf("TRAIN_NU %v: must be in (0, 1]", c.Nu))
	}
	if _, err := svm.ParseGamma(c.Gamma, [][]float64{{0}}); err != nil {
		errs = append(errs, fmt.Errorf("TRAIN_GAMMA: %w", err))
	}
	if !(c.Tolerance >= 0 && c.Tolerance < 1) {
		errs = append(errs, fmt.Errorf("TRAIN_TOLERANCE %v: must be in [0, 1)", c.Tolerance))
	}
	return errors.Join(errs...)
}

// Function is the train function's core.
type Function struct {
	cfg      Config
	windows  WindowSource
	models   ModelStore
	outcomes OutcomeStore
}

// New returns the core; cfg gets its defaults.
func New(cfg Config, windows WindowSource, models ModelStore, outcomes OutcomeStore) *Function {
	return &Function{cfg: cfg.withDefaults(), windows: windows, models: models, outcomes: outcomes}
}

// Result sums up one invocation.
type Result struct {
	Run      string `json:"run"`
	Sensors  int    `json:"sensors"`
	Written  int    `json:"written"`
	Rejected int    `json:"rejected"`
	Empty    int    `json:"empty"`
}

// Run refits every sensor with windows in the Days before now (truncated to
// the hour, so that a retry in the same hour is the same run). An error
// reading the sensors or registering the run is returned (the host retries);
// a sensor's own failure is recorded in its outcome.
func (f *Function) Run(ctx context.Context, now time.Time) (Result, error) {
	end := now.UTC().Truncate(time.Hour)
	w := sensor.Window{Start: end.AddDate(0, 0, -f.cfg.Days), End: end}
	res := Result{Run: sensor.TrainRunPrefix + w.RunID()}
	keys, err := f.windows.Keys(ctx, w)
	if err != nil {
		return res, fmt.Errorf("train: %w", err)
	}
	res.Sensors = len(keys)
	if err := f.outcomes.PutRun(ctx, sensor.Run{ID: res.Run, Window: w, Sensors: len(keys), Created: now.UTC()}); err != nil {
		return res, fmt.Errorf("train: %w", err)
	}
	var errs []error
	for i, k := range keys {
		if ctx.Err() != nil {
			// The invocation ended (INVOCATION_TIMEOUT, shutdown): the
			// sensors left keep their models and get no outcome.
			errs = append(errs, fmt.Errorf("%d of %d sensors not trained: %w", len(keys)-i, len(keys), context.Cause(ctx)))
			break
		}
		o := f.sensor(ctx, res.Run, k, w)
		switch o.Status {
		case sensor.StatusDone:
			res.Written++
		case sensor.StatusEmpty:
			res.Empty++
		default:
			res.Rejected++
		}
		f.cfg.Logger.InfoContext(ctx, "train outcome", "run", res.Run, "sensor", k.String(), "status", o.Status, "rows", o.Rows, "error", o.Error)
		// Recorded also when the invocation has just ended: the sensor's
		// model may already be replaced.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		err := f.outcomes.FinishOutcome(rctx, o)
		cancel()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("train: %w", err)
	}
	return res, nil
}

// sensor fits, validates and writes one sensor's model.
func (f *Function) sensor(ctx context.Context, run string, k sensor.Key, w sensor.Window) sensor.Outcome {
	start := time.Now()
	o := sensor.Outcome{Run: run, Key: k, Attempts: 1}
	fail := func(status string, err error) sensor.Outcome {
		o.Status, o.Error, o.Duration = status, err.Error(), time.Since(start)
		return o
	}
	pts, err := f.windows.Points(ctx, k, w, f.cfg.Width)
	if err != nil {
		return fail(sensor.StatusFailed, err)
	}
	if len(pts) < f.cfg.MinWindows {
		return fail(sensor.StatusEmpty, fmt.Errorf("%d windows, fewer than %d: model left as it is", len(pts), f.cfg.MinWindows))
	}
	x := make([][]float64, len(pts))
	for i, p := range pts {
		x[i] = []float64{p.Value}
	}
	nFit := len(x) - int(float64(len(x))*holdOut)
	fit, held := x[:nFit], x[nFit:]
	if step := (nFit + f.cfg.MaxFitRows - 1) / f.cfg.MaxFitRows; step > 1 {
		// A week of 5-second windows is 120,960 rows: an even sample keeps
		// each fit in tens of milliseconds.
		var sample [][]float64
		for i := 0; i < nFit; i += step {
			sample = append(sample, fit[i])
		}
		fit = sample
	}
	m, _, err := svm.Fit(fit, svm.FitOptions{
		TrainParams: svm.TrainParams{Kernel: svm.RBF, Nu: f.cfg.Nu, Workers: 1},
		Gamma:       f.cfg.Gamma, Scale: true,
	})
	if err != nil {
		return fail(sensor.StatusFailed, err)
	}
	o.Rows = len(fit)
	heldRate, held0 := anomalyRate(m, held)
	o.Anomalies = held0
	if fitRate, _ := anomalyRate(m, fit); fitRate >= 0.5 {
		return fail(sensor.StatusFailed, fmt.Errorf("rejected: the new model flags %.1f %% of its own training windows (degenerate)", 100*fitRate))
	}
	if heldRate > f.cfg.Nu+f.cfg.Tolerance {
		return fail(sensor.StatusFailed, fmt.Errorf("rejected: the new model flags %.1f %% of %d held-out windows, more than nu %g + tolerance %g",
			100*heldRate, len(held), f.cfg.Nu, f.cfg.Tolerance))
	}
	var buf bytes.Buffer
	if err := svm.WriteJSON(&buf, m); err != nil {
		return fail(sensor.StatusFailed, err)
	}
	name, err := f.replace(ctx, run, k, buf.Bytes())
	if err != nil {
		return fail(sensor.StatusFailed, err)
	}
	o.Status, o.Blob, o.Duration = sensor.StatusDone, f.cfg.ModelsContainer+"/"+name, time.Since(start)
	return o
}

// anomalyRate is the fraction of rows the model flags, and their number.
func anomalyRate(m *svm.Model, rows [][]float64) (float64, int) {
	n := 0
	for _, r := range rows {
		if svm.IsAnomaly(m.Decision(r)) {
			n++
		}
	}
	return float64(n) / float64(len(rows)), n
}

// metaRun is the blob metadata that names the run that wrote a model.
const metaRun = "train_run"

// replace keeps the current model at previous/{name} and writes the new one
// under the same name (see the package doc). It returns the model's blob name.
func (f *Function) replace(ctx context.Context, run string, k sensor.Key, model []byte) (string, error) {
	c := f.cfg.ModelsContainer
	blobs, err := f.models.List(ctx, c, k.ModelName())
	if err != nil {
		return "", err
	}
	var current []string
	for _, b := range blobs {
		if got, ok := sensor.ParseModelName(b.Name); ok && got == k {
			current = append(current, b.Name)
		}
	}
	// The new model takes the name timer-fanout uses for the sensor (the
	// first in name order; the loaders tell formats by their bytes), so jobs
	// queued before this run score the new version and nothing is deleted.
	name := k.ModelName() + ".json"
	if len(current) > 0 {
		name = slices.Min(current)
		md, err := f.models.Metadata(ctx, c, name)
		if err != nil {
			return "", err
		}
		if md[metaRun] == run {
			// An earlier attempt of this run wrote it: keeping it again would
			// put this run's own model over previous/{name}.
			return name, nil
		}
		if err := f.keep(ctx, name); err != nil {
			return "", err
		}
	}
	if err := f.models.PutWithMetadata(ctx, c, name, model, "application/json", map[string]string{metaRun: run}); err != nil {
		return "", err
	}
	return name, nil
}

// keep copies the model blob name to previous/{name}.
func (f *Function) keep(ctx context.Context, name string) error {
	c := f.cfg.ModelsContainer
	data, _, err := f.models.Get(ctx, c, name)
	if err != nil {
		return err
	}
	return f.models.Put(ctx, c, "previous/"+name, data, contentType(name))
}

func contentType(name string) string {
	if strings.HasSuffix(name, ".json") {
		return "application/json"
	}
	return "application/octet-stream"
}
