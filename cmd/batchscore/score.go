package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/batchscore/batchscore/internal/svm"
)

const scoreUsage = `usage: batchscore score -model FILE -in CSV [-features COL[,COL...]] -out CSV

Scores every row of a CSV file (with a header row) with a one-class SVM model
and writes the rows again, unchanged, with two more columns, named as in the
pipeline's prediction blobs: Prediction (1 for an anomaly, when the decision
value is <= 0, else 0) and Decision (the decision value, as the shortest text
that reads back to the same float64).

The model may be a scikit-learn pickle, a joblib file, a libsvm text model
or a batchscore JSON model: the format is detected from the file's bytes.
-features names the input columns, in the model's feature order. A model
fitted on a pandas DataFrame names its columns itself (feature_names_in_):
then -features may be left out, and if given it must list exactly those
names in that order.

flags:
`

// chunkBytes is how much input one block of rows reads at a time.
const chunkBytes = 1 << 20

// runScore is the score command.
func runScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	var (
		modelPath = fs.String("model", "", "model `file` (format detected from its bytes)")
		inPath    = fs.String("in", "", "input CSV `file` with a header row ('-' for standard input)")
		features  = fs.String("features", "", "comma-separated feature `columns`, in the model's feature order (default: the names the model keeps)")
		outPath   = fs.String("out", "", "output CSV `file` ('-' for standard output)")
		workers   = fs.Int("workers", runtime.GOMAXPROCS(0), "scoring goroutines for large blocks")
		quiet     = fs.Bool("q", false, "do not print the summary line to standard error")
	)
	if help, err := parseFlags(fs, args, scoreUsage, stdout); help || err != nil {
		return err
	}
	switch {
	case *modelPath == "":
		return usageError{errors.New("score: -model is required")}
	case *inPath == "":
		return usageError{errors.New("score: -in is required")}
	case *outPath == "":
		return usageError{errors.New("score: -out is required (use - for standard output)")}
	case *workers < 1:
		return usageError{fmt.Errorf("score: -workers %d must be at least 1", *workers)}
	}
	var cols []string
	if *features != "" {
		cols = strings.Split(*features, ",")
		for i, c := range cols {
			cols[i] = strings.TrimSpace(c)
			if cols[i] == "" {
				return usageError{fmt.Errorf("score: -features %q has an empty column name", *features)}
			}
		}
	}

	start := time.Now()
	m, err := svm.LoadFile(*modelPath)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	if cols, err = featureColumns(m, *modelPath, cols); err != nil {
		return err
	}

	in, inName := io.Reader(os.Stdin), "standard input"
	if *inPath != "-" {
		f, err := os.Open(*inPath)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		defer f.Close()
		in, inName = f, *inPath
	}

	var st scoreStats
	if *outPath == "-" {
		st, err = scoreCSV(ctx, m, cols, in, stdout, *workers)
	} else {
		st, err = writeFileAtomic(*outPath, func(w io.Writer) (scoreStats, error) {
			return scoreCSV(ctx, m, cols, in, w, *workers)
		})
	}
	if err != nil {
		return fmt.Errorf("score: %s: %w", inName, err)
	}
	if !*quiet {
		fmt.Fprintf(stderr, "batchscore score: %d rows, %d anomalies, %s\n", st.rows, st.anomalies, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// featureColumns returns the CSV columns to score: cols as -features gave
// them, checked against the model, or the model's own feature names when
// -features was left out.
func featureColumns(m *svm.Model, modelPath string, cols []string) ([]string, error) {
	names := m.FeatureNames()
	switch {
	case cols == nil && names == nil:
		return nil, usageError{fmt.Errorf("score: -features is required: model %s names no features", modelPath)}
	case cols == nil:
		return names, nil
	case names != nil && !slices.Equal(cols, names):
		return nil, fmt.Errorf("score: -features lists %s, but model %s was fitted on the columns %s, in that order (leave -features out to use them)",
			strings.Join(cols, ","), modelPath, strings.Join(names, ","))
	case m.NFeatures() != len(cols):
		return nil, fmt.Errorf("score: model %s has %d features, but -features lists %d column(s) (%s)",
			modelPath, m.NFeatures(), len(cols), strings.Join(cols, ","))
	}
	return cols, nil
}

// writeFileAtomic writes path through a temporary file in the same folder,
// renamed over path only when write succeeds, so a failed run leaves no
// partial output. A new file gets mode 0644; a replaced one keeps its mode.
func writeFileAtomic(path string, write func(io.Writer) (scoreStats, error)) (scoreStats, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return scoreStats{}, fmt.Errorf("create output: %w", err)
	}
	// CreateTemp makes the file 0600: give it the mode of the file it
	// replaces, or 0644 as a new file.
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	st, err := write(f)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("write %s: %w", path, cerr)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return scoreStats{}, err
	}
	return st, nil
}

