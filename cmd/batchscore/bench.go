package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/svm"
)

const benchUsage = `usage: batchscore bench [-quick] [-rows N] [-files=false] [-cputime=false] [-python PATH] [-script FILE]

Measures scoring speed against scikit-learn, side by side in one run. For 1, 4
and 16 features and about 100 and 1,000 support vectors it has scikit-learn
(through -script, run by -python with OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1)
fit a StandardScaler + OneClassSVM on synthetic data and time
decision_function on -rows rows; then it scores the same rows with the same
parameters in Go, on one core (DecisionBatch) and on all cores
(DecisionBatchParallel), checks the decisions against scikit-learn's, and
prints a markdown table. With -files it also times file to file scoring:
"batchscore score" against a Python script (unpickle, read CSV,
decision_function, write CSV) on the same pickled model and CSV.

flags:
`

// benchConfig is one row of the table.
type benchConfig struct{ nf, nsv int }

// peerFit is what sklearn_peer.py fit writes.
type peerFit struct {
	Kernel         string      `json:"kernel"`
	Gamma          float64     `json:"gamma"`
	Coef0          float64     `json:"coef0"`
	Degree         int         `json:"degree"`
	SupportVectors [][]float64 `json:"support_vectors"`
	DualCoef       []float64   `json:"dual_coef"`
	Intercept      float64     `json:"intercept"`
	ScalerMean     []float64   `json:"scaler_mean"`
	ScalerScale    []float64   `json:"scaler_scale"`
	Rows           [][]float64 `json:"rows"`
	Decisions      []float64   `json:"decisions"`
	Seconds        float64     `json:"seconds"`
	CPUSeconds     float64     `json:"cpu_seconds"`
}

// benchResult is one measured row.
type benchResult struct {
	nf, nsv, rows         int
	sklearn, goOne, goAll float64 // rows per second
	maxRel                float64 // max |go - sklearn| / max(1, |sklearn|)
	labelDiffs            int
}

// runBench is the bench command.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var (
		quick   = fs.Bool("quick", false, "tiny sizes, one repetition: checks the code path, measures nothing")
		rows    = fs.Int("rows", 20000, "rows scored per configuration")
		files   = fs.Bool("files", true, "also time file-to-file scoring against a Python script")
		python  = fs.String("python", "/usr/bin/python3", "Python `interpreter` with scikit-learn")
		script  = fs.String("script", "", "the peer `script` (default: internal/svm/testdata/bench/sklearn_peer.py above the working directory)")
		workers = fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines of the all-cores measurement")
		cpuTime = fs.Bool("cputime", true, "single-core rates (both sides) by the scoring thread's CPU time, not wall-clock time; robust on a busy machine (Linux)")
	)
	if help, err := parseFlags(fs, args, benchUsage, stdout); help || err != nil {
		return err
	}
	switch {
	case *rows < 1:
		return usageError{fmt.Errorf("bench: -rows %d must be at least 1", *rows)}
	case *workers < 1:
		return usageError{fmt.Errorf("bench: -workers %d must be at least 1", *workers)}
	}
	if *script == "" {
		s, err := findPeerScript()
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		*script = s
	}
	configs := []benchConfig{{1, 100}, {1, 1000}, {4, 100}, {4, 1000}, {16, 100}, {16, 1000}}
	reps, minTime := 3, 200*time.Millisecond
	if *quick {
		configs = []benchConfig{{1, 20}, {4, 20}}
		*rows = min(*rows, 300)
		reps, minTime = 1, 0
	}
	dir, err := os.MkdirTemp("", "batchscore-bench-")
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer os.RemoveAll(dir)
	peer := pythonPeer{python: *python, script: *script}

	_, useCPU := threadCPUTime()
	useCPU = useCPU && *cpuTime
	clock := "wall-clock time"
	if useCPU {
		clock = "CPU time of the scoring thread (all cores: wall-clock time)"
	}
	fmt.Fprintf(stdout, "Scoring speed, RBF one-class SVM, %d rows per configuration, %s/%s, %d CPUs (GOMAXPROCS %d), Go kernel %s; rates by %s, best of %d.\n\n",
		*rows, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), svm.KernelImplementation(), clock, reps)
	fmt.Fprintln(stdout, "| features | SVs | scikit-learn rows/s | Go 1 core rows/s | Go all cores rows/s | speedup 1 core | speedup all cores | sklearn ns/eval | Go ns/eval (1 core) | max rel. diff | labels differ |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|---|---|")
	var largest struct {
		pkl, csv string
		nsv      int
	}
	for _, c := range configs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		base := filepath.Join(dir, fmt.Sprintf("nf%d-sv%d", c.nf, c.nsv))
		extra := []string{}
		if c.nf == 1 {
			extra = []string{"--pickle", base + ".pkl", "--csv", base + ".csv"}
		}
		fit, err := peer.fit(ctx, c, *rows, reps, base+".json", extra)
		if err != nil {
			return fmt.Errorf("bench: nf=%d sv=%d: %w", c.nf, c.nsv, err)
		}
		r, err := measure(fit, *workers, reps, minTime, useCPU)
		if err != nil {
			return fmt.Errorf("bench: nf=%d sv=%d: %w", c.nf, c.nsv, err)
		}
		evals := float64(r.nsv)
		fmt.Fprintf(stdout, "| %d | %d | %s | %s | %s | %.1fx | %.1fx | %.2f | %.2f | %.2g | %d |\n",
			r.nf, r.nsv, fmtRate(r.sklearn), fmtRate(r.goOne), fmtRate(r.goAll), r.goOne/r.sklearn, r.goAll/r.sklearn,
			1e9/(r.sklearn*evals), 1e9/(r.goOne*evals), r.maxRel, r.labelDiffs)
		if c.nf == 1 && r.nsv >= largest.nsv {
			largest.pkl, largest.csv, largest.nsv = base+".pkl", base+".csv", r.nsv
		}
		if r.labelDiffs > 0 || r.maxRel > 1e-9 {
			return fmt.Errorf("bench: nf=%d sv=%d: Go disagrees with scikit-learn (max rel. diff %.3g, %d labels)", c.nf, c.nsv, r.maxRel, r.labelDiffs)
		}
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "ns/eval is the time per row divided by the number of support vectors (one kernel evaluation = one row x one SV).")
	if !*files {
		return nil
	}
	return benchFiles(ctx, stdout, peer, largest.pkl, largest.csv, largest.nsv, *rows)
}

