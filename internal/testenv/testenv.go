// Package testenv gives tests the real local services the adapters run on: an
// Azurite-backed storage account and an in-memory SQLite store, each stopped or
// closed when the test ends.
package testenv

import (
	"testing"

	"github.com/batchscore/batchscore/internal/azurite"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
)

// Storage starts an Azurite for this test (stopped in t.Cleanup) and returns a
// storage account on it, with the given blob containers created.
func Storage(t testing.TB, containers ...string) *storage.Account {
	t.Helper()
	srv := azurite.ForTest(t)
	acct, err := storage.New(storage.Config{ConnectionString: srv.ConnectionString()})
	if err != nil {
		t.Fatal(err)
	}
	if len(containers) > 0 {
		if err := acct.Blobs().EnsureContainers(t.Context(), containers...); err != nil {
			t.Fatal(err)
		}
	}
	return acct
}

// SQLite returns a migrated in-memory SQLite store, closed in t.Cleanup.
func SQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), "sqlite::memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
