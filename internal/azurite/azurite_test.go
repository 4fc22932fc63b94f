package azurite

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
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

	// Azurite runs with the semi-space size withNodeOptions adds (Linux: the
	// environment of the node process is readable in /proc).
	if env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", s.PID())); err == nil {
		if !strings.Contains(string(env), "NODE_OPTIONS=") || !strings.Contains(string(env), semiSpace) {
			t.Errorf("Azurite's environment has no NODE_OPTIONS with %s", semiSpace)
		}
	}

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

// TestHelperStartAndHang is not a test: TestKilledParentStopsAzurite runs the test
// binary with AZURITE_HELPER=1 to get a process that starts Azurite and then dies
// without cleaning up.
func TestHelperStartAndHang(t *testing.T) {
	if os.Getenv("AZURITE_HELPER") != "1" {
		t.Skip("helper process for TestKilledParentStopsAzurite")
	}
	s, err := Start(t.Context(), Options{})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("PID", s.PID())
	time.Sleep(time.Minute)
	os.Exit(2)
}

// TestKilledParentStopsAzurite kills (SIGKILL, so no cleanup runs) a process that
// started Azurite, as `go test -timeout` does, and checks Azurite goes too.
func TestKilledParentStopsAzurite(t *testing.T) {
	if _, err := FindBin(); err != nil {
		t.Fatalf("Azurite is required for this test: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperStartAndHang$")
	cmd.Env = append(os.Environ(), "AZURITE_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	pid := 0
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "PID %d", &pid); err == nil {
			break
		}
		if strings.HasPrefix(sc.Text(), "ERR") {
			t.Fatal(sc.Text())
		}
	}
	if pid == 0 {
		t.Fatal("helper did not report the Azurite PID")
	}
	defer syscall.Kill(-pid, syscall.SIGKILL) // only if the test fails
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("Azurite (pid %d) still runs 10s after its parent was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestShared(t *testing.T) {
	a := Shared(t)
	b := Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers")
	}
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.TrimSuffix(a.QueueURL(), "/"+Account), "http://"), 5*time.Second)
	if err != nil {
		t.Fatalf("shared queue endpoint: %v", err)
	}
	c.Close()
}

// TestWithNodeOptions adds the semi-space size to NODE_OPTIONS, keeping the
// other variables and options, and leaves a size the user chose alone.
func TestWithNodeOptions(t *testing.T) {
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"no NODE_OPTIONS", []string{"A=1", "PATH=/bin"}, "NODE_OPTIONS=" + semiSpace},
		{"other options kept", []string{"NODE_OPTIONS=--max-old-space-size=512", "A=1"}, "NODE_OPTIONS=--max-old-space-size=512 " + semiSpace},
		{"empty NODE_OPTIONS", []string{"NODE_OPTIONS="}, "NODE_OPTIONS=" + semiSpace},
		{"the user's size wins", []string{"NODE_OPTIONS=--max-semi-space-size=8"}, "NODE_OPTIONS=--max-semi-space-size=8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := withNodeOptions(c.env)
			var opts []string
			others := 0
			for _, kv := range got {
				if strings.HasPrefix(kv, "NODE_OPTIONS=") {
					opts = append(opts, kv)
				} else {
					others++
				}
			}
			if len(opts) != 1 || opts[0] != c.want {
				t.Errorf("NODE_OPTIONS entries %q, want exactly [%q]", opts, c.want)
			}
			wantOthers := 0
			for _, kv := range c.env {
				if !strings.HasPrefix(kv, "NODE_OPTIONS=") {
					wantOthers++
				}
			}
			if others != wantOthers {
				t.Errorf("%d other variables kept, want %d", others, wantOthers)
			}
		})
	}
}
