package svm

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestHostilePickles loads files made by testdata/hostile/make_hostile.py:
// payloads that run shell commands under Python's pickle (the script proves
// they do), arrays claiming 10^12 elements, and lengths beyond the data.
// Every one must be refused with the expected reason, nothing may run (the
// payloads' marker files must not appear) and nothing large may be
// allocated.
func TestHostilePickles(t *testing.T) {
	const marker = "/tmp/batchscore-hostile-"
	markers := []string{"os_system", "posix_system", "eval", "nested", "subprocess"}
	for _, m := range markers {
		if err := os.Remove(marker + m); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	tests := []struct {
		file string
		want string // in the error
	}{
		{"os_system_proto0.pkl", "pickle: global os.system is not allowed"},
		{"posix_system_proto4.pkl", "pickle: global posix.system is not allowed"},
		{"eval_proto2.pkl", "pickle: global __builtin__.eval is not allowed"},
		{"os_system_in_model.pkl", "pickle: global posix.system is not allowed"},
		{"subprocess_proto5.pkl", "pickle: global subprocess.check_call is not allowed"},
		{"huge_shape_reconstruct.pkl", "array of shape [1000000 1000000] and dtype f8 needs 8000000000000 bytes, has 16"},
		{"huge_shape_frombuffer.pkl", "array of shape [1000000 1000000] and dtype f8 needs 8000000000000 bytes, has 16"},
		{"huge_shape_mean.pkl", "StandardScaler mean_: array of shape [1000000000000] and dtype f8 needs 8000000000000 bytes, has 16"},
		{"huge_rows_no_features.pkl", "support_vectors_ has shape [1000000000000 0]: no support vectors or no features"},
		{"huge_shape.joblib", "array of shape [1000000 1000000] and dtype f8 needs 8000000000000 bytes"},
		{"binunicode8_huge.pkl", "unexpected end of data: length 4611686018427387904"},
		{"long4_huge.pkl", "unexpected end of data: length 2147483647"},
		{"frame_huge.pkl", "unexpected end of data: length 1152921504606846976"},
		{"deep_marks.pkl", "more than 256 nested MARKs"},
		{"memo_get_missing.pkl", "memo index 2147483648 was never stored"},
		{"next_buffer.pkl", "out-of-band buffers are not supported"},
		{"persid.pkl", "persistent ids are not supported"},
		{"ext1.pkl", "the extension registry is not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "hostile", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			for _, load := range []struct {
				name string
				fn   func([]byte) (*Model, error)
			}{{"LoadPickle", LoadPickle}, {"LoadJoblib", LoadJoblib}} {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				m, err := load.fn(data)
				runtime.ReadMemStats(&after)
				if err == nil {
					t.Fatalf("%s loaded a model with %d support vectors", load.name, m.NSupport())
				}
				if !errors.Is(err, ErrInvalidModel) {
					t.Errorf("%s: error %q does not wrap ErrInvalidModel", load.name, err)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: error %q, want it to contain %q", load.name, err, tc.want)
				}
				if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
					t.Errorf("%s allocated %d bytes for a %d-byte file", load.name, grew, len(data))
				}
			}
		})
	}
	for _, m := range markers {
		if _, err := os.Stat(marker + m); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s exists: a payload ran (stat error %v)", marker+m, err)
		}
	}
}

// TestDeeplyNestedPickle puts a million nested tuples (a 1 MB file) where a
// real model's degree is. Printing such a value in an error message would
// overflow the goroutine stack, a crash no recover catches; the pickle
// machine's nesting limit refuses it first.
func TestDeeplyNestedPickle(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "sklearn", "models", "poly_nf4_plain_pickle5.pkl"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("\x8c\x06degree\x94K\x03"))
	if i < 0 {
		t.Fatal("no degree 3 in the model")
	}
	at := i + len("\x8c\x06degree\x94")
	deep := slices.Concat(data[:at], []byte{'N'}, bytes.Repeat([]byte{0x85}, 1e6), data[at+2:])
	_, err = LoadPickle(deep)
	if err == nil || !strings.Contains(err.Error(), "containers nested more than 200 deep") {
		t.Fatalf("error %v, want the nesting limit", err)
	}
	// One level of nesting is read, and refused as what it is.
	shallow := slices.Concat(data[:at], []byte{'N', 0x85}, data[at+2:])
	if _, err = LoadPickle(shallow); err == nil || !strings.Contains(err.Error(), "OneClassSVM degree is a tuple") {
		t.Fatalf("error %v, want the degree refused as a tuple", err)
	}
}