type scoreStats struct{ rows, anomalies int }

// block is a chunk of input: whole records, their features, their decisions.
type block struct {
	data []byte    // the input bytes of the records
	recs []int     // start, end of each record in data (line end excluded)
	x    []float64 // features, row-major
	dec  []float64 // decision values
	err  error     // the input error after these records, if any
}

// scoreCSV reads a CSV with a header row from r, scores each row with m on
// the named columns and writes the CSV to w with the Prediction and Decision
// columns added. Reading and parsing run in their own goroutine, one block
// ahead of scoring and writing.
func scoreCSV(ctx context.Context, m *svm.Model, cols []string, r io.Reader, w io.Writer, workers int) (scoreStats, error) {
	br := &blockReader{r: r, buf: make([]byte, 0, chunkBytes)}
	header, err := br.readHeader(cols)
	if err != nil {
		return scoreStats{}, err
	}
	out := make([]byte, 0, 2*chunkBytes)
	out = append(append(out, header...), ",Prediction,Decision\n"...)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	free := make(chan *block, 3)
	full := make(chan *block, 2)
	for range cap(free) {
		free <- &block{}
	}
	go func() {
		defer close(full)
		for {
			var b *block
			select {
			case b = <-free:
			case <-ctx.Done():
				return
			}
			more := br.fill(b)
			select {
			case full <- b:
			case <-ctx.Done():
				return
			}
			if !more {
				return
			}
		}
	}()

	var st scoreStats
	for b := range full {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		n := len(b.recs) / 2
		b.dec = growFloats(b.dec, n)
		m.DecisionBatchParallel(b.dec, b.x, workers)
		for k, d := range b.dec {
			out = append(out, b.data[b.recs[2*k]:b.recs[2*k+1]]...)
			if svm.IsAnomaly(d) {
				out = append(out, ",1,"...)
				st.anomalies++
			} else {
				out = append(out, ",0,"...)
			}
			out = strconv.AppendFloat(out, d, 'g', -1, 64)
			out = append(out, '\n')
			if len(out) >= chunkBytes {
				if _, err := w.Write(out); err != nil {
					return st, fmt.Errorf("write: %w", err)
				}
				out = out[:0]
			}
		}
		st.rows += n
		err := b.err
		free <- b
		if err != nil {
			return st, err
		}
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	if _, err := w.Write(out); err != nil {
		return st, fmt.Errorf("write: %w", err)
	}
	return st, nil
}

func growFloats(v []float64, n int) []float64 {
	if cap(v) < n {
		return make([]float64, n, n+n/4)
	}
	return v[:n]
}

// blockReader cuts the input into blocks of whole records.
type blockReader struct {
	r      io.Reader
	buf    []byte // read but not yet parsed input (a partial record)
	eof    bool
	line   int // input lines consumed so far
	row    int // data rows so far
	ncols  int
	colIdx []int // colIdx[c] = feature number of column c, or -1
	cols   []string
	nf     int
	fields []span
}

// more reads input until buf holds at least n bytes or the input ends.
func (br *blockReader) more(n int) error {
	if cap(br.buf) < n {
		br.buf = append(make([]byte, 0, max(n, 2*cap(br.buf))), br.buf...)
	}
	for len(br.buf) < n && !br.eof {
		k, err := br.r.Read(br.buf[len(br.buf):cap(br.buf)])
		br.buf = br.buf[:len(br.buf)+k]
		if errors.Is(err, io.EOF) {
			br.eof = true
		} else if err != nil {
			return fmt.Errorf("read: %w", err)
		}
	}
	return nil
}

// readHeader reads the header record, maps the feature columns and returns
// the header's text.
func (br *blockReader) readHeader(cols []string) ([]byte, error) {
	pos := 0
	for {
		if err := br.more(max(chunkBytes, 2*len(br.buf))); err != nil {
			return nil, err
		}
		data := br.buf
		if pos == 0 && bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
			pos = 3 // UTF-8 byte order mark: kept in the output, not in the first column's name
		}
		p, skipped := skipEmptyLines(data, pos, br.eof)
		if p == len(data) && br.eof {
			return nil, errors.New("no header row: the input is empty")
		}
		rec, fields, ok, err := scanRecord(data, p, br.eof, br.fields)
		br.fields = fields
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", br.line+skipped+1, err)
		}
		if !ok {
			continue // read more
		}
		br.line += skipped + 1 + rec.newlines
		br.ncols = len(fields)
		names := make(map[string]int, len(fields))
		for c, f := range fields {
			name := string(fieldValue(data, f, nil))
			if _, dup := names[name]; !dup {
				names[name] = c
			}
		}
		br.colIdx = make([]int, len(fields))
		for c := range br.colIdx {
			br.colIdx[c] = -1
		}
		for k, name := range cols {
			c, ok := names[name]
			if !ok {
				return nil, fmt.Errorf("no column %q in the header (columns: %s)", name, headerList(data, fields))
			}
			if br.colIdx[c] >= 0 {
				return nil, fmt.Errorf("-features names column %q twice", name)
			}
			br.colIdx[c] = k
		}
		br.cols, br.nf = cols, len(cols)
		header := bytes.Clone(data[:rec.end])
		br.buf = append(br.buf[:0], data[rec.next:]...)
		return header, nil
	}
}

