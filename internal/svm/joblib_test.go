package svm

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

func TestJoblibDecompress(t *testing.T) {
	payload := []byte("\x80\x04N.")
	z, g := zlibBytes(t, payload), gzipBytes(t, payload)
	tests := []struct {
		name string
		data []byte
		want []byte
		err  string
	}{
		{"plain pickle", payload, payload, ""},
		{"zlib", z, payload, ""},
		{"gzip", g, payload, ""},
		{"truncated zlib", z[:len(z)-3], nil, "zlib: truncated data"},
		{"truncated gzip", g[:len(g)-9], nil, "gzip: truncated data"},
		{"bad zlib header", []byte{0x78, 0x00, 0x00}, nil, "zlib: "},
		{"empty", nil, nil, "empty file"},
		{"old ZF format", []byte("ZF0x10   \x78\x9c"), nil, `unsupported compression: the joblib < 0.10 "ZF" format`},
		{"xz", xzBytes(t, payload, 0), payload, ""},
		{"lzma", lzmaBytes(t, payload), payload, ""},
		{"lz4", lz4Bytes(t, payload), payload, ""},
		{"truncated bz2", []byte("BZh91AY&SY"), nil, "bz2: truncated data"},
		{"truncated xz", []byte("\xfd7zXZ\x00\x00"), nil, "xz: truncated stream header"},
		{"truncated lzma", []byte("\x5d\x00\x00\x80\x00"), nil, "lzma: "},
		{"truncated lz4", []byte("\x04\x22\x4d\x18\x64"), nil, "lz4: truncated data"},
		{"xz dictionary over the limit", xzBytes(t, payload, 128<<20), nil, "xz: block 1: dictionary of 134217728 bytes is over the limit of 67108864"},
		{"lzma dictionary over the limit", lzmaDict(lzmaBytes(t, payload), 128<<20), nil, "lzma: header dictionary size 134217728 exceeds"},
		{"zstd", []byte("\x28\xb5\x2f\xfd\x00"), nil, "unsupported compression zstd (supported: zlib, gzip, bz2, lzma, xz, lz4)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := joblibDecompress(tc.data)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestJoblibDecompressLimit checks the guard against compression bombs: a
// small zlib stream that inflates past the limit is refused.
func TestJoblibDecompressLimit(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	zr, err := zlib.NewReader(bytes.NewReader(z.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = readLimited(zr, "zlib", 1<<16)
	if err == nil || !strings.Contains(err.Error(), "zlib: decompressed data over 65536 bytes") {
		t.Fatalf("error %v, want the limit error (input %d bytes)", err, z.Len())
	}
}

func TestLoadJoblibWrapsErrInvalidModel(t *testing.T) {
	_, err := LoadJoblib([]byte("\x28\xb5\x2f\xfd\x00"))
	if !errors.Is(err, ErrInvalidModel) {
		t.Fatalf("error %v does not wrap ErrInvalidModel", err)
	}
	if want := "svm: invalid model: joblib: unsupported compression zstd (supported: zlib, gzip, bz2, lzma, xz, lz4)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}

// xzBytes compresses data as xz, with the dictionary size dict in the block
// header when it is not 0.
func xzBytes(t *testing.T, data []byte, dict int) []byte {
	return compressed(t, data, xz.WriterConfig{DictCap: dict}.NewWriter)
}

// lzmaBytes compresses data in the .lzma ("alone") format, as joblib's
// compress="lzma" does.
func lzmaBytes(t *testing.T, data []byte) []byte {
	return compressed(t, data, lzma.NewWriter)
}

// lzmaDict sets the dictionary size of an .lzma header (bytes 1-4, little-endian).
func lzmaDict(data []byte, dict uint32) []byte {
	data = bytes.Clone(data)
	binary.LittleEndian.PutUint32(data[1:5], dict)
	return data
}

func lz4Bytes(t *testing.T, data []byte) []byte {
	return compressed(t, data, func(w io.Writer) (*lz4.Writer, error) { return lz4.NewWriter(w), nil })
}
