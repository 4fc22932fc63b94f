package azfunc

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkEventHubRoundTrip builds and decodes a full batch of 100 events of
// about 1 KiB (a JSON array of readings each), as ingest receives them.
func BenchmarkEventHubRoundTrip(b *testing.B) {
	events := make([]Event, 100)
	for i := range events {
		body := []byte("[")
		for j := range 12 {
			if j > 0 {
				body = append(body, ',')
			}
			body = fmt.Appendf(body, `{"TS":"2018-08-28 23:00:%02d.000","Device":%d,"Sensor":%d,"Value":%d.16}`, j, i%5, j%3, j)
		}
		events[i] = Event{Body: append(body, ']'), SequenceNumber: int64(i), Offset: fmt.Sprint(i * 1024), EnqueuedTime: time.Unix(1_700_000_000, 0).UTC()}
	}
	c := call("ingest")
	body, _, err := NewEventHubRequest("events", partitionValue, events, c)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			req, err := ParseRequest(body)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := req.EventHub("events"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("build", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, err := NewEventHubRequest("events", partitionValue, events, c); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReadBody reads a 2 MB invocation request (the size of a batch of
// 1,000 events) with readBody and, for comparison, with io.ReadAll.
func BenchmarkReadBody(b *testing.B) {
	body := bytes.Repeat([]byte(`{\"TS\":\"2026-11-30 08:00:05.000\",\"Value\":1}`), 2<<20/44)
	for _, r := range []struct {
		name string
		read func(*http.Request) ([]byte, error)
	}{
		{"readBody", func(r *http.Request) ([]byte, error) { return readBody(r, defaultMaxBody) }},
		{"io.ReadAll", func(r *http.Request) ([]byte, error) {
			return io.ReadAll(io.LimitReader(r.Body, defaultMaxBody+1))
		}},
	} {
		b.Run(r.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/ingest", bytes.NewReader(body))
				if got, err := r.read(req); err != nil || len(got) != len(body) {
					b.Fatalf("read %d bytes, %v", len(got), err)
				}
			}
		})
	}
}
