package timerfanout

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/golden"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fakeLister lists fixed blob names, in the order given.
type fakeLister struct {
	names []string
	err   error
	calls int
}

func (l *fakeLister) List(_ context.Context, container, prefix string) ([]storage.BlobInfo, error) {
	l.calls++
	if l.err != nil {
		return nil, l.err
	}
	var out []storage.BlobInfo
	for _, n := range l.names {
		if len(n) >= len(prefix) && n[:len(prefix)] == prefix {
			out = append(out, storage.BlobInfo{Name: n})
		}
	}
	return out, nil
}

// fakeQueue records bodies; it checks that the run was registered first.
type fakeQueue struct {
	mu           sync.Mutex
	runs         *fakeRuns
	bodies       [][]byte
	failAt       int // fail the failAt-th enqueue (1-based); 0 never
	unregistered bool
}

func (q *fakeQueue) EnqueueMany(_ context.Context, bodies [][]byte, parallelism int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if parallelism < 1 {
		return 0, errors.New("parallelism < 1")
	}
	for i, b := range bodies {
		var job sensor.Job
		if err := json.Unmarshal(b, &job); err != nil {
			return i, err
		}
		if q.runs != nil && !q.runs.has(job.Run) {
			q.unregistered = true
		}
		if q.failAt == i+1 {
			return i, errors.New("queue unavailable")
		}
		q.bodies = append(q.bodies, b)
	}
	return len(bodies), nil
}

type fakeRuns struct {
	mu   sync.Mutex
	runs []sensor.Run
	mark sensor.IngestMark
	err  error
	// markReads counts IngestMark calls.
	markReads int
	// scored are the runs whose every sensor has a final outcome.
	scored map[string]bool
}

func (r *fakeRuns) OldestUnscoredRun(_ context.Context, since time.Time) (sensor.Run, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var oldest sensor.Run
	for _, x := range r.runs {
		if !x.Created.Before(since) && !r.scored[x.ID] && (oldest.ID == "" || x.Window.Start.Before(oldest.Window.Start)) {
			oldest = x
		}
	}
	return oldest, oldest.ID != "", nil
}

func (r *fakeRuns) PutRun(_ context.Context, run sensor.Run) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.runs = append(r.runs, run)
	return nil
}

func (r *fakeRuns) FinishFanOut(_ context.Context, id string, at time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.runs {
		if r.runs[i].ID == id {
			r.runs[i].FannedOut = at
		}
	}
	return nil
}

func (r *fakeRuns) LastScheduledRun(context.Context) (sensor.Run, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last sensor.Run
	for _, x := range r.runs {
		if x.Scheduled && !x.FannedOut.IsZero() && x.Window.End.After(last.Window.End) {
			last = x
		}
	}
	return last, last.ID != "", nil
}

func (r *fakeRuns) IngestMark(context.Context) (sensor.IngestMark, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.markReads++
	return r.mark, nil
}

func (r *fakeRuns) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.runs, func(x sensor.Run) bool { return x.ID == id })
}

var fixedNow = func() time.Time { return time.Date(2018, 8, 29, 3, 0, 0, 250e6, time.UTC) }

func newTestFunction(cfg Config, names []string) (*Function, *fakeQueue, *fakeRuns) {
	runs := &fakeRuns{}
	q := &fakeQueue{runs: runs}
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	return New(cfg, &fakeLister{names: names}, q, runs), q, runs
}

