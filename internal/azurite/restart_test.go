package azurite_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azurite"
	"github.com/batchscore/batchscore/internal/storage"
)

// Restart is an outage: the ports refuse connections for its length, then the
// same connection string reaches the same data (persisted with Dir).
func TestRestartKeepsPortsAndData(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	s, err := azurite.Start(t.Context(), azurite.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	cs := s.ConnectionString()
	acct, err := storage.New(storage.Config{ConnectionString: cs, Retry: storage.Retry{MaxRetries: -1, TryTimeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := acct.Blobs().EnsureContainers(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := acct.Blobs().Put(ctx, "kept", "blob", []byte("kept"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Restart(ctx, 2*time.Second) }()
	time.Sleep(time.Second)
	if _, _, err := acct.Blobs().Get(ctx, "kept", "blob"); err == nil {
		t.Error("blob read during the outage succeeded")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.ConnectionString() != cs {
		t.Errorf("connection string changed by Restart")
	}
	got, _, err := acct.Blobs().Get(ctx, "kept", "blob")
	if err != nil || !bytes.Equal(got, []byte("kept")) {
		t.Errorf("after Restart: %q, %v; want the blob written before", got, err)
	}
}
