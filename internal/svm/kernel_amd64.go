//go:build !purego

package svm

import "golang.org/x/sys/cpu"

// The RBF kernels, fastest first; kernelImpl is chosen once from the CPU's
// features (tests switch it to check every kernel on the same machine).
const (
	implGo = iota
	implAVX2
	implAVX512
)

var (
	bestImpl   = detectImpl()
	kernelImpl = bestImpl
)

func detectImpl() int {
	switch {
	// The AVX-512 kernels use 512-bit VXORPD, an AVX512DQ instruction.
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ:
		return implAVX512
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return implAVX2
	}
	return implGo
}

// rbfSumAVX2 and rbfSumAVX512 are implemented in kernel_amd64.s.
//
//go:noescape
func rbfSumAVX2(zb *float64, nf int, sv *float64, dual *float64, nblk int, negGamma float64, out *[4]float64)

//go:noescape
func rbfSumAVX512(z *float64, nf int, sv *float64, dual *float64, npairs int, negGamma float64, out *[4]float64)

//go:noescape
func rbfSum2AVX512(z0, z1 *float64, nf int, sv *float64, dual *float64, npairs int, negGamma float64, out *[8]float64)

// broadcast writes each value of z svLanes times into zb.
func broadcast(zb, z []float64) {
	zb = zb[:svLanes*len(z)]
	for j, v := range z {
		w := (*[svLanes]float64)(zb[svLanes*j:])
		for l := range w {
			w[l] = v
		}
	}
}

// rbfSum2 is rbfSum for two rows, with bit-identical results.
func (b *svBlocks) rbfSum2(z0, z1, zb0, zb1 []float64, negGamma float64) (float64, float64) {
	if kernelImpl != implAVX512 {
		return b.rbfSum(z0, zb0, negGamma), b.rbfSum(z1, zb1, negGamma)
	}
	var out [8]float64
	rbfSum2AVX512(&z0[0], &z1[0], len(z0), &b.data[0], &b.dual[0], b.nblk/2, negGamma, &out)
	return (out[0] + out[2]) + (out[1] + out[3]), (out[4] + out[6]) + (out[5] + out[7])
}

// rbfSum returns sum_i dual_i * exp(negGamma * ||z - sv_i||^2). zb is
// scratch space of svLanes*len(z) values.
func (b *svBlocks) rbfSum(z, zb []float64, negGamma float64) float64 {
	if kernelImpl == implGo {
		return b.rbfSumGo(z, negGamma)
	}
	var out [4]float64
	if kernelImpl == implAVX512 {
		rbfSumAVX512(&z[0], len(z), &b.data[0], &b.dual[0], b.nblk/2, negGamma, &out)
	} else {
		broadcast(zb, z)
		rbfSumAVX2(&zb[0], len(z), &b.data[0], &b.dual[0], b.nblk, negGamma, &out)
	}
	return (out[0] + out[2]) + (out[1] + out[3])
}
