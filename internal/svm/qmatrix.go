package svm

import (
	"math"
	"sync"
)

// oneClassQ is libsvm's ONE_CLASS_Q: the kernel matrix Q_ij = K(x_i, x_j) of
// the training rows, handed out column by column in single precision from
// an LRU cache of bounded size, with its diagonal QD in double precision.
// Rows are swapped (swapIndex) as the solver shrinks its active set.
type oneClassQ struct {
	l       int
	x       [][]float64 // training rows, in the solver's current order
	xsq     []float64   // x_i . x_i (RBF only)
	qd      []float64   // K(x_i, x_i)
	kernel  Kernel
	gamma   float64
	coef0   float64
	degree  int
	workers int
	cache   *colCache
}

// minParallelWork is the number of kernel evaluations times features below
// which a column is computed on one goroutine.
const minParallelWork = 1 << 15

func newOneClassQ(x [][]float64, kernel Kernel, gamma, coef0 float64, degree int, cacheBytes int64, workers int) *oneClassQ {
	l := len(x)
	q := &oneClassQ{
		l: l, x: append([][]float64(nil), x...), kernel: kernel,
		gamma: gamma, coef0: coef0, degree: degree, workers: max(1, workers),
		qd: make([]float64, l),
	}
	if kernel == RBF {
		q.xsq = make([]float64, l)
		for i, r := range q.x {
			q.xsq[i] = libsvmDot(r, r)
		}
	}
	for i := range l {
		q.qd[i] = q.k(i, i)
	}
	q.cache = newColCache(l, cacheBytes)
	return q
}

// libsvmDot is Kernel::dot: the products added in feature order.
func libsvmDot(a, b []float64) float64 {
	b = b[:len(a)]
	s := 0.0
	for j, v := range a {
		s += float64(v * b[j])
	}
	return s
}

// k is libsvm's kernel_function(i, j) in double precision.
func (q *oneClassQ) k(i, j int) float64 {
	d := libsvmDot(q.x[i], q.x[j])
	switch q.kernel {
	case RBF:
		return math.Exp(-q.gamma * (q.xsq[i] + q.xsq[j] - 2*d))
	case Linear:
		return d
	case Poly:
		return powi(float64(q.gamma*d)+q.coef0, q.degree)
	default: // Sigmoid
		return math.Tanh(float64(q.gamma*d) + q.coef0)
	}
}

// fill computes Q_ij for j in [from, to) into col.
func (q *oneClassQ) fill(col []float32, i, from, to int) {
	xi := q.x[i]
	switch q.kernel {
	case RBF:
		// The arguments of a block of entries, then their exponentials at
		// once (expSlice, within 2 ulp of math.Exp: the float32 entries
		// practically never change).
		var buf [256]float64
		for j0 := from; j0 < to; j0 += len(buf) {
			a := buf[:min(len(buf), to-j0)]
			q.rbfArgs(a, xi, q.xsq[i], j0)
			expSlice(a)
			c := col[j0 : j0+len(a)]
			for k, v := range a {
				c[k] = float32(v)
			}
		}
	default:
		for j := from; j < to; j++ {
			col[j] = float32(q.k(i, j))
		}
	}
}

// rbfArgs sets a[k] = -gamma*(xsq_i + xsq_j - 2 x_i.x_j) for j = j0+k, four
// rows at a time: four independent sums, each added in feature order as
// libsvm adds it.
func (q *oneClassQ) rbfArgs(a, xi []float64, si float64, j0 int) {
	ng, nf := -q.gamma, len(xi)
	k := 0
	for ; k+4 <= len(a); k += 4 {
		j := j0 + k
		b0, b1, b2, b3 := q.x[j][:nf], q.x[j+1][:nf], q.x[j+2][:nf], q.x[j+3][:nf]
		var d0, d1, d2, d3 float64
		for f, v := range xi {
			d0 += float64(v * b0[f])
			d1 += float64(v * b1[f])
			d2 += float64(v * b2[f])
			d3 += float64(v * b3[f])
		}
		a[k] = ng * (si + q.xsq[j] - 2*d0)
		a[k+1] = ng * (si + q.xsq[j+1] - 2*d1)
		a[k+2] = ng * (si + q.xsq[j+2] - 2*d2)
		a[k+3] = ng * (si + q.xsq[j+3] - 2*d3)
	}
	for ; k < len(a); k++ {
		j := j0 + k
		a[k] = ng * (si + q.xsq[j] - 2*libsvmDot(xi, q.x[j]))
	}
}

