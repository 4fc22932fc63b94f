package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/batchscore/batchscore/internal/reference"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/svm"
)

const trainUsage = `usage: batchscore train (-sql URL -from TIME -to TIME | -csv FILE) (-out DIR | -container NAME) [flags]

Fits one one-class SVM per (device, sensor), as scikit-learn's
Pipeline(StandardScaler, OneClassSVM) would (svm.Fit: the same support
vectors, alphas and rho), on the window averages of its readings:
  -sql    the stored 5-second window averages with window end in (-from, -to]
          (the SQL store of the ingest function; default $SQL_URL);
  -csv    a readings CSV in the reference's format (TS,Device,Sensor,Value),
          averaged into windows of -width the same way (-from/-to optional).
It writes model_{device}_{sensor}.json (the project's JSON format, scaler
included) and libsvm/model_{device}_{sensor}.model (libsvm's text format,
the scaler folded into the support vectors and gamma; svm-predict reads it)
to the folder -out or the blob container -container of the storage account
named by -connection (default AzureWebJobsStorage, read like the Functions
host reads it). It prints a table of rows, support vectors and fit time per
sensor.

flags:
`

// trainSeries is one sensor's training values.
type trainSeries struct {
	key    sensor.Key
	values []float64
}

// trainOutcome is one row of the summary.
type trainOutcome struct {
	key   sensor.Key
	rows  int
	nsv   int
	iter  int
	gamma float64
	took  time.Duration
	err   error
}

// modelSink receives the model files.
type modelSink interface {
	put(ctx context.Context, name string, data []byte) error
}

type dirSink string

