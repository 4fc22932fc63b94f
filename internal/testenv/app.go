package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/batchscore/batchscore/internal/reference"
)

var (
	appOnce sync.Once
	appDir  string
	appErr  error
)

// App lays out an app folder as `make package` does (the handler built from
// ./handler, host.json, local.settings.sample.json and each
// <function>/function.json at the top level) once per test binary, and
// returns it. Tests share it: one that adds files copies it first
// (os.CopyFS). The package's TestMain calls RemoveApp. Skipped by -short.
//
// The handler is built with the test binaries' settings, so the build cache is
// shared; make package adds CGO_ENABLED=0 -trimpath GOOS=linux GOARCH=amd64.
func App(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the handler")
	}
	appOnce.Do(func() { appDir, appErr = layOutApp() })
	if appErr != nil {
		t.Fatal(appErr)
	}
	return appDir
}

// RemoveApp removes the folder App laid out, if any.
func RemoveApp() {
	if appDir != "" {
		os.RemoveAll(appDir)
	}
}

func layOutApp() (string, error) {
	root, err := reference.ModuleRoot(".")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "batchscore-app-")
	if err != nil {
		return "", err
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "handler"), "./handler")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return dir, fmt.Errorf("build handler: %v\n%s", err, out)
	}
	fns, err := filepath.Glob(filepath.Join(root, "functions", "*", "function.json"))
	if err != nil || len(fns) == 0 {
		return dir, fmt.Errorf("no functions/*/function.json in %s", root)
	}
	files := map[string]string{"host.json": "host.json", "local.settings.sample.json": "local.settings.sample.json"}
	for _, f := range fns {
		fn := filepath.Base(filepath.Dir(f))
		files[filepath.Join("functions", fn, "function.json")] = filepath.Join(fn, "function.json")
	}
	for src, dst := range files {
		b, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			return dir, err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, dst)), 0o755); err != nil {
			return dir, err
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			return dir, err
		}
	}
	return dir, nil
}
