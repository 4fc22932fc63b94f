package svm

import "math"

// This file is a port of the SMO solver of libsvm 3.24 (svm.cpp: Solver,
// select_working_set with second-order working-set selection, do_shrinking,
// reconstruct_gradient, calculate_rho), specialised to the one-class problem
//
//	min 0.5 alpha^T Q alpha   subject to   0 <= alpha_i <= 1,  sum_i alpha_i = nu*l
//
// where every y_i is +1, every upper bound C_i is 1 and the linear term p is
// 0 (libsvm's solve_one_class). The arithmetic follows libsvm's operation by
// operation, including its single-precision kernel matrix (Qfloat), so that
// the solver visits the same working sets and ends at the same alphas and rho.
// Explicit float64(...) conversions keep the Go compiler from fusing a
// multiply and an add into one FMA, which libsvm (built for baseline amd64)
// never does.

const (
	solverTau = 1e-12 // libsvm's TAU

	statusLower = iota // alpha_i = 0
	statusUpper        // alpha_i = C = 1
	statusFree
)

type solver struct {
	q      *oneClassQ
	l      int
	eps    float64
	active int
	shrink bool

	alpha    []float64
	status   []uint8
	g        []float64 // gradient Q alpha
	gBar     []float64 // gradient if free variables were 0: sum over alpha_i = C of C Q_i
	activeAt []int     // original index of the variable now at each position
	unshrink bool
	iter     int
}

func (s *solver) updateStatus(i int) {
	switch {
	case s.alpha[i] >= 1:
		s.status[i] = statusUpper
	case s.alpha[i] <= 0:
		s.status[i] = statusLower
	default:
		s.status[i] = statusFree
	}
}

func (s *solver) swapIndex(i, j int) {
	s.q.swapIndex(i, j)
	s.g[i], s.g[j] = s.g[j], s.g[i]
	s.status[i], s.status[j] = s.status[j], s.status[i]
	s.alpha[i], s.alpha[j] = s.alpha[j], s.alpha[i]
	s.activeAt[i], s.activeAt[j] = s.activeAt[j], s.activeAt[i]
	s.gBar[i], s.gBar[j] = s.gBar[j], s.gBar[i]
}

// startAlpha is the solver's feasible starting point: alpha_i = 1 for the
// first variables up to a total of nu*l, the remainder on the next one and 0
// elsewhere. libsvm (solve_one_class) takes nu*l as one product and puts
// floor(nu*l) ones; scikit-learn's fork adds nu once per row (its per-row
// weights) and hands out that sum greedily. The two differ in the last bits
// when nu*l is not exact, and the solver then follows another path to a
// solution equally within the tolerance.
func startAlpha(l int, nu float64, init Init) []float64 {
	a := make([]float64, l)
	if init == InitLibSVM {
		n := int(nu * float64(l))
		for i := 0; i < n; i++ {
			a[i] = 1
		}
		if n < l {
			a[n] = nu*float64(l) - float64(n)
		}
		return a
	}
	nuL := 0.0
	for range l {
		nuL += nu // C_i * nu with C_i = 1
	}
	for i := 0; nuL > 0 && i < l; i++ {
		a[i] = min(1, nuL)
		nuL -= a[i]
	}
	return a
}

// solveOneClass runs libsvm's solve_one_class on the kernel matrix q from
// the starting point of init, and returns the alphas in the original order,
// rho and the number of iterations.
func solveOneClass(q *oneClassQ, nu float64, init Init, eps float64, shrinking bool, maxIter int) (alpha []float64, rho float64, iter int) {
	l := q.l
	s := &solver{
		q: q, l: l, eps: eps, active: l, shrink: shrinking,
		alpha:    startAlpha(l, nu, init),
		status:   make([]uint8, l),
		g:        make([]float64, l),
		gBar:     make([]float64, l),
		activeAt: make([]int, l),
	}
	for i := range l {
		s.updateStatus(i)
		s.activeAt[i] = i
	}
	for i := range l {
		if s.status[i] == statusLower {
			continue
		}
		qi := q.getQ(i, l)
		ai := s.alpha[i]
		for j := range l {
			s.g[j] += float64(ai * float64(qi[j]))
		}
		if s.status[i] == statusUpper {
			for j := range l {
				s.gBar[j] += float64(qi[j]) // C_i * Q_i[j] with C_i = 1
			}
		}
	}
	s.run(maxIter)
	rho = s.rho()
	alpha = make([]float64, l)
	for i := range l {
		alpha[s.activeAt[i]] = s.alpha[i]
	}
	return alpha, rho, s.iter
}

