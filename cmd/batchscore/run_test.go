package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The run command's argument errors are usage errors that say what to do, before
// anything is started.
func TestRunArguments(t *testing.T) {
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "host.json"), []byte(`{"version":"2.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	checkArgumentErrors(t, "run", []argumentCase{
		{args: []string{"-app", filepath.Join(app, "missing")}, want: "make app"},
		{args: []string{"-app", app, "-synthetic", "10x10", "-data", "x.csv"}, usage: true, want: "-synthetic replaces -data and -models"},
		{args: []string{"-app", app, "-synthetic", "ten"}, usage: true, want: "ten"},
		{args: []string{"-app", app, "-data", "x.csv"}, usage: true, want: "both -data and -models"},
		{args: []string{"-app", app, "extra"}, usage: true, want: "unexpected argument"},
		{args: []string{"-nope"}, usage: true, want: "-nope"},
	})
}

// argumentCase is a command line that must fail before anything starts: with
// an error containing want, a usage error (exit status 2) when usage is set.
type argumentCase struct {
	args  []string
	usage bool
	want  string
}

func checkArgumentErrors(t *testing.T, command string, tests []argumentCase) {
	t.Helper()
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), append([]string{command}, tt.args...), &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) || errors.As(err, new(usageError)) != tt.usage {
			t.Errorf("%s %q: err = %v (usage error: %v); want one containing %q, usage error %v",
				command, tt.args, err, errors.As(err, new(usageError)), tt.want, tt.usage)
		}
		if stdout.Len() != 0 {
			t.Errorf("%s %q printed %q before failing", command, tt.args, stdout.String())
		}
	}
}

// run -h names each flag's value plainly: no word taken from the help text as
// the value's name, no impossible default.
func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"run", "-h"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	help := stdout.String()
	for _, bad := range []string{"-app make", "-1ns", "`"} {
		if strings.Contains(help, bad) {
			t.Errorf("run -h contains %q:\n%s", bad, help)
		}
	}
	if !strings.Contains(help, "-app string") || !strings.Contains(help, "-visibility-timeout duration") {
		t.Errorf("run -h lacks the -app and -visibility-timeout flags:\n%s", help)
	}
}
