package timerfanout

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/testenv"
)

var (
	_ ModelLister = (*storage.Blobs)(nil)
	_ JobQueue    = (*storage.Queue)(nil)
	_ RunStore    = (*sqlstore.Store)(nil)
)

// TestFanOut10000SensorsAzurite enqueues one message per sensor for 10,000
// sensors into Azurite and registers the run in SQLite, and logs how long it
// took. The models are listed from memory (uploading 10,000 blobs to a loaded
// emulator takes minutes); listing through the real adapter is checked with a
// smaller container first.
func TestFanOut10000SensorsAzurite(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite and enqueues 10,000 messages")
	}
	ctx := t.Context()
	acct := testenv.Storage(t)
	st := testenv.SQLite(t)
	w := sensor.Window{Start: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), End: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)}

	// Real listing: 300 models and two blobs that are not models.
	blobs := acct.Blobs()
	if err := blobs.EnsureContainers(ctx, "models"); err != nil {
		t.Fatal(err)
	}
	names := []string{"model_1_1.pkl", "readme.txt"}
	for i := range 300 {
		names = append(names, fmt.Sprintf("model_dev%03d_s%03d", i/100, i%100))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for _, name := range names {
		wg.Go(func() { errs <- blobs.Put(ctx, "models", name, []byte("{}"), "") })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	q := acct.Queue("jobs-listed")
	if err := q.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := New(Config{}, blobs, q, st).RunWindow(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	if res.Sensors != 301 || res.Messages != 301 || res.Skipped != 0 {
		t.Fatalf("listed fan-out: %+v, want 301 sensors and messages", res)
	}

	var many []string
	for i := range 10000 {
		many = append(many, fmt.Sprintf("model_dev%03d_s%03d", i/100, i%100))
	}
	const n = 10000
	for _, tc := range []struct {
		chunk, parallelism int
	}{{1, 16}, {50, 16}} {
		q := acct.Queue(fmt.Sprintf("jobs-%d-%d", tc.chunk, tc.parallelism))
		if err := q.Ensure(ctx); err != nil {
			t.Fatal(err)
		}
		f := New(Config{ChunkSize: tc.chunk, Parallelism: tc.parallelism}, &fakeLister{names: many}, q, st)
		start := time.Now()
		res, err := f.RunWindow(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		want := (n + tc.chunk - 1) / tc.chunk
		if res.Sensors != n || res.Messages != want {
			t.Fatalf("chunk %d: %+v, want %d sensors in %d messages", tc.chunk, res, n, want)
		}
		if got, err := q.Count(ctx); err != nil || got != want {
			t.Fatalf("queue holds %d messages (%v), want %d", got, err, want)
		}
		msgs, err := q.Peek(ctx, storage.MaxReceive)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			var job sensor.Job
			if err := json.Unmarshal(m.Body, &job); err != nil || job.Run != res.Run || len(job.Sensors) != tc.chunk {
				t.Fatalf("message %q: %+v, %v", m.Text, job, err)
			}
		}
		t.Logf("fan-out of %d sensors, chunk %d, parallelism %d: %d messages in %v (%.0f messages/s, %.0f sensors/s)",
			n, tc.chunk, tc.parallelism, res.Messages, el.Round(time.Millisecond),
			float64(res.Messages)/el.Seconds(), float64(n)/el.Seconds())
	}
	run, err := st.Run(ctx, w.RunID())
	if err != nil || run.Sensors != n {
		t.Errorf("registered run %+v (%v), want %d sensors", run, err, n)
	}
}
