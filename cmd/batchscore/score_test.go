package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/golden"
	"github.com/batchscore/batchscore/internal/svm"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// readCSV parses a whole CSV file with encoding/csv (the independent reader).
func readCSV(t *testing.T, data []byte) [][]string {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestScoreReference scores slices of the reference data with two reference
// pickles, file to file, and compares with scikit-learn's decisions.
func TestScoreReference(t *testing.T) {
	for _, name := range []string{"1_1", "1_2"} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.csv")
			var stderr bytes.Buffer
			err := run(t.Context(), []string{"score", "-model", filepath.Join("testdata", "model_"+name),
				"-in", filepath.Join("testdata", "readings_"+name+".csv"), "-features", "Value", "-out", out}, io.Discard, &stderr)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stderr.String(), "batchscore score: 300 rows, ") {
				t.Errorf("summary line %q", stderr.String())
			}
			if fi, err := os.Stat(out); err != nil {
				t.Fatal(err)
			} else if fi.Mode().Perm() != 0o644 {
				t.Errorf("output file mode %v, want 0644 like any new file", fi.Mode().Perm())
			}
			got := readFile(t, out)
			in := readCSV(t, readFile(t, filepath.Join("testdata", "readings_"+name+".csv")))
			want := readCSV(t, readFile(t, filepath.Join("testdata", "expected_"+name+".csv")))
			g := readCSV(t, got)
			if len(g) != len(want) {
				t.Fatalf("%d output records, want %d", len(g), len(want))
			}
			if diff := cmp.Diff(append(slices.Clone(in[0]), "Prediction", "Decision"), g[0]); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
			anomalies := 0
			for i := 1; i < len(g); i++ {
				if diff := cmp.Diff(in[i], g[i][:len(in[i])]); diff != "" {
					t.Fatalf("row %d: input columns changed (-want +got):\n%s", i, diff)
				}
				// Ours: ...,Prediction,Decision; the reference's: ...,decision,Prediction.
				d, err := strconv.ParseFloat(g[i][5], 64)
				if err != nil {
					t.Fatal(err)
				}
				wd, _ := strconv.ParseFloat(want[i][4], 64)
				if math.Abs(d-wd) > 1e-12*math.Max(1, math.Abs(wd)) {
					t.Errorf("row %d: decision %v, scikit-learn %v", i, d, wd)
				}
				if g[i][4] != want[i][5] {
					t.Errorf("row %d: prediction %s, reference %s", i, g[i][4], want[i][5])
				}
				if g[i][4] == "1" {
					anomalies++
				}
			}
			if anomalies == 0 {
				t.Error("no anomaly among the rows: the test data should have some")
			}
		})
	}
}

// TestScoreDialectGolden scores a CSV using the whole dialect (BOM, CRLF,
// quotes, "" escapes, a quoted newline, blank lines, no final newline,
// features out of order, spaces around a number) and compares the output
// byte for byte with a golden file: every record comes out as it went in.
func TestScoreDialectGolden(t *testing.T) {
	var stdout bytes.Buffer
	err := run(t.Context(), []string{"score", "-q", "-model", filepath.Join("testdata", "linear3.json"),
		"-in", filepath.Join("testdata", "dialect.csv"), "-features", "a,b,c", "-out", "-"}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "dialect.golden.csv"), stdout.Bytes(), *update)
	// The decisions themselves, from the model's formula.
	m, err := svm.LoadFile(filepath.Join("testdata", "linear3.json"))
	if err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, stdout.Bytes())
	for _, r := range recs[1:] {
		a, _ := strconv.ParseFloat(strings.TrimSpace(r[3]), 64)
		b, _ := strconv.ParseFloat(strings.TrimSpace(r[1]), 64)
		c, _ := strconv.ParseFloat(strings.TrimSpace(r[4]), 64)
		z := []float64{(a - 1) / 2, (b - 2) / 0.5, (c - 3) / 4}
		want := 2*(z[0]*0.5+z[1]*-1+z[2]*0.25) - 0.5*(z[0]+z[1]+z[2]) + 0.125
		if got, _ := strconv.ParseFloat(r[6], 64); got != want || got != m.Decision([]float64{a, b, c}) {
			t.Errorf("row %s: decision %v, want %v", r[0], got, want)
		}
	}
}