// benchFiles times file-to-file scoring of one pickled model: the Python
// script as its own process (as the reference ran it), batchscore score as
// its own process, and runScore in this process; then compares their
// outputs.
func benchFiles(ctx context.Context, stdout io.Writer, peer pythonPeer, pkl, in string, nsv, rows int) error {
	dir := filepath.Dir(pkl)
	pyOut, goOut := filepath.Join(dir, "py.csv"), filepath.Join(dir, "go.csv")
	start := time.Now()
	var py struct {
		Seconds float64 `json:"seconds"`
	}
	if err := peer.run(ctx, &py, "score", "--model", pkl, "--input", in, "--output", pyOut, "--feature", "Value"); err != nil {
		return fmt.Errorf("bench: python score: %w", err)
	}
	pyWall := time.Since(start)
	start = time.Now()
	if err := runScore(ctx, []string{"-model", pkl, "-in", in, "-features", "Value", "-out", goOut, "-q"}, io.Discard, io.Discard); err != nil {
		return fmt.Errorf("bench: batchscore score: %w", err)
	}
	goWall := time.Since(start)
	maxRel, labels, err := compareScored(pyOut, goOut)
	if err != nil {
		return fmt.Errorf("bench: compare outputs: %w", err)
	}
	// The command as a user runs it, a new process like the Python script
	// (not under go test, where the executable is the test binary).
	var procWall time.Duration
	if exe, err := os.Executable(); err == nil && !strings.HasSuffix(exe, ".test") {
		procOut := filepath.Join(dir, "go-process.csv")
		start = time.Now()
		cmd := exec.CommandContext(ctx, exe, "score", "-q", "-model", pkl, "-in", in, "-features", "Value", "-out", procOut)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("bench: %s score: %w: %s", exe, err, oneLine(string(out)))
		}
		procWall = time.Since(start)
		if !bytes.Equal(readOrNil(procOut), readOrNil(goOut)) {
			return errors.New("bench: batchscore score as a process wrote other output than in process")
		}
	}
	fmt.Fprintf(stdout, "\nFile to file, one pickled scikit-learn model (1 feature, %d SVs), %d rows of CSV:\n\n", nsv, rows)
	fmt.Fprintln(stdout, "| scorer | wall-clock | rows/s |")
	fmt.Fprintln(stdout, "|---|---|---|")
	fmt.Fprintf(stdout, "| python3 script, new process (start, unpickle, read, score, write) | %s | %s |\n", pyWall.Round(time.Millisecond), fmtRate(float64(rows)/pyWall.Seconds()))
	fmt.Fprintf(stdout, "| python3 script, its own work only (unpickle, read, score, write) | %.1f ms | %s |\n", py.Seconds*1e3, fmtRate(float64(rows)/py.Seconds))
	if procWall > 0 {
		fmt.Fprintf(stdout, "| batchscore score, new process (start, load, read, score, write) | %.1f ms | %s |\n", procWall.Seconds()*1e3, fmtRate(float64(rows)/procWall.Seconds()))
	}
	fmt.Fprintf(stdout, "| batchscore score (in process: load, read, score, write) | %.1f ms | %s |\n", goWall.Seconds()*1e3, fmtRate(float64(rows)/goWall.Seconds()))
	if procWall > 0 {
		fmt.Fprintf(stdout, "\nNew process against new process: batchscore score %.1fx the Python script.\n", pyWall.Seconds()/procWall.Seconds())
	}
	fmt.Fprintf(stdout, "Own work against own work: batchscore score (in process) %.1fx the Python script.\n", py.Seconds/goWall.Seconds())
	fmt.Fprintf(stdout, "\nOutputs: max rel. diff of decisions %.2g, %d labels differ.\n", maxRel, labels)
	if labels > 0 || maxRel > 1e-9 {
		return fmt.Errorf("bench: batchscore score disagrees with the Python script (max rel. diff %.3g, %d labels)", maxRel, labels)
	}
	return nil
}

