package ingest

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// fastSeeds are bodies of the common shape and near misses that must take the
// general path.
var fastSeeds = []string{
	`{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":10.16}`,
	`[{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":10.16},{"TS":"2018-08-28T23:00:05Z","Device":"a","Sensor":"b","Value":-1e3}]`,
	` [ { "Value" : 0 , "Sensor" : 2 , "Device" : 3 , "TS" : "2018-08-28 23:00:05" } ] `,
	`{"TS":"2018-08-28 23:00:05.000","Device":1,"Tag":1,"Value":10.16}`,
	`{"ts":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":10.16}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":10.16,"Value":3}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":1.5,"Sensor":1,"Value":10.16}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":01,"Sensor":1,"Value":10.16}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":1.}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":"1"}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":"a\"b","Sensor":1,"Value":1}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":"a,b","Sensor":1,"Value":1}`,
	`{"TS":"1970-01-01 00:00:00","Device":1,"Sensor":1,"Value":1}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":1e-320}`,
	`{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":1} x`,
	`[{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":1},]`,
	`[]`,
	`[{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":1,"Value":1},{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":2,"Value":2},{"TS":"2018-08-28 23:00:05.000","Device":1,"Sensor":3,"Value":3}]`,
}

// FuzzDecodeFast holds the one-pass decoder to the general path: whatever it
// accepts, the general path accepts with the same readings and no rejects.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add([]byte(s))
	}
	enqueued := time.Date(2018, 8, 28, 23, 0, 7, 0, time.UTC)
	fn := New(Config{MaxReadingsPerEvent: 2}, &memBlobs{}, &memStore{})
	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.TrimSpace(body)
		if len(body) == 0 || !utf8.Valid(body) {
			return
		}
		fast, ok := decodeFast(body, enqueued, fn.cfg.MaxReadingsPerEvent, fn.checkTime)
		if !ok {
			return
		}
		general, rejects := fn.decodeGeneral(azfunc.Event{Body: body, EnqueuedTime: enqueued}, body)
		if len(rejects) > 0 {
			t.Fatalf("fast path accepted %s; the general path rejects it: %+v", body, rejects)
		}
		if diff := cmp.Diff(general, fast); diff != "" {
			t.Fatalf("%s: fast path differs from the general path (-general +fast):\n%s", body, diff)
		}
	})
}

// TestDecodeFastTakesCommonShape checks which seeds the one-pass decoder takes
// (the fuzz test alone would pass if it took none).
func TestDecodeFastTakesCommonShape(t *testing.T) {
	enqueued := time.Date(2018, 8, 28, 23, 0, 7, 0, time.UTC)
	fn := New(Config{MaxReadingsPerEvent: 2}, &memBlobs{}, &memStore{})
	tests := []struct {
		body string
		want int // readings taken; -1: left to the general path
	}{
		{fastSeeds[0], 1},
		{fastSeeds[1], 2},
		{strings.TrimSpace(fastSeeds[2]), 1},
		{fastSeeds[3], -1},  // Tag
		{fastSeeds[4], -1},  // key spelled otherwise
		{fastSeeds[5], -1},  // duplicate key
		{fastSeeds[6], -1},  // fractional id
		{fastSeeds[7], -1},  // not a JSON number
		{fastSeeds[8], -1},  // not a JSON number
		{fastSeeds[9], -1},  // Value as a string
		{fastSeeds[10], -1}, // escape
		{fastSeeds[11], -1}, // invalid key
		{fastSeeds[12], -1}, // TS at the epoch
		{fastSeeds[13], -1}, // subnormal
		{fastSeeds[14], -1}, // trailing text
		{fastSeeds[15], -1}, // trailing comma
		{fastSeeds[16], -1}, // empty array
		{fastSeeds[17], -1}, // over the limit of 2
	}
	for _, tt := range tests {
		rs, ok := decodeFast([]byte(tt.body), enqueued, fn.cfg.MaxReadingsPerEvent, fn.checkTime)
		got := len(rs)
		if !ok {
			got = -1
		}
		if got != tt.want {
			t.Errorf("%s: took %d readings, want %d", tt.body, got, tt.want)
		}
	}
}
