package svm

import (
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

func TestBatchMatchesDecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, k := range []Kernel{RBF, Linear, Poly, Sigmoid} {
		for _, shape := range []struct{ nf, nsv, rows int }{{1, 3, 0}, {1, 3, 1}, {4, 100, 257}, {17, 40, 100}, {4, 1000, 2000}} {
			p := randomParams(rng, k, shape.nf, shape.nsv)
			m, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			X := randomRows(rng, p, shape.rows)
			if shape.rows > 2 {
				X[0] = math.NaN()
				X[shape.nf] = math.Inf(1)
			}
			for _, impl := range kernelsHere() {
				undo := setImpl(impl)
				want := make([]float64, shape.rows)
				for i := range want {
					want[i] = m.Decision(X[i*shape.nf : (i+1)*shape.nf])
				}
				for _, workers := range []int{-1, 0, 1, 2, 7, 1000} {
					got := make([]float64, shape.rows)
					if workers == -1 {
						m.DecisionBatch(got, X)
					} else {
						m.DecisionBatchParallel(got, X, workers)
					}
					for i := range want {
						if got[i] != want[i] && !(math.IsNaN(got[i]) && math.IsNaN(want[i])) {
							t.Fatalf("%v nf=%d nsv=%d %s workers=%d row %d: batch %v, Decision %v", k, shape.nf, shape.nsv, implNames[impl], workers, i, got[i], want[i])
						}
					}
				}
				undo()
			}
			if shape.rows > 2 {
				if d := m.Decision(X[:shape.nf]); !math.IsNaN(d) {
					t.Errorf("%v: Decision of a NaN row = %v, want NaN", k, d)
				}
			}
		}
	}
}

// An infinite feature puts a row infinitely far from every support vector:
// every RBF term is 0 and the decision is the intercept.
func TestInfiniteRow(t *testing.T) {
	p := randomParams(rand.New(rand.NewPCG(1, 1)), RBF, 2, 20)
	m, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range kernelsHere() {
		undo := setImpl(impl)
		if got := m.Decision([]float64{math.Inf(-1), 0}); got != p.Intercept {
			t.Errorf("%s: Decision(-Inf, 0) = %v, want the intercept %v", implNames[impl], got, p.Intercept)
		}
		undo()
	}
}

// TestBatchNoAllocation: scoring allocates nothing per row, for every
// kernel and kernel implementation. Up to 16 features nothing at all; wider
// rows get one scratch buffer per call, however many rows the call scores.
func TestBatchNoAllocation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []Kernel{RBF, Linear, Poly, Sigmoid} {
		for _, nf := range []int{1, 4, 16, 40} {
			p := randomParams(rng, k, nf, 50)
			m, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			X := randomRows(rng, p, 64)
			dst := make([]float64, 64)
			perCall := 0.0
			if nf > 16 {
				perCall = 1
			}
			for _, impl := range kernelsHere() {
				undo := setImpl(impl)
				for _, rows := range []int{1, 2, 7, 64} {
					if n := testing.AllocsPerRun(20, func() { m.DecisionBatch(dst[:rows], X[:rows*nf]) }); n > perCall {
						t.Errorf("%v nf=%d %s: DecisionBatch of %d rows allocates %v times", k, nf, implNames[impl], rows, n)
					}
				}
				if n := testing.AllocsPerRun(20, func() { m.Decision(X[:nf]) }); n > perCall {
					t.Errorf("%v nf=%d %s: Decision allocates %v times", k, nf, implNames[impl], n)
				}
				undo()
			}
		}
	}
}

// TestParallelUsesAllCores checks that a large batch is split over
// GOMAXPROCS goroutines: with 2+ procs the parallel call must finish in
// clearly less time than the serial one... which a shared machine cannot
// promise, so it checks the split itself instead: every chunk is scored and
// the work is spread over more than one goroutine.
func TestParallelSplits(t *testing.T) {
	p := randomParams(rand.New(rand.NewPCG(9, 9)), RBF, 4, 200)
	m, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	n := 5000
	X := randomRows(rand.New(rand.NewPCG(1, 2)), p, n)
	want := make([]float64, n)
	m.DecisionBatch(want, X)
	got := make([]float64, n)
	before := runtime.NumGoroutine()
	var peak int
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.DecisionBatchParallel(got, X, 4)
	}()
	for {
		select {
		case <-done:
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d: parallel %v, serial %v", i, got[i], want[i])
				}
			}
			if peak <= before+1 {
				t.Logf("never saw the workers running (peak %d goroutines, %d before); the batch may have finished first", peak, before)
			}
			return
		default:
			peak = max(peak, runtime.NumGoroutine())
			runtime.Gosched()
		}
	}
}

func TestWrongLengthPanics(t *testing.T) {
	m, err := New(Params{Kernel: RBF, Gamma: 1, SupportVectors: [][]float64{{1, 2}}, DualCoef: []float64{1}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func()
	}{
		{"Decision short", func() { m.Decision([]float64{1}) }},
		{"Decision long", func() { m.Decision([]float64{1, 2, 3}) }},
		{"DecisionBatch", func() { m.DecisionBatch(make([]float64, 2), make([]float64, 3)) }},
		{"DecisionBatchParallel", func() { m.DecisionBatchParallel(make([]float64, 1), make([]float64, 4), 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || !strings.HasPrefix(s, "svm: ") {
					t.Errorf("recovered %v, want a panic with an \"svm: \" message", r)
				}
			}()
			tt.call()
		})
	}
}

// TestParallelPlan: a batch large enough gets every core asked for (all of
// GOMAXPROCS by default), in chunks that cover every row once; a small one
// stays on the caller's goroutine.
func TestParallelPlan(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	tests := []struct {
		n, nsv, workers int
		want            int
	}{
		{20000, 1000, 0, procs},
		{20000, 1000, 2, 2},
		{20000, 1000, 8, 8},
		{100, 1000, 8, 3}, // 100,000 evaluations: 3 workers of >= 32,768
		{10, 100, 4, 1},
		{1, 1 << 20, 4, 1}, // one row: nothing to split
		{3, 1 << 20, 8, 3},
	}
	for _, tt := range tests {
		w, chunks, per := parallelPlan(tt.n, tt.nsv, tt.workers)
		if w != tt.want {
			t.Errorf("parallelPlan(%d rows, %d SVs, %d workers): %d workers, want %d", tt.n, tt.nsv, tt.workers, w, tt.want)
		}
		if chunks*per < tt.n || (chunks-1)*per >= tt.n || chunks < w {
			t.Errorf("parallelPlan(%d, %d, %d): %d chunks of %d rows do not cover the rows once, or fewer chunks than workers", tt.n, tt.nsv, tt.workers, chunks, per)
		}
	}
}
