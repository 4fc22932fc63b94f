// Package svm scores one-class support vector machines, as fitted by
// scikit-learn's OneClassSVM or libsvm's svm-train -s 2, in pure Go.
//
// A Model is built from Params (support vectors, dual coefficients,
// intercept, kernel parameters and an optional StandardScaler) by New, which
// validates everything once; scoring then never fails. Decision scores one
// row; DecisionBatch scores a row-major matrix without allocating per row;
// DecisionBatchParallel spreads a large batch over all cores. IsAnomaly turns a
// decision value into libsvm's label rule (decision <= 0 is an anomaly).
//
// # Exactness
//
// The formulas are those of libsvm as scikit-learn calls it (see Params): the
// squared distance of the RBF kernel is the sum of squared differences, never
// ||z||^2 + ||sv||^2 - 2 z.sv. The RBF kernel uses this package's own
// vectorised exponential (range reduction to [-ln2/2, ln2/2] and a degree-13
// polynomial, within 2 units in the last place of math.Exp; results below
// about 1.6e-308 are flushed to 0), and it adds the kernel terms in 8 or 16
// interleaved partial sums. Decision values therefore differ from
// scikit-learn's only in the last bits: the tests hold them to
// 1e-12*max(1,|expected|) on the reference models and to 1e-9 relative on
// generated ones, with identical labels. Decision, DecisionBatch and
// DecisionBatchParallel run the same code per row and return bit-identical
// values. Linear, poly and sigmoid kernels use math.Tanh and libsvm's
// integer power, one support vector after another.
//
// # Training
//
// TrainOneClass fits a nu one-class SVM as libsvm 3.24 does (svm-train -s 2,
// which scikit-learn's OneClassSVM wraps): libsvm's starting point (the first
// floor(nu*l) alphas at 1, the remainder on the next), SMO with second-order
// working-set selection, shrinking, a kernel matrix held in single precision
// in an LRU cache of bounded size, and libsvm's rho (the mean gradient of the
// free alphas). It follows libsvm operation by operation, so on the test
// cases (300 to 20,000 rows, 1 to 16 features, all four kernels) it finds
// the same support vectors and the same alphas and rho as svm-train and
// scikit-learn, bit for bit or within 1e-13. Kernel columns are computed on
// several goroutines (TrainParams.Workers), which does not change the result.
// FitScaler, GammaScale and GammaAuto are scikit-learn's StandardScaler and
// gamma='scale'/'auto'; Fit chains them.
//
// # Speed
//
// On amd64 CPUs with AVX-512, or AVX2 and FMA (detected at run time with
// golang.org/x/sys/cpu), the RBF kernel runs in Go assembly over a
// support-vector layout blocked eight at a time, two rows at once in batches;
// elsewhere (or with the purego build tag) a pure-Go version of the same
// algorithm runs. KernelImplementation names the one in use. See
// docs/speed.md for the measurements against scikit-learn.
package svm
