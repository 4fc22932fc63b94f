package localrun

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/localhost"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/testenv"
)

// TestStorageCeilingDoesEveryOperation runs the ceiling on a small fleet in a
// real Azurite and checks what it leaves: every message deleted, one
// predictions blob per model with the bytes given.
func TestStorageCeilingDoesEveryOperation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite")
	}
	models := map[string][]byte{}
	for i := range 30 {
		models[fmt.Sprintf("model_%d_1.json", i)] = []byte(fmt.Sprintf(`{"model":%d}`, i))
	}
	preds := [][]byte{[]byte("TS,Device,Sensor,Val,Prediction,Decision\n"), []byte("other\n")}
	for _, chunk := range []int{1, 7} {
		t.Run(fmt.Sprintf("chunk %d", chunk), func(t *testing.T) {
			acct := testenv.Storage(t)
			// A CPU clock that reads 1 s, then 3 s: read when the timed part
			// starts and when it ends, and nowhere else.
			var reads []time.Duration
			cpu := func() (time.Duration, error) {
				reads = append(reads, time.Duration(1+2*len(reads))*time.Second)
				return reads[len(reads)-1], nil
			}
			c := checkCeiling(t, acct, models, preds, chunk, cpu)
			if len(reads) != 2 || c.EmulatorCPU != 2*time.Second {
				t.Errorf("CPU read %d times, emulator CPU %s; want 2 reads, 2s", len(reads), c.EmulatorCPU)
			}
		})
	}
}

func checkCeiling(t *testing.T, acct *storage.Account, models map[string][]byte, preds [][]byte, chunk int, cpu func() (time.Duration, error)) Ceiling {
	hold := []int64{1, 70, 100_000}
	c, err := StorageCeiling(t.Context(), acct, CeilingWork{Models: models, Preds: preds, Queues: localhost.QueueOptions{BatchSize: 8, NewBatchThreshold: 4},
		Chunk: chunk, Hold: hold, CPU: cpu})
	if err != nil {
		t.Fatal(err)
	}
	held, err := acct.Blobs().List(t.Context(), ceilingHeld, "")
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, b := range held {
		sizes = append(sizes, b.Size)
	}
	slices.Sort(sizes)
	if !slices.Equal(sizes, hold) {
		t.Errorf("held blobs of %v bytes, want %v", sizes, hold)
	}
	if c.Elapsed <= 0 {
		t.Errorf("elapsed %s", c.Elapsed)
	}
	if n, err := acct.Queue(ceilingQueue).Count(t.Context()); err != nil || n != 0 {
		t.Errorf("%d messages left in %s (%v), want 0", n, ceilingQueue, err)
	}
	list, err := acct.Blobs().List(t.Context(), ceilingPreds, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(models) {
		t.Fatalf("%d predictions blobs, want %d", len(list), len(models))
	}
	for _, b := range list {
		data, _, err := acct.Blobs().Get(t.Context(), ceilingPreds, b.Name)
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != string(preds[0]) && string(data) != string(preds[1]) {
			t.Errorf("%s holds %q, not one of the predictions given", b.Name, data)
		}
	}
	return c
}

// TestIngestBatches checks that the bare-insert batches are the pipeline's:
// one event per device and timestamp, round-robin over partitions, at most
// eventsPerBatch events per batch, every reading once with a unique identity.
func TestIngestBatches(t *testing.T) {
	t0 := time.Date(2018, 8, 28, 23, 0, 5, 0, time.UTC)
	var rs []sensor.Reading
	for r := range 7 {
		for d := range 3 {
			for s := range 2 {
				rs = append(rs, sensor.Reading{TS: t0.Add(time.Duration(r) * 5 * time.Second),
					Key: sensor.Key{Device: fmt.Sprint(d + 1), Sensor: fmt.Sprint(s + 1)}, Value: float64(r)})
			}
		}
	}
	batches := IngestBatches(rs, 2, 4)
	// 21 events: 11 on partition 0 (3 batches), 10 on partition 1 (3 batches).
	if len(batches) != 6 {
		t.Fatalf("%d batches, want 6", len(batches))
	}
	seen := map[[3]any]bool{}
	total := 0
	for _, b := range batches {
		events := map[int64]bool{}
		for _, r := range b {
			k := [3]any{r.Source, r.Sequence, r.Index}
			if seen[k] {
				t.Fatalf("identity %v twice", k)
			}
			seen[k] = true
			events[r.Sequence] = true
			if r.Index > 1 {
				t.Errorf("index %d: an event holds one device's 2 sensors", r.Index)
			}
		}
		if len(events) > 4 {
			t.Errorf("batch of %d events, want at most 4", len(events))
		}
		total += len(b)
	}
	if total != len(rs) {
		t.Errorf("%d readings in the batches, want %d", total, len(rs))
	}
	st := testenv.SQLite(t)
	n, _, err := BareInsert(t.Context(), st, batches)
	if err != nil || n != len(rs) {
		t.Fatalf("bare insert: %d of %d (%v)", n, len(rs), err)
	}
	if n, _, err := BareInsert(t.Context(), st, batches); err != nil || n != 0 {
		t.Errorf("second bare insert stored %d (%v), want 0", n, err)
	}
}
