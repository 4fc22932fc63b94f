// Package reference finds and reads the reference implementation's data (MIT, see
// internal/svm/testdata/reference/LICENSE): the 15 pickled models, sensor_data.csv and
// expected_predictions.csv. `make run`, its end-to-end tests and the tests that
// replay the reference readings all read it through here, so there is one reader.
package reference

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/batchscore/batchscore/internal/sensor"
)

// TSLayout is the reference's timestamp layout (UTC, no zone).
const TSLayout = "2006-01-02 15:04:05.000"

// Files locates the reference data: the models folder, sensor_data.csv and
// expected_predictions.csv.
type Files struct {
	Models   string
	Data     string
	Expected string
}

// Find returns the reference data folder: the in-repository copy
// internal/svm/testdata/reference, found from the module root above dir.
func Find(dir string) (Files, error) {
	var cands []string
	if root, err := ModuleRoot(dir); err == nil {
		cands = append(cands, filepath.Join(root, "internal", "svm", "testdata", "reference"))
	}
	for _, c := range cands {
		r := Files{
			Models:   filepath.Join(c, "models"),
			Data:     filepath.Join(c, "sensor_data.csv"),
			Expected: filepath.Join(c, "expected_predictions.csv"),
		}
		if isDir(r.Models) && IsFile(r.Data) && IsFile(r.Expected) {
			return r, nil
		}
	}
	return Files{}, fmt.Errorf("reference data not found in %s", strings.Join(cands, ", "))
}

// ModuleRoot walks up from dir to the folder holding go.mod.
func ModuleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if IsFile(filepath.Join(d, "go.mod")) {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("no go.mod above " + dir)
		}
		d = p
	}
}

func isDir(p string) bool { st, err := os.Stat(p); return err == nil && st.IsDir() }

// IsFile reports whether p is an existing regular file (or at least not a folder).
func IsFile(p string) bool { st, err := os.Stat(p); return err == nil && !st.IsDir() }

// ReadReadings reads a TS,Device,Sensor,Value CSV (header required, columns
// found by name; TS as 2006-01-02 15:04:05.000 or RFC 3339, UTC when no zone).
func ReadReadings(r io.Reader) ([]sensor.Reading, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	col, err := Columns(head, "TS", "Device", "Sensor", "Value")
	if err != nil {
		return nil, err
	}
	var out []sensor.Reading
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		ts, err := ParseTS(rec[col[0]])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		v, err := strconv.ParseFloat(rec[col[3]], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value: %w", line, err)
		}
		k := sensor.Key{Device: rec[col[1]], Sensor: rec[col[2]]}
		if err := k.Validate(); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, sensor.Reading{TS: ts, Key: k, Value: v})
	}
}

// Columns returns the index of each named column in a CSV header (case-insensitive,
// a UTF-8 BOM and spaces ignored), or an error naming the missing one.
func Columns(head []string, names ...string) ([]int, error) {
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = -1
		for j, h := range head {
			if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), n) {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("header %q has no %s column", strings.Join(head, ","), n)
		}
	}
	return idx, nil
}

// ParseTS reads a timestamp as TSLayout, without milliseconds, or RFC 3339; no zone means UTC.
func ParseTS(s string) (time.Time, error) {
	for _, l := range []string{TSLayout, "2006-01-02 15:04:05", time.RFC3339Nano} {
		if t, err := time.Parse(l, strings.TrimSpace(s)); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("timestamp %q: want %s or RFC 3339", s, TSLayout)
}

// Readings reads the readings CSV at path (see ReadReadings).
func Readings(path string) ([]sensor.Reading, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rs, err := ReadReadings(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rs, nil
}
