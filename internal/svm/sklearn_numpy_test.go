package svm

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/batchscore/batchscore/internal/pickle"
	"github.com/google/go-cmp/cmp"
)

func npDtype(descr, order string) *pickle.Object {
	return &pickle.Object{
		Callable: pickle.Global{Module: "numpy", Name: "dtype"},
		Args:     pickle.Tuple{descr, false, true},
		State:    pickle.Tuple{int64(3), order, nil, nil, nil, int64(-1), int64(-1), int64(0)},
		HasState: true,
	}
}

func npShape(dims ...int64) pickle.Tuple {
	t := pickle.Tuple{}
	for _, d := range dims {
		t = append(t, d)
	}
	return t
}

func npReconstruct(shape pickle.Tuple, dt *pickle.Object, fortran bool, raw []byte) *pickle.Object {
	return &pickle.Object{
		Callable: pickle.Global{Module: "numpy.core.multiarray", Name: "_reconstruct"},
		Args:     pickle.Tuple{pickle.Global{Module: "numpy", Name: "ndarray"}, pickle.Tuple{int64(0)}, []byte("b")},
		State:    pickle.Tuple{int64(1), shape, dt, fortran, raw},
		HasState: true,
	}
}

// objectArray is a pickled numpy array of Python objects: its items come as
// a list where a numeric array has its bytes.
func objectArray(shape pickle.Tuple, items *pickle.List) *pickle.Object {
	o := npReconstruct(shape, npDtype("O8", "|"), false, nil)
	o.State.(pickle.Tuple)[4] = items
	return o
}

func le64(vs ...float64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}

