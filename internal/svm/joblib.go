package svm

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/batchscore/batchscore/internal/pickle"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

// maxJoblibBytes bounds the decompressed size of a joblib file (a guard
// against compression bombs); it matches the pickle machine's input limit.
const maxJoblibBytes = pickle.DefaultMaxInput

// LoadJoblib reads a scikit-learn model saved with joblib.dump (joblib 0.10
// and later, also sklearn.externals.joblib): uncompressed, where each numpy
// array's bytes follow its NumpyArrayWrapper in the stream (after an
// alignment padding since joblib 1.2), or compressed with any of joblib's
// compressors: zlib (compress=True, 1-9, "zlib"), gzip, bz2, lzma, xz and
// lz4. The pickle inside is read as LoadPickle reads it, executing nothing.
// Errors wrap ErrInvalidModel.
func LoadJoblib(data []byte) (*Model, error) {
	raw, err := joblibDecompress(data)
	if err != nil {
		return nil, fmt.Errorf("%w: joblib: %w", ErrInvalidModel, err)
	}
	return loadPickleTree(raw)
}

// joblibDecompress returns the pickle stream of a joblib file.
func joblibDecompress(data []byte) ([]byte, error) {
	switch {
	case len(data) == 0:
		return nil, errors.New("empty file")
	case bytes.HasPrefix(data, []byte("ZF")):
		return nil, errors.New("unsupported compression: the joblib < 0.10 \"ZF\" format")
	case data[0] == 0x78 && !isZlib(data):
		return nil, errors.New("zlib: invalid header")
	}
	r, name, err := decompressor(data)
	if err != nil {
		return nil, err
	}
	if r == nil {
		for _, c := range compressions {
			if bytes.HasPrefix(data, c.magic) {
				return nil, fmt.Errorf("unsupported compression %s (supported: %s)", c.name, supportedCompressions)
			}
		}
		return data, nil
	}
	return readLimited(r, name, maxJoblibBytes)
}

// supportedCompressions are the compressions decompressor reads: all that
// joblib writes (joblib/compressor.py).
const supportedCompressions = "zlib, gzip, bz2, lzma, xz, lz4"

// maxDictBytes bounds the dictionary an lzma stream, or any block of an xz
// stream, may ask for: 64 MiB is what xz's strongest preset (-9, joblib's
// compress=("xz", 9)) uses.
const maxDictBytes = 64 << 20

// compressionOf names the joblib compression whose magic number data starts
// with, or returns "".
func compressionOf(data []byte) string {
	switch {
	case isZlib(data): // joblib's BinaryZlibFile writes a zlib stream
		return "zlib"
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return "gzip"
	case bytes.HasPrefix(data, []byte("BZh")):
		return "bz2"
	case bytes.HasPrefix(data, xzMagic):
		return "xz"
	case bytes.HasPrefix(data, []byte{0x5d, 0x00, 0x00}): // the .lzma ("alone") header joblib writes
		return "lzma"
	case bytes.HasPrefix(data, []byte{0x04, 0x22, 0x4d, 0x18}): // an LZ4 frame
		return "lz4"
	}
	return ""
}

// decompressor returns a reader of the decompressed bytes of data and the
// compression's name (see compressionOf), or a nil reader when data does not
// start like a compressed stream it reads.
func decompressor(data []byte) (io.Reader, string, error) {
	br := bytes.NewReader(data)
	var (
		r    io.Reader
		err  error
		name = compressionOf(data)
	)
	switch name {
	case "zlib":
		r, err = zlib.NewReader(br)
	case "gzip":
		r, err = gzip.NewReader(br)
	case "bz2":
		r = bzip2.NewReader(br)
	case "xz":
		r, err = newXZReader(data)
	case "lzma":
		r, err = lzma.ReaderConfig{DictCap: maxDictBytes}.NewReader(br)
	case "lz4":
		r = lz4.NewReader(br)
	default:
		return nil, "", nil
	}
	if err != nil {
		return nil, name, fmt.Errorf("%s: %w", name, err)
	}
	return r, name, nil
}

// isZlib reports whether data starts with a zlib header: 0x78 (deflate, 32
// KiB window) and a 16-bit header that is a multiple of 31 (RFC 1950).
func isZlib(data []byte) bool {
	return len(data) >= 2 && data[0] == 0x78 && (uint16(data[0])<<8|uint16(data[1]))%31 == 0
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