// measure scores fit.Rows in Go and compares with scikit-learn.
// With cpuTime, the single-core rates of both sides are rows per second of
// the scoring thread's CPU time.
func measure(fit peerFit, workers, reps int, minTime time.Duration, cpuTime bool) (benchResult, error) {
	k, err := svm.ParseKernel(fit.Kernel)
	if err != nil {
		return benchResult{}, err
	}
	m, err := svm.New(svm.Params{Kernel: k, Gamma: fit.Gamma, Coef0: fit.Coef0, Degree: fit.Degree,
		SupportVectors: fit.SupportVectors, DualCoef: fit.DualCoef, Intercept: fit.Intercept,
		ScalerMean: fit.ScalerMean, ScalerScale: fit.ScalerScale})
	if err != nil {
		return benchResult{}, err
	}
	n, nf := len(fit.Rows), m.NFeatures()
	if n == 0 || len(fit.Decisions) != n || fit.Seconds <= 0 {
		return benchResult{}, fmt.Errorf("peer output has %d rows, %d decisions, %v s", n, len(fit.Decisions), fit.Seconds)
	}
	X := make([]float64, 0, n*nf)
	for i, r := range fit.Rows {
		if len(r) != nf {
			return benchResult{}, fmt.Errorf("row %d has %d features, want %d", i, len(r), nf)
		}
		X = append(X, r...)
	}
	dst := make([]float64, n)
	res := benchResult{nf: nf, nsv: m.NSupport(), rows: n, sklearn: float64(n) / fit.Seconds}
	res.goOne = bestRate(n, reps, minTime, false, func() { m.DecisionBatch(dst, X) })
	if cpuTime && fit.CPUSeconds > 0 {
		res.sklearn = float64(n) / fit.CPUSeconds
		res.goOne = bestRate(n, reps, minTime, true, func() { m.DecisionBatch(dst, X) })
	}
	res.goAll = bestRate(n, reps, minTime, false, func() { m.DecisionBatchParallel(dst, X, workers) })
	for i, want := range fit.Decisions {
		res.maxRel = math.Max(res.maxRel, math.Abs(dst[i]-want)/math.Max(1, math.Abs(want)))
		if svm.IsAnomaly(dst[i]) != svm.IsAnomaly(want) {
			res.labelDiffs++
		}
	}
	return res, nil
}

