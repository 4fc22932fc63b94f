package svm

import (
	"math"
	"strings"
	"testing"
)

func TestFoldScaler(t *testing.T) {
	x := genRows(5, 400, 1)
	held := genRows(6, 100, 1)
	for _, tc := range []struct {
		name   string
		mean   []float64
		scale  []float64
		kernel Kernel
		nf     int
		err    string
	}{
		{"one feature", []float64{3.5}, []float64{2.5}, RBF, 1, ""},
		{"mean only", []float64{-1}, nil, RBF, 1, ""},
		{"scale only", nil, []float64{0.25}, RBF, 1, ""},
		{"equal scales", []float64{1, 2}, []float64{3, 3}, RBF, 2, ""},
		{"unequal scales", []float64{1, 2}, []float64{3, 4}, RBF, 2, "scales differ"},
		{"linear", []float64{1}, []float64{2}, Linear, 1, "rbf models only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, test := x, held
			if tc.nf == 2 {
				rows, test = genRows(5, 400, 2), genRows(6, 100, 2)
			}
			r, err := TrainOneClass(ScaleRows(rows, orZero(tc.mean, tc.nf), orOne(tc.scale, tc.nf)), TrainParams{Kernel: tc.kernel, Gamma: 0.5, Nu: 0.1})
			if err != nil {
				t.Fatal(err)
			}
			p := r.Params
			p.ScalerMean, p.ScalerScale = tc.mean, tc.scale
			m, err := New(p)
			if err != nil {
				t.Fatal(err)
			}
			f, err := FoldScaler(m)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("FoldScaler error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fp := f.Params(); fp.ScalerMean != nil || fp.ScalerScale != nil {
				t.Fatal("folded model still has a scaler")
			}
			for _, row := range test {
				a, b := m.Decision(row), f.Decision(row)
				if math.Abs(a-b) > 1e-12*math.Max(1, math.Abs(a)) {
					t.Errorf("row %v: decision %v with the scaler, %v folded", row, a, b)
				}
			}
		})
	}
}

func orZero(v []float64, n int) []float64 {
	if v == nil {
		return make([]float64, n)
	}
	return v
}

func orOne(v []float64, n int) []float64 {
	if v == nil {
		v = make([]float64, n)
		for j := range v {
			v[j] = 1
		}
	}
	return v
}
