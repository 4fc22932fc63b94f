package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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
