package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	timerfanout "github.com/batchscore/batchscore/functions/timer-fanout"
	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
	"github.com/batchscore/batchscore/internal/testenv"
)

var _ FanOut = (*timerfanout.Function)(nil)

type fakeFan struct {
	windows  []sensor.Window
	messages int // enqueued per window; 0 means 4
	err      error
}

func (f *fakeFan) RunWindow(_ context.Context, w sensor.Window) (timerfanout.Result, error) {
	f.windows = append(f.windows, w)
	if f.err != nil {
		return timerfanout.Result{}, f.err
	}
	n := f.messages
	if n == 0 {
		n = 4
	}
	if n < 0 {
		n = 0
	}
	return timerfanout.Result{Run: w.RunID(), Window: w, Sensors: 15, Messages: n}, nil
}

var now = func() time.Time { return time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC) }

func post(body string) azfunc.HTTPRequest {
	return azfunc.HTTPRequest{Method: http.MethodPost, URL: "http://localhost/api/backfill", Body: []byte(body)}
}

func TestRunAccepted(t *testing.T) {
	fan := &fakeFan{}
	f := New(Config{Now: now}, fan)
	resp, wake, err := f.Run(t.Context(), post(`{"start":"2018-08-29T01:00:00+02:00","end":"2018-08-29T03:15:00.5Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"run":"20180828T230000Z-20180829T031500.500Z","wake":true}`; wake != want {
		t.Errorf("wake = %q, want %q", wake, want)
	}
	want := azfunc.HTTPResponse{
		StatusCode: http.StatusAccepted,
		Body:       `{"run":"20180828T230000Z-20180829T031500.500Z","window":{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T03:15:00.5Z"},"sensors":15,"messages":4}`,
		Headers:    map[string]string{"Content-Type": "application/json"},
	}
	if diff := cmp.Diff(want, resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

func TestRunRejects(t *testing.T) {
	for _, tc := range []struct {
		name, body, reason string
	}{
		{"empty", ``, "body must be"},
		{"not json", `start=1`, "body must be"},
		{"unknown field", `{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T00:00:00Z","force":true}`, "unknown field"},
		{"trailing", `{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T00:00:00Z"} {}`, "trailing"},
		{"missing end", `{"start":"2018-08-28T23:00:00Z"}`, "missing end"},
		{"no zone", `{"start":"2018-08-28T23:00:00","end":"2018-08-29T00:00:00Z"}`, "RFC 3339"},
		{"csv form", `{"start":"2018-08-28 23:00:00","end":"2018-08-29T00:00:00Z"}`, "RFC 3339"},
		{"number", `{"start":1535497200,"end":"2018-08-29T00:00:00Z"}`, "body must be"},
		{"reversed", `{"start":"2018-08-29T00:00:00Z","end":"2018-08-28T23:00:00Z"}`, "not after start"},
		{"empty window", `{"start":"2018-08-29T00:00:00Z","end":"2018-08-29T00:00:00Z"}`, "not after start"},
		{"too long", `{"start":"2018-01-01T00:00:00Z","end":"2018-08-29T00:00:00Z"}`, "longer than"},
		{"future", `{"start":"2024-05-01T11:00:00Z","end":"2024-05-01T13:00:00Z"}`, "in the future"},
		{"huge", `{"start":"` + strings.Repeat("x", 5000) + `"}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fan := &fakeFan{}
			_, wake, err := New(Config{Now: now}, fan).Run(t.Context(), post(tc.body))
			if wake != "" {
				t.Errorf("wake = %q for a rejected request", wake)
			}
			if !azfunc.IsPermanent(err) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want a permanent error mentioning %q", err, tc.reason)
			}
			if len(fan.windows) != 0 {
				t.Error("an invalid request was fanned out")
			}
		})
	}
}

func TestRunMethodAndFailure(t *testing.T) {
	fan := &fakeFan{}
	f := New(Config{Now: now}, fan)
	resp, wake, err := f.Run(t.Context(), azfunc.HTTPRequest{Method: http.MethodGet})
	if err != nil || resp.StatusCode != http.StatusMethodNotAllowed || wake != "" {
		t.Errorf("GET: %+v, %q, %v; want 405 without a wake-up", resp, wake, err)
	}
	fan.messages = -1 // no models: nothing enqueued, nothing to wake
	resp, wake, err = f.Run(t.Context(), post(`{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T00:00:00Z"}`))
	if err != nil || resp.StatusCode != http.StatusAccepted || wake != "" {
		t.Errorf("no jobs: %+v, %q, %v; want 202 without a wake-up", resp, wake, err)
	}
	fan.err = errors.New("queue down")
	_, wake, err = f.Run(t.Context(), post(`{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T00:00:00Z"}`))
	if err == nil || azfunc.IsPermanent(err) || wake != "" {
		t.Errorf("err = %v, wake %q; want a transient error without a wake-up", err, wake)
	}
}

type listOnly []string

func (l listOnly) List(context.Context, string, string) ([]storage.BlobInfo, error) {
	var out []storage.BlobInfo
	for _, n := range l {
		out = append(out, storage.BlobInfo{Name: n})
	}
	return out, nil
}

type countQueue struct{ bodies [][]byte }

func (q *countQueue) EnqueueMany(_ context.Context, b [][]byte, _ int) (int, error) {
	q.bodies = append(q.bodies, b...)
	return len(b), nil
}

// TestBackfillRegistersRunInSQLite goes through the real fan-out and SQLite
// store: the run a backfill answers with is the one run-status will find.
func TestBackfillRegistersRunInSQLite(t *testing.T) {
	st := testenv.SQLite(t)
	q := &countQueue{}
	fan := timerfanout.New(timerfanout.Config{ChunkSize: 2, Now: now}, listOnly{"model_1_1", "model_1_2", "model_2_1"}, q, st)
	resp, wake, err := New(Config{Now: now}, fan).Run(t.Context(), post(`{"start":"2018-08-28T23:00:00Z","end":"2018-08-29T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := sensor.WakeMessage("20180828T230000Z-20180829T000000Z"); wake != want {
		t.Errorf("wake = %q, want %q", wake, want)
	}
	var got Response
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Sensors != 3 || got.Messages != 2 || len(q.bodies) != 2 {
		t.Errorf("response %+v with %d messages queued, want 3 sensors in 2 messages", got, len(q.bodies))
	}
	run, err := st.Run(t.Context(), got.Run)
	if err != nil {
		t.Fatal(err)
	}
	want := sensor.Run{ID: "20180828T230000Z-20180829T000000Z", Window: got.Window, Sensors: 3, Created: now(), FannedOut: now()}
	if diff := cmp.Diff(want, run); diff != "" {
		t.Errorf("stored run (-want +got):\n%s", diff)
	}
}
