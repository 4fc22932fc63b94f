package sqlstore

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/sensor"
)

// TestFanOutState: the scheduled flag, the fan-out time and the ingest mark
// of runs, and the per-partition ingest progress they come from.
func TestFanOutState(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		// Later than anything an earlier run of this suite left in a shared database.
		base := time.Now().UTC().Truncate(time.Hour).Add(10000 * time.Hour)
		win := func(h int) sensor.Window {
			return sensor.Window{Start: base.Add(time.Duration(h-1) * time.Hour), End: base.Add(time.Duration(h) * time.Hour)}
		}
		mark := sensor.IngestMark{Oldest: base.Add(-time.Minute), Newest: base}
		put := func(h int, scheduled bool) sensor.Run {
			t.Helper()
			r := sensor.Run{ID: uniq + win(h).RunID(), Window: win(h), Sensors: 2, Created: base, Scheduled: scheduled, Ingest: mark}
			if err := s.PutRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			return r
		}
		done := func(r sensor.Run) sensor.Run {
			t.Helper()
			r.FannedOut = base.Add(time.Second)
			if err := s.FinishFanOut(ctx, r.ID, r.FannedOut); err != nil {
				t.Fatal(err)
			}
			return r
		}
		r1 := done(put(1, true))
		put(2, true)        // registered, fan-out never finished
		done(put(3, false)) // a backfill
		last, ok, err := s.LastScheduledRun(ctx)
		if err != nil || !ok {
			t.Fatalf("LastScheduledRun = %v, %v", ok, err)
		}
		if diff := cmp.Diff(r1, last); diff != "" {
			t.Errorf("LastScheduledRun (-want +got):\n%s", diff)
		}
		// A backfill of a scheduled window keeps it scheduled and fanned out.
		again := r1
		again.Scheduled, again.Ingest = false, sensor.IngestMark{Oldest: base, Newest: base.Add(time.Minute)}
		if err := s.PutRun(ctx, again); err != nil {
			t.Fatal(err)
		}
		got, err := s.Run(ctx, r1.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := r1
		want.Ingest = again.Ingest
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("run after a backfill of its window (-want +got):\n%s", diff)
		}
		if err := s.FinishFanOut(ctx, uniq+"missing", base); err == nil {
			t.Error("FinishFanOut of an unknown run: nil error")
		}

		// Progress moves forwards only; the mark spans the partitions.
		for _, p := range []struct {
			source string
			at     time.Duration
		}{{"ns/h/0", 10 * time.Second}, {"ns/h/1", 30 * time.Second}, {"ns/h/0", 20 * time.Second}, {"ns/h/0", 5 * time.Second}} {
			if err := s.RecordIngest(ctx, uniq+p.source, base.Add(p.at)); err != nil {
				t.Fatal(err)
			}
		}
		m, err := s.IngestMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// A partition with nothing stored for over a day (idle, or of a
		// retired namespace) does not hold the mark back.
		if _, err := s.w.ExecContext(ctx, s.q(`INSERT INTO ingest_progress (source, enqueued_ms, updated_ms) VALUES (?, ?, ?)`),
			uniq+"old/h/0", base.Add(-time.Hour).UnixMilli(), time.Now().Add(-ActivePartition-time.Minute).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		m, err = s.IngestMark(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.Dialect() == "sqlite" {
			if want := (sensor.IngestMark{Oldest: base.Add(20 * time.Second), Newest: base.Add(30 * time.Second)}); m != want {
				t.Errorf("IngestMark = %+v, want %+v", m, want)
			}
		} else if m.Newest.Before(base.Add(30 * time.Second)) {
			t.Errorf("IngestMark = %+v, want Newest at least %s", m, base.Add(30*time.Second))
		}
	})
}

// TestIngestMarkEmpty: with nothing ingested the mark is zero.
func TestIngestMarkEmpty(t *testing.T) {
	s := mustOpen(t, "sqlite::memory:")
	m, err := s.IngestMark(t.Context())
	if err != nil || m != (sensor.IngestMark{}) {
		t.Errorf("IngestMark = %+v, %v; want zero", m, err)
	}
	if _, ok, err := s.LastScheduledRun(t.Context()); ok || err != nil {
		t.Errorf("LastScheduledRun on an empty store: ok %v, %v", ok, err)
	}
}
