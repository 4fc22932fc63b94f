package svm

// rbfSumGo returns sum_i dual_i * exp(negGamma * ||z - sv_i||^2) over the
// blocked support vectors, in pure Go. It keeps one partial sum per lane of a
// block and adds them as the assembly does. It works through the blocks in
// chunks so that its scratch space stays on the stack.
func (b *svBlocks) rbfSumGo(z []float64, negGamma float64) float64 {
	nf := len(z)
	const chunk = 8 // blocks per chunk
	var args [chunk * svLanes]float64
	var s [svLanes]float64
	for b0 := 0; b0 < b.nblk; b0 += chunk {
		b1 := min(b0+chunk, b.nblk)
		for blk := b0; blk < b1; blk++ {
			d := b.data[blk*nf*svLanes : (blk+1)*nf*svLanes]
			var a0, a1, a2, a3, a4, a5, a6, a7 float64
			for j, zj := range z {
				v := (*[svLanes]float64)(d[j*svLanes:])
				t0, t1, t2, t3 := v[0]-zj, v[1]-zj, v[2]-zj, v[3]-zj
				t4, t5, t6, t7 := v[4]-zj, v[5]-zj, v[6]-zj, v[7]-zj
				a0 += t0 * t0
				a1 += t1 * t1
				a2 += t2 * t2
				a3 += t3 * t3
				a4 += t4 * t4
				a5 += t5 * t5
				a6 += t6 * t6
				a7 += t7 * t7
			}
			o := (*[svLanes]float64)(args[(blk-b0)*svLanes:])
			o[0], o[1], o[2], o[3] = a0*negGamma, a1*negGamma, a2*negGamma, a3*negGamma
			o[4], o[5], o[6], o[7] = a4*negGamma, a5*negGamma, a6*negGamma, a7*negGamma
		}
		k := (b1 - b0) * svLanes
		expSlice(args[:k])
		du := b.dual[b0*svLanes : b1*svLanes]
		for i := 0; i < k; i += svLanes {
			e, w := (*[svLanes]float64)(args[i:]), (*[svLanes]float64)(du[i:])
			for l := range s {
				s[l] += w[l] * e[l]
			}
		}
	}
	return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]))
}
