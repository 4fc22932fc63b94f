package azurite

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// ForTest starts an in-memory Azurite for the test and stops it in t.Cleanup.
// Each call starts its own emulator (about 1 s on an idle machine, several on a
// busy one); tests that can share one should call Shared. When Azurite is not
// installed the test fails with a message that says how to install it.
func ForTest(t testing.TB) *Server {
	t.Helper()
	s := startForTest(t)
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop azurite: %v", err)
		}
	})
	return s
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns one in-memory Azurite for the whole test binary, started by
// the first caller. It is never stopped explicitly: it runs with Pdeathsig, so
// it ends with the test process. Tests that share it must use their own
// container and queue names, and must not stop it.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		// Not t.Context(): the server outlives this test.
		shared.srv, shared.err = Start(context.Background(), Options{})
	})
	if shared.err != nil {
		failStart(t, shared.err)
	}
	return shared.srv
}

func startForTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.Context(), Options{})
	if err != nil {
		failStart(t, err)
	}
	return s
}

func failStart(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Azurite is required for this test: %v", err)
	}
	t.Fatalf("start azurite: %v", err)
}
