package azurite

import (
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartStop starts a persistent Azurite (the in-memory one is what every
// storage test uses), checks its endpoints, and that Stop ends the process group.
func TestStartStop(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(t.Context(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
		t.Errorf("--location %s: no files written (%v)", dir, err)
	}
	for _, u := range []string{s.BlobURL(), s.QueueURL(), s.TableURL()} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, "/"+Account) {
			t.Errorf("service URL %q is not http://127.0.0.1:PORT/%s", u, Account)
		}
	}
	cs := s.ConnectionString()
	for _, want := range []string{"AccountName=devstoreaccount1;", "AccountKey=" + Key + ";", "BlobEndpoint=" + s.BlobURL() + ";", "QueueEndpoint=" + s.QueueURL() + ";"} {
		if !strings.Contains(cs, want) {
			t.Errorf("ConnectionString() = %q, missing %q", cs, want)
		}
	}
	// The blob service answers HTTP (any status: the request is unauthenticated).
	resp, err := http.Get(s.BlobURL() + "?comp=list")
	if err != nil {
		t.Fatalf("blob endpoint: %v", err)
	}
	resp.Body.Close()

	pid := s.PID()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process group %d still exists after Stop (kill 0: %v)", pid, err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.TrimSuffix(s.BlobURL(), "/"+Account), "http://"), time.Second); err == nil {
		t.Error("blob port still accepts connections after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestMissingBinary(t *testing.T) {
	t.Run("AZURITE_BIN", func(t *testing.T) {
		t.Setenv("AZURITE_BIN", filepath.Join(t.TempDir(), "nope"))
		_, err := Start(t.Context(), Options{})
		if err == nil || !strings.Contains(err.Error(), "make azurite") {
			t.Errorf("Start with a missing AZURITE_BIN: %v, want an error that says to run make azurite", err)
		}
	})
	t.Run("node_modules", func(t *testing.T) {
		t.Setenv("AZURITE_BIN", "")
		t.Chdir(t.TempDir())
		_, err := Start(t.Context(), Options{})
		if !errors.Is(err, ErrNotInstalled) {
			t.Errorf("Start outside the repository: %v, want ErrNotInstalled", err)
		}
	})
	t.Run("exits early", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "fake-azurite")
		if err := os.WriteFile(bin, []byte("#!/bin/sh\necho broken >&2\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := Start(t.Context(), Options{Bin: bin})
		if err == nil || !strings.Contains(err.Error(), "exited") {
			t.Errorf("Start with a binary that exits: %v, want an error saying it exited", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Start took %s to notice the exit", d)
		}
	})
}
