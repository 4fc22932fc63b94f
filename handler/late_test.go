package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// TestRunLateReadingScored runs the handler with its default lateness
// allowance (FANOUT_LAG 10m) on an hourly schedule, through ingest, two timer
// runs and scoring, in the order things happen in Azure: the readings of the
// hour arrive on time, the timer fires at H, its jobs are scored, and only
// then does a batch arrive that holds readings stamped in the last seconds
// before H (enqueued 4 minutes after H: the trigger's wait and a few
// retries). The next run, at H+1h, must score them. With the window ending at
// the firing time, they fell in the run that was already scored and no run
// ever scored them.
func TestRunLateReadingScored(t *testing.T) {
	h, acct := startOnAzurite(t, map[string]string{
		"SQL_URL":         "sqlite:" + filepath.Join(t.TempDir(), "batchscore.db"),
		"FANOUT_SCHEDULE": "0 0 * * * *", // FANOUT_LAG keeps its default
	})
	h.waitReady(t)
	blobs, queue := acct.Blobs(), acct.Queue("score-jobs")
	putModel11(t, blobs)

	H := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	seq := int64(0)
	ingest := func(stamps []time.Time, enqueued func(time.Time) time.Time) {
		t.Helper()
		var events []azfunc.Event
		for i, ts := range stamps {
			seq++
			events = append(events, azfunc.Event{
				Body:           fmt.Appendf(nil, `{"TS":%q,"Device":1,"Sensor":1,"Value":%g}`, ts.Format("2006-01-02 15:04:05.000"), 10+float64(i%5)/10),
				SequenceNumber: seq, Offset: strconv.FormatInt(4096*seq, 10), EnqueuedTime: enqueued(ts),
			})
		}
		c := azfunc.NewCall(fnIngest, enqueued(stamps[len(stamps)-1]))
		body, _, err := azfunc.NewEventHubRequest("events", azfunc.PartitionContext{FullyQualifiedNamespace: "ns.servicebus.windows.net",
			EventHubName: "readings", ConsumerGroup: "$Default", PartitionId: "0"}, events, c)
		if err != nil {
			t.Fatal(err)
		}
		if r := h.invoke(t, c, body); r.status != 200 {
			t.Fatalf("ingest: %d %q", r.status, r.body.Logs)
		}
	}
	// fire runs the timer for occurrence at and scores every job it enqueued.
	fire := func(at time.Time) {
		t.Helper()
		c := azfunc.NewCall(fnTimerFanout, at.Add(20*time.Millisecond))
		body, _, err := azfunc.NewTimerRequest("timer", azfunc.TimerInfo{
			ScheduleStatus: &azfunc.ScheduleStatus{Last: at.Add(-time.Hour), Next: at, LastUpdated: at.Add(-time.Hour)},
		}, c)
		if err != nil {
			t.Fatal(err)
		}
		if r := h.invoke(t, c, body); r.status != 200 {
			t.Fatalf("timer-fanout at %s: %d %q", at, r.status, r.body.Logs)
		}
		msgs, err := queue.Receive(t.Context(), 32, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			qm := azfunc.QueueMessage{ID: m.ID, PopReceipt: m.PopReceipt, DequeueCount: m.DequeueCount,
				InsertionTime: m.InsertionTime, ExpirationTime: m.ExpirationTime, NextVisibleTime: m.NextVisibleTime, Body: m.Body}
			c := azfunc.NewCall(fnScoreSensor, at)
			body, _, err := azfunc.NewQueueRequest("job", qm, c)
			if err != nil {
				t.Fatal(err)
			}
			if r := h.invoke(t, c, body); r.status != 200 {
				t.Fatalf("score-sensor: %d %q", r.status, r.body.Logs)
			}
			if err := queue.Delete(t.Context(), m.ID, m.PopReceipt); err != nil {
				t.Fatal(err)
			}
		}
	}

	// On time: a reading every 2 minutes of the hour before H, up to H-2m.
	var onTime []time.Time
	for ts := H.Add(-58 * time.Minute); !ts.After(H.Add(-2 * time.Minute)); ts = ts.Add(2 * time.Minute) {
		onTime = append(onTime, ts)
	}
	ingest(onTime, func(ts time.Time) time.Time { return ts.Add(time.Second) })
	fire(H)
	late := []time.Time{H.Add(-20 * time.Second), H.Add(-10 * time.Second), H}
	ingest(late, func(time.Time) time.Time { return H.Add(4 * time.Minute) })
	fire(H.Add(time.Hour))

	list, err := blobs.List(t.Context(), "preds", "")
	if err != nil {
		t.Fatal(err)
	}
	scored := map[string]string{} // TS -> blob
	for _, b := range list {
		data, _, err := blobs.Get(t.Context(), "preds", b.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n")[1:] {
			scored[strings.SplitN(line, ",", 2)[0]] = b.Name
		}
	}
	for _, ts := range late {
		if _, ok := scored[ts.Format("2006-01-02 15:04:05.000")]; !ok {
			t.Errorf("late reading stamped %s (stored at H+4m) is in no predictions blob; scored: %v", ts.Format(time.RFC3339), scored)
		}
	}
	for _, ts := range onTime {
		if _, ok := scored[ts.Format("2006-01-02 15:04:05.000")]; !ok {
			t.Errorf("reading stamped %s is in no predictions blob", ts.Format(time.RFC3339))
		}
	}
}
