package timerfanout

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
	"github.com/batchscore/batchscore/internal/testenv"
)

var _ ReadingPruner = (*sqlstore.Store)(nil)

// TestCatchUpWithSQLite runs the timer against the real SQLite store: an
// on-time run at 22:00, then, after the host was down until 03:20, the one
// past-due run it fires. The store's runs then hold every hour from 21:00
// to 03:00, each fanned out and scheduled, and a duplicate of the past-due run
// adds nothing.
func TestCatchUpWithSQLite(t *testing.T) {
	st := testenv.SQLite(t)
	q := &fakeQueue{}
	f := New(Config{Schedule: "0 0 * * * *"}, &fakeLister{names: []string{"model_1_1"}}, q, st)
	at := func(s string) time.Time { return mustTime(t, s) }
	if _, err := f.Run(t.Context(), azfunc.TimerInfo{ScheduleStatus: &azfunc.ScheduleStatus{Next: at("2018-08-28T22:00:00Z")}}, at("2018-08-28T22:00:00.02Z")); err != nil {
		t.Fatal(err)
	}
	pastDue := azfunc.TimerInfo{IsPastDue: true, ScheduleStatus: &azfunc.ScheduleStatus{Last: at("2018-08-28T22:00:00Z"), Next: at("2018-08-28T23:00:00Z")}}
	res, err := f.Run(t.Context(), pastDue, at("2018-08-29T03:20:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.CaughtUp) != 4 || res.NotFannedOut != nil {
		t.Errorf("caught up %v, not fanned out %v; want 4 windows, none left", res.CaughtUp, res.NotFannedOut)
	}
	var got []string
	for end := at("2018-08-28T22:00:00Z"); !end.After(at("2018-08-29T03:00:00Z")); end = end.Add(time.Hour) {
		id := sensor.Window{Start: end.Add(-time.Hour), End: end}.RunID()
		r, err := st.Run(t.Context(), id)
		if err != nil {
			t.Errorf("run %s: %v", id, err)
			continue
		}
		if !r.Scheduled || r.FannedOut.IsZero() {
			t.Errorf("run %s: scheduled %v, fanned out %v", id, r.Scheduled, r.FannedOut)
		}
		got = append(got, id)
	}
	if len(got) != 6 || len(q.bodies) != 6 {
		t.Errorf("%d runs, %d messages; want 6 and 6", len(got), len(q.bodies))
	}
	before := len(q.bodies)
	again, err := f.Run(t.Context(), pastDue, at("2018-08-29T03:20:30Z"))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.CaughtUp) != 0 || len(q.bodies) != before+1 {
		t.Errorf("duplicate past-due run caught up %v and enqueued %d; want nothing but its own window's 1", again.CaughtUp, len(q.bodies)-before)
	}
	if diff := cmp.Diff(res.Run, again.Run); diff != "" {
		t.Errorf("duplicate run id (-first +again):\n%s", diff)
	}
}
