package svm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/batchscore/batchscore/internal/pickle"
)

// numpy arrays reach us in three shapes, all read without numpy:
//
//   - protocols 0-4: numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b')
//     followed by BUILD with the state (version, shape, dtype, is_fortran, raw bytes);
//   - protocol 5: numpy.core.numeric._frombuffer(buffer, dtype, shape, order);
//   - joblib: a NumpyArrayWrapper whose bytes follow its BUILD in the stream
//     (decoded by joblibHook into a *rawArray).
//
// numpy 2 writes numpy._core.* instead of numpy.core.*; both are accepted.

// dtype is the part of a numpy dtype needed to read numbers.
type dtype struct {
	kind  byte // 'f', 'i', 'u', 'b', or 'O' (objects, never decoded)
	size  int  // bytes per element
	big   bool // big-endian
	descr string
}

// rawArray is an array whose bytes have been located but not decoded.
type rawArray struct {
	shape   []int
	dt      dtype
	fortran bool
	raw     []byte
	objects []pickle.Value // the items of an array of Python objects (dtype 'O')
}

// ndarray is a decoded numeric array, in C (row-major) order.
type ndarray struct {
	shape []int
	data  []float64
}

func isGlobal(v pickle.Value, names ...string) bool {
	g, ok := v.(pickle.Global)
	if !ok {
		return false
	}
	s := g.String()
	for _, n := range names {
		if s == n {
			return true
		}
	}
	return false
}

func objectOf(v pickle.Value, names ...string) (*pickle.Object, bool) {
	o, ok := v.(*pickle.Object)
	if !ok || !isGlobal(o.Callable, names...) {
		return nil, false
	}
	return o, true
}

var (
	reconstructNames = []string{"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"}
	frombufferNames  = []string{"numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer"}
	scalarNames      = []string{"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"}
)

// parseDtype reads a pickled numpy.dtype: REDUCE of numpy.dtype('f8', False,
// True) then BUILD with (version, byteorder, subarray, names, fields, ...).
func parseDtype(v pickle.Value) (dtype, error) {
	o, ok := objectOf(v, "numpy.dtype")
	if !ok {
		return dtype{}, fmt.Errorf("dtype is %s, not numpy.dtype", pickle.TypeName(v))
	}
	if len(o.Args) < 1 {
		return dtype{}, errors.New("numpy.dtype without arguments")
	}
	descr, ok := asString(o.Args[0])
	if !ok || len(descr) < 2 {
		return dtype{}, fmt.Errorf("numpy.dtype of %s", pickle.TypeName(o.Args[0]))
	}
	dt := dtype{kind: descr[0], descr: descr}
	size, err := strconv.Atoi(descr[1:])
	if err != nil || size <= 0 || size > 64 {
		return dtype{}, fmt.Errorf("unsupported dtype %q", descr)
	}
	dt.size = size
	order := "|"
	if st, ok := o.State.(pickle.Tuple); ok && len(st) >= 2 {
		if s, ok := asString(st[1]); ok {
			order = s
		}
		// (version, byteorder, subarray, names, fields, ...): structured
		// and sub-array dtypes are not numbers.
		for i := 2; i <= 4 && i < len(st); i++ {
			if st[i] != nil {
				return dtype{}, fmt.Errorf("structured dtype %q is not supported", descr)
			}
		}
	} else if o.HasState {
		return dtype{}, fmt.Errorf("dtype state is %s", pickle.TypeName(o.State))
	}
	switch order {
	case ">":
		dt.big = true
	case "<", "|", "=": // numpy always writes the writer's order explicitly; '=' is read as little-endian
	default:
		return dtype{}, fmt.Errorf("dtype byte order %q", order)
	}
	switch {
	case dt.kind == 'f' && (size == 4 || size == 8):
	case (dt.kind == 'i' || dt.kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8):
	case dt.kind == 'b' && size == 1:
	case dt.kind == 'O':
	default:
		return dtype{}, fmt.Errorf("unsupported dtype %q (supported: float32, float64, integers, bool)", descr)
	}
	return dt, nil
}

func asString(v pickle.Value) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte: // a Python 2 str
		return string(s), true
	}
	return "", false
}

func asInt(v pickle.Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case *big.Int:
		return 0, false
	case *pickle.Object:
		f, err := scalarValue(x)
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	}
	return 0, false
}

