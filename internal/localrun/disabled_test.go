package localrun

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/appfolder"
	"github.com/batchscore/batchscore/internal/reference"
)

// The app folder `make app` lays out for func start has a local.settings.json
// that disables ingest (no Event Hubs namespace there); make run starts its
// stack from that folder and feeds the events itself, so ingest must run.
func TestStackRunsIngestDisabledForFuncStart(t *testing.T) {
	src := packagedApp(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	ls, err := appfolder.LocalSettings(filepath.Join(src, "local.settings.sample.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "local.settings.json"), ls, 0o644); err != nil {
		t.Fatal(err)
	}

	s, err := StartStack(t.Context(), StackOptions{AppDir: dir, Log: t.Output()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close stack: %v", err)
		}
	})
	if s.Host.Disabled(FnIngest) {
		t.Fatalf("the stack took %s=true from the app folder: its own events would never be ingested", appfolder.IngestDisabled)
	}
	_, rs := reference.ForTest(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	if err := s.Ingest(ctx, rs[:200], 1, nil); err != nil {
		t.Fatalf("ingest 200 readings: %v", err)
	}
}
