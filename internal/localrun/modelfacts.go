package localrun

import (
	"fmt"
	"math"
	"strings"

	"github.com/batchscore/batchscore/internal/health"
	"github.com/batchscore/batchscore/internal/pickle"
	"github.com/batchscore/batchscore/internal/svm"
)

// ModelFacts are what the report says about a sensor's model.
type ModelFacts struct {
	Format    string
	Kernel    string
	Gamma     float64
	Nu        float64 // the training nu, when the file records it (scikit-learn pickles); else 0
	TrainRows int     // rows the model was fitted on (shape_fit_), when recorded; else 0
	SVs       int
	DualSum   float64 // sum of the dual coefficients (nu x training rows, in libsvm's one-class form)
	Intercept float64
	// ScalerMean and ScalerScale are the standard scaler's, nil without one.
	ScalerMean, ScalerScale []float64
	// SinglePoint: one support vector whose coefficient equals -intercept. The
	// decision is then c*(K(z,sv) - 1), which for the RBF kernel is <= 0 for
	// every z and 0 only at the support vector: every row is flagged.
	SinglePoint bool
	Err         string
}

// ReadModelFacts loads a model blob and describes it; a blob that does not load
// gets Err.
func ReadModelFacts(data []byte) ModelFacts {
	m, err := svm.Load(data)
	if err != nil {
		return ModelFacts{Err: err.Error()}
	}
	f, _ := svm.Detect(data)
	p := m.Params()
	mf := ModelFacts{Format: f.String(), Kernel: p.Kernel.String(), Gamma: p.Gamma, SVs: m.NSupport(),
		Intercept: p.Intercept, ScalerMean: p.ScalerMean, ScalerScale: p.ScalerScale}
	for _, c := range p.DualCoef {
		mf.DualSum += c
	}
	if p.Kernel == svm.RBF && len(p.DualCoef) == 1 && math.Abs(p.DualCoef[0]+p.Intercept) <= 1e-12*math.Abs(p.Intercept) {
		mf.SinglePoint = true
	}
	if f == svm.FormatPickle {
		mf.Nu, mf.TrainRows = pickleTraining(data)
	}
	return mf
}

// pickleTraining finds the OneClassSVM's nu and the rows it was fitted on
// (shape_fit_) in a scikit-learn pickle. The pickle machine only records the
// objects the stream describes; nothing in it is run.
func pickleTraining(data []byte) (nu float64, rows int) {
	v, err := pickle.Load(data, pickle.Options{Allow: func(pickle.Global) bool { return true }})
	if err != nil {
		return 0, 0
	}
	seen := map[any]bool{}
	queue := []pickle.Value{v}
	for n := 0; len(queue) > 0 && n < 10000; n++ {
		x := queue[0]
		queue = queue[1:]
		switch x := x.(type) {
		case *pickle.Object:
			if seen[x] {
				continue
			}
			seen[x] = true
			if st, ok := x.State.(*pickle.Dict); ok && x.Callable.Name == "OneClassSVM" {
				if v, ok := st.Get("nu"); ok {
					nu, _ = v.(float64)
				}
				if v, ok := st.Get("shape_fit_"); ok {
					if t, ok := v.(pickle.Tuple); ok && len(t) > 0 {
						r, _ := t[0].(int64)
						rows = int(r)
					}
				}
				return nu, rows
			}
			queue = append(queue, x.State)
			queue = append(queue, x.Args...)
			queue = append(queue, x.ListItems...)
		case *pickle.Dict:
			if !seen[x] {
				seen[x] = true
				queue = append(queue, x.Values...)
			}
		case *pickle.List:
			if !seen[x] {
				seen[x] = true
				queue = append(queue, x.Items...)
			}
		case pickle.Tuple:
			queue = append(queue, x...)
		}
	}
	return 0, 0
}

// Scaler describes the model's scaler in a few words.
func (f ModelFacts) Scaler() string {
	if f.ScalerMean == nil && f.ScalerScale == nil {
		return "none"
	}
	if len(f.ScalerMean) == 1 && len(f.ScalerScale) == 1 {
		return fmt.Sprintf("standard: mean %.4g, scale %.3g", f.ScalerMean[0], f.ScalerScale[0])
	}
	return fmt.Sprintf("standard, %d features", max(len(f.ScalerMean), len(f.ScalerScale)))
}

// Health is a model-health verdict: OK false calls the model out.
type Health struct {
	OK   bool
	Text string
}

// Verdict judges a sensor's model for the report: which models are called
// out is internal/health's judgement (the same thresholds as score-sensor's
// warnings, run-status and the terminal summary); for a model that flags
// (almost) every row or none it says the likely cause from the model's facts:
// a single-point model (see ModelFacts.SinglePoint), or readings far from the
// training range (|z| > 3 after the model's scaler; far is the share of such
// readings).
func Verdict(f ModelFacts, rows, anomalies int, far float64) Health {
	if f.Err != "" {
		return Health{Text: "the model does not load: " + f.Err}
	}
	if rows == 0 {
		return Health{OK: true, Text: "no readings in the window"}
	}
	rate := float64(anomalies) / float64(rows)
	switch health.Default.Judge(rows, anomalies, nil).Status {
	case health.FlagsAll:
		if f.SinglePoint {
			why := ""
			if f.Nu > 0 && f.TrainRows > 0 {
				why = fmt.Sprintf(" nu = %g on %d training rows gives nu x rows = %.3g < 1, which libsvm carries on a single support vector.", f.Nu, f.TrainRows, f.Nu*float64(f.TrainRows))
			}
			return Health{Text: fmt.Sprintf("flags every row (%s): a degenerate model, not the data. It has one support vector whose coefficient equals the offset (%.3g), so its decision, %.3g x (exp(-gamma |z - sv|^2) - 1), is below 0 everywhere except at the support vector itself.%s Retrain with a larger nu (such as 0.01 to 0.05).",
				percent(rate), -f.Intercept, -f.Intercept, why)}
		}
		if far >= 0.5 {
			return Health{Text: fmt.Sprintf("flags every row (%s): %s of the readings are more than 3 standard deviations from the training mean; the sensor has drifted or the model was trained on other data.", percent(rate), percent(far))}
		}
		return Health{Text: fmt.Sprintf("flags every row (%s) although the readings are in the training range: check the model.", percent(rate))}
	case health.FlagsNone:
		return Health{Text: fmt.Sprintf("flags no row (%s): the boundary encloses everything; check nu and gamma.", percent(rate))}
	case health.FlagsMost:
		return Health{Text: fmt.Sprintf("flags most rows (%s): more than an anomaly detector should; check the model against recent data.", percent(rate))}
	}
	return Health{OK: true, Text: fmt.Sprintf("plausible: %s of the rows flagged.", percent(rate))}
}

// farShare is the share of values more than 3 standard deviations from the
// model's scaler mean (one-feature models with a scaler; else 0).
func farShare(f ModelFacts, values []float64) float64 {
	if len(f.ScalerMean) != 1 || len(f.ScalerScale) != 1 || f.ScalerScale[0] == 0 || len(values) == 0 {
		return 0
	}
	n := 0
	for _, v := range values {
		if math.Abs((v-f.ScalerMean[0])/f.ScalerScale[0]) > 3 {
			n++
		}
	}
	return float64(n) / float64(len(values))
}

func percent(r float64) string {
	s := fmt.Sprintf("%.1f", 100*r)
	return strings.TrimSuffix(s, ".0") + "\u00a0%"
}