func parseShape(v pickle.Value) ([]int, error) {
	t, ok := v.(pickle.Tuple)
	if !ok {
		if l, isList := v.(*pickle.List); isList {
			t = pickle.Tuple(l.Items)
		} else {
			return nil, fmt.Errorf("shape is %s, not a tuple", pickle.TypeName(v))
		}
	}
	if len(t) > 32 {
		return nil, fmt.Errorf("array of %d dimensions", len(t))
	}
	shape := make([]int, len(t))
	for i, d := range t {
		n, ok := asInt(d)
		if !ok || n < 0 || n > math.MaxInt32*int64(1<<20) {
			return nil, fmt.Errorf("bad array dimension %s", valueText(d))
		}
		shape[i] = int(n)
	}
	return shape, nil
}

// count returns the number of elements of shape and their size in bytes,
// refusing sizes that overflow.
func count(shape []int, size int) (n, nbytes int, err error) {
	n = 1
	for _, d := range shape {
		if d != 0 && n > math.MaxInt/2/d {
			return 0, 0, fmt.Errorf("array shape %v is too large", shape)
		}
		n *= d
	}
	if n > math.MaxInt/2/size {
		return 0, 0, fmt.Errorf("array shape %v is too large", shape)
	}
	return n, n * size, nil
}

// locateArray finds the shape, dtype, order and bytes of a pickled array.
func locateArray(v pickle.Value) (*rawArray, error) {
	if r, ok := v.(*rawArray); ok {
		return r, nil
	}
	o, ok := v.(*pickle.Object)
	if !ok {
		return nil, fmt.Errorf("%s is not a numpy array", pickle.TypeName(v))
	}
	switch {
	case isGlobal(o.Callable, reconstructNames...):
		if len(o.Args) < 1 || !isGlobal(o.Args[0], "numpy.ndarray") {
			return nil, errors.New("_reconstruct of something other than numpy.ndarray")
		}
		st, ok := o.State.(pickle.Tuple)
		if !ok {
			return nil, fmt.Errorf("ndarray state is %s", pickle.TypeName(o.State))
		}
		if len(st) == 5 {
			st = st[1:] // (version, shape, dtype, is_fortran, raw)
		}
		if len(st) != 4 {
			return nil, fmt.Errorf("ndarray state has %d fields", len(st))
		}
		shape, err := parseShape(st[0])
		if err != nil {
			return nil, err
		}
		dt, err := parseDtype(st[1])
		if err != nil {
			return nil, err
		}
		fortran, ok := st[2].(bool)
		if !ok {
			if i, isInt := st[2].(int64); isInt {
				fortran = i != 0
			} else {
				return nil, fmt.Errorf("ndarray is_fortran is %s", pickle.TypeName(st[2]))
			}
		}
		if dt.kind == 'O' {
			// The items are pickled as a list of Python objects.
			items, ok := st[3].(*pickle.List)
			if !ok {
				return nil, fmt.Errorf("object array data is %s, not a list", pickle.TypeName(st[3]))
			}
			return &rawArray{shape: shape, dt: dt, fortran: fortran, objects: items.Items}, nil
		}
		raw, ok := st[3].([]byte)
		if !ok {
			if s, isStr := st[3].(string); isStr { // Python 2 str read as unicode
				raw = []byte(s)
			} else {
				return nil, fmt.Errorf("ndarray data is %s, not bytes", pickle.TypeName(st[3]))
			}
		}
		return &rawArray{shape: shape, dt: dt, fortran: fortran, raw: raw}, nil
	case isGlobal(o.Callable, frombufferNames...):
		if len(o.Args) != 4 {
			return nil, fmt.Errorf("_frombuffer with %d arguments", len(o.Args))
		}
		raw, ok := o.Args[0].([]byte)
		if !ok {
			return nil, fmt.Errorf("_frombuffer of %s, not bytes", pickle.TypeName(o.Args[0]))
		}
		dt, err := parseDtype(o.Args[1])
		if err != nil {
			return nil, err
		}
		shape, err := parseShape(o.Args[2])
		if err != nil {
			return nil, err
		}
		order, _ := asString(o.Args[3])
		if order != "C" && order != "F" {
			return nil, fmt.Errorf("_frombuffer order %q", order)
		}
		return &rawArray{shape: shape, dt: dt, fortran: order == "F", raw: raw}, nil
	}
	return nil, fmt.Errorf("%s is not a numpy array", pickle.TypeName(v))
}

