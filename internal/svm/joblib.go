package svm

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/batchscore/batchscore/internal/pickle"
)

// maxJoblibBytes bounds the decompressed size of a joblib file (a guard
// against compression bombs); it matches the pickle machine's input limit.
const maxJoblibBytes = pickle.DefaultMaxInput

// LoadJoblib reads a scikit-learn model saved with joblib.dump (joblib 0.10
// and later, also sklearn.externals.joblib): uncompressed, where each numpy
// array's bytes follow its NumpyArrayWrapper in the stream (after an
// alignment padding since joblib 1.2), or compressed with zlib or gzip
// (compress=True, 1-9, "zlib", "gzip"). Other compressions are refused with
// "unsupported compression NAME". The pickle inside is read as LoadPickle
// reads it, executing nothing. Errors wrap ErrInvalidModel.
func LoadJoblib(data []byte) (*Model, error) {
	raw, err := joblibDecompress(data)
	if err != nil {
		return nil, fmt.Errorf("%w: joblib: %w", ErrInvalidModel, err)
	}
	v, err := pickle.Load(raw, pickle.Options{Allow: allowGlobal, OnBuild: joblibHook})
	if err != nil {
		return nil, pickleError(err)
	}
	return modelFromTree(v)
}

// joblibDecompress returns the pickle stream of a joblib file.
func joblibDecompress(data []byte) ([]byte, error) {
	switch {
	case len(data) == 0:
		return nil, errors.New("empty file")
	case bytes.HasPrefix(data, []byte("ZF")):
		return nil, errors.New("unsupported compression: the joblib < 0.10 \"ZF\" format")
	case data[0] == 0x78: // zlib (joblib's BinaryZlibFile writes a zlib stream)
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("zlib: %w", err)
		}
		return readLimited(zr, "zlib", maxJoblibBytes)
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return readLimited(zr, "gzip", maxJoblibBytes)
	}
	// joblib also writes bz2, xz, lzma and lz4 (joblib/compressor.py).
	for _, c := range compressions {
		if bytes.HasPrefix(data, c.magic) {
			return nil, fmt.Errorf("unsupported compression %s (supported: none, zlib, gzip)", c.name)
		}
	}
	return data, nil
}

// readLimited decompresses at most limit bytes.
func readLimited(r io.Reader, name string, limit int) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: truncated data: %w", name, err)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("%s: decompressed data over %d bytes", name, limit)
	}
	return out, nil
}

var wrapperNames = []string{"joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper"}

// joblibHook replaces each NumpyArrayWrapper, once BUILD has given it its
// state, by the array whose bytes follow in the stream, as joblib's
// NumpyUnpickler.load_build does.
func joblibHook(d *pickle.Decoder, o *pickle.Object) (pickle.Value, bool, error) {
	if !isGlobal(o.Callable, wrapperNames...) {
		return nil, false, nil
	}
	st, ok := o.State.(*pickle.Dict)
	if !ok {
		return nil, false, fmt.Errorf("NumpyArrayWrapper state is %s", pickle.TypeName(o.State))
	}
	field := func(name string) (pickle.Value, error) {
		v, ok := st.Get(name)
		if !ok {
			return nil, fmt.Errorf("NumpyArrayWrapper has no %s", name)
		}
		return v, nil
	}
	sub, err := field("subclass")
	if err != nil {
		return nil, false, err
	}
	if !isGlobal(sub, "numpy.ndarray") {
		return nil, false, fmt.Errorf("NumpyArrayWrapper of %s, not numpy.ndarray", pickle.TypeName(sub))
	}
	sv, err := field("shape")
	if err != nil {
		return nil, false, err
	}
	shape, err := parseShape(sv)
	if err != nil {
		return nil, false, err
	}
	ov, err := field("order")
	if err != nil {
		return nil, false, err
	}
	order, _ := asString(ov)
	if order != "C" && order != "F" {
		return nil, false, fmt.Errorf("NumpyArrayWrapper order %q", order)
	}
	dv, err := field("dtype")
	if err != nil {
		return nil, false, err
	}
	dt, err := parseDtype(dv)
	if err != nil {
		return nil, false, err
	}
	if dt.kind == 'O' {
		// Object arrays are a nested pickle (protocol 2) right here.
		v, err := d.Decode()
		if err != nil {
			return nil, false, fmt.Errorf("object array: %w", err)
		}
		return v, true, nil
	}
	if al, ok := st.Get("numpy_array_alignment_bytes"); ok && al != nil {
		pad, err := d.ReadRaw(1)
		if err != nil {
			return nil, false, fmt.Errorf("array padding: %w", err)
		}
		if _, err := d.ReadRaw(int(pad[0])); err != nil {
			return nil, false, fmt.Errorf("array padding: %w", err)
		}
	}
	_, nbytes, err := count(shape, dt.size)
	if err != nil {
		return nil, false, err
	}
	if nbytes > d.Remaining() {
		return nil, false, fmt.Errorf("%w: joblib array of shape %v and dtype %s needs %d bytes, %d left", pickle.ErrTruncated, shape, dt.descr, nbytes, d.Remaining())
	}
	raw, err := d.ReadRaw(nbytes)
	if err != nil {
		return nil, false, err
	}
	return &rawArray{shape: shape, dt: dt, fortran: order == "F", raw: raw}, true, nil
}