// headerList lists the header's column names for an error message.
func headerList(data []byte, fields []span) string {
	var names []string
	for _, f := range fields {
		names = append(names, strconv.Quote(string(fieldValue(data, f, nil))))
		if len(names) == 20 {
			names = append(names, "...")
			break
		}
	}
	return strings.Join(names, ", ")
}

// fill parses the next chunk of input into b and reports whether more may
// follow. A parse error is stored in b.err after the good records before it.
func (br *blockReader) fill(b *block) bool {
	b.recs, b.x, b.err = b.recs[:0], b.x[:0], nil
	if err := br.more(chunkBytes); err != nil {
		b.err = err
		return false
	}
	// b takes the input bytes; br keeps the unparsed tail in b's old buffer.
	b.data, br.buf = br.buf, b.data[:0]
	data := b.data
	pos := 0
	for {
		p, skipped := skipEmptyLines(data, pos, br.eof)
		br.line += skipped
		pos = p
		if pos == len(data) {
			break
		}
		rec, fields, ok, err := scanRecord(data, pos, br.eof, br.fields)
		br.fields = fields
		if err != nil {
			b.err = fmt.Errorf("line %d: %w", br.line+1, err)
			return false
		}
		if !ok {
			if pos == 0 && !br.eof {
				// One record longer than the buffer: read on and retry with a bigger one.
				br.buf = append(br.buf[:0], data...)
				if err := br.more(2 * cap(br.buf)); err != nil {
					b.err = err
					return false
				}
				b.data, br.buf = br.buf, b.data[:0]
				data = b.data
				continue
			}
			break
		}
		br.row++
		if len(fields) != br.ncols {
			b.err = fmt.Errorf("row %d (line %d) has %d fields, the header has %d", br.row, br.line+1, len(fields), br.ncols)
			return false
		}
		base := len(b.x)
		b.x = append(b.x, make([]float64, br.nf)...)
		for c, f := range fields {
			k := br.colIdx[c]
			if k < 0 {
				continue
			}
			v, err := br.parseNumber(data, f)
			if err != nil {
				b.err = fmt.Errorf("row %d (line %d), column %q: %w", br.row, br.line+1, br.cols[k], err)
				b.x = b.x[:base]
				return false
			}
			b.x[base+k] = v
		}
		b.recs = append(b.recs, rec.start, rec.end)
		br.line += 1 + rec.newlines
		pos = rec.next
	}
	br.buf = append(br.buf[:0], data[pos:]...)
	return !(br.eof && len(br.buf) == 0)
}

// parseNumber parses a feature value: a decimal number, surrounding spaces
// allowed; empty, NaN and infinite values are refused, as scikit-learn
// refuses them.
func (br *blockReader) parseNumber(data []byte, f span) (float64, error) {
	v := data[f.start:f.end]
	if f.quoted {
		v = fieldValue(data, f, nil) // rare: may allocate
	}
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return 0, errors.New("empty value")
	}
	// The string shares v's bytes only for the call; ParseFloat keeps no reference.
	x, err := strconv.ParseFloat(unsafe.String(&v[0], len(v)), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("%s is not a finite number", quoteValue(v))
	}
	return x, nil
}

func quoteValue(v []byte) string {
	if len(v) > 40 {
		return strconv.Quote(string(v[:40])) + "..."
	}
	return strconv.Quote(string(v))
}
