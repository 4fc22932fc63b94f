package svm

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJoblibDecompress(t *testing.T) {
	payload := []byte("\x80\x04N.")
	var z, g bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(payload)
	zw.Close()
	gw := gzip.NewWriter(&g)
	gw.Write(payload)
	gw.Close()
	tests := []struct {
		name string
		data []byte
		want []byte
		err  string
	}{
		{"plain pickle", payload, payload, ""},
		{"zlib", z.Bytes(), payload, ""},
		{"gzip", g.Bytes(), payload, ""},
		{"truncated zlib", z.Bytes()[:z.Len()-3], nil, "zlib: truncated data"},
		{"truncated gzip", g.Bytes()[:g.Len()-9], nil, "gzip: truncated data"},
		{"bad zlib header", []byte{0x78, 0x00, 0x00}, nil, "zlib: "},
		{"empty", nil, nil, "empty file"},
		{"old ZF format", []byte("ZF0x10   \x78\x9c"), nil, `unsupported compression: the joblib < 0.10 "ZF" format`},
		{"bz2", []byte("BZh91AY&SY"), nil, "unsupported compression bz2"},
		{"xz", []byte("\xfd7zXZ\x00\x00"), nil, "unsupported compression xz"},
		{"lzma", []byte("\x5d\x00\x00\x80\x00"), nil, "unsupported compression lzma"},
		{"lz4", []byte("\x04\x22\x4d\x18\x64"), nil, "unsupported compression lz4"},
		{"zstd", []byte("\x28\xb5\x2f\xfd\x00"), nil, "unsupported compression zstd"},
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
	_, err := LoadJoblib([]byte("\xfd7zXZ\x00\x00"))
	if !errors.Is(err, ErrInvalidModel) {
		t.Fatalf("error %v does not wrap ErrInvalidModel", err)
	}
	if want := "svm: invalid model: joblib: unsupported compression xz (supported: none, zlib, gzip)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
