package ingest

import (
	"bytes"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// checkRawLine fails t unless appendRawLine writes the bytes appendLine (a
// json.Encoder with HTML escaping off) writes for the same event, after a
// line already in the buffer.
func checkRawLine(t *testing.T, ev azfunc.Event) {
	t.Helper()
	var got, want bytes.Buffer
	got.WriteString("{}\n")
	want.WriteString("{}\n")
	appendRawLine(&got, ev)
	appendLine(&want, rawLine{Seq: ev.SequenceNumber, Offset: ev.Offset, Enqueued: ev.EnqueuedTime.UTC(), Body: string(ev.Body)})
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("appendRawLine wrote\n%s\njson.Encoder\n%s", got.Bytes(), want.Bytes())
	}
}

func TestAppendRawLine(t *testing.T) {
	at := time.Date(2026, 11, 30, 8, 0, 5, 120_000_000, time.UTC)
	for _, test := range []struct {
		name string
		ev   azfunc.Event
	}{
		{"reading array", azfunc.Event{Body: []byte(`[{"TS":"2026-11-30 08:00:05.000","Device":1,"Sensor":2,"Value":10.5}]`), SequenceNumber: 7, Offset: "3584", EnqueuedTime: at}},
		{"empty", azfunc.Event{Body: []byte{}, EnqueuedTime: time.Time{}}},
		{"quotes backslashes html", azfunc.Event{Body: []byte(`"a\"b\\c" <x>&amp;</x> /`), SequenceNumber: -1, Offset: `o"\`, EnqueuedTime: at}},
		{"control characters", azfunc.Event{Body: []byte("\x00\x01\b\f\n\r\t\x1f\x7f"), SequenceNumber: 1 << 62, EnqueuedTime: at}},
		{"invalid UTF-8", azfunc.Event{Body: []byte("a\xffb\xe2\x80c\xed\xa0\x80"), Offset: "\xc3", EnqueuedTime: at}},
		{"line and paragraph separators", azfunc.Event{Body: []byte("x\u2028y\u2029z\u0085 é 😀"), EnqueuedTime: at}},
		{"other zone", azfunc.Event{Body: []byte("{}"), EnqueuedTime: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("x", -7*3600))}},
		{"whole seconds", azfunc.Event{Body: []byte("{}"), EnqueuedTime: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"year 9999", azfunc.Event{Body: []byte("{}"), EnqueuedTime: time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)}},
	} {
		t.Run(test.name, func(t *testing.T) { checkRawLine(t, test.ev) })
	}
}

// FuzzAppendRawLine holds appendRawLine to the json.Encoder line it replaced,
// byte for byte, on random bodies, offsets, sequence numbers and times.
func FuzzAppendRawLine(f *testing.F) {
	for _, body := range []string{`[{"TS":"x","Value":1}]`, `"\/<>&`, "\x00\n\u2028\u2029\xff\xe2\x80", ""} {
		f.Add([]byte(body), "512", int64(3), int64(1_764_489_605_123_456_789))
	}
	f.Fuzz(func(t *testing.T, body []byte, offset string, seq, unixNano int64) {
		checkRawLine(t, azfunc.Event{Body: body, Offset: offset, SequenceNumber: seq, EnqueuedTime: time.Unix(0, unixNano)})
	})
}