// run is the optimisation loop of Solver::Solve.
func (s *solver) run(maxIter int) {
	if maxIter <= 0 {
		maxIter = max(10000000, 100*s.l)
		if s.l > math.MaxInt32/100 {
			maxIter = math.MaxInt32
		}
	}
	counter := min(s.l, 1000) + 1
	for s.iter < maxIter {
		counter--
		if counter == 0 {
			counter = min(s.l, 1000)
			if s.shrink {
				s.doShrinking()
			}
		}
		i, j, done := s.selectWorkingSet()
		if done {
			s.reconstructGradient()
			s.active = s.l
			if i, j, done = s.selectWorkingSet(); done {
				break
			}
			counter = 1 // shrink at the next iteration
		}
		s.iter++
		s.step(i, j)
	}
	if s.iter >= maxIter && s.active < s.l {
		s.reconstructGradient()
		s.active = s.l
	}
}

// step updates alpha_i and alpha_j (same sign of y, both bounded by 1),
// then the gradient, the statuses and G_bar.
func (s *solver) step(i, j int) {
	q := s.q
	qi := q.getQ(i, s.active)
	qj := q.getQ(j, s.active)
	oldI, oldJ := s.alpha[i], s.alpha[j]

	// 2*Q_i[j] is a float product in libsvm: exact, as float64 here.
	quad := q.qd[i] + q.qd[j] - 2*float64(qi[j])
	if quad <= 0 {
		quad = solverTau
	}
	delta := (s.g[i] - s.g[j]) / quad
	sum := s.alpha[i] + s.alpha[j]
	s.alpha[i] -= delta
	s.alpha[j] += delta
	// libsvm clips to the box twice, the second time with i and j swapped.
	clip := func(a, b *float64) {
		if sum > 1 {
			if *a > 1 {
				*a, *b = 1, sum-1
			}
		} else if *b < 0 {
			*b, *a = 0, sum
		}
	}
	clip(&s.alpha[i], &s.alpha[j])
	clip(&s.alpha[j], &s.alpha[i])

	dI, dJ := s.alpha[i]-oldI, s.alpha[j]-oldJ
	g := s.g[:s.active]
	qi, qj = qi[:len(g)], qj[:len(g)]
	for k := range g {
		g[k] += float64(float64(qi[k])*dI) + float64(float64(qj[k])*dJ)
	}

	ui, uj := s.status[i] == statusUpper, s.status[j] == statusUpper
	s.updateStatus(i)
	s.updateStatus(j)
	if ui != (s.status[i] == statusUpper) {
		s.addGBar(q.getQ(i, s.l), ui)
	}
	if uj != (s.status[j] == statusUpper) {
		s.addGBar(q.getQ(j, s.l), uj)
	}
}

// addGBar subtracts (wasUpper) or adds the column Q_i (times C = 1) to G_bar.
func (s *solver) addGBar(qi []float32, wasUpper bool) {
	gb := s.gBar[:len(qi)]
	if wasUpper {
		for k, v := range qi {
			gb[k] -= float64(v)
		}
		return
	}
	for k, v := range qi {
		gb[k] += float64(v)
	}
}

