package scoresensor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
)

// gatedPoints holds every Points call until SensorParallelism calls are in
// flight at once, and records the most seen in flight. A call that waits 10 s
// for the others fails: the sensors were not scored concurrently.
type gatedPoints struct {
	inner PointSource
	mu    sync.Mutex
	now   int
	most  int
	open  chan struct{}
}

func (g *gatedPoints) Points(ctx context.Context, key sensor.Key, w sensor.Window, width time.Duration) ([]sensor.Point, error) {
	g.mu.Lock()
	g.now++
	g.most = max(g.most, g.now)
	if g.now == SensorParallelism {
		select {
		case <-g.open:
		default:
			close(g.open)
		}
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.now--
		g.mu.Unlock()
	}()
	select {
	case <-g.open:
		return g.inner.Points(ctx, key, w, width)
	case <-time.After(10 * time.Second):
		return nil, errors.New("no other sensor of the job was scored at the same time")
	}
}

// TestChunkScoredConcurrently: the sensors of a chunked job are scored at
// once, at most SensorParallelism together, and every one gets its outcome.
func TestChunkScoredConcurrently(t *testing.T) {
	fx := newFixture(t, Config{})
	var keys []sensor.Key
	for i := range 3 * SensorParallelism {
		k := sensor.Key{Device: "7", Sensor: fmt.Sprint(i + 1)}
		keys = append(keys, k)
		fx.models.Set(k.ModelName(), linearModel(t, -10))
		fx.points.pts[k] = goldenPoints
	}
	gate := &gatedPoints{inner: fx.points, open: make(chan struct{})}
	f := New(Config{}, fx.models, gate, fx.blobs, fx.outcomes)
	res, err := f.Run(t.Context(), azfunc.QueueMessage{ID: "m", DequeueCount: 1, Body: jobBody(t, keys...)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Done != len(keys) || res.Failed != 0 {
		t.Errorf("result %+v, want %d done", res, len(keys))
	}
	if gate.most != SensorParallelism {
		t.Errorf("at most %d sensors in flight, want %d", gate.most, SensorParallelism)
	}
	for _, k := range keys {
		if o, ok, _ := fx.outcomes.Outcome(t.Context(), runID, k); !ok || o.Status != sensor.StatusDone {
			t.Errorf("%s: outcome %+v (recorded %v), want done", k, o, ok)
		}
	}
}
