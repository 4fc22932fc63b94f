package svm

import (
	"errors"
	"fmt"
)

// FoldScaler returns a model without a scaler that makes the same decisions
// as m (to rounding), for writing in libsvm's format, which has no scaler. It
// works for an RBF model whose scaler divides every feature by the same
// scale s (always so with one feature): with z = (x - mean)/s,
//
//	||z - sv||^2 = ||x - (mean + s*sv)||^2 / s^2
//
// so the support vectors become mean + s*sv and gamma becomes gamma/s^2. A
// model without a scaler is returned as it is; other kernels, or unequal
// scales, cannot be folded and give an error.
func FoldScaler(m *Model) (*Model, error) {
	p := m.Params()
	if p.ScalerMean == nil && p.ScalerScale == nil {
		return m, nil
	}
	if p.Kernel != RBF {
		return nil, fmt.Errorf("svm: a scaler folds into rbf models only, not %v", p.Kernel)
	}
	s := 1.0
	for j, v := range m.scale { // zeros already replaced by 1
		if j == 0 {
			s = v
		} else if v != s {
			return nil, errors.New("svm: the scaler's scales differ between features, so it cannot be folded into the model")
		}
	}
	for _, sv := range p.SupportVectors {
		for j := range sv {
			sv[j] *= s
			if p.ScalerMean != nil {
				sv[j] += p.ScalerMean[j]
			}
		}
	}
	p.Gamma /= s * s
	p.ScalerMean, p.ScalerScale = nil, nil
	return New(p)
}