// selectWorkingSet is libsvm's second-order working-set selection (WSS 2 of
// Fan, Chen and Lin, 2005). done reports that the active set is optimal to
// within eps.
func (s *solver) selectWorkingSet() (outI, outJ int, done bool) {
	gmax, gmax2 := math.Inf(-1), math.Inf(-1)
	gmaxIdx, gminIdx := -1, -1
	objDiffMin := math.Inf(1)
	g := s.g[:s.active]
	st := s.status[:s.active]
	for t, gt := range g {
		if st[t] != statusUpper && -gt >= gmax {
			gmax = -gt
			gmaxIdx = t
		}
	}
	i := gmaxIdx
	var qi []float32
	if i != -1 {
		qi = s.q.getQ(i, s.active)
	}
	qd := s.q.qd
	for j, gj := range g {
		if st[j] == statusLower {
			continue
		}
		gradDiff := gmax + gj
		if gj >= gmax2 {
			gmax2 = gj
		}
		if gradDiff > 0 {
			quad := qd[i] + qd[j] - 2.0*float64(qi[j])
			var objDiff float64
			if quad > 0 {
				objDiff = -(gradDiff * gradDiff) / quad
			} else {
				objDiff = -(gradDiff * gradDiff) / solverTau
			}
			if objDiff <= objDiffMin {
				gminIdx = j
				objDiffMin = objDiff
			}
		}
	}
	if gmax+gmax2 < s.eps || gminIdx == -1 {
		return 0, 0, true
	}
	return gmaxIdx, gminIdx, false
}

func (s *solver) beShrunk(i int, gmax1, gmax2 float64) bool {
	switch s.status[i] {
	case statusUpper:
		return -s.g[i] > gmax1
	case statusLower:
		return s.g[i] > gmax2
	}
	return false
}

func (s *solver) doShrinking() {
	gmax1, gmax2 := math.Inf(-1), math.Inf(-1)
	for i := range s.active {
		if s.status[i] != statusUpper && -s.g[i] >= gmax1 {
			gmax1 = -s.g[i]
		}
		if s.status[i] != statusLower && s.g[i] >= gmax2 {
			gmax2 = s.g[i]
		}
	}
	if !s.unshrink && gmax1+gmax2 <= s.eps*10 {
		s.unshrink = true
		s.reconstructGradient()
		s.active = s.l
	}
	for i := 0; i < s.active; i++ {
		if !s.beShrunk(i, gmax1, gmax2) {
			continue
		}
		s.active--
		for s.active > i {
			if !s.beShrunk(s.active, gmax1, gmax2) {
				s.swapIndex(i, s.active)
				break
			}
			s.active--
		}
	}
}

// reconstructGradient recomputes G of the inactive variables from G_bar and
// the free variables, choosing libsvm's cheaper loop order.
func (s *solver) reconstructGradient() {
	if s.active == s.l {
		return
	}
	l, act := s.l, s.active
	for j := act; j < l; j++ {
		s.g[j] = s.gBar[j] // + p[j] = 0
	}
	nFree := 0
	for j := range act {
		if s.status[j] == statusFree {
			nFree++
		}
	}
	if nFree*l > 2*act*(l-act) {
		for i := act; i < l; i++ {
			qi := s.q.getQ(i, act)
			for j := range act {
				if s.status[j] == statusFree {
					s.g[i] += float64(s.alpha[j] * float64(qi[j]))
				}
			}
		}
		return
	}
	for i := range act {
		if s.status[i] != statusFree {
			continue
		}
		qi := s.q.getQ(i, l)
		ai := s.alpha[i]
		for j := act; j < l; j++ {
			s.g[j] += float64(ai * float64(qi[j]))
		}
	}
}

// rho is Solver::calculate_rho for y_i = +1: the mean gradient of the free
// variables, or the midpoint of the bounds when none is free.
func (s *solver) rho() float64 {
	ub, lb, sumFree, nFree := math.Inf(1), math.Inf(-1), 0.0, 0
	for i := range s.active {
		switch s.status[i] {
		case statusUpper:
			lb = max(lb, s.g[i])
		case statusLower:
			ub = min(ub, s.g[i])
		default:
			nFree++
			sumFree += s.g[i]
		}
	}
	if nFree > 0 {
		return sumFree / float64(nFree)
	}
	return (ub + lb) / 2
}