func TestTriggerWindow(t *testing.T) {
	hourly := Config{Schedule: "0 0 * * * *"}
	status := func(next string) *azfunc.ScheduleStatus {
		return &azfunc.ScheduleStatus{Next: mustTime(t, next)}
	}
	for _, tc := range []struct {
		name       string
		cfg        Config
		timer      azfunc.TimerInfo
		now        string
		start, end string
	}{
		{"no status, fired on time", hourly, azfunc.TimerInfo{}, "2018-08-29T03:00:00.020Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
		{"no status, fired early", hourly, azfunc.TimerInfo{}, "2018-08-29T02:59:59.400Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
		{"no status, late", hourly, azfunc.TimerInfo{}, "2018-08-29T03:20:00Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
		{"status next is the occurrence", hourly, azfunc.TimerInfo{ScheduleStatus: status("2018-08-29T03:00:00Z")}, "2018-08-29T03:00:00.1Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
		// The window of a past-due run is the latest; Run catches up the missed ones before it.
		{"past due catch-up", hourly, azfunc.TimerInfo{IsPastDue: true, ScheduleStatus: status("2018-08-29T01:00:00Z")}, "2018-08-29T03:20:00Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
		{"lag", Config{Schedule: "0 10 * * * *", Lag: 10 * time.Minute}, azfunc.TimerInfo{ScheduleStatus: status("2018-08-29T03:10:00Z")}, "2018-08-29T03:10:00.1Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
		{"lag off the schedule's grid", Config{Schedule: "0 0 * * * *", Lag: 5 * time.Minute}, azfunc.TimerInfo{}, "2018-08-29T03:00:00.1Z", "2018-08-29T01:55:00Z", "2018-08-29T02:55:00Z"},
		{"status from another schedule", hourly, azfunc.TimerInfo{ScheduleStatus: status("2018-08-29T02:30:00Z")}, "2018-08-29T03:00:00.1Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
		{"status in the future", hourly, azfunc.TimerInfo{ScheduleStatus: status("2018-08-29T04:00:00Z")}, "2018-08-29T03:00:00.1Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
		{"irregular", Config{Schedule: "0 0 9,17 * * *"}, azfunc.TimerInfo{}, "2024-05-01T09:00:00.5Z", "2024-04-30T17:00:00Z", "2024-05-01T09:00:00Z"},
		{"default schedule is hourly", Config{}, azfunc.TimerInfo{}, "2018-08-29T03:00:01Z", "2018-08-29T02:00:00Z", "2018-08-29T03:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _, _ := newTestFunction(tc.cfg, nil)
			got, err := f.TriggerWindow(tc.timer, mustTime(t, tc.now))
			if err != nil {
				t.Fatal(err)
			}
			want := sensor.Window{Start: mustTime(t, tc.start), End: mustTime(t, tc.end)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("window (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunInvalidSchedule(t *testing.T) {
	f, q, runs := newTestFunction(Config{Schedule: "0 * * * *"}, []string{"model_1_1"})
	_, err := f.Run(t.Context(), azfunc.TimerInfo{}, fixedNow())
	if err == nil || !azfunc.IsPermanent(err) {
		t.Fatalf("Run with a 5-field schedule: err = %v, want a permanent error", err)
	}
	if len(q.bodies) != 0 || len(runs.runs) != 0 {
		t.Errorf("enqueued %d, registered %d runs; want nothing", len(q.bodies), len(runs.runs))
	}
	if err := (Config{Schedule: "0 * * * *"}).Validate(); err == nil {
		t.Error("Validate of a 5-field schedule = nil")
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("Validate of the default schedule: %v", err)
	}
}

// referenceBlobs is the models container of the reference plus blobs that
// must be skipped.
var referenceBlobs = []string{
	"model_3_5", "model_1_1", "model_1_2", "model_1_3", "model_1_4", "model_1_5",
	"model_2_1", "model_2_2", "model_2_3", "model_2_4", "model_2_5",
	"model_3_1", "model_3_2", "model_3_3", "model_3_4",
	"model_1_1.pkl",   // duplicate of model_1_1: skipped, model_1_1 sorts first
	"model_10_2.json", // device 10 sorts after device 1 and before 2
	"model_x",         // no sensor part
	"model_a_b/c",     // nested path
	"model_dev ice_1", // invalid id
	"modelling-notes", // wrong prefix: not even listed
}

func TestRunWindowGolden(t *testing.T) {
	w := sensor.Window{Start: mustTime(t, "2018-08-28T23:00:00Z"), End: mustTime(t, "2018-08-29T03:15:00Z")}
	for _, chunk := range []int{1, 4} {
		t.Run(fmt.Sprintf("chunk%d", chunk), func(t *testing.T) {
			f, q, runs := newTestFunction(Config{ChunkSize: chunk}, referenceBlobs)
			res, err := f.RunWindow(t.Context(), w)
			if err != nil {
				t.Fatal(err)
			}
			want := Result{Run: "20180828T230000Z-20180829T031500Z", Window: w, Sensors: 16, Messages: (16 + chunk - 1) / chunk, Skipped: 4}
			if diff := cmp.Diff(want, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			wantRuns := []sensor.Run{{ID: want.Run, Window: w, Sensors: 16, Created: fixedNow(), FannedOut: fixedNow()}}
			if diff := cmp.Diff(wantRuns, runs.runs); diff != "" {
				t.Errorf("runs (-want +got):\n%s", diff)
			}
			if q.unregistered {
				t.Error("a message was enqueued before its run was registered")
			}
			got := bytes.Join(q.bodies, []byte("\n"))
			golden.Check(t, filepath.Join("testdata", fmt.Sprintf("messages_chunk%d.golden", chunk)), append(got, '\n'), *update)
		})
	}
}

// TestWakeMessage: a fan-out that enqueued jobs gives the run's wake-up
// message for the queue output binding; one that enqueued none (no models)
// gives none.
func TestWakeMessage(t *testing.T) {
	w := sensor.Window{Start: mustTime(t, "2018-08-28T23:00:00Z"), End: mustTime(t, "2018-08-29T00:00:00Z")}
	for _, tc := range []struct {
		name  string
		blobs []string
		want  string
	}{
		{"jobs enqueued", referenceBlobs, `{"run":"20180828T230000Z-20180829T000000Z","wake":true}`},
		{"no models", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, q, _ := newTestFunction(Config{ChunkSize: 4}, tc.blobs)
			res, err := f.RunWindow(t.Context(), w)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.WakeMessage(); got != tc.want {
				t.Errorf("WakeMessage after %d jobs = %q, want %q", len(q.bodies), got, tc.want)
			}
		})
	}
}

func TestRunWindowDeterministic(t *testing.T) {
	w := sensor.Window{Start: mustTime(t, "2018-08-28T23:00:00Z"), End: mustTime(t, "2018-08-29T00:00:00Z")}
	var first [][]byte
	for i := range 5 {
		names := slices.Clone(referenceBlobs)
		rand.New(rand.NewPCG(uint64(i), 7)).Shuffle(len(names), func(a, b int) { names[a], names[b] = names[b], names[a] })
		f, q, _ := newTestFunction(Config{ChunkSize: 3}, names)
		if _, err := f.RunWindow(t.Context(), w); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = q.bodies
			continue
		}
		if diff := cmp.Diff(first, q.bodies); diff != "" {
			t.Fatalf("listing order %d changed the messages (-first +now):\n%s", i, diff)
		}
	}
}

func TestRunWindowFansOut10000Sensors(t *testing.T) {
	var names []string
	for d := range 100 {
		for s := range 100 {
			names = append(names, fmt.Sprintf("model_dev%03d_s%03d", d, s))
		}
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(names), func(a, b int) { names[a], names[b] = names[b], names[a] })
	w := sensor.Window{Start: mustTime(t, "2024-05-01T10:00:00Z"), End: mustTime(t, "2024-05-01T11:00:00Z")}
	for _, chunk := range []int{1, 7, 250} {
		t.Run(fmt.Sprintf("chunk%d", chunk), func(t *testing.T) {
			f, q, runs := newTestFunction(Config{ChunkSize: chunk}, names)
			res, err := f.RunWindow(t.Context(), w)
			if err != nil {
				t.Fatal(err)
			}
			wantMsgs := (10000 + chunk - 1) / chunk
			if res.Sensors != 10000 || res.Messages != wantMsgs || len(q.bodies) != wantMsgs {
				t.Fatalf("sensors %d, messages %d (queue %d), want 10000 and %d", res.Sensors, res.Messages, len(q.bodies), wantMsgs)
			}
			if len(runs.runs) != 1 || runs.runs[0].Sensors != 10000 {
				t.Fatalf("runs = %+v, want one with 10000 sensors", runs.runs)
			}
			seen := make(map[sensor.Key]int)
			var last sensor.Key
			for i, b := range q.bodies {
				var job sensor.Job
				if err := json.Unmarshal(b, &job); err != nil {
					t.Fatal(err)
				}
				if job.Run != res.Run || !job.Window.Start.Equal(w.Start) || !job.Window.End.Equal(w.End) {
					t.Fatalf("message %d: run %s window %v", i, job.Run, job.Window)
				}
				if len(job.Sensors) == 0 || len(job.Sensors) > chunk {
					t.Fatalf("message %d has %d sensors", i, len(job.Sensors))
				}
				for _, e := range job.Sensors {
					if e.Model != e.ModelName() {
						t.Errorf("model %q for %s", e.Model, e.Key)
					}
					if last != (sensor.Key{}) && (e.Device < last.Device || e.Device == last.Device && e.Sensor <= last.Sensor) {
						t.Fatalf("%s after %s: not sorted", e.Key, last)
					}
					last = e.Key
					seen[e.Key]++
				}
			}
			if len(seen) != 10000 {
				t.Errorf("%d distinct sensors in the messages, want 10000", len(seen))
			}
		})
	}
}

func TestRunWindowErrors(t *testing.T) {
	w := sensor.Window{Start: mustTime(t, "2018-08-28T23:00:00Z"), End: mustTime(t, "2018-08-29T00:00:00Z")}
	t.Run("invalid window", func(t *testing.T) {
		f, q, runs := newTestFunction(Config{}, referenceBlobs)
		_, err := f.RunWindow(t.Context(), sensor.Window{Start: w.End, End: w.Start})
		if !azfunc.IsPermanent(err) {
			t.Fatalf("err = %v, want permanent", err)
		}
		if len(q.bodies)+len(runs.runs) != 0 {
			t.Error("something was written")
		}
	})
	t.Run("list fails", func(t *testing.T) {
		runs := &fakeRuns{}
		q := &fakeQueue{runs: runs}
		f := New(Config{}, &fakeLister{err: errors.New("boom")}, q, runs)
		if _, err := f.RunWindow(t.Context(), w); err == nil || azfunc.IsPermanent(err) {
			t.Fatalf("err = %v, want a transient error", err)
		}
		if len(q.bodies)+len(runs.runs) != 0 {
			t.Error("something was written")
		}
	})
	t.Run("register fails", func(t *testing.T) {
		runs := &fakeRuns{err: errors.New("db down")}
		q := &fakeQueue{runs: runs}
		f := New(Config{}, &fakeLister{names: referenceBlobs}, q, runs)
		if _, err := f.RunWindow(t.Context(), w); err == nil {
			t.Fatal("err = nil")
		}
		if len(q.bodies) != 0 {
			t.Errorf("%d messages enqueued for an unregistered run", len(q.bodies))
		}
	})
	t.Run("enqueue fails", func(t *testing.T) {
		f, q, _ := newTestFunction(Config{}, referenceBlobs)
		q.failAt = 4
		res, err := f.RunWindow(t.Context(), w)
		if err == nil {
			t.Fatal("err = nil")
		}
		if res.Messages != 3 {
			t.Errorf("Messages = %d, want 3", res.Messages)
		}
	})
	t.Run("no models", func(t *testing.T) {
		f, q, runs := newTestFunction(Config{}, []string{"readme"})
		res, err := f.RunWindow(t.Context(), w)
		if err != nil {
			t.Fatal(err)
		}
		if res.Sensors != 0 || len(q.bodies) != 0 || len(runs.runs) != 1 {
			t.Errorf("result %+v, %d messages, %d runs; want 0 sensors, 0 messages, 1 run", res, len(q.bodies), len(runs.runs))
		}
	})
}

func TestMessagesChunkSize(t *testing.T) {
	if _, err := Messages("r", sensor.Window{}, nil, 0); err == nil {
		t.Error("chunk 0: nil error")
	}
}

// TestRunDuplicatedAndRetried runs one occurrence the ways the host may
// deliver it more than once: a duplicate run (lease lost mid-invocation) a
// moment later, and the function.json retries (fixedDelay, 3 x 30 s) with the
// same TimerInfo, with and without the timer monitor's status. Every run must
// register the same run and enqueue byte-identical messages.
func TestRunDuplicatedAndRetried(t *testing.T) {
	occurrence := mustTime(t, "2018-08-29T03:00:00Z")
	for _, tc := range []struct {
		name  string
		timer azfunc.TimerInfo
	}{
		{"with the monitor's status", azfunc.TimerInfo{ScheduleStatus: &azfunc.ScheduleStatus{
			Last: occurrence.Add(-time.Hour), Next: occurrence, LastUpdated: occurrence.Add(-time.Hour)}}},
		{"without status (useMonitor false)", azfunc.TimerInfo{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, q, runs := newTestFunction(Config{ChunkSize: 4}, referenceBlobs)
			var first Result
			var firstBodies [][]byte
			for i, now := range []time.Duration{
				20 * time.Millisecond,  // the run
				900 * time.Millisecond, // a duplicate run
				30 * time.Second,       // retry 1
				61 * time.Second,       // retry 2
				92 * time.Second,       // retry 3
			} {
				before := len(q.bodies)
				res, err := f.Run(t.Context(), tc.timer, occurrence.Add(now))
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				bodies := q.bodies[before:]
				if i == 0 {
					first, firstBodies = res, slices.Clone(bodies)
					continue
				}
				if diff := cmp.Diff(first, res); diff != "" {
					t.Errorf("run %d at +%v: result differs (-first +now):\n%s", i, now, diff)
				}
				if diff := cmp.Diff(firstBodies, bodies); diff != "" {
					t.Errorf("run %d at +%v: messages differ (-first +now):\n%s", i, now, diff)
				}
			}
			if want := (sensor.Window{Start: occurrence.Add(-time.Hour), End: occurrence}).RunID(); first.Run != want {
				t.Errorf("run id %s, want %s", first.Run, want)
			}
			for _, r := range runs.runs {
				if r.ID != first.Run || r.Sensors != first.Sensors {
					t.Errorf("registered %+v, want run %s with %d sensors", r, first.Run, first.Sensors)
				}
			}
		})
	}
}

// TestMessagesFitTheQueue asks for chunks far larger than a queue message can
// hold: every message, base64-encoded as it is stored, must fit the 64 KiB
// limit, and together they must carry every sensor once, in order.
func TestMessagesFitTheQueue(t *testing.T) {
	w := sensor.Window{Start: mustTime(t, "2018-08-28T23:00:00Z"), End: mustTime(t, "2018-08-29T00:00:00Z")}
	for _, tc := range []struct {
		name    string
		sensors int
		chunk   int
		idLen   int
	}{
		{"short ids", 5000, 5000, 4},
		{"long ids", 600, 1000, 64},
		{"one sensor per message stays one", 10, 1, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var entries []sensor.JobEntry
			for i := range tc.sensors {
				k := sensor.Key{Device: fmt.Sprintf("%0*d", tc.idLen, i), Sensor: fmt.Sprintf("%0*d", tc.idLen, i+1)}
				entries = append(entries, sensor.JobEntry{Key: k, Model: k.ModelName() + ".pkl"})
			}
			bodies, err := Messages(w.RunID(), w, entries, tc.chunk)
			if err != nil {
				t.Fatal(err)
			}
			var got []sensor.JobEntry
			for i, b := range bodies {
				if n := len(storage.Encode(b)); n > MaxMessageBytes {
					t.Errorf("message %d: %d bytes stored, over the %d-byte queue limit", i, n, MaxMessageBytes)
				}
				var j sensor.Job
				if err := json.Unmarshal(b, &j); err != nil {
					t.Fatal(err)
				}
				if len(j.Sensors) > tc.chunk {
					t.Errorf("message %d: %d sensors, more than the chunk size %d", i, len(j.Sensors), tc.chunk)
				}
				got = append(got, j.Sensors...)
			}
			if diff := cmp.Diff(entries, got); diff != "" {
				t.Errorf("sensors across the messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLateReadingWithinLagIsScored: ingest stores a reading some minutes
// after its timestamp (the trigger waits up to maxWaitTime for a batch, and
// retries a failed one with back-off). A reading stamped 02:59:30 that
// reaches SQL at 03:04, after the 03:00 occurrence fired, must still fall in
// a window fanned out after it arrived; with the window ending at the firing
// time it fell in the run that had already gone, and was never scored.
func TestLateReadingWithinLagIsScored(t *testing.T) {
	stamped := mustTime(t, "2018-08-29T02:59:30Z")
	stored := mustTime(t, "2018-08-29T03:04:00Z")
	f, _, runs := newTestFunction(Config{Schedule: "0 0 * * * *", Lag: 10 * time.Minute}, []string{"model_1_1"})
	for _, occurrence := range []string{"2018-08-29T03:00:00Z", "2018-08-29T04:00:00Z"} {
		at := mustTime(t, occurrence)
		if _, err := f.Run(t.Context(), azfunc.TimerInfo{ScheduleStatus: &azfunc.ScheduleStatus{Next: at}}, at.Add(20*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	var scoredBy []string
	for _, r := range runs.runs {
		fannedOut := mustTime(t, "2018-08-29T03:00:00Z")
		if r.Window.End.After(fannedOut) {
			fannedOut = mustTime(t, "2018-08-29T04:00:00Z")
		}
		if r.Window.Start.Before(stamped) && !r.Window.End.Before(stamped) && fannedOut.After(stored) {
			scoredBy = append(scoredBy, r.ID)
		}
	}
	if len(scoredBy) != 1 {
		t.Errorf("the late reading is in %d runs fanned out after it was stored (%v), want 1; runs: %v", len(scoredBy), scoredBy, runs.runs)
	}
}

// TestRunPastDueCatchesUp: after five hours of downtime the host fires one
// past-due run. Every window since the last run fanned out (from the run
// store) is fanned out, oldest first, each under its own run id, up to
// MaxCatchUp windows; what lies beyond the bound is reported.
func TestRunPastDueCatchesUp(t *testing.T) {
	last := sensor.Window{Start: mustTime(t, "2018-08-28T21:00:00Z"), End: mustTime(t, "2018-08-28T22:00:00Z")}
	timer := azfunc.TimerInfo{IsPastDue: true, ScheduleStatus: &azfunc.ScheduleStatus{
		Last: mustTime(t, "2018-08-28T22:00:00Z"), Next: mustTime(t, "2018-08-28T23:00:00Z")}}
	now := mustTime(t, "2018-08-29T03:20:00Z") // the host is back
	hour := func(end string) string {
		e := mustTime(t, end)
		return sensor.Window{Start: e.Add(-time.Hour), End: e}.RunID()
	}
	for _, tc := range []struct {
		name     string
		max      int
		wantRuns []string
		beyond   *sensor.Window
	}{
		{"all missed windows", 0, []string{hour("2018-08-28T23:00:00Z"), hour("2018-08-29T00:00:00Z"), hour("2018-08-29T01:00:00Z"),
			hour("2018-08-29T02:00:00Z"), hour("2018-08-29T03:00:00Z")}, nil},
		{"bounded", 3, []string{hour("2018-08-29T01:00:00Z"), hour("2018-08-29T02:00:00Z"), hour("2018-08-29T03:00:00Z")},
			&sensor.Window{Start: mustTime(t, "2018-08-28T22:00:00Z"), End: mustTime(t, "2018-08-29T00:00:00Z")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs strings.Builder
			f, q, runs := newTestFunction(Config{Schedule: "0 0 * * * *", MaxCatchUp: tc.max,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))}, []string{"model_1_1", "model_1_2"})
			runs.runs = []sensor.Run{{ID: last.RunID(), Window: last, Sensors: 2, Scheduled: true, FannedOut: last.End}}
			res, err := f.Run(t.Context(), timer, now)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range runs.runs[1:] {
				got = append(got, r.ID)
				if !r.Scheduled || r.FannedOut.IsZero() {
					t.Errorf("run %s: scheduled %v, fanned out %v; want a completed scheduled run", r.ID, r.Scheduled, r.FannedOut)
				}
			}
			if diff := cmp.Diff(tc.wantRuns, got); diff != "" {
				t.Errorf("runs fanned out (-want +got):\n%s", diff)
			}
			if len(q.bodies) != 2*len(tc.wantRuns) {
				t.Errorf("%d messages, want 2 per run", len(q.bodies))
			}
			if res.Run != tc.wantRuns[len(tc.wantRuns)-1] || len(res.CaughtUp) != len(tc.wantRuns)-1 {
				t.Errorf("result run %s, caught up %v", res.Run, res.CaughtUp)
			}
			if diff := cmp.Diff(tc.beyond, res.NotFannedOut); diff != "" {
				t.Errorf("windows not fanned out (-want +got):\n%s", diff)
			}
			if tc.beyond != nil && !strings.Contains(logs.String(), "FANOUT_MAX_CATCHUP") {
				t.Errorf("no log line names the bound:\n%s", logs.String())
			}
			// One listing and one ingest mark serve every window of the invocation.
			if l := f.models.(*fakeLister); l.calls != 1 || runs.markReads != 1 {
				t.Errorf("models listed %d times, ingest mark read %d times for %d windows; want once each", l.calls, runs.markReads, len(tc.wantRuns))
			}
		})
	}
}

// TestRunRecordsIngestMark: each run keeps how far ingest had got when it
// was fanned out.
func TestRunRecordsIngestMark(t *testing.T) {
	f, _, runs := newTestFunction(Config{}, []string{"model_1_1"})
	runs.mark = sensor.IngestMark{Oldest: mustTime(t, "2018-08-29T02:58:00Z"), Newest: mustTime(t, "2018-08-29T03:00:01Z")}
	w := sensor.Window{Start: mustTime(t, "2018-08-29T02:00:00Z"), End: mustTime(t, "2018-08-29T03:00:00Z")}
	if _, err := f.RunWindow(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	if got := runs.runs[0]; got.Ingest != runs.mark || got.Scheduled {
		t.Errorf("registered %+v, want ingest mark %+v and not scheduled", got, runs.mark)
	}
}

type fakePruner struct {
	cutoffs []time.Time
	err     error
}

func (p *fakePruner) PruneReadings(_ context.Context, cutoff time.Time, batch, maxBatches int) (int, bool, error) {
	p.cutoffs = append(p.cutoffs, cutoff)
	if batch <= 0 || maxBatches <= 0 {
		return 0, false, errors.New("bad bounds")
	}
	return 7, false, p.err
}

// TestRunPrunesOldReadings: a timer run deletes the readings older than
// Retention before the invocation's time, after its fan-out; a failing prune
// does not fail the run, and without Retention nothing is pruned.
func TestRunPrunesOldReadings(t *testing.T) {
	now := mustTime(t, "2018-08-29T03:00:00.02Z")
	timer := azfunc.TimerInfo{ScheduleStatus: &azfunc.ScheduleStatus{Next: mustTime(t, "2018-08-29T03:00:00Z")}}
	for _, tc := range []struct {
		name      string
		retention time.Duration
		err       error
		want      []time.Time
	}{
		{"30 days", 30 * 24 * time.Hour, nil, []time.Time{now.Add(-30 * 24 * time.Hour)}},
		{"prune fails", 30 * 24 * time.Hour, errors.New("db locked"), []time.Time{now.Add(-30 * 24 * time.Hour)}},
		{"off", 0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakePruner{err: tc.err}
			f, q, _ := newTestFunction(Config{Retention: tc.retention, Pruner: p}, []string{"model_1_1"})
			if _, err := f.Run(t.Context(), timer, now); err != nil {
				t.Fatal(err)
			}
			if len(q.bodies) != 1 {
				t.Errorf("%d messages, want 1", len(q.bodies))
			}
			if diff := cmp.Diff(tc.want, p.cutoffs); diff != "" {
				t.Errorf("prune cutoffs (-want +got):\n%s", diff)
			}
		})
	}
	// A backfill does not prune.
	p := &fakePruner{}
	f, _, _ := newTestFunction(Config{Retention: time.Hour, Pruner: p}, []string{"model_1_1"})
	if _, err := f.RunWindow(t.Context(), sensor.Window{Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if len(p.cutoffs) != 0 {
		t.Errorf("a backfill pruned: %v", p.cutoffs)
	}
}

// TestRunPruneSparesCaughtUpWindows: a catch-up run fans out MaxCatchUp
// windows, the oldest starting about (MaxCatchUp x period + Lag) before now;
// with a retention shorter than that the prune after the fan-out used to cut
// readings of that oldest window before its jobs were scored (the cutoff
// 2018-08-28 04:00 fell after the start 03:50 of a window enqueued by the same
// invocation). The cutoff is capped at the oldest window's start less a
// margin for the jobs still queued or retried.
func TestRunPruneSparesCaughtUpWindows(t *testing.T) {
	occ := mustTime(t, "2018-08-29T04:00:00Z")
	now := occ.Add(20 * time.Millisecond)
	timer := azfunc.TimerInfo{IsPastDue: true, ScheduleStatus: &azfunc.ScheduleStatus{Next: occ}}
	p := &fakePruner{}
	f, _, runs := newTestFunction(Config{Schedule: "0 0 * * * *", Lag: 10 * time.Minute, MaxCatchUp: 24,
		Retention: 24 * time.Hour, Pruner: p}, []string{"model_1_1"})
	last := sensor.Window{Start: mustTime(t, "2018-08-27T01:50:00Z"), End: mustTime(t, "2018-08-27T02:50:00Z")}
	runs.runs = []sensor.Run{{ID: last.RunID(), Window: last, Sensors: 1, Scheduled: true, FannedOut: last.End}}
	res, err := f.Run(t.Context(), timer, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CaughtUp) != 23 {
		t.Fatalf("caught up %d windows, want 23", len(res.CaughtUp))
	}
	oldest := runs.runs[1].Window
	if len(p.cutoffs) != 1 {
		t.Fatalf("pruned %d times, want once", len(p.cutoffs))
	}
	if cutoff := p.cutoffs[0]; cutoff.After(oldest.Start.Add(-oldest.End.Sub(oldest.Start))) {
		t.Errorf("prune cutoff %s is after %s, one window before the start of the oldest window fanned out (%s-%s)",
			cutoff, oldest.Start.Add(-time.Hour), oldest.Start, oldest.End)
	}
}

// TestMessagesSizeMismatchIsPermanent: should a body ever encode to another
// size than Messages computed, Run returns a permanent error (azfunc does not
// retry it) rather than panicking: azfunc recovers a panic as a transient
// failure, so every retry would panic again.
func TestMessagesSizeMismatchIsPermanent(t *testing.T) {
	orig := encodeJob
	t.Cleanup(func() { encodeJob = orig })
	encodeJob = func(j sensor.Job) ([]byte, error) {
		b, err := orig(j)
		return append(b, ' '), err
	}
	f, q, _ := newTestFunction(Config{}, []string{"model_1_1"})
	_, err := f.Run(t.Context(), azfunc.TimerInfo{}, fixedNow())
	if err == nil || !azfunc.IsPermanent(err) || !strings.Contains(err.Error(), "computed") {
		t.Fatalf("Run with a body of another size: err = %v, want a permanent error naming both sizes", err)
	}
	if len(q.bodies) != 0 {
		t.Errorf("enqueued %d messages, want none", len(q.bodies))
	}
}

// etagLister lists blobs with ETags.
type etagLister map[string]string

func (l etagLister) List(_ context.Context, container, prefix string) ([]storage.BlobInfo, error) {
	var out []storage.BlobInfo
	for n, e := range l {
		out = append(out, storage.BlobInfo{Name: n, ETag: e})
	}
	return out, nil
}

// TestJobsNameTheModelVersion: each job entry carries the ETag its model blob
// had when fan-out listed it, so score-sensor can use that cached version
// without asking Blob storage.
func TestJobsNameTheModelVersion(t *testing.T) {
	blobs := etagLister{"model_1_1": `"0x8DC1"`, "model_1_2": `"0x8DC2"`, "model_2_1": ""}
	runs := &fakeRuns{}
	q := &fakeQueue{runs: runs}
	f := New(Config{ChunkSize: 2, Now: fixedNow}, blobs, q, runs)
	w := sensor.Window{Start: mustTime(t, "2018-08-28T23:00:00Z"), End: mustTime(t, "2018-08-29T00:00:00Z")}
	if _, err := f.RunWindow(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range q.bodies {
		var job sensor.Job
		if err := json.Unmarshal(b, &job); err != nil {
			t.Fatal(err)
		}
		for _, e := range job.Sensors {
			got[e.Model] = e.ModelETag
		}
	}
	if diff := cmp.Diff(map[string]string(blobs), got); diff != "" {
		t.Errorf("model ETags in the jobs (-listed +enqueued):\n%s", diff)
	}
	if bytes.Contains(q.bodies[len(q.bodies)-1], []byte("modelEtag")) {
		t.Errorf("an entry without an ETag is written with one: %s", q.bodies[len(q.bodies)-1])
	}
}

// TestRunPruneSparesUnscoredRuns: the prune also keeps the readings of a run
// registered within the retention whose sensors are not all scored yet (a
// queue backlog, or a backfill of an old window), less the margin; a run
// scored in full, or registered before the retention, holds nothing back.
func TestRunPruneSparesUnscoredRuns(t *testing.T) {
	occ := mustTime(t, "2018-08-29T04:00:00Z")
	now := occ.Add(20 * time.Millisecond)
	timer := azfunc.TimerInfo{ScheduleStatus: &azfunc.ScheduleStatus{Next: occ}}
	last := sensor.Window{Start: mustTime(t, "2018-08-29T01:50:00Z"), End: mustTime(t, "2018-08-29T02:50:00Z")}
	old := sensor.Window{Start: mustTime(t, "2018-08-27T22:00:00Z"), End: mustTime(t, "2018-08-27T23:00:00Z")}
	for _, tc := range []struct {
		name    string
		created time.Time
		scored  bool
		want    time.Time
	}{
		{"backfill not yet scored", mustTime(t, "2018-08-29T03:30:00Z"), false, mustTime(t, "2018-08-27T21:00:00Z")},
		{"backfill scored", mustTime(t, "2018-08-29T03:30:00Z"), true, now.Add(-24 * time.Hour)},
		{"registered before the retention", mustTime(t, "2018-08-28T03:30:00Z"), false, now.Add(-24 * time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakePruner{}
			f, _, runs := newTestFunction(Config{Schedule: "0 0 * * * *", Lag: 10 * time.Minute, Retention: 24 * time.Hour, Pruner: p}, []string{"model_1_1"})
			runs.runs = []sensor.Run{
				{ID: last.RunID(), Window: last, Sensors: 1, Scheduled: true, FannedOut: last.End, Created: last.End},
				{ID: old.RunID(), Window: old, Sensors: 1, Created: tc.created},
			}
			runs.scored = map[string]bool{last.RunID(): true, old.RunID(): tc.scored}
			if _, err := f.Run(t.Context(), timer, now); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]time.Time{tc.want}, p.cutoffs); diff != "" {
				t.Errorf("prune cutoffs (-want +got):\n%s", diff)
			}
		})
	}
}
