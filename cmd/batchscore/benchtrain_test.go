package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestBenchTrainQuick runs bench-train end to end on tiny sizes: the Python
// peer, the Go fits and the agreement check.
func TestBenchTrainQuick(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.CommandContext(t.Context(), python, "-c", "import sklearn").Run(); err != nil {
		t.Skipf("%s with scikit-learn is not available (%v): the bench-train command needs it", python, err)
	}
	var stdout, stderr bytes.Buffer
	if err := runBenchTrain(t.Context(), []string{"-quick", "-python", python}, &stdout, &stderr); err != nil {
		t.Fatalf("bench-train -quick: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out := stdout.String()
	t.Log("\n" + out)
	for _, want := range []string{"| rows | features | SVs |", "| 300 | 1 | ", "| 300 | 4 | ", "Load average after"} {
		if !strings.Contains(out, want) {
			t.Errorf("bench-train output lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchTrainUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-rows", "5"}, `-rows: "5" is not a whole number >= 10`},
		{[]string{"-features", "1,x"}, `-features: "x" is not`},
		{[]string{"-nu", "0"}, "-nu 0 must be in (0, 1]"},
		{[]string{"-workers", "0"}, "-workers 0"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		err := runBenchTrain(t.Context(), tt.args, &bytes.Buffer{}, &bytes.Buffer{})
		var ue usageError
		if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.As(err, &ue) {
			t.Errorf("runBenchTrain(%q) = %v, want a usage error containing %q", tt.args, err, tt.want)
		}
	}
}
