package svm

import (
	"fmt"
	"runtime"
	"sync"
)

// DecisionBatch writes the decision value of each row of X into dst. X is
// row-major, len(dst) rows of NFeatures() values each. It does not allocate per
// row, and dst[i] is bit-identical to Decision of row i.
//
// It panics if len(X) != len(dst)*NFeatures() (a programming error).
func (m *Model) DecisionBatch(dst, X []float64) {
	m.checkBatch(dst, X)
	m.decisionRows(dst, X)
}

// DecisionBatchParallel is DecisionBatch spread over up to workers goroutines
// (workers <= 0 means runtime.GOMAXPROCS(0)). Batches too small to pay for the
// goroutines run on the calling goroutine. The values are identical to those of
// DecisionBatch.
func (m *Model) DecisionBatchParallel(dst, X []float64, workers int) {
	m.checkBatch(dst, X)
	n := len(dst)
	workers, chunks, per := parallelPlan(n, m.nsv, workers)
	if workers <= 1 {
		m.decisionRows(dst, X)
		return
	}
	next := make(chan int, chunks)
	for lo := 0; lo < n; lo += per {
		next <- lo
	}
	close(next)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for lo := range next {
				hi := min(lo+per, n)
				m.decisionRows(dst[lo:hi], X[lo*m.nf:hi*m.nf])
			}
		})
	}
	wg.Wait()
}

// parallelPlan returns how many goroutines score n rows of a model with nsv
// support vectors when up to workers are asked for (<= 0: GOMAXPROCS), and
// the chunks of per rows they take turns on. Each worker gets at least
// minParallelEvals kernel evaluations; there are four chunks per worker so
// that an unevenly loaded machine still finishes together.
func parallelPlan(n, nsv, workers int) (w, chunks, per int) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	w = min(workers, n*nsv/minParallelEvals, n)
	if w <= 1 {
		return 1, 1, n
	}
	chunks = min(w*4, n)
	per = (n + chunks - 1) / chunks
	return w, (n + per - 1) / per, per
}

// minParallelEvals is the number of kernel evaluations (rows x support
// vectors) below which another goroutine costs more than it saves.
const minParallelEvals = 1 << 15

func (m *Model) checkBatch(dst, X []float64) {
	if len(X) != len(dst)*m.nf {
		panic(fmt.Sprintf("svm: batch has %d values for %d rows of %d features", len(X), len(dst), m.nf))
	}
}

// decisionRows scores rows with reused buffers: RBF rows two at a time, the
// rest (and an odd last row) one at a time.
func (m *Model) decisionRows(dst, X []float64) {
	nf := m.nf
	// Scratch for two rows: on the stack up to 16 features, else one
	// allocation per call.
	var stack [2 * (1 + svLanes) * 16]float64
	buf := stack[:]
	if need := 2 * (1 + svLanes) * nf; need > len(buf) {
		buf = make([]float64, need)
	}
	z, zb := m.scratch(buf[:len(buf)/2])
	i := 0
	if m.kernel == RBF {
		// Two rows at a time: the kernel interleaves their work.
		z1, zb1 := m.scratch(buf[len(buf)/2:])
		for ; i+1 < len(dst); i += 2 {
			m.standardize(z, X[i*nf:i*nf+nf])
			m.standardize(z1, X[(i+1)*nf:(i+2)*nf])
			s0, s1 := m.blk.rbfSum2(z, z1, zb, zb1, -m.gamma)
			dst[i], dst[i+1] = s0+m.intercept, s1+m.intercept
		}
	}
	for ; i < len(dst); i++ {
		m.standardize(z, X[i*nf:i*nf+nf])
		dst[i] = m.decisionZ(z, zb)
	}
}

// svBlocks holds the support vectors of an RBF model transposed in blocks of
// eight: data[(b*nf+j)*8+l] is feature j of support vector 8b+l, so a kernel
// reads each feature of eight support vectors as one contiguous vector. The
// support vectors are padded with zero vectors of zero weight to a multiple of
// sixteen, so kernels may take two blocks at a time; a padded term adds
// exactly 0 (0 * a finite exp), or NaN only when the row itself is NaN.
type svBlocks struct {
	nblk int
	data []float64
	dual []float64
}

// svLanes is the number of support vectors in a block.
const svLanes = 8

func newSVBlocks(sv, dual []float64, nsv, nf int) svBlocks {
	padded := (nsv + 2*svLanes - 1) / (2 * svLanes) * (2 * svLanes)
	b := svBlocks{
		nblk: padded / svLanes,
		data: make([]float64, padded*nf),
		dual: make([]float64, padded),
	}
	copy(b.dual, dual)
	for i := 0; i < nsv; i++ {
		blk, l := i/svLanes, i%svLanes
		for j := 0; j < nf; j++ {
			b.data[(blk*nf+j)*svLanes+l] = sv[i*nf+j]
		}
	}
	return b
}

// KernelImplementation names the RBF kernel this process uses: "avx512" or
// "avx2" (amd64 assembly, chosen from the CPU's features) or "go".
func KernelImplementation() string {
	switch kernelImpl {
	case 1:
		return "avx2"
	case 2:
		return "avx512"
	}
	return "go"
}
