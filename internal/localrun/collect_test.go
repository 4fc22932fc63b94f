package localrun

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
	"github.com/batchscore/batchscore/internal/sensor"
)

// TestE2ECollectWhileScoring: collecting a run's predictions while it is scored
// gives exactly the blobs of a download after the run, also when a blob already
// downloaded is rewritten and another appears before the collection ends, and
// the handler sees each blob's final bytes last.
func TestE2ECollectWhileScoring(t *testing.T) {
	s := startStack(t, StackOptions{AzuriteInMemory: true, Settings: map[string]string{"FANOUT_CHUNK_SIZE": "4"}})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	syn := Synthetic{Devices: 6, Sensors: 5, Rows: 120, Noise: 0.05, AnomalyRate: 0.02, Seed: 5}
	models, err := syn.Models()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UploadModels(ctx, models); err != nil {
		t.Fatal(err)
	}
	rs := syn.Readings()
	if err := s.Ingest(ctx, rs, 2, nil); err != nil {
		t.Fatal(err)
	}
	w := dataWindow(rs)
	run := w.RunID()
	var (
		mu      sync.Mutex
		handled = map[string][]byte{}
		first   = make(chan string, 1)
	)
	col := s.Collect(ctx, run, func(name string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		handled[name] = data
		select {
		case first <- name:
		default:
		}
		return nil
	})
	if _, err := s.Backfill(ctx, w); err != nil {
		t.Fatal(err)
	}
	sum, err := s.WaitRun(ctx, run, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Done != len(models) {
		t.Fatalf("summary: %d done of %d; want all %d done", sum.Done, sum.Total, len(models))
	}
	// A blob the collector has downloaded is rewritten (as a sensor scored
	// again would be), and one more appears under the run.
	var rewritten string
	select {
	case rewritten = <-first:
	case <-ctx.Done():
		t.Fatal("no blob collected while the run was scored")
	}
	blobs := s.Storage.Blobs()
	if err := blobs.Put(ctx, PredsContainer, rewritten, []byte("TS,Device,Sensor,Val,Prediction,Decision\n"), "text/csv"); err != nil {
		t.Fatal(err)
	}
	extra := scoresensor.BlobName(run, sensor.Key{Device: "99", Sensor: "1"})
	if err := blobs.Put(ctx, PredsContainer, extra, []byte("TS,Device,Sensor,Val,Prediction,Decision\n"), "text/csv"); err != nil {
		t.Fatal(err)
	}
	got, early, err := col.Wait()
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.PredictionBlobs(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(models)+1 {
		t.Fatalf("%d blobs listed after the run, want %d", len(want), len(models)+1)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("collected blobs differ from a download after the run (-after +collected):\n%s", diff)
	}
	if diff := cmp.Diff(want, handled); diff != "" {
		t.Errorf("the last bytes handled per blob differ from a download after the run (-after +handled):\n%s", diff)
	}
	if early < 1 || early > len(models)-1 {
		t.Errorf("%d blobs counted as downloaded while scoring; want 1 to %d (the rewritten and the extra one came after)", early, len(models)-1)
	}
}
