package main

import (
	"os"
	"path/filepath"
	"testing"
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
