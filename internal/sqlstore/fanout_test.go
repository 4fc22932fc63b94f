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

// TestOldestUnscoredRun: of the runs registered since a time, the one with
// the earliest window whose sensors are not all final (done, empty,
// poisoned); failed and missing outcomes count as not scored.
func TestOldestUnscoredRun(t *testing.T) {
	forEach(t, func(t *testing.T, s *Store, uniq string) {
		ctx := t.Context()
		// Later than anything an earlier run of this suite left in a shared database.
		base := time.Now().UTC().Truncate(time.Hour).Add(20000 * time.Hour)
		k1, k2 := sensor.Key{Device: uniq + "d", Sensor: "1"}, sensor.Key{Device: uniq + "d", Sensor: "2"}
		put := func(h int, created time.Duration, statuses ...string) sensor.Run {
			t.Helper()
			w := sensor.Window{Start: base.Add(time.Duration(h) * time.Hour), End: base.Add(time.Duration(h+1) * time.Hour)}
			r := sensor.Run{ID: uniq + w.RunID(), Window: w, Sensors: 2, Created: base.Add(created)}
			if err := s.PutRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			for i, st := range statuses {
				if err := s.FinishOutcome(ctx, sensor.Outcome{Run: r.ID, Key: []sensor.Key{k1, k2}[i], Status: st, Attempts: 1}); err != nil {
					t.Fatal(err)
				}
			}
			return r
		}
		put(1, -time.Hour)                                            // before since: left out
		put(2, 0, sensor.StatusDone, sensor.StatusEmpty)              // scored
		put(3, time.Minute, sensor.StatusPoisoned, sensor.StatusDone) // scored
		want := put(4, 2*time.Minute, sensor.StatusDone, sensor.StatusFailed)
		put(5, 3*time.Minute) // no outcome yet, later window
		got, ok, err := s.OldestUnscoredRun(ctx, base)
		if err != nil || !ok || got.ID != want.ID {
			t.Fatalf("OldestUnscoredRun = %s, %v, %v; want %s", got.ID, ok, err, want.ID)
		}
		if _, ok, err := s.OldestUnscoredRun(ctx, base.Add(time.Hour)); err != nil || ok {
			t.Errorf("OldestUnscoredRun after every run = %v, %v; want none", ok, err)
		}
	})
}
