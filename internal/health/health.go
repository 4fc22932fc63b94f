// Package health judges a sensor's model by the anomaly rate it produces:
// a model that flags (almost) every row, or none, or whose rate jumps against
// the sensor's own history is most likely degenerate (a one-class SVM with
// nu times its training rows below 1 can end with one support vector and a
// boundary around it alone) or not fitting the readings (trained on other
// data, a unit or offset change, a broken sensor),
// and a person should look before trusting its predictions.
//
// The verdict is a judgement on one run's outcome of one sensor, computed
// wherever an outcome is shown: score-sensor logs it as a warning line and a
// metric, run-status and the local run's report list it. Thresholds are
// [Default]; they are deliberately coarse, since a one-class SVM's expected
// anomaly rate is about its nu (often 0.01-0.1) and the point is to catch the
// models that are plainly off, not to grade good ones.
package health

import (
	"fmt"
	"slices"
)

// Status names a verdict.
type Status string

const (
	OK        Status = "ok"
	FlagsAll  Status = "flags-all"    // rate >= AllRate
	FlagsNone Status = "flags-none"   // rate <= NoneRate in at least MinRowsNone rows
	FlagsMost Status = "flags-most"   // rate > MostRate
	Jump      Status = "rate-jump"    // |rate - median of history| >= JumpAbs
	TooFew    Status = "too-few-rows" // fewer than MinRows rows: no judgement
)

// Thresholds tune [Judge].
type Thresholds struct {
	MinRows     int     // fewer rows: TooFew
	AllRate     float64 // at or above: FlagsAll
	NoneRate    float64 // at or below, with MinRowsNone rows: FlagsNone
	MinRowsNone int     // FlagsNone needs at least this many rows
	MostRate    float64 // above: FlagsMost
	MinHistory  int     // Jump needs at least this many earlier rates
	JumpAbs     float64 // Jump when the rate is this far from the history's median
}

// Default are the thresholds the functions and reports use.
var Default = Thresholds{MinRows: 20, AllRate: 0.99, NoneRate: 0.001, MinRowsNone: 100, MostRate: 0.5, MinHistory: 3, JumpAbs: 0.25}

// Verdict is the judgement of one sensor's outcome.
type Verdict struct {
	Status Status  `json:"status"`
	Rows   int     `json:"rows"`
	Rate   float64 `json:"rate"`             // anomalies / rows
	Median float64 `json:"median,omitempty"` // of the history, when Jump was judged
	Runs   int     `json:"runs,omitempty"`   // earlier rates the history held
	Reason string  `json:"reason"`           // the verdict in words
}

// Healthy reports whether the verdict needs no attention (OK or TooFew).
func (v Verdict) Healthy() bool { return v.Status == OK || v.Status == TooFew }

// Judge returns the verdict on rows and anomalies, with history the anomaly
// rates of the sensor's earlier runs (any order; may be empty).
func (t Thresholds) Judge(rows, anomalies int, history []float64) Verdict {
	v := Verdict{Status: OK, Rows: rows}
	if rows > 0 {
		v.Rate = float64(anomalies) / float64(rows)
	}
	pct := 100 * v.Rate
	switch {
	case rows < t.MinRows:
		v.Status = TooFew
		v.Reason = fmt.Sprintf("%d rows: too few to judge the model", rows)
	case v.Rate >= t.AllRate:
		v.Status = FlagsAll
		v.Reason = fmt.Sprintf("the model flags %s of %d rows as anomalies: a model that flags everything says nothing about this sensor (a degenerate boundary, such as nu times the training rows below 1, or readings unlike its training data); check the model before trusting its predictions", percent(pct), rows)
	case v.Rate <= t.NoneRate && rows >= t.MinRowsNone:
		v.Status = FlagsNone
		v.Reason = fmt.Sprintf("the model flags %s of %d rows: its boundary encloses everything this sensor sends, so it would miss real anomalies too; check nu and gamma", noneOf(anomalies, pct), rows)
	case v.Rate > t.MostRate:
		v.Status = FlagsMost
		v.Reason = fmt.Sprintf("the model flags %s of %d rows as anomalies: more than an anomaly detector should; check the model against recent data", percent(pct), rows)
	case len(history) >= t.MinHistory:
		h := slices.Clone(history)
		slices.Sort(h)
		med := h[len(h)/2]
		if len(h)%2 == 0 {
			med = (h[len(h)/2-1] + h[len(h)/2]) / 2
		}
		v.Median, v.Runs = med, len(h)
		if d := v.Rate - med; d >= t.JumpAbs || -d >= t.JumpAbs {
			v.Status = Jump
			v.Reason = fmt.Sprintf("anomaly rate %s against a median of %s over the sensor's last %d runs", percent(pct), percent(100*med), len(h))
			return v
		}
		v.Reason = fmt.Sprintf("anomaly rate %s, median %s over the last %d runs", percent(pct), percent(100*med), len(h))
	default:
		v.Reason = fmt.Sprintf("anomaly rate %s", percent(pct))
	}
	return v
}

func noneOf(anomalies int, pct float64) string {
	if anomalies == 0 {
		return "none"
	}
	return percent(pct)
}

func percent(p float64) string {
	if p == 100 || p == 0 {
		return fmt.Sprintf("%.0f %%", p)
	}
	return fmt.Sprintf("%.1f %%", p)
}
