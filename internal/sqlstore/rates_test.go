package sqlstore

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/sensor"
)

// TestAnomalyRates: a sensor's done outcomes with rows in other runs, newest
// first, bounded; empty, failed, other sensors and the current run left out.
func TestAnomalyRates(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		k := sensor.Key{Device: uniq + "d", Sensor: "1"}
		other := sensor.Key{Device: uniq + "d", Sensor: "2"}
		for _, o := range []sensor.Outcome{
			{Run: "r1", Key: k, Status: sensor.StatusDone, Rows: 100, Anomalies: 10},
			{Run: "r2", Key: k, Status: sensor.StatusEmpty},
			{Run: "r3", Key: k, Status: sensor.StatusFailed, Rows: 100, Anomalies: 100},
			{Run: "r4", Key: other, Status: sensor.StatusDone, Rows: 100, Anomalies: 90},
			{Run: "r5", Key: k, Status: sensor.StatusDone, Rows: 200, Anomalies: 50},
			{Run: "r6", Key: k, Status: sensor.StatusDone, Rows: 10, Anomalies: 10},
			{Run: "now", Key: k, Status: sensor.StatusDone, Rows: 10, Anomalies: 0},
		} {
			o.Run = uniq + o.Run
			if _, err := s.StartAttempt(ctx, o.Run, o.Key); err != nil {
				t.Fatal(err)
			}
			if err := s.FinishOutcome(ctx, o); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Millisecond) // distinct updated_ms
		}
		for _, test := range []struct {
			n    int
			want []float64
		}{{10, []float64{1, 0.25, 0.1}}, {2, []float64{1, 0.25}}} {
			got, err := s.AnomalyRates(ctx, k, uniq+"now", test.n)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(test.want, got); d != "" {
				t.Errorf("AnomalyRates n=%d (-want +got):\n%s", test.n, d)
			}
		}
	})
}