func TestDecodeArrays(t *testing.T) {
	be64 := func(vs ...float64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		}
		return b
	}
	tests := []struct {
		name string
		v    pickle.Value
		want *ndarray
	}{
		{"float64 little-endian", npReconstruct(npShape(2), npDtype("f8", "<"), false, le64(1.5, -2)),
			&ndarray{shape: []int{2}, data: []float64{1.5, -2}}},
		{"float64 big-endian", npReconstruct(npShape(2), npDtype("f8", ">"), false, be64(1.5, -2)),
			&ndarray{shape: []int{2}, data: []float64{1.5, -2}}},
		{"float64 native order", npReconstruct(npShape(1), npDtype("f8", "="), false, le64(3)),
			&ndarray{shape: []int{1}, data: []float64{3}}},
		{"float32", npReconstruct(npShape(1), npDtype("f4", "<"), false, binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.1))),
			&ndarray{shape: []int{1}, data: []float64{float64(float32(0.1))}}},
		{"int32 big-endian", npReconstruct(npShape(1), npDtype("i4", ">"), false, []byte{0xff, 0xff, 0xff, 0xfb}),
			&ndarray{shape: []int{1}, data: []float64{-5}}},
		{"uint16", npReconstruct(npShape(1), npDtype("u2", "<"), false, []byte{0xff, 0xff}),
			&ndarray{shape: []int{1}, data: []float64{65535}}},
		{"int64", npReconstruct(npShape(1), npDtype("i8", "<"), false, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}),
			&ndarray{shape: []int{1}, data: []float64{-1}}},
		{"int8 and bool", npReconstruct(npShape(2), npDtype("i1", "|"), false, []byte{0x80, 0x7f}),
			&ndarray{shape: []int{2}, data: []float64{-128, 127}}},
		{"bool", npReconstruct(npShape(2), npDtype("b1", "|"), false, []byte{1, 0}),
			&ndarray{shape: []int{2}, data: []float64{1, 0}}},
		{"empty", npReconstruct(npShape(0), npDtype("f8", "<"), false, nil),
			&ndarray{shape: []int{0}, data: []float64{}}},
		{"Fortran 2x3", npReconstruct(npShape(2, 3), npDtype("f8", "<"), true, le64(1, 4, 2, 5, 3, 6)),
			&ndarray{shape: []int{2, 3}, data: []float64{1, 2, 3, 4, 5, 6}}},
		// a[i,j,k] = 100i + 10j + k for shape (2,3,2), stored first index fastest.
		{"Fortran 2x3x2", npReconstruct(npShape(2, 3, 2), npDtype("f8", "<"), true,
			le64(0, 100, 10, 110, 20, 120, 1, 101, 11, 111, 21, 121)),
			&ndarray{shape: []int{2, 3, 2}, data: []float64{0, 1, 10, 11, 20, 21, 100, 101, 110, 111, 120, 121}}},
		{"protocol 5 _frombuffer, Fortran", &pickle.Object{
			Callable: pickle.Global{Module: "numpy._core.numeric", Name: "_frombuffer"},
			Args:     pickle.Tuple{le64(1, 3, 2, 4), npDtype("f8", "<"), npShape(2, 2), "F"},
		}, &ndarray{shape: []int{2, 2}, data: []float64{1, 2, 3, 4}}},
		{"4-field state (old numpy)", &pickle.Object{
			Callable: pickle.Global{Module: "numpy.core.multiarray", Name: "_reconstruct"},
			Args:     pickle.Tuple{pickle.Global{Module: "numpy", Name: "ndarray"}, pickle.Tuple{int64(0)}, []byte("b")},
			State:    pickle.Tuple{npShape(1), npDtype("f8", "<"), false, le64(7)},
			HasState: true,
		}, &ndarray{shape: []int{1}, data: []float64{7}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toArray(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(ndarray{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeArrayErrors(t *testing.T) {
	structured := npDtype("V16", "|")
	structured.State = pickle.Tuple{int64(3), "|", nil, pickle.Tuple{"a", "b"}, pickle.NewDict(), int64(16), int64(1), int64(16)}
	tests := []struct {
		name string
		v    pickle.Value
		want string
	}{
		{"too few bytes", npReconstruct(npShape(3), npDtype("f8", "<"), false, le64(1, 2)), "array of shape [3] and dtype f8 needs 24 bytes, has 16"},
		{"too many bytes", npReconstruct(npShape(1), npDtype("f8", "<"), false, le64(1, 2)), "needs 8 bytes, has 16"},
		{"overflowing shape", npReconstruct(npShape(1<<40, 1<<40), npDtype("f8", "<"), false, nil), "is too large"},
		{"negative dimension", npReconstruct(npShape(-1), npDtype("f8", "<"), false, nil), "bad array dimension -1"},
		{"float16", npReconstruct(npShape(1), npDtype("f2", "<"), false, []byte{0, 0}), `unsupported dtype "f2"`},
		{"unicode", npReconstruct(npShape(1), npDtype("U8", "<"), false, nil), `unsupported dtype "U8"`},
		{"structured", npReconstruct(npShape(1), structured, false, nil), `structured dtype "V16" is not supported`},
		{"objects", objectArray(npShape(1), &pickle.List{Items: []pickle.Value{1.5}}), "arrays of Python objects are not supported"},
		{"objects not in a list", npReconstruct(npShape(1), npDtype("O8", "|"), false, nil), "object array data is bytes, not a list"},
		{"bad byte order", npReconstruct(npShape(1), npDtype("f8", "?"), false, le64(1)), `dtype byte order "?"`},
		{"matrix subclass", &pickle.Object{
			Callable: pickle.Global{Module: "numpy.core.multiarray", Name: "_reconstruct"},
			Args:     pickle.Tuple{pickle.Global{Module: "numpy", Name: "matrix"}, pickle.Tuple{int64(0)}, []byte("b")},
		}, "_reconstruct of something other than numpy.ndarray"},
		{"not an array", "text", "str is not a numpy array"},
		{"frombuffer order", &pickle.Object{
			Callable: pickle.Global{Module: "numpy.core.numeric", Name: "_frombuffer"},
			Args:     pickle.Tuple{le64(1), npDtype("f8", "<"), npShape(1), "K"},
		}, `_frombuffer order "K"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toArray(tc.v)
			if err == nil {
				t.Fatalf("decoded %v, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestToFloat(t *testing.T) {
	scalar := &pickle.Object{
		Callable: pickle.Global{Module: "numpy.core.multiarray", Name: "scalar"},
		Args:     pickle.Tuple{npDtype("f8", "<"), le64(0.25)},
	}
	tests := []struct {
		name string
		v    pickle.Value
		want float64
	}{
		{"float", 1.5, 1.5},
		{"int", int64(-3), -3},
		{"numpy scalar", scalar, 0.25},
		{"one-element array", npReconstruct(npShape(1), npDtype("f8", "<"), false, le64(-0.5)), -0.5},
	}
	for _, tc := range tests {
		got, err := toFloat(tc.v)
		if err != nil || got != tc.want {
			t.Errorf("%s: toFloat = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	if _, err := toFloat(npReconstruct(npShape(2), npDtype("f8", "<"), false, le64(1, 2))); err == nil {
		t.Error("toFloat of a two-element array did not fail")
	}
}
