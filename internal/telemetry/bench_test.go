package telemetry

import (
	"log/slog"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/telemetry/ingestiontest"
)

// BenchmarkHandler is the cost a log line adds to an invocation with direct
// telemetry: the slog record turned into an envelope, encoded and queued.
// Posting happens on the sender's goroutine, held off here (a queue and batch
// larger than the run, an hour's interval) so that only the caller's side is
// timed; run it with -benchtime of at most 100000x.
func BenchmarkHandler(b *testing.B) {
	in := ingestiontest.Start()
	defer in.Close()
	tgt, err := ParseConnectionString(in.ConnectionString())
	if err != nil {
		b.Fatal(err)
	}
	c := New(Options{Target: tgt, MaxQueue: 1 << 17, MaxBatch: 1 << 17, FlushInterval: time.Hour})
	log := slog.New(c.Handler(slog.LevelInfo)).With("invocation_id", "39a64d65-f5b3-423b-a2db-1c9e7a003135", "function", "score-sensor")
	b.ReportAllocs()
	for b.Loop() {
		log.Info("scored sensor", "run", "20180828T230000Z-20180829T031230Z", "device", "1", "sensor", "2",
			"status", "done", "rows", 1154, "anomalies", 1154, "duration_ms", 44)
	}
	b.StopTimer()
	_ = c.Close(b.Context())
	if s := c.Stats(); s.Dropped > 0 {
		b.Logf("%d of %d dropped (queue full)", s.Dropped, s.Queued+s.Dropped)
	}
}
