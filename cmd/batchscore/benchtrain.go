package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/svm"
)

const benchTrainUsage = `usage: batchscore bench-train [-quick] [-rows LIST] [-features LIST] [-nu NU] [-python PATH] [-script FILE]

Measures one-class SVM training against scikit-learn, side by side in one run.
For each number of rows and of features it generates the same synthetic rows
for both sides, has scikit-learn (through -script, run by -python with
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1) time OneClassSVM(rbf, nu,
gamma='scale').fit, then times svm.TrainOneClass in Go on one goroutine and
with all cores computing kernel columns, checks that both found the same
support vectors, alphas and rho (within 1e-6 relative), and prints a markdown
table. Single-core times are the CPU time of the fitting thread (Linux), so
they stay meaningful on a busy machine; the all-cores time is wall-clock time.

flags:
`

// benchTrainPeer is what fit_peer.py prints.
type benchTrainPeer struct {
	Seconds    float64   `json:"seconds"`
	CPUSeconds float64   `json:"cpu_seconds"`
	Gamma      float64   `json:"gamma"`
	Support    []int     `json:"support"`
	Alpha      []float64 `json:"alpha"`
	Rho        float64   `json:"rho"`
}

func runBenchTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-train", flag.ContinueOnError)
	var (
		quick    = fs.Bool("quick", false, "tiny sizes, one repetition: checks the code path, measures nothing")
		rowsList = fs.String("rows", "1000,10000,50000", "comma-separated `numbers` of training rows")
		featList = fs.String("features", "1,4,16", "comma-separated `numbers` of features")
		nu       = fs.Float64("nu", 0.1, "nu of every fit")
		python   = fs.String("python", "/usr/bin/python3", "Python `interpreter` with scikit-learn")
		script   = fs.String("script", "", "the peer `script` (default: internal/svm/testdata/train/fit_peer.py above the working directory)")
		workers  = fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines of the all-cores measurement")
	)
	if help, err := parseFlags(fs, args, benchTrainUsage, stdout); help || err != nil {
		return err
	}
	rows, err := parseIntList(*rowsList, 10)
	if err != nil {
		return usageError{fmt.Errorf("bench-train: -rows: %w", err)}
	}
	feats, err := parseIntList(*featList, 1)
	if err != nil {
		return usageError{fmt.Errorf("bench-train: -features: %w", err)}
	}
	if !(*nu > 0 && *nu <= 1) {
		return usageError{fmt.Errorf("bench-train: -nu %v must be in (0, 1]", *nu)}
	}
	if *workers < 1 {
		return usageError{fmt.Errorf("bench-train: -workers %d must be at least 1", *workers)}
	}
	if *quick {
		rows, feats = []int{300}, []int{1, 4}
	}
	if *script == "" {
		if *script, err = findRepoFile("internal/svm/testdata/train/fit_peer.py"); err != nil {
			return fmt.Errorf("bench-train: %w", err)
		}
	}
	dir, err := os.MkdirTemp("", "batchscore-bench-train-")
	if err != nil {
		return fmt.Errorf("bench-train: %w", err)
	}
	defer os.RemoveAll(dir)
	peer := pythonPeer{python: *python, script: *script}

	fmt.Fprintf(stdout, "One-class SVM training (rbf, nu %g, gamma 'scale', tol 1e-3), %s, %s/%s, %d CPUs; load average before: %s.\n\n",
		*nu, cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), loadAverage())
	fmt.Fprintf(stdout, "| rows | features | SVs | scikit-learn fit, CPU s | Go 1 core, CPU s | speedup 1 core | scikit-learn fit, wall s | Go %d workers, wall s | speedup all cores | max alpha rel. diff | rho rel. diff |\n", *workers)
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range rows {
		for _, nf := range feats {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("bench-train: %w", err)
			}
			reps := 1
			if n <= 2000 {
				reps = 5
			}
			if err := benchTrainOne(ctx, stdout, peer, dir, n, nf, *nu, reps, *workers); err != nil {
				return fmt.Errorf("bench-train: %d rows x %d: %w", n, nf, err)
			}
		}
	}
	fmt.Fprintf(stdout, "\nLoad average after: %s. Single-core figures are CPU seconds of the fitting thread, best of 5 runs up to 2,000 rows, one run above.\n", loadAverage())
	return nil
}

