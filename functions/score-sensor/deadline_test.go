package scoresensor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/testenv"
)

// stuckPoints is the fault: reading the window's points hangs until the
// caller gives up (a locked table, a lost connection).
type stuckPoints struct{}

func (stuckPoints) Points(ctx context.Context, _ sensor.Key, _ sensor.Window, _ time.Duration) ([]sensor.Point, error) {
	<-ctx.Done()
	return nil, context.Cause(ctx)
}

// TestRunRecordsPastTheDeadline runs a message of two sensors whose points
// never come, with outcomes in a real SQLite store, until the invocation's
// context ends (its deadline, or a cancel such as the shutdown's), and checks
// that every sensor's outcome is final afterwards: failed, or poisoned on the
// last delivery; never left running; the attempt counted.
func TestRunRecordsPastTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dequeue int64
		cancel  bool // cancel instead of a deadline
		status  string
		errPart string
	}{
		{"deadline, last delivery", 5, false, sensor.StatusPoisoned, "deadline"},
		{"deadline, first delivery", 1, false, sensor.StatusFailed, "deadline"},
		{"cancelled, last delivery", 5, true, sensor.StatusPoisoned, "canceled"},
		{"cancelled, second delivery", 2, true, sensor.StatusFailed, "canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := testenv.SQLite(t)
			fx := newFixture(t, Config{MaxDequeueCount: 5})
			f := New(Config{MaxDequeueCount: 5}, fx.models, stuckPoints{}, fx.blobs, st)
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if tc.cancel {
				ctx, cancel = context.WithCancel(t.Context())
				time.AfterFunc(200*time.Millisecond, cancel)
			}
			start := time.Now()
			res, err := f.Run(ctx, azfunc.QueueMessage{ID: "m", DequeueCount: tc.dequeue, Body: jobBody(t, k11, k12)})
			if err == nil || azfunc.IsPermanent(err) {
				t.Errorf("err = %v, want a transient error (the host retries)", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Run returned %s after the context ended", d)
			}
			if res.Failed != 2 {
				t.Errorf("result %+v, want both sensors failed", res)
			}
			outs, err := st.Outcomes(t.Context(), runID)
			if err != nil {
				t.Fatal(err)
			}
			if len(outs) != 2 {
				t.Fatalf("%d outcomes, want 2: %+v", len(outs), outs)
			}
			for _, o := range outs {
				if o.Status != tc.status || o.Attempts != 1 || !strings.Contains(o.Error, tc.errPart) {
					t.Errorf("outcome of %s: status %q, attempts %d, error %q; want %q, 1, an error with %q",
						o.Key, o.Status, o.Attempts, o.Error, tc.status, tc.errPart)
				}
			}
			if len(fx.blobs.blobs) != 0 {
				t.Errorf("wrote %d predictions blobs", len(fx.blobs.blobs))
			}
		})
	}
}
