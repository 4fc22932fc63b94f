package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/testenv"
)

// TestZipPackage packs dist/ as `make package` lays it out, plus the
// database and local.settings.json a local `func start` leaves there, with
// `batchscore zip`, unpacks it with Info-ZIP unzip (a reader of its own, which
// restores Unix modes as a Linux host does) and runs the unpacked handler.
func TestZipPackage(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("packs and runs the handler built for this machine, which the package accepts only as linux/amd64")
	}
	unzip, err := exec.LookPath("unzip")
	if err != nil {
		t.Fatal("unzip (Debian package unzip) is needed to read the package with a reader other than Go's: .ci/run installs it")
	}
	dist := t.TempDir()
	if err := os.CopyFS(dist, os.DirFS(testenv.App(t))); err != nil {
		t.Fatal(err)
	}
	fns, err := filepath.Glob(filepath.Join(dist, "*", "function.json"))
	if err != nil || len(fns) == 0 {
		t.Fatalf("no function.json: %v", err)
	}
	want := []string{"handler", "host.json"}
	for _, f := range fns {
		want = append(want, filepath.Base(filepath.Dir(f))+"/function.json")
	}
	for name, data := range map[string]string{"local.settings.json": `{"Values":{}}`, "batchscore.db": "SQLite format 3\x00"} {
		if err := os.WriteFile(filepath.Join(dist, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	out := filepath.Join(t.TempDir(), "dist.zip")
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"zip", "-app", dist, "-out", out}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got, wantLine := stdout.String(), "left out of the package: batchscore.db, local.settings.json, local.settings.sample.json\n"; !strings.HasSuffix(got, wantLine) ||
		!strings.Contains(got, "handler stored with mode 0755") {
		t.Errorf("zip printed %q, want the handler's mode and the line %q", got, wantLine)
	}

	x := t.TempDir()
	if b, err := exec.Command(unzip, "-q", out, "-d", x).CombinedOutput(); err != nil {
		t.Fatalf("unzip: %v\n%s", err, b)
	}
	var got []string
	err = filepath.WalkDir(x, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(x, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("unpacked files %q, want %q", got, want)
	}
	fi, err := os.Stat(filepath.Join(x, "handler"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("unpacked handler mode %v, want -rwxr-xr-x", fi.Mode())
	}
	// The unpacked handler runs (no "permission denied") and validates settings.
	check := exec.CommandContext(t.Context(), filepath.Join(x, "handler"), "-check")
	check.Env = []string{"FUNCTIONS_CUSTOMHANDLER_PORT=7071", "AzureWebJobsStorage=" + storage.AzuriteConnectionString}
	if b, err := check.CombinedOutput(); err != nil || string(b) != "settings OK\n" {
		t.Errorf("unpacked handler -check: %v, %q", err, b)
	}
}

func TestZipErrors(t *testing.T) {
	err := run(t.Context(), []string{"zip", "dist"}, io.Discard, io.Discard)
	if !errors.As(err, new(usageError)) {
		t.Errorf("zip with an argument: %v, want a usage error", err)
	}
	err = run(t.Context(), []string{"zip", "-app", t.TempDir(), "-out", filepath.Join(t.TempDir(), "dist.zip")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "run `make package`") {
		t.Errorf("zip of an empty folder: %v, want an error that says to run make package", err)
	}
}