func benchTrainOne(ctx context.Context, stdout io.Writer, peer pythonPeer, dir string, n, nf int, nu float64, reps, workers int) error {
	x := benchTrainRows(n, nf)
	path := filepath.Join(dir, fmt.Sprintf("n%d-f%d.f64", n, nf))
	if err := writeFloat64s(path, x); err != nil {
		return err
	}
	var py benchTrainPeer
	if err := peer.run(ctx, &py, path, strconv.Itoa(n), strconv.Itoa(nf), strconv.FormatFloat(nu, 'g', -1, 64), strconv.Itoa(reps)); err != nil {
		return err
	}
	p := svm.TrainParams{Kernel: svm.RBF, Gamma: svm.GammaScale(x), Nu: nu, Workers: 1}
	// Single core: CPU time of this thread where the system has it (then
	// scikit-learn's too), wall-clock time elsewhere.
	_, useCPU := threadCPUTime()
	now := func() time.Duration {
		if d, ok := threadCPUTime(); ok {
			return d
		}
		return time.Duration(time.Now().UnixNano())
	}
	pyOne := py.CPUSeconds
	if !useCPU {
		pyOne = py.Seconds
	}
	var one *svm.TrainResult
	cpuOne := math.Inf(1)
	runtime.LockOSThread()
	for range reps {
		start := now()
		r, err := svm.TrainOneClass(x, p)
		if err != nil {
			runtime.UnlockOSThread()
			return err
		}
		cpuOne, one = min(cpuOne, (now()-start).Seconds()), r
	}
	runtime.UnlockOSThread()
	p.Workers = workers
	wallAll := math.Inf(1)
	for range reps {
		start := time.Now()
		if _, err := svm.TrainOneClass(x, p); err != nil {
			return err
		}
		wallAll = min(wallAll, time.Since(start).Seconds())
	}
	if !slices.Equal(one.Support, py.Support) || len(py.Alpha) != len(one.Support) {
		return fmt.Errorf("support vectors differ: %d in Go, %d in scikit-learn (gamma %v here, %v there)", len(one.Support), len(py.Support), p.Gamma, py.Gamma)
	}
	maxAlpha := 0.0
	for i, a := range one.Params.DualCoef {
		maxAlpha = max(maxAlpha, math.Abs(a-py.Alpha[i])/math.Abs(py.Alpha[i]))
	}
	rhoDiff := math.Abs(one.Rho-py.Rho) / math.Abs(py.Rho)
	if maxAlpha > 1e-6 || rhoDiff > 1e-6 {
		return fmt.Errorf("Go disagrees with scikit-learn: alpha rel. diff %.3g, rho rel. diff %.3g", maxAlpha, rhoDiff)
	}
	fmt.Fprintf(stdout, "| %s | %d | %s | %.3f | %.3f | %.2fx | %.3f | %.3f | %.2fx | %.2g | %.2g |\n",
		fmtRate(float64(n)), nf, fmtRate(float64(len(one.Support))), pyOne, cpuOne, pyOne/cpuOne,
		py.Seconds, wallAll, py.Seconds/wallAll, maxAlpha, rhoDiff)
	return nil
}

// benchTrainRows is n rows of nf features: two clusters (a third of the rows
// shifted by two spreads), each feature with its own centre and spread.
func benchTrainRows(n, nf int) [][]float64 {
	r := rand.New(rand.NewPCG(uint64(n), uint64(nf)))
	centre, spread := make([]float64, nf), make([]float64, nf)
	for j := range nf {
		centre[j], spread[j] = 10*r.NormFloat64(), 0.5+4.5*r.Float64()
	}
	x := make([][]float64, n)
	for i := range x {
		shift := 0.0
		if i < n/3 {
			shift = 2
		}
		row := make([]float64, nf)
		for j := range row {
			row[j] = centre[j] + spread[j]*(shift+r.NormFloat64())
		}
		x[i] = row
	}
	return x
}

// writeFloat64s writes the rows as little-endian float64 values, row after row.
func writeFloat64s(path string, x [][]float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, r := range x {
		if err := binary.Write(w, binary.LittleEndian, r); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parseIntList reads a comma-separated list of integers >= least.
func parseIntList(s string, least int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < least {
			return nil, fmt.Errorf("%q is not a whole number >= %d", f, least)
		}
		out = append(out, v)
	}
	return out, nil
}

// cpuModel is the "model name" of /proc/cpuinfo, or GOARCH elsewhere.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return "CPU model unknown"
}

// loadAverage is the 1, 5 and 15 minute load average of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], ", ")
	}
	return "unknown"
}
