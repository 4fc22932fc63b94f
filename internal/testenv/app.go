package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/batchscore/batchscore/internal/appfolder"
	"github.com/batchscore/batchscore/internal/reference"
)

var (
	appOnce sync.Once
	appDir  string
	appErr  error
)

// App lays out an app folder as `make app` does, with appfolder.Layout (the
// handler built from ./handler, host.json, local.settings.sample.json and each
// <function>/function.json at the top level; no local.settings.json) once per
// test binary, and returns it. Tests share it: one that adds files copies it first
// (os.CopyFS). The package's TestMain calls RemoveApp. Skipped by -short.
//
// The handler is built with the test binaries' settings, so the build cache is
// shared; make app and make package add CGO_ENABLED=0 -trimpath.
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
		os.RemoveAll(filepath.Dir(appDir))
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
	// The app folder is dir/app; RemoveApp removes dir, also after an error.
	app := filepath.Join(dir, "app")
	handler := filepath.Join(dir, "handler.build")
	build := exec.Command("go", "build", "-o", handler, "./handler")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return app, fmt.Errorf("build handler: %v\n%s", err, out)
	}
	_, err = appfolder.Layout(context.Background(), appfolder.Options{Src: root, Out: app, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Handler: handler})
	if err != nil {
		return app, err
	}
	return app, os.Remove(handler)
}
