package svm_test

import (
	"fmt"
	"log"

	"github.com/batchscore/batchscore/internal/svm"
)

// A one-class SVM with a StandardScaler, as scikit-learn's
// Pipeline([("scaler", StandardScaler()), ("classifier", OneClassSVM())])
// holds it, scored one row at a time.
func ExampleNew() {
	m, err := svm.New(svm.Params{
		Kernel:         svm.RBF,
		Gamma:          0.5,
		SupportVectors: [][]float64{{-1}, {1}},
		DualCoef:       []float64{0.5, 0.5},
		Intercept:      -0.4,
		ScalerMean:     []float64{10},
		ScalerScale:    []float64{2},
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, x := range []float64{10, 12, 20} {
		d := m.Decision([]float64{x})
		fmt.Printf("x=%v decision=%.4f anomaly=%v\n", x, d, svm.IsAnomaly(d))
	}
	// Output:
	// x=10 decision=0.2065 anomaly=false
	// x=12 decision=0.1677 anomaly=false
	// x=20 decision=-0.3998 anomaly=true
}

// DecisionBatch scores a row-major matrix in one call, without allocating
// per row; DecisionBatchParallel spreads large batches over all cores.
func ExampleModel_DecisionBatch() {
	m, err := svm.New(svm.Params{
		Kernel:         svm.RBF,
		Gamma:          0.25,
		SupportVectors: [][]float64{{0, 0}, {1, 1}},
		DualCoef:       []float64{1, 1},
		Intercept:      -1,
	})
	if err != nil {
		log.Fatal(err)
	}
	X := []float64{ // three rows of two features
		0, 0,
		0.5, 0.5,
		3, -3,
	}
	dst := make([]float64, 3)
	m.DecisionBatchParallel(dst, X, 0)
	for i, d := range dst {
		fmt.Printf("row %d: %.4f anomaly=%v\n", i, d, svm.IsAnomaly(d))
	}
	// Output:
	// row 0: 0.6065 anomaly=false
	// row 1: 0.7650 anomaly=false
	// row 2: -0.9822 anomaly=true
}
