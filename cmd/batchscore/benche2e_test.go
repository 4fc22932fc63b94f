package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/localrun"
)

// bench-e2e's argument errors are usage errors, found before anything starts.
func TestBenchE2EArguments(t *testing.T) {
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "host.json"), []byte(`{"version":"2.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	checkArgumentErrors(t, "bench-e2e", []argumentCase{
		{args: []string{"-app", filepath.Join(app, "missing")}, want: "make app"},
		{args: []string{"-app", app, "-synthetic", "ten"}, usage: true, want: "ten"},
		{args: []string{"-app", app, "-set", "NOEQUALS"}, usage: true, want: "KEY=VALUE"},
		{args: []string{"-app", app, "extra"}, usage: true, want: "unexpected argument"},
		{args: []string{"-app", app, "-count", "0"}, usage: true, want: "-count 0"},
	})
}

// processCPUTimes counts this process's work.
func TestProcessCPUTimes(t *testing.T) {
	self0, _, ok := processCPUTimes()
	if !ok {
		t.Skip("getrusage is not available on this system")
	}
	x := 1.0
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		x = x*1.0000001 + 1e-9
	}
	self1, _, _ := processCPUTimes()
	if self1 <= self0 || x == 0 {
		t.Errorf("CPU time %s before 100 ms of work, %s after", self0, self1)
	}
}

// printMedians gives the middle run's rates, or the mean of the middle two,
// with the lowest and highest.
func TestPrintMedians(t *testing.T) {
	run := func(ingest, bare, scoring, alone, total time.Duration) e2eRun {
		return e2eRun{readings: 1000, sensors: 100, ingest: ingest, bare: bare, scoring: scoring, total: total,
			ceiling: localrun.Ceiling{Elapsed: alone}, held: localrun.Ceiling{Elapsed: 2 * alone}}
	}
	s := time.Second
	for _, tc := range []struct {
		name string
		runs []e2eRun
		want []string
	}{
		{"odd", []e2eRun{run(4*s, 2*s, 2*s, s, 10*s), run(s, s/2, s/2, s/4, 5*s), run(2*s, s, s, s/2, 4*s)}, []string{
			"3 runs: median (lowest-highest)",
			"ingest (readings)  500 (250-1,000)  1,000 (500-2,000)  50 % (50-50)",
			"scoring (sensors)  100 (50-200)    200 (100-400)    50 % (50-50)",
			"emulator holding the raw data  100 (50-200)  100 % (100-100)",
			"end to end (sensors)  20 (10-25)",
		}},
		{"even", []e2eRun{run(s, s, s, s, s), run(2*s, s, 4*s, s, 2*s)}, []string{
			"2 runs: median (lowest-highest)",
			"ingest (readings)  750 (500-1,000)",
			"scoring (sensors)  63 (25-100)",
			"75 % (50-100)",
			"62 % (25-100)",
		}},
	} {
		var b bytes.Buffer
		printMedians(&b, tc.runs)
		got := strings.Join(strings.Fields(b.String()), " ")
		for _, w := range tc.want {
			if !strings.Contains(got, strings.Join(strings.Fields(w), " ")) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, b.String())
			}
		}
	}
}
