package svm

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

// loadCase is a model file and the loader that must read it.
type loadCase struct {
	path   string
	format Format
	direct func(data []byte) (*Model, error)
}

func readerLoader(f func(r *bytes.Reader) (*Model, error)) func([]byte) (*Model, error) {
	return func(data []byte) (*Model, error) { return f(bytes.NewReader(data)) }
}

// loadCases lists every committed model file with its expected format.
func loadCases(t *testing.T) []loadCase {
	t.Helper()
	var cases []loadCase
	// scikit-learn models, with the format models.csv records for each.
	f, err := os.Open(filepath.Join("testdata", "sklearn", "models.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[1:] {
		c := loadCase{path: filepath.Join("testdata", "sklearn", "models", r[1])}
		switch {
		case strings.HasPrefix(r[2], "pickle"):
			c.format, c.direct = FormatPickle, LoadPickle
		case strings.HasPrefix(r[2], "joblib"):
			c.format, c.direct = FormatJoblib, LoadJoblib
		default:
			t.Fatalf("models.csv: unknown format %q", r[2])
		}
		cases = append(cases, c)
	}
	refs, err := filepath.Glob(filepath.Join("testdata", "reference", "models", "model_*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range refs {
		cases = append(cases, loadCase{p, FormatPickle, LoadPickle})
	}
	libsvm, _ := filepath.Glob(filepath.Join("testdata", "libsvm", "*.model"))
	for _, p := range libsvm {
		cases = append(cases, loadCase{p, FormatLibSVM, readerLoader(func(r *bytes.Reader) (*Model, error) { return LoadLibSVM(r) })})
	}
	jsons, _ := filepath.Glob(filepath.Join("testdata", "json", "*.json"))
	for _, p := range jsons {
		cases = append(cases, loadCase{p, FormatJSON, readerLoader(func(r *bytes.Reader) (*Model, error) { return LoadJSON(r) })})
	}
	return cases
}

// TestLoadDispatch loads every committed model through Load and checks that
// it picked the format the file has (never looking at the name) and gives the
// same parameters as that format's own loader.
func TestLoadDispatch(t *testing.T) {
	seen := map[Format]int{}
	for _, c := range loadCases(t) {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			data, err := os.ReadFile(c.path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Detect(data)
			if err != nil {
				t.Fatalf("Detect: %v", err)
			}
			if f != c.format {
				t.Errorf("Detect = %v, want %v", f, c.format)
			}
			seen[f]++
			want, err := c.direct(data)
			if err != nil {
				t.Fatalf("direct loader: %v", err)
			}
			got, err := Load(data)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(want.Params(), got.Params(), bitsEqual); diff != "" {
				t.Errorf("Load Params differ from the direct loader's (-want +got):\n%s", diff)
			}
		})
	}
	for _, f := range []Format{FormatPickle, FormatJoblib, FormatLibSVM, FormatJSON} {
		if seen[f] == 0 {
			t.Errorf("no %v file among the test models", f)
		}
	}
}

// TestLoadWhitespaceAndBOM: text formats may start with white space and a
// UTF-8 byte order mark, and may be compressed (gzip, zlib, bz2, xz, lzma, lz4).
func TestLoadWhitespaceAndBOM(t *testing.T) {
	js, err := os.ReadFile(filepath.Join("testdata", "json", "linear.json"))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := os.ReadFile(filepath.Join("testdata", "libsvm", "rbf_f2_nu0.1_g0.5.model"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"json with BOM":      append([]byte("\xef\xbb\xbf\n "), js...),
		"libsvm after lines": append([]byte("\n\n"), lib...),
		"gzip json":          gzipBytes(t, js),
		"zlib libsvm":        zlibBytes(t, lib),
	}
	// The same libsvm model compressed by bzip2, xz, xz --format=lzma and lz4.
	for _, ext := range []string{"bz2", "xz", "lzma", "lz4"} {
		data, err := os.ReadFile(filepath.Join("testdata", "libsvm", "compressed", "rbf_f2_nu0.1_g0.5.model."+ext))
		if err != nil {
			t.Fatal(err)
		}
		cases[ext+" libsvm"] = data
	}
	plain, err := Load(lib)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := Load(data)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(name, " libsvm") {
				if diff := cmp.Diff(plain.Params(), m.Params()); diff != "" {
					t.Errorf("Params differ from the uncompressed file's (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestLoadErrorsGolden pins the one-line errors Load gives for the files of
// testdata/errors (bad or unsupported inputs). Run with -update to rewrite
// testdata/errors.golden.
func TestLoadErrorsGolden(t *testing.T) {
	dir := filepath.Join("testdata", "errors")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Load(data)
		if err == nil {
			t.Errorf("%s: Load gave a model of %d features, want an error", e.Name(), m.NFeatures())
			continue
		}
		msg := err.Error()
		if strings.ContainsAny(msg, "\r\n") {
			t.Errorf("%s: error is not one line: %q", e.Name(), msg)
		}
		got.WriteString(e.Name() + ": " + msg + "\n")
	}
	golden := filepath.Join("testdata", "errors.golden")
	if updating() {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("Load errors (-want +got):\n%s", diff)
	}
}

func TestDetectUnknownWrapsSentinel(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("a,b\n1,2\n"), {0x28, 0xb5, 0x2f, 0xfd, 0}, []byte("\x00\x01")} {
		if _, err := Load(data); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("Load(%q) error %v does not wrap ErrUnknownFormat", data, err)
		}
	}
}

func TestLoadFile(t *testing.T) {
	p := filepath.Join("testdata", "json", "linear.json")
	m, err := LoadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.NFeatures() != 3 {
		t.Errorf("NFeatures = %d, want 3", m.NFeatures())
	}
	_, err = LoadFile(filepath.Join("testdata", "no-such-model"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file: %v, want os.ErrNotExist", err)
	}
	_, err = LoadFile(filepath.Join("testdata", "errors", "readings.csv"))
	if err == nil || !strings.Contains(err.Error(), "readings.csv") || !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("LoadFile of a CSV: %v, want an error naming the file and wrapping ErrUnknownFormat", err)
	}
	defer func(n int) { maxModelFileBytes = n }(maxModelFileBytes)
	maxModelFileBytes = 100
	_, err = LoadFile(p)
	if err == nil || !errors.Is(err, ErrInvalidModel) || !strings.HasSuffix(err.Error(), "file over the limit of 100 bytes") {
		t.Errorf("LoadFile of a file over the limit: %v", err)
	}
}

// fuzzSeeds adds every committed model and error file to f's corpus.
func fuzzSeeds(f *testing.F, globs ...string) {
	for _, g := range globs {
		paths, err := filepath.Glob(g)
		if err != nil {
			f.Fatal(err)
		}
		slices.Sort(paths)
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzLoad feeds Load arbitrary bytes: it must never panic, and a model it
// returns must score a row without panicking.
func FuzzLoad(f *testing.F) {
	fuzzSeeds(f,
		filepath.Join("testdata", "errors", "*"),
		filepath.Join("testdata", "json", "*.json"),
		filepath.Join("testdata", "libsvm", "rbf_f2*.model"),
		filepath.Join("testdata", "libsvm", "poly_f3*.model"),
		filepath.Join("testdata", "sklearn", "models", "rbf_nf4_every_*"),
		filepath.Join("testdata", "reference", "models", "model_1_1*"),
		filepath.Join("testdata", "libsvm", "compressed", "*"),
		filepath.Join("testdata", "versions", "sk1.9-np2.4", "models", "*"),
		filepath.Join("testdata", "versions", "sk1.9-np2.4", "refused", "*"),
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Load(data)
		if err != nil {
			if m != nil {
				t.Fatal("Load returned a model and an error")
			}
			if strings.ContainsAny(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			return
		}
		m.Decision(make([]float64, m.NFeatures()))
	})
}

// FuzzLoadLibSVM: LoadLibSVM never panics, and a model it reads survives
// WriteLibSVM and LoadLibSVM bit for bit.
func FuzzLoadLibSVM(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "libsvm", "*_f[123]_*.model"), filepath.Join("testdata", "errors", "*.model"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadLibSVM(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteLibSVM(&buf, m); err != nil {
			t.Fatal(err)
		}
		back, err := LoadLibSVM(&buf)
		if err != nil {
			t.Fatalf("reading back what WriteLibSVM wrote: %v", err)
		}
		if diff := cmp.Diff(m.Params(), back.Params(), bitsEqual); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}

// FuzzLoadJSON: LoadJSON never panics, and a model it reads survives
// WriteJSON and LoadJSON bit for bit.
func FuzzLoadJSON(f *testing.F) {
	fuzzSeeds(f, filepath.Join("testdata", "json", "*.json"), filepath.Join("testdata", "errors", "*.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteJSON(&buf, m); err != nil {
			t.Fatal(err)
		}
		back, err := LoadJSON(&buf)
		if err != nil {
			t.Fatalf("reading back what WriteJSON wrote: %v", err)
		}
		if diff := cmp.Diff(m.Params(), back.Params(), bitsEqual); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}

func ExampleLoad() {
	// A libsvm one-class model, as svm-train -s 2 -t 0 writes it.
	model := []byte("svm_type one_class\nkernel_type linear\nnr_class 2\ntotal_sv 2\nrho 0.5\nSV\n0.5 1:1 2:2 \n0.5 2:-1 \n")
	m, err := Load(model)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, x := range [][]float64{{1, 1}, {0, 0}} {
		d := m.Decision(x)
		fmt.Printf("%v: decision %g, anomaly %v\n", x, d, IsAnomaly(d))
	}
	_, err = Load([]byte("TS,Value\n2018-08-28 23:00:05.000,10.16\n"))
	fmt.Println(err)
	// Output:
	// [1 1]: decision 0.5, anomaly false
	// [0 0]: decision -0.5, anomaly true
	// svm: not a model file: looks like a CSV text file; supported: scikit-learn pickle, joblib (raw or zlib, gzip, bz2, lzma, xz, lz4), libsvm text model, batchscore JSON
}

func ExampleWriteJSON() {
	m, err := New(Params{Kernel: RBF, Gamma: 0.1, SupportVectors: [][]float64{{1, 2}}, DualCoef: []float64{1}, Intercept: -0.5})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := WriteJSON(os.Stdout, m); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"format":"batchscore-ocsvm","version":1,"kernel":"rbf","gamma":0.1,"coef0":0,"degree":0,"scaler":null,
	// "support_vectors":[
	// [1,2]],
	// "dual_coef":[1],
	// "intercept":-0.5}
}

// compressed returns data written through the compressor newWriter makes.
func compressed[W io.WriteCloser](t *testing.T, data []byte, newWriter func(io.Writer) (W, error)) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := newWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipBytes(t *testing.T, data []byte) []byte {
	return compressed(t, data, func(w io.Writer) (*gzip.Writer, error) { return gzip.NewWriter(w), nil })
}

func zlibBytes(t *testing.T, data []byte) []byte {
	return compressed(t, data, func(w io.Writer) (*zlib.Writer, error) { return zlib.NewWriter(w), nil })
}

// TestLoadErrorsClassified: every error Load gives for the files of
// testdata/errors wraps ErrUnknownFormat or ErrInvalidModel, and an error of
// the reader is not taken for a bad model.
func TestLoadErrorsClassified(t *testing.T) {
	dir := filepath.Join("testdata", "errors")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Load(data)
		if !errors.Is(err, ErrUnknownFormat) && !errors.Is(err, ErrInvalidModel) {
			t.Errorf("%s: error %q wraps neither ErrUnknownFormat nor ErrInvalidModel", e.Name(), err)
		}
	}
	failing := io.MultiReader(strings.NewReader("svm_type one_class\n"), iotest.ErrReader(errors.New("disk on fire")))
	if _, err := LoadLibSVM(failing); errors.Is(err, ErrInvalidModel) || err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("LoadLibSVM of a failing reader: %v", err)
	}
	failing = io.MultiReader(strings.NewReader(`{"format":`), iotest.ErrReader(errors.New("disk on fire")))
	if _, err := LoadJSON(failing); errors.Is(err, ErrInvalidModel) || err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("LoadJSON of a failing reader: %v", err)
	}
}