func (d dirSink) put(_ context.Context, name string, data []byte) error {
	p := filepath.Join(string(d), filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

type blobSink struct {
	blobs     *storage.Blobs
	container string
}

func (b blobSink) put(ctx context.Context, name string, data []byte) error {
	ct := "application/json"
	if !strings.HasSuffix(name, ".json") {
		ct = "text/plain; charset=utf-8"
	}
	return b.blobs.Put(ctx, b.container, name, data, ct)
}

func runTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	var (
		sqlURL     = fs.String("sql", os.Getenv("SQL_URL"), "SQL store `URL` to read window averages from (default $SQL_URL)")
		csvPath    = fs.String("csv", "", "readings CSV `file` in the reference's format, instead of -sql")
		from       = fs.String("from", "", "start of the training range, RFC 3339, exclusive (required with -sql)")
		to         = fs.String("to", "", "end of the training range, RFC 3339, inclusive (required with -sql)")
		width      = fs.Duration("width", 5*time.Second, "window width of the averages")
		out        = fs.String("out", "", "write the models to this `folder`")
		container  = fs.String("container", "", "write the models to this blob `container` (created if missing)")
		connection = fs.String("connection", "AzureWebJobsStorage", "`name` of the storage connection setting, for -container")
		nu         = fs.Float64("nu", 0.01, "nu: upper bound on the fraction of training windows outside the boundary")
		gamma      = fs.String("gamma", "0.01", "RBF/poly/sigmoid gamma: scale, auto (scikit-learn's rules) or a number; the reference's models use 0.01 on standardised values")
		kernelName = fs.String("kernel", "rbf", "kernel: rbf, linear, poly or sigmoid")
		coef0      = fs.Float64("coef0", 0, "coef0 of the poly and sigmoid kernels")
		degree     = fs.Int("degree", 3, "degree of the poly kernel")
		scale      = fs.Bool("scale", true, "standardise each sensor's values first (StandardScaler), as the reference's pipelines do")
		minRows    = fs.Int("min-rows", 10, "skip sensors with fewer windows than this")
		workers    = fs.Int("workers", runtime.GOMAXPROCS(0), "models fitted at once")
		quiet      = fs.Bool("q", false, "no progress bar")
	)
	if help, err := parseFlags(fs, args, trainUsage, stdout); help || err != nil {
		return err
	}
	kernel, err := svm.ParseKernel(*kernelName)
	if err != nil {
		return usageError{fmt.Errorf("train: -kernel: %w", err)}
	}
	if _, err := svm.ParseGamma(*gamma, [][]float64{{0}}); err != nil {
		return usageError{fmt.Errorf("train: -gamma: %w", err)}
	}
	switch {
	case !(*nu > 0 && *nu <= 1):
		return usageError{fmt.Errorf("train: -nu %v must be in (0, 1]", *nu)}
	case *width <= 0:
		return usageError{fmt.Errorf("train: -width %v must be positive", *width)}
	case *workers < 1:
		return usageError{fmt.Errorf("train: -workers %d must be at least 1", *workers)}
	case *minRows < 2:
		return usageError{fmt.Errorf("train: -min-rows %d must be at least 2", *minRows)}
	case (*out == "") == (*container == ""):
		return usageError{errors.New("train: give exactly one of -out and -container")}
	case *csvPath == "" && *sqlURL == "":
		return usageError{errors.New("train: give -csv, or -sql (or set SQL_URL) with -from and -to")}
	}
	var w sensor.Window
	if *from != "" || *to != "" || *csvPath == "" {
		if w, err = parseRange(*from, *to); err != nil {
			return usageError{fmt.Errorf("train: %w", err)}
		}
	}

	var sink modelSink = dirSink(*out)
	if *container != "" {
		cfg, err := storage.ConfigFromEnv(os.Getenv, *connection)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		acct, err := storage.New(cfg)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if err := acct.Blobs().EnsureContainers(ctx, *container); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		sink = blobSink{acct.Blobs(), *container}
	} else if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}

	var series []trainSeries
	if *csvPath != "" {
		series, err = csvSeries(*csvPath, w, *width)
	} else {
		series, err = sqlSeries(ctx, *sqlURL, w, *width)
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if len(series) == 0 {
		return errors.New("train: no readings in the given range")
	}

	opts := svm.FitOptions{
		TrainParams: svm.TrainParams{Kernel: kernel, Nu: *nu, Coef0: *coef0, Degree: *degree, Workers: 1},
		Gamma:       *gamma, Scale: *scale,
	}
	var bar *progressbar.ProgressBar
	if f, ok := stderr.(*os.File); ok && !*quiet && term.IsTerminal(int(f.Fd())) {
		bar = progressbar.NewOptions(len(series), progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("training"), progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	start := time.Now()
	outcomes := trainAll(ctx, series, opts, *minRows, *workers, sink, func() {
		if bar != nil {
			_ = bar.Add(1)
		}
	})
	if bar != nil {
		_ = bar.Finish()
	}
	return printTrainSummary(stdout, outcomes, time.Since(start))
}

// parseRange reads -from and -to (RFC 3339).
func parseRange(from, to string) (sensor.Window, error) {
	if from == "" || to == "" {
		return sensor.Window{}, errors.New("give both -from and -to (RFC 3339, e.g. 2018-08-28T23:00:00Z)")
	}
	s, err1 := time.Parse(time.RFC3339Nano, from)
	e, err2 := time.Parse(time.RFC3339Nano, to)
	if err := errors.Join(err1, err2); err != nil {
		return sensor.Window{}, fmt.Errorf("-from/-to: %w", err)
	}
	w := sensor.Window{Start: s.UTC(), End: e.UTC()}
	return w, w.Validate()
}

// sqlSeries reads every sensor's window averages in w from the SQL store.
func sqlSeries(ctx context.Context, url string, w sensor.Window, width time.Duration) ([]trainSeries, error) {
	if err := sqliteExists(url); err != nil {
		return nil, err
	}
	st, err := sqlstore.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	keys, err := st.Keys(ctx, w)
	if err != nil {
		return nil, err
	}
	var out []trainSeries
	for _, k := range keys {
		pts, err := st.Points(ctx, k, w, width)
		if err != nil {
			return nil, err
		}
		s := trainSeries{key: k}
		for _, p := range pts {
			s.values = append(s.values, p.Value)
		}
		out = append(out, s)
	}
	return out, nil
}

// csvSeries reads a reference-format CSV and averages each sensor's readings
// into tumbling windows of width (sensor.WindowEnd), keeping the windows
// that end in w when w is set.
func csvSeries(path string, w sensor.Window, width time.Duration) ([]trainSeries, error) {
	rs, err := reference.Readings(path)
	if err != nil {
		return nil, err
	}
	type acc struct {
		sum float64
		n   int
	}
	windows := map[sensor.Key]map[time.Time]*acc{}
	for _, r := range rs {
		end := sensor.WindowEnd(r.TS, width)
		if !w.Start.IsZero() && !(end.After(w.Start) && !end.After(w.End)) {
			continue
		}
		m := windows[r.Key]
		if m == nil {
			m = map[time.Time]*acc{}
			windows[r.Key] = m
		}
		a := m[end]
		if a == nil {
			a = &acc{}
			m[end] = a
		}
		a.sum += r.Value
		a.n++
	}
	out := make([]trainSeries, 0, len(windows))
	for k, m := range windows {
		ends := make([]time.Time, 0, len(m))
		for e := range m {
			ends = append(ends, e)
		}
		slices.SortFunc(ends, time.Time.Compare)
		s := trainSeries{key: k}
		for _, e := range ends {
			s.values = append(s.values, m[e].sum/float64(m[e].n))
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b trainSeries) int {
		return strings.Compare(a.key.Device+"\x00"+a.key.Sensor, b.key.Device+"\x00"+b.key.Sensor)
	})
	return out, nil
}

// trainAll fits and writes every series' model on workers goroutines, in
// the order of series.
func trainAll(ctx context.Context, series []trainSeries, opts svm.FitOptions, minRows, workers int, sink modelSink, done func()) []trainOutcome {
	outcomes := make([]trainOutcome, len(series))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range min(workers, len(series)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				outcomes[i] = trainOne(ctx, series[i], opts, minRows, sink)
				mu.Lock()
				done()
				mu.Unlock()
			}
		}()
	}
	for i := range series {
		next <- i
	}
	close(next)
	wg.Wait()
	return outcomes
}

// trainOne fits one sensor's model and writes its two files.
func trainOne(ctx context.Context, s trainSeries, opts svm.FitOptions, minRows int, sink modelSink) trainOutcome {
	o := trainOutcome{key: s.key, rows: len(s.values)}
	if err := ctx.Err(); err != nil {
		o.err = err
		return o
	}
	if len(s.values) < minRows {
		o.err = fmt.Errorf("skipped: %d windows, fewer than -min-rows %d", len(s.values), minRows)
		return o
	}
	x := make([][]float64, len(s.values))
	for i := range s.values {
		x[i] = s.values[i : i+1 : i+1]
	}
	start := time.Now()
	m, r, err := svm.Fit(x, opts)
	o.took = time.Since(start)
	if err != nil {
		o.err = err
		return o
	}
	o.nsv, o.iter, o.gamma = len(r.Support), r.Iterations, r.Params.Gamma
	var js, lib bytes.Buffer
	if err := svm.WriteJSON(&js, m); err != nil {
		o.err = err
		return o
	}
	name := s.key.ModelName()
	if err := sink.put(ctx, name+".json", js.Bytes()); err != nil {
		o.err = fmt.Errorf("write %s.json: %w", name, err)
		return o
	}
	folded, err := svm.FoldScaler(m)
	if err == nil {
		err = svm.WriteLibSVM(&lib, folded)
	}
	if err == nil {
		err = sink.put(ctx, "libsvm/"+name+".model", lib.Bytes())
	}
	if err != nil {
		o.err = fmt.Errorf("libsvm model: %w", err)
	}
	return o
}

// printTrainSummary prints one line per sensor and the totals; it returns
// an error if any sensor failed (skipped ones only count).
func printTrainSummary(w io.Writer, outcomes []trainOutcome, took time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "device\tsensor\twindows\tSVs\titerations\tgamma\tfit ms\t  note")
	var rows, svs, fitted, skipped int
	var failed []string
	var fit time.Duration
	for _, o := range outcomes {
		note := ""
		if o.err != nil {
			note = o.err.Error()
			if strings.HasPrefix(note, "skipped:") {
				skipped++
			} else {
				failed = append(failed, o.key.String())
			}
		} else {
			fitted++
		}
		rows += o.rows
		svs += o.nsv
		fit += o.took
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.4g\t%.1f\t  %s\n", o.key.Device, o.key.Sensor, o.rows, o.nsv, o.iter, o.gamma, o.took.Seconds()*1e3, note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%d models fitted, %d skipped, %d failed; %s windows, %s support vectors; fitting %.2f s, in all %.2f s.\n",
		fitted, skipped, len(failed), fmtRate(float64(rows)), fmtRate(float64(svs)), fit.Seconds(), took.Seconds())
	if len(failed) > 0 {
		return fmt.Errorf("train: %d sensors failed: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}