// decode converts the bytes to float64 in C order, after checking that the
// bytes present are exactly what the shape needs (so a shape claiming 10^12
// elements is refused before anything is allocated).
func (r *rawArray) decode() (*ndarray, error) {
	if r.dt.kind == 'O' {
		return nil, errors.New("arrays of Python objects are not supported here")
	}
	n, nbytes, err := count(r.shape, r.dt.size)
	if err != nil {
		return nil, err
	}
	if nbytes != len(r.raw) {
		return nil, fmt.Errorf("array of shape %v and dtype %s needs %d bytes, has %d", r.shape, r.dt.descr, nbytes, len(r.raw))
	}
	vals := make([]float64, n)
	var bo binary.ByteOrder = binary.LittleEndian
	if r.dt.big {
		bo = binary.BigEndian
	}
	sz := r.dt.size
	for i := range vals {
		b := r.raw[i*sz : i*sz+sz]
		switch r.dt.kind {
		case 'f':
			if sz == 8 {
				vals[i] = math.Float64frombits(bo.Uint64(b))
			} else {
				vals[i] = float64(math.Float32frombits(bo.Uint32(b)))
			}
		case 'i':
			switch sz {
			case 1:
				vals[i] = float64(int8(b[0]))
			case 2:
				vals[i] = float64(int16(bo.Uint16(b)))
			case 4:
				vals[i] = float64(int32(bo.Uint32(b)))
			case 8:
				vals[i] = float64(int64(bo.Uint64(b)))
			}
		case 'u', 'b':
			switch sz {
			case 1:
				vals[i] = float64(b[0])
			case 2:
				vals[i] = float64(bo.Uint16(b))
			case 4:
				vals[i] = float64(bo.Uint32(b))
			case 8:
				vals[i] = float64(bo.Uint64(b))
			}
		}
	}
	if r.fortran && len(r.shape) > 1 {
		vals = fortranToC(vals, r.shape)
	}
	return &ndarray{shape: append([]int(nil), r.shape...), data: vals}, nil
}

// fortranToC reorders column-major values into row-major order.
func fortranToC(f []float64, shape []int) []float64 {
	c := make([]float64, len(f))
	idx := make([]int, len(shape))
	// Walk f in Fortran order (first index fastest) and place each value.
	for k := range f {
		off := 0
		for d := range shape {
			off = off*shape[d] + idx[d]
		}
		c[off] = f[k]
		for d := 0; d < len(shape); d++ {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return c
}

func toArray(v pickle.Value) (*ndarray, error) {
	r, err := locateArray(v)
	if err != nil {
		return nil, err
	}
	return r.decode()
}

// scalarValue reads numpy.core.multiarray.scalar(dtype, bytes), a numpy
// scalar such as numpy.float64.
func scalarValue(o *pickle.Object) (float64, error) {
	if !isGlobal(o.Callable, scalarNames...) || len(o.Args) != 2 {
		return 0, fmt.Errorf("%s is not a number", pickle.TypeName(o))
	}
	dt, err := parseDtype(o.Args[0])
	if err != nil {
		return 0, err
	}
	raw, ok := o.Args[1].([]byte)
	if !ok {
		return 0, fmt.Errorf("numpy scalar data is %s", pickle.TypeName(o.Args[1]))
	}
	a, err := (&rawArray{dt: dt, raw: raw}).decode()
	if err != nil {
		return 0, err
	}
	return a.data[0], nil
}

// toStrings reads a one-dimensional numpy array of Python str objects, as
// scikit-learn keeps feature_names_in_.
func toStrings(v pickle.Value) ([]string, error) {
	r, err := locateArray(v)
	if err != nil {
		return nil, err
	}
	if r.dt.kind != 'O' {
		return nil, fmt.Errorf("array of dtype %s, not of str objects", r.dt.descr)
	}
	if len(r.shape) != 1 || r.shape[0] != len(r.objects) {
		return nil, fmt.Errorf("object array of shape %v holds %d items, want one dimension", r.shape, len(r.objects))
	}
	out := make([]string, len(r.objects))
	for i, o := range r.objects {
		s, ok := asString(o)
		if !ok {
			return nil, fmt.Errorf("item %d is %s, not a str", i, describe(o))
		}
		out[i] = s
	}
	return out, nil
}

// toFloat reads a Python number, a numpy scalar, or an array of one element.
func toFloat(v pickle.Value) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case *pickle.Object:
		if isGlobal(x.Callable, scalarNames...) {
			return scalarValue(x)
		}
	}
	a, err := toArray(v)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", pickle.TypeName(v))
	}
	if len(a.data) != 1 {
		return 0, fmt.Errorf("array of shape %v is not a single number", a.shape)
	}
	return a.data[0], nil
}