// TestScoreLargeRandom scores 60,000 random rows, some with long quoted
// fields and newlines, and one record larger than a read chunk, so that
// records straddle chunk boundaries; each output record must be the input
// record plus the model's decision (bit for bit) and anomaly flag.
func TestScoreLargeRandom(t *testing.T) {
	m, err := svm.New(svm.Params{Kernel: svm.RBF, Gamma: 0.3,
		SupportVectors: [][]float64{{0, 0}, {1, 1}, {-1, 2}}, DualCoef: []float64{0.4, 0.3, 0.3}, Intercept: -0.2})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mp := filepath.Join(dir, "m.json")
	f, err := os.Create(mp)
	if err != nil {
		t.Fatal(err)
	}
	if err := svm.WriteJSON(f, m); err != nil {
		t.Fatal(err)
	}
	f.Close()

	r := rand.New(rand.NewPCG(7, 8))
	var in bytes.Buffer
	w := csv.NewWriter(&in)
	w.Write([]string{"x", "label", "y"})
	var rows [][]string
	for i := range 60000 {
		label := "r" + strconv.Itoa(i)
		switch {
		case i == 30000:
			label = strings.Repeat("big,\"record\"\n", 120000) // > 1 MiB
		case r.IntN(50) == 0:
			label = fmt.Sprintf("quoted, \"%d\"\nwith newline", i)
		}
		rec := []string{strconv.FormatFloat(r.NormFloat64(), 'g', -1, 64), label, strconv.FormatFloat(r.NormFloat64()*2, 'f', 3, 64)}
		rows = append(rows, rec)
		w.Write(rec)
	}
	w.Flush()
	ip := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(ip, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	op := filepath.Join(dir, "out.csv")
	if err := run(t.Context(), []string{"score", "-q", "-model", mp, "-in", ip, "-features", "x,y", "-out", op}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := readCSV(t, readFile(t, op))
	if len(got) != len(rows)+1 {
		t.Fatalf("%d output records, want %d", len(got), len(rows)+1)
	}
	for i, rec := range rows {
		g := got[i+1]
		if diff := cmp.Diff(rec, g[:3]); diff != "" {
			t.Fatalf("row %d (-want +got):\n%s", i+1, diff)
		}
		x, _ := strconv.ParseFloat(rec[0], 64)
		y, _ := strconv.ParseFloat(rec[2], 64)
		d := m.Decision([]float64{x, y})
		flag := "0"
		if svm.IsAnomaly(d) {
			flag = "1"
		}
		if want := strconv.FormatFloat(d, 'g', -1, 64); g[3] != flag || g[4] != want {
			t.Fatalf("row %d: Prediction,Decision = %s,%s, want %s,%s", i+1, g[3], g[4], flag, want)
		}
	}
}

// TestScoreFeatureNames scores with a model fitted on a pandas DataFrame
// (scikit-learn 1.5.2, numpy 2.1.3; internal/svm/testdata/versions): the
// CSV's columns are in another order, with others between them, and the
// model's feature_names_in_ picks them, with or without -features.
func TestScoreFeatureNames(t *testing.T) {
	for _, features := range [][]string{nil, {"-features", "temperature,pressure,flow,level"}} {
		t.Run(fmt.Sprint(features), func(t *testing.T) {
			var stdout bytes.Buffer
			args := slices.Concat([]string{"score", "-q", "-model", filepath.Join("testdata", "frame4.joblib"),
				"-in", filepath.Join("testdata", "frame4.csv"), "-out", "-"}, features)
			if err := run(t.Context(), args, &stdout, io.Discard); err != nil {
				t.Fatal(err)
			}
			recs := readCSV(t, stdout.Bytes())
			if diff := cmp.Diff([]string{"id", "level", "flow", "sklearn_decision", "temperature", "pressure", "Prediction", "Decision"}, recs[0]); diff != "" {
				t.Fatalf("header (-want +got):\n%s", diff)
			}
			if len(recs) != 7 {
				t.Fatalf("%d records, want a header and 6 rows", len(recs))
			}
			for _, r := range recs[1:] {
				want, _ := strconv.ParseFloat(r[3], 64)
				got, _ := strconv.ParseFloat(r[7], 64)
				if math.Abs(got-want) > 1e-12*math.Abs(want) {
					t.Errorf("row %s: decision %v, scikit-learn %v", r[0], got, want)
				}
				if anomaly := map[bool]string{true: "1", false: "0"}[want <= 0]; r[6] != anomaly {
					t.Errorf("row %s: prediction %s, want %s", r[0], r[6], anomaly)
				}
			}
		})
	}
}

func TestScoreHeaderOnly(t *testing.T) {
	dir := t.TempDir()
	ip := filepath.Join(dir, "in.csv")
	os.WriteFile(ip, []byte("TS,Value\r\n"), 0o644)
	var stdout bytes.Buffer
	err := run(t.Context(), []string{"score", "-q", "-model", filepath.Join("testdata", "model_1_1"), "-in", ip, "-features", "Value", "-out", "-"}, &stdout, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), "TS,Value,Prediction,Decision\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// TestScoreErrors runs each error case and checks the one-line error and
// that no output file is left behind.
func TestScoreErrors(t *testing.T) {
	model := filepath.Join("testdata", "model_1_1")
	tests := []struct {
		name  string
		input string // CSV content; "" means use -in as given in args
		args  []string
		want  string // the whole error text; IN stands for the input path
		usage bool
	}{
		{name: "no flags", args: []string{}, want: "score: -model is required", usage: true},
		{name: "no in", args: []string{"-model", model}, want: "score: -in is required", usage: true},
		{name: "no features", args: []string{"-model", model, "-in", "x", "-out", "-"}, want: "score: -features is required: model testdata/model_1_1 names no features", usage: true},
		{name: "no out", args: []string{"-model", model, "-in", "x", "-features", "Value"}, want: "score: -out is required (use - for standard output)", usage: true},
		{name: "unknown flag", args: []string{"-modle", model}, want: "score: flag provided but not defined: -modle", usage: true},
		{name: "extra argument", args: []string{"-model", model, "stray"}, want: `score: unexpected argument "stray"`, usage: true},
		{name: "empty feature name", args: []string{"-model", model, "-in", "x", "-features", "Value,", "-out", "-"}, want: `score: -features "Value," has an empty column name`, usage: true},
		{name: "missing model file", args: []string{"-model", "testdata/nope", "-in", "x", "-features", "Value", "-out", "-"}, want: "score: load model: open testdata/nope: no such file or directory"},
		{name: "not a model", args: []string{"-model", "testdata/readings_1_1.csv", "-in", "x", "-features", "Value", "-out", "-"},
			want: "score: load model testdata/readings_1_1.csv: svm: not a model file: looks like a CSV text file; supported: scikit-learn pickle, joblib (raw or zlib, gzip, bz2, lzma, xz, lz4), libsvm text model, batchscore JSON"},
		{name: "feature count", args: []string{"-model", model, "-in", "x", "-features", "Value,Sensor", "-out", "-"},
			want: "score: model testdata/model_1_1 has 1 features, but -features lists 2 column(s) (Value,Sensor)"},
		{name: "missing input", args: []string{"-model", model, "-in", "testdata/nope.csv", "-features", "Value", "-out", "-"}, want: "score: open testdata/nope.csv: no such file or directory"},
		{name: "missing column", input: "TS,Val\n1,2\n", args: []string{"-features", "Value"}, want: `score: IN: no column "Value" in the header (columns: "TS", "Val")`},
		{name: "empty input", input: "", args: []string{"-features", "Value"}, want: "score: IN: no header row: the input is empty"},
		{name: "blank input", input: "\n\r\n", args: []string{"-features", "Value"}, want: "score: IN: no header row: the input is empty"},
		{name: "not a number", input: "TS,Value\n1,2\n2,abc\n", args: []string{"-features", "Value"}, want: `score: IN: row 2 (line 3), column "Value": "abc" is not a finite number`},
		{name: "empty value", input: "TS,Value\n1,2\n\n2,\n", args: []string{"-features", "Value"}, want: `score: IN: row 2 (line 4), column "Value": empty value`},
		{name: "NaN", input: "TS,Value\n1,NaN\n", args: []string{"-features", "Value"}, want: `score: IN: row 1 (line 2), column "Value": "NaN" is not a finite number`},
		{name: "Inf", input: "TS,Value\n1,-Inf\n", args: []string{"-features", "Value"}, want: `score: IN: row 1 (line 2), column "Value": "-Inf" is not a finite number`},
		{name: "overflow", input: "TS,Value\n1,1e999\n", args: []string{"-features", "Value"}, want: `score: IN: row 1 (line 2), column "Value": "1e999" is not a finite number`},
		{name: "field count", input: "TS,Value\n1,2\n\"a\nb\",3,4\n", args: []string{"-features", "Value"}, want: "score: IN: row 2 (line 3) has 3 fields, the header has 2"},
		{name: "bare quote", input: "TS,Value\n1,2\n2,3\"\n", args: []string{"-features", "Value"}, want: `score: IN: line 3: bare " in non-quoted field`},
		{name: "open quote", input: "TS,Value\n1,\"2\n", args: []string{"-features", "Value"}, want: `score: IN: line 2: extraneous or missing " in quoted field`},
		{name: "quote then text", input: "TS,Value\n1,\"2\"x\n", args: []string{"-features", "Value"}, want: `score: IN: line 2: extraneous or missing " in quoted field`},
		{name: "header bare quote", input: "TS,Va\"lue\n", args: []string{"-features", "Value"}, want: `score: IN: line 1: bare " in non-quoted field`},
		{name: "features in another order than the model's", args: []string{"-model", "testdata/frame4.joblib", "-in", "x", "-features", "pressure,temperature,flow,level", "-out", "-"},
			want: "score: -features lists pressure,temperature,flow,level, but model testdata/frame4.joblib was fitted on the columns temperature,pressure,flow,level, in that order (leave -features out to use them)"},
		{name: "features the model does not name", args: []string{"-model", "testdata/frame4.joblib", "-in", "x", "-features", "a,b,c,d", "-out", "-"},
			want: "score: -features lists a,b,c,d, but model testdata/frame4.joblib was fitted on the columns temperature,pressure,flow,level, in that order (leave -features out to use them)"},
		{name: "fewer features than the model names", args: []string{"-model", "testdata/frame4.joblib", "-in", "x", "-features", "temperature", "-out", "-"},
			want: "score: -features lists temperature, but model testdata/frame4.joblib was fitted on the columns temperature,pressure,flow,level, in that order (leave -features out to use them)"},
		{name: "model's column missing", input: "temperature,pressure,flow\n1,2,3\n", args: []string{"-model", "testdata/frame4.joblib"}, want: `score: IN: no column "level" in the header (columns: "temperature", "pressure", "flow")`},
		{name: "feature twice", input: "TS,Value\n1,2\n", args: []string{"-model", "testdata/twofeatures.json", "-features", "Value,Value"}, want: `score: IN: -features names column "Value" twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			args := tt.args
			in := ""
			if tt.input != "" || strings.Contains(tt.want, "IN") {
				in = filepath.Join(dir, "in.csv")
				if err := os.WriteFile(in, []byte(tt.input), 0o644); err != nil {
					t.Fatal(err)
				}
				out := filepath.Join(dir, "out.csv")
				args = append([]string{"-in", in, "-out", out}, args...)
				if !slices.Contains(args, "-model") {
					args = append(args, "-model", model)
				}
			}
			err := run(t.Context(), append([]string{"score"}, args...), io.Discard, io.Discard)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			want := strings.ReplaceAll(tt.want, "IN", in)
			if got := err.Error(); got != want {
				t.Errorf("error\n got %q\nwant %q", got, want)
			}
			if isUsage := errors.As(err, new(usageError)); isUsage != tt.usage {
				t.Errorf("usage error = %v, want %v", isUsage, tt.usage)
			}
			if in != "" {
				entries, _ := os.ReadDir(dir)
				if len(entries) != 1 {
					t.Errorf("files left in the output folder: %v", entries)
				}
			}
		})
	}
}

func TestRunDispatch(t *testing.T) {
	var stdout bytes.Buffer
	if err := run(t.Context(), []string{"help"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, c := range commands {
		if !strings.Contains(stdout.String(), "  "+c.name+" ") {
			t.Errorf("help does not list %s:\n%s", c.name, stdout.String())
		}
	}
	err := run(t.Context(), nil, io.Discard, io.Discard)
	if !errors.As(err, new(usageError)) {
		t.Errorf("no command: %v, want a usage error", err)
	}
	err = run(t.Context(), []string{"scroe"}, io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), `unknown command "scroe" (commands: score`) {
		t.Errorf("unknown command: %v", err)
	}
	stdout.Reset()
	if err := run(t.Context(), []string{"score", "-h"}, &stdout, io.Discard); err != nil {
		t.Errorf("score -h: %v", err)
	}
	if !strings.Contains(stdout.String(), "-features columns") {
		t.Errorf("score -h does not describe -features:\n%s", stdout.String())
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\r\nb\nc \n"); got != "a; b; c" {
		t.Errorf("oneLine = %q", got)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// BenchmarkScoreCSV scores the reference readings (17,768 rows, one feature)
// with a reference model, in memory, and reports the cost per row.
func BenchmarkScoreCSV(b *testing.B) {
	m, err := svm.LoadFile(filepath.Join("testdata", "model_1_1"))
	if err != nil {
		b.Fatal(err)
	}
	var in bytes.Buffer
	in.WriteString("TS,Device,Sensor,Value\n")
	r := rand.New(rand.NewPCG(1, 1))
	const rows = 100000
	for i := range rows {
		fmt.Fprintf(&in, "2018-08-28 23:%02d:%02d.000,%d,%d,%.2f\n", i/60%60, i%60, 1+i%3, 1+i%5, 10+r.NormFloat64()*5)
	}
	b.SetBytes(int64(in.Len()))
	b.ResetTimer()
	for b.Loop() {
		if _, err := scoreCSV(b.Context(), m, []string{"Value"}, bytes.NewReader(in.Bytes()), io.Discard, 2); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rows, "ns/row")
}

// TestMainExitStatus runs main in a child process (this test binary, with
// BATCHSCORE_MAIN_ARGS set) and checks the exit status and that an error is
// exactly one line on standard error.
func TestMainExitStatus(t *testing.T) {
	if args, ok := os.LookupEnv("BATCHSCORE_MAIN_ARGS"); ok {
		os.Args = append([]string{"batchscore"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	tests := []struct {
		args   string
		status int
		stderr string
	}{
		{"help", 0, ""},
		{"", 2, `batchscore: no command given; run "batchscore help" (commands: ` + commandNames() + ")\n"},
		{"score -model testdata/model_1_1", 2, "batchscore: score: -in is required\n"},
		{"score -model testdata/readings_1_1.csv -in x -features Value -out -", 1,
			"batchscore: score: load model testdata/readings_1_1.csv: svm: not a model file: looks like a CSV text file; supported: scikit-learn pickle, joblib (raw or zlib, gzip, bz2, lzma, xz, lz4), libsvm text model, batchscore JSON\n"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestMainExitStatus$")
			cmd.Env = append(os.Environ(), "BATCHSCORE_MAIN_ARGS="+tt.args)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			status := 0
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tt.status {
				t.Errorf("exit status %d, want %d", status, tt.status)
			}
			if got := stderr.String(); got != tt.stderr {
				t.Errorf("stderr\n got %q\nwant %q", got, tt.stderr)
			}
		})
	}
}
