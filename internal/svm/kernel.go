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
			var a [svLanes]float64
			for j, zj := range z {
				v := (*[svLanes]float64)(d[j*svLanes:])
				for l := range a {
					t := v[l] - zj
					a[l] += t * t
				}
			}
			o := (*[svLanes]float64)(args[(blk-b0)*svLanes:])
			for l := range a {
				o[l] = a[l] * negGamma
			}
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
