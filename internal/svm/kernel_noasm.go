//go:build !amd64 || purego

package svm

// Without the amd64 assembly there is only the pure-Go kernel.
const implGo = 0

var (
	bestImpl   = implGo
	kernelImpl = bestImpl
)

// rbfSum returns sum_i dual_i * exp(negGamma * ||z - sv_i||^2).
func (b *svBlocks) rbfSum(z, _ []float64, negGamma float64) float64 {
	return b.rbfSumGo(z, negGamma)
}

// rbfSum2 is rbfSum for two rows.
func (b *svBlocks) rbfSum2(z0, z1, _, _ []float64, negGamma float64) (float64, float64) {
	return b.rbfSumGo(z0, negGamma), b.rbfSumGo(z1, negGamma)
}
