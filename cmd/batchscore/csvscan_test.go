package main

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// scanAll splits data into records with scanRecord, seeing the input grow
// step bytes at a time (as the block reader sees it, chunk after chunk), and
// returns the field values of each record and whether it failed.
func scanAll(data []byte, step int) ([][]string, bool) {
	var recs [][]string
	var fields []span
	pos, avail := 0, 0
	for {
		avail = min(avail+step, len(data))
		atEOF := avail == len(data)
		view := data[:avail]
		for {
			p, _ := skipEmptyLines(view, pos, atEOF)
			pos = p
			if pos == len(view) {
				break
			}
			rec, fs, ok, err := scanRecord(view, pos, atEOF, fields)
			fields = fs
			if err != nil {
				return recs, true
			}
			if !ok {
				break
			}
			var r []string
			for _, f := range fs {
				r = append(r, string(fieldValue(view, f, nil)))
			}
			// The record's text must be exactly what precedes its line end.
			if rec.start != pos || rec.end > rec.next || rec.next > len(view) {
				panic("bad record bounds")
			}
			recs = append(recs, r)
			pos = rec.next
		}
		if atEOF {
			return recs, false
		}
	}
}

func stdlibCSV(data []byte) ([][]string, bool) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	var recs [][]string
	for {
		rec, err := r.Read()
		if err != nil {
			return recs, err.Error() != "EOF"
		}
		recs = append(recs, rec)
	}
}

var csvSeeds = []string{
	"a,b\n1,2\n",
	"a,b\r\n1,2\r\n",
	"\"a\",\"b\"\"c\"\n\"x\ny\",2",
	"\n\n\r\na\n\r\n",
	"a\r",
	"a\rb,c\r\r\n",
	"\"a\"\r",
	"\"a\"b\n",
	"a\"b\n",
	"\"unterminated\n",
	"\"a\r\nb\",c\r\n",
	",,\n,\n",
	"\"\"\n\"\"\"\"\n",
	" \"a\"\n",
	"\r",
	"\"a\"\r\nb",
}

func TestScanRecordMatchesEncodingCSV(t *testing.T) {
	for _, s := range csvSeeds {
		for _, step := range []int{1, 2, 3, 7, 1 << 20} {
			compareWithStdlib(t, []byte(s), step)
		}
	}
}

func compareWithStdlib(t *testing.T, data []byte, step int) {
	t.Helper()
	want, wantErr := stdlibCSV(data)
	got, gotErr := scanAll(data, step)
	if gotErr != wantErr {
		t.Fatalf("%q (step %d): error %v, encoding/csv error %v", data, step, gotErr, wantErr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%q (step %d): records (-encoding/csv +scanRecord):\n%s", data, step, diff)
	}
}

// FuzzCSVScan checks the score command's CSV reader against encoding/csv on
// arbitrary input fed in chunks of arbitrary size: same records, same
// field values, an error exactly when encoding/csv has one.
func FuzzCSVScan(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, step uint8) {
		compareWithStdlib(t, data, int(step%32)+1)
	})
}
