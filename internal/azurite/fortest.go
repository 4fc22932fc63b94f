package azurite

import (
	"errors"
	"testing"
)

// ForTest starts an in-memory Azurite for the test and stops it in t.Cleanup.
// Each call starts its own emulator (about one second), so tests that need
// isolation from each other get it; tests that share one can call ForTest once
// in a parent test. When Azurite is not installed the test fails with a message
// that says how to install it.
func ForTest(t testing.TB) *Server {
	t.Helper()
	s, err := Start(t.Context(), Options{})
	if errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Azurite is required for this test: %v", err)
	}
	if err != nil {
		t.Fatalf("start azurite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stop azurite: %v", err)
		}
	})
	return s
}