// bestRate returns the best rows/s of reps runs, each repeating score until
// minTime has passed, by wall-clock time or (cpu) by the CPU time of the
// scoring thread.
func bestRate(rows, reps int, minTime time.Duration, cpu bool, score func()) float64 {
	now := func() time.Duration { return time.Duration(time.Now().UnixNano()) }
	if cpu {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		now = func() time.Duration { d, _ := threadCPUTime(); return d }
	}
	best := 0.0
	for range reps {
		start, calls := now(), 0
		for {
			score()
			calls++
			if now()-start >= minTime {
				break
			}
		}
		if el := now() - start; el > 0 {
			best = math.Max(best, float64(rows*calls)/el.Seconds())
		}
	}
	return best
}

// compareScored compares the Decision and Prediction columns of two scored CSVs
// (also read under the names decision and anomaly).
func compareScored(aPath, bPath string) (maxRel float64, labels int, err error) {
	read := func(path string) ([][]string, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return csv.NewReader(f).ReadAll()
	}
	a, err := read(aPath)
	if err != nil {
		return 0, 0, err
	}
	b, err := read(bPath)
	if err != nil {
		return 0, 0, err
	}
	if len(a) != len(b) || len(a) < 1 {
		return 0, 0, fmt.Errorf("%d and %d records", len(a), len(b))
	}
	col := func(h []string, names ...string) int {
		for i, c := range h {
			for _, n := range names {
				if strings.EqualFold(c, n) {
					return i
				}
			}
		}
		return -1
	}
	ad, aa := col(a[0], "Decision"), col(a[0], "Prediction", "anomaly")
	bd, ba := col(b[0], "Decision"), col(b[0], "Prediction", "anomaly")
	if ad < 0 || aa < 0 || bd < 0 || ba < 0 {
		return 0, 0, fmt.Errorf("headers %v and %v lack Decision or Prediction", a[0], b[0])
	}
	for i := 1; i < len(a); i++ {
		x, err1 := strconv.ParseFloat(a[i][ad], 64)
		y, err2 := strconv.ParseFloat(b[i][bd], 64)
		if err := errors.Join(err1, err2); err != nil {
			return 0, 0, fmt.Errorf("record %d: %w", i, err)
		}
		maxRel = math.Max(maxRel, math.Abs(x-y)/math.Max(1, math.Abs(x)))
		if a[i][aa] != b[i][ba] {
			labels++
		}
	}
	return maxRel, labels, nil
}

// pythonPeer runs the scikit-learn side.
type pythonPeer struct{ python, script string }

func (p pythonPeer) fit(ctx context.Context, c benchConfig, rows, reps int, out string, extra []string) (peerFit, error) {
	args := append([]string{"fit", "--nf", strconv.Itoa(c.nf), "--nsv", strconv.Itoa(c.nsv),
		"--rows", strconv.Itoa(rows), "--reps", strconv.Itoa(reps), "--out", out}, extra...)
	if err := p.run(ctx, nil, args...); err != nil {
		return peerFit{}, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return peerFit{}, err
	}
	var f peerFit
	if err := json.Unmarshal(b, &f); err != nil {
		return peerFit{}, fmt.Errorf("peer output %s: %w", out, err)
	}
	return f, nil
}

// run runs the script single-threaded; if v is not nil, its standard output
// is decoded into v as JSON.
func (p pythonPeer) run(ctx context.Context, v any, args ...string) error {
	cmd := exec.CommandContext(ctx, p.python, append([]string{p.script}, args...)...)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1", "PYTHONWARNINGS=ignore")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s %s: %w: %s", p.python, args[0], err, oneLine(string(ee.Stderr)))
		}
		return fmt.Errorf("%s %s: %w", p.python, args[0], err)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			return fmt.Errorf("%s %s output: %w", p.python, args[0], err)
		}
	}
	return nil
}

// findPeerScript looks for the peer script from the working directory up.
func findPeerScript() (string, error) {
	return findRepoFile("internal/svm/testdata/bench/sklearn_peer.py")
}

// findRepoFile looks for the repository file rel from the working directory up.
func findRepoFile(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found above the working directory; give -script", rel)
		}
		dir = parent
	}
}

// fmtRate prints a rate with thousands separators.
func fmtRate(v float64) string {
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// readOrNil returns a file's bytes, or nil if it cannot be read.
func readOrNil(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}
