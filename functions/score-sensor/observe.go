package scoresensor

import (
	"context"
	"log/slog"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/health"
	"github.com/batchscore/batchscore/internal/sensor"
)

// RateHistory is implemented by outcome stores that can give a sensor's
// anomaly rates of earlier runs (newest first, at most n, runs other than
// exceptRun with rows), which model health judges a rate against.
type RateHistory interface {
	AnomalyRates(ctx context.Context, key sensor.Key, exceptRun string, n int) ([]float64, error)
}

// historyRuns is how many earlier runs model health compares with.
const historyRuns = 10

// Metric names (customMetrics name in Application Insights), each with the
// dimensions run, device and sensor (and InvocationId, function).
const (
	MetricOutcome     = "sensor_outcome"      // 1 per sensor and attempt; dimension status
	MetricRows        = "sensor_rows"         // rows scored
	MetricAnomalies   = "sensor_anomalies"    // rows flagged
	MetricAnomalyRate = "sensor_anomaly_rate" // anomalies / rows, when rows > 0
	MetricStage       = "stage_ms"            // dimension stage: model, points, score, write
	MetricCacheHit    = "model_cache_hit"     // 1 when the cached model was used unchanged, else 0
	MetricLag         = "prediction_lag_s"    // newest point's window end to its prediction written
	MetricHealth      = "model_unhealthy"     // 1 when the model health verdict needs attention, else 0; dimension verdict
)

// observe records one sensor's metrics and, for a scored sensor, judges its
// model's health: a verdict that needs attention is also a warning line.
func (f *Function) observe(ctx context.Context, log *slog.Logger, o sensor.Outcome, st stages) {
	dims := []slog.Attr{slog.String("run", o.Run), slog.String("device", o.Key.Device), slog.String("sensor", o.Key.Sensor)}
	metric := func(name string, v float64, extra ...slog.Attr) {
		azfunc.Metric(ctx, name, v, append(dims[:len(dims):len(dims)], extra...)...)
	}
	metric(MetricOutcome, 1, slog.String("status", o.Status))
	if o.Status != sensor.StatusDone && o.Status != sensor.StatusEmpty {
		return
	}
	metric(MetricRows, float64(o.Rows))
	metric(MetricAnomalies, float64(o.Anomalies))
	for _, s := range []struct {
		name string
		us   int64
	}{{"model", st.Model}, {"points", st.Points}, {"score", st.Score}, {"write", st.Write}} {
		metric(MetricStage, float64(s.us)/1000, slog.String("stage", s.name))
	}
	hit := 0.0
	if st.hit {
		hit = 1
	}
	metric(MetricCacheHit, hit)
	if o.Rows == 0 {
		return
	}
	metric(MetricAnomalyRate, float64(o.Anomalies)/float64(o.Rows))
	metric(MetricLag, st.lag.Seconds())

	var history []float64
	if h, ok := f.outcomes.(RateHistory); ok {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		rates, err := h.AnomalyRates(hctx, o.Key, o.Run, historyRuns)
		cancel()
		if err != nil {
			log.WarnContext(ctx, "model health without history: read earlier anomaly rates", "err", err)
		}
		history = rates
	}
	v := health.Default.Judge(o.Rows, o.Anomalies, history)
	bad := 0.0
	if !v.Healthy() {
		bad = 1
		log.WarnContext(ctx, "model health: "+v.Reason, "verdict", string(v.Status), "rows", v.Rows, "anomaly_rate", v.Rate)
	}
	metric(MetricHealth, bad, slog.String("verdict", string(v.Status)))
}
