package main

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

// packagedApp lays out an app folder as `make package` does (the handler
// built for linux/amd64, host.json, local.settings.sample.json and each
// <function>/function.json), once for the package's tests; TestMain removes
// it. Tests that add files copy it first.
func packagedApp(t *testing.T) string {
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

func layOutApp() (string, error) {
	root, err := reference.ModuleRoot(".")
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "batchscore-dist-")
	if err != nil {
		return "", err
	}
	// make package also sets CGO_ENABLED=0 and -trimpath; without them a build
	// on linux/amd64 shares the build cache with the test binaries.
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "handler"), "./handler")
	build.Dir = root
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
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

func TestMain(m *testing.M) {
	code := m.Run()
	if appDir != "" {
		os.RemoveAll(appDir)
	}
	os.Exit(code)
}
