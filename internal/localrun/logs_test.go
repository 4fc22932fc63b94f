package localrun

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The host's events go to the text log; the handler's lines (category
// Host.Function.Console) to the JSON Lines log, unchanged when they are JSON
// objects and wrapped when they are not.
func TestSplitLog(t *testing.T) {
	var host, handler bytes.Buffer
	log := slog.New(newSplitLog(&host, &handler))
	log.Info("handler started", "pid", 42)
	log.Info(`{"time":"2026-01-02T03:04:05Z","level":"INFO","msg":"ready"}`, "category", consoleCategory)
	log.Error("panic: runtime error: index out of range", "category", consoleCategory)
	log.Warn("not JSON but { starts like it", "category", consoleCategory)
	log.Info("ingested", "category", "Function.ingest.User")

	if got := host.String(); !strings.Contains(got, `msg="handler started" pid=42`) || !strings.Contains(got, "msg=ingested category=Function.ingest.User") || strings.Contains(got, "ready") || strings.Contains(got, "panic") {
		t.Errorf("host log:\n%s", got)
	}
	lines := strings.Split(strings.TrimSuffix(handler.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("handler log has %d lines, want 3:\n%s", len(lines), handler.String())
	}
	if lines[0] != `{"time":"2026-01-02T03:04:05Z","level":"INFO","msg":"ready"}` {
		t.Errorf("JSON line rewritten: %s", lines[0])
	}
	for i, want := range []struct{ level, msg, stream string }{
		{"ERROR", "panic: runtime error: index out of range", "stderr"},
		{"WARN", "not JSON but { starts like it", "stderr"},
	} {
		var got struct{ Time, Level, Msg, Stream string }
		if err := json.Unmarshal([]byte(lines[i+1]), &got); err != nil {
			t.Fatalf("line %d is not JSON: %s", i+2, lines[i+1])
		}
		if _, err := time.Parse(time.RFC3339Nano, got.Time); err != nil || got.Level != want.level || got.Msg != want.msg || got.Stream != want.stream {
			t.Errorf("line %d = %+v, want level %s msg %q stream %s", i+2, got, want.level, want.msg, want.stream)
		}
	}
}

// Each run gets its own folder, named by its start time; out/latest names the newest.
func TestRunFolderAndLatest(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	at := time.Date(2026, 11, 30, 9, 8, 55, 0, time.UTC)
	first, err := runFolder(out, at)
	if err != nil {
		t.Fatal(err)
	}
	second, err := runFolder(out, at)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(first) != "20261130T090855Z" || filepath.Base(second) != "20261130T090855Z-2" {
		t.Errorf("folders %s, %s; want 20261130T090855Z and 20261130T090855Z-2", first, second)
	}
	for _, dir := range []string{first, second} {
		if err := os.WriteFile(filepath.Join(dir, "report.html"), []byte(dir), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := pointLatest(out, dir); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(filepath.Join(out, "latest", "report.html")); err != nil || string(got) != dir {
			t.Errorf("out/latest/report.html = %q, %v; want the report of %s", got, err, dir)
		}
	}
}
