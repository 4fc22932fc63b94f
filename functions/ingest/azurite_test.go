package ingest

import (
	"testing"

	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/testenv"
)

var _ RawSink = (*storage.Blobs)(nil)

// TestRealAdapters ingests the mixed batch into Azurite and SQLite: the blobs
// hold the golden bytes, and a redelivery inserts nothing.
func TestRealAdapters(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	ctx := t.Context()
	blobs := testenv.Storage(t, "raw", "rejects").Blobs()
	st := testenv.SQLite(t)
	f := New(Config{MaxEventBytes: 250, MaxReadingsPerEvent: 3}, blobs, st)
	for attempt, want := range []struct{ inserted, duplicates int }{{4, 0}, {0, 4}} {
		res, err := f.Run(ctx, mixedBatch())
		if err != nil {
			t.Fatal(err)
		}
		if res.Inserted != want.inserted || res.Duplicates != want.duplicates || res.Rejected != 8 {
			t.Errorf("delivery %d: %+v, want %d inserted, %d duplicates, 8 rejected", attempt+1, res, want.inserted, want.duplicates)
		}
		for container, golden := range map[string]string{"raw": "mixed_raw.jsonl", "rejects": "mixed_rejects.jsonl"} {
			data, _, err := blobs.Get(ctx, container, res.RawBlob)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, golden, string(data))
		}
	}
	list, err := blobs.List(ctx, "raw", "")
	if err != nil || len(list) != 1 {
		t.Errorf("raw container holds %v (%v), want one blob", list, err)
	}
}