// getQ returns the first n entries of column i, computing the missing ones
// (on several goroutines for long columns).
func (q *oneClassQ) getQ(i, n int) []float32 {
	col, start := q.cache.get(i, n)
	if start >= n {
		return col[:n]
	}
	work := (n - start) * (len(q.x[i]) + 4)
	if q.workers == 1 || work < minParallelWork {
		q.fill(col, i, start, n)
		return col[:n]
	}
	w := min(q.workers, work/(minParallelWork/2))
	chunk := (n - start + w - 1) / w
	var wg sync.WaitGroup
	for from := start + chunk; from < n; from += chunk {
		wg.Add(1)
		go func(from int) {
			defer wg.Done()
			q.fill(col, i, from, min(from+chunk, n))
		}(from)
	}
	q.fill(col, i, start, min(start+chunk, n))
	wg.Wait()
	return col[:n]
}

func (q *oneClassQ) swapIndex(i, j int) {
	q.cache.swapIndex(i, j)
	q.x[i], q.x[j] = q.x[j], q.x[i]
	if q.xsq != nil {
		q.xsq[i], q.xsq[j] = q.xsq[j], q.xsq[i]
	}
	q.qd[i], q.qd[j] = q.qd[j], q.qd[i]
}

// colCache is libsvm's Cache: columns of the kernel matrix, each holding a
// prefix of its entries, kept in least-recently-used order within a bound on
// the number of float32 values held.
type colCache struct {
	size int // free room, in float32 values
	cols []cacheCol
	// the LRU list is circular with its sentinel at index len(cols)-1.
}

type cacheCol struct {
	data       []float32 // len(data) entries are valid
	prev, next int
}

func newColCache(l int, bytes int64) *colCache {
	size := bytes / 4
	size = max(size, 2*int64(l)) // room for two full columns, as libsvm requires
	c := &colCache{size: int(min(size, math.MaxInt32)), cols: make([]cacheCol, l+1)}
	c.cols[l].prev, c.cols[l].next = l, l
	return c
}

func (c *colCache) sentinel() int { return len(c.cols) - 1 }

func (c *colCache) unlink(h int) {
	p, n := c.cols[h].prev, c.cols[h].next
	c.cols[p].next = n
	c.cols[n].prev = p
}

func (c *colCache) pushBack(h int) {
	s := c.sentinel()
	c.cols[h].next = s
	c.cols[h].prev = c.cols[s].prev
	c.cols[c.cols[h].prev].next = h
	c.cols[s].prev = h
}

func (c *colCache) drop(h int) {
	c.unlink(h)
	c.size += len(c.cols[h].data)
	c.cols[h].data = nil
}

// get returns column index with room for n entries and the position from
// which entries must still be computed (n or more if none).
func (c *colCache) get(index, n int) ([]float32, int) {
	h := &c.cols[index]
	have := len(h.data)
	if have > 0 {
		c.unlink(index)
	}
	if more := n - have; more > 0 {
		for c.size < more {
			c.drop(c.cols[c.sentinel()].next)
		}
		grown := make([]float32, n)
		copy(grown, h.data)
		h.data = grown
		c.size -= more
	}
	c.pushBack(index)
	return h.data, have
}

// swapIndex exchanges rows/columns i and j in every cached column; a column
// that holds i but not j is dropped, as libsvm does.
func (c *colCache) swapIndex(i, j int) {
	if i == j {
		return
	}
	ci, cj := &c.cols[i], &c.cols[j]
	if len(ci.data) > 0 {
		c.unlink(i)
	}
	if len(cj.data) > 0 {
		c.unlink(j)
	}
	ci.data, cj.data = cj.data, ci.data
	if len(ci.data) > 0 {
		c.pushBack(i)
	}
	if len(cj.data) > 0 {
		c.pushBack(j)
	}
	if i > j {
		i, j = j, i
	}
	s := c.sentinel()
	for h := c.cols[s].next; h != s; {
		next := c.cols[h].next
		d := c.cols[h].data
		if len(d) > i {
			if len(d) > j {
				d[i], d[j] = d[j], d[i]
			} else {
				c.drop(h)
			}
		}
		h = next
	}
}
