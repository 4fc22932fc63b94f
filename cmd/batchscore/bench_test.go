package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestBenchQuick runs the bench command end to end on tiny sizes, so that its
// code path (the Python peer, the Go measurements, the file-to-file
// comparison through runScore) is exercised by every test run.
func TestBenchQuick(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.CommandContext(t.Context(), python, "-c", "import sklearn").Run(); err != nil {
		t.Skipf("%s with scikit-learn is not available (%v): the bench command needs it", python, err)
	}
	var stdout, stderr bytes.Buffer
	if err := runBench(t.Context(), []string{"-quick", "-python", python}, &stdout, &stderr); err != nil {
		t.Fatalf("bench -quick: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out := stdout.String()
	t.Log("\n" + out)
	for _, want := range []string{"| features | SVs | scikit-learn rows/s", "| 1 | ", "| 4 | ", "batchscore score", "0 labels differ"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-rows", "0"}, "-rows 0"},
		{[]string{"-workers", "0"}, "-workers 0"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"-nosuchflag"}, "nosuchflag"},
	}
	for _, tt := range tests {
		err := runBench(t.Context(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &ue) {
			t.Errorf("runBench(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
	var out bytes.Buffer
	if err := runBench(t.Context(), []string{"-h"}, &out, &bytes.Buffer{}); err != nil || !strings.Contains(out.String(), "usage: batchscore bench") {
		t.Errorf("bench -h = %v, output %q", err, out.String())
	}
}
