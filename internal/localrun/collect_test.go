package localrun

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	scoresensor "github.com/batchscore/batchscore/functions/score-sensor"
	"github.com/batchscore/batchscore/internal/sensor"
)

// TestPredictionBlobs: a run's prediction blobs are exactly those under its
// id (not another run's), each handed to handle once with its bytes, from
// several goroutines at once; an error from handle ends the collection.
func TestPredictionBlobs(t *testing.T) {
	s := startStack(t, StackOptions{AzuriteInMemory: true})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	blobs := s.Storage.Blobs()
	const run, other = "20180828T230000Z-20180829T000000Z", "20180829T000000Z-20180829T010000Z"
	want := map[string][]byte{}
	for i := range 40 {
		k := sensor.Key{Device: fmt.Sprint(i / 5), Sensor: fmt.Sprint(i % 5)}
		for _, r := range []string{run, other} {
			name := scoresensor.BlobName(r, k)
			data := []byte(fmt.Sprintf("TS,Device,Sensor,Val,Prediction,Decision\n2018-08-28 23:00:05.000,%s,%s,%d,0,0.5\n", k.Device, k.Sensor, i))
			if err := blobs.Put(ctx, PredsContainer, name, data, "text/csv"); err != nil {
				t.Fatal(err)
			}
			if r == run {
				want[name] = data
			}
		}
	}
	var (
		mu      sync.Mutex
		handled = map[string][]byte{}
		calls   = 0
	)
	got, err := s.PredictionBlobs(ctx, run, func(name string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		handled[name] = data
		calls++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("blobs of run %s (-want +got):\n%s", run, diff)
	}
	if diff := cmp.Diff(want, handled); diff != "" {
		t.Errorf("blobs handed to handle (-want +got):\n%s", diff)
	}
	if calls != len(want) {
		t.Errorf("handle called %d times for %d blobs", calls, len(want))
	}
	stop := errors.New("disk full")
	if _, err := s.PredictionBlobs(ctx, run, func(string, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("PredictionBlobs with a failing handle: error %v, want %v", err, stop)
	}
}
