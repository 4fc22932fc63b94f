package main

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/sqlstore"
)

// TestShutdownRecordsInFlightOutcome sends SIGTERM while a score-sensor
// invocation of the last delivery is stuck on a locked SQLite database,
// lets the shutdown grace run out (the in-flight invocation is cancelled),
// then releases the lock: the handler must record the sensor's outcome as
// poisoned, with its attempt, before it closes the store and returns.
func TestShutdownRecordsInFlightOutcome(t *testing.T) {
	setForTest(t, &shutdownGrace, 500*time.Millisecond)

	dbPath := filepath.Join(t.TempDir(), "batchscore.db")
	h, acct := startOnAzurite(t, map[string]string{
		"SQL_URL":   "sqlite:" + dbPath,
		"LOG_LEVEL": "info",
	})
	h.waitReady(t)
	putModel11(t, acct.Blobs())

	// The fault: another writer holds the database's write lock.
	locker, err := sql.Open("sqlite", "file:"+dbPath+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	lock, err := locker.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	unlocked := false
	unlock := func() {
		if !unlocked {
			unlocked = true
			if err := lock.Rollback(); err != nil {
				t.Error(err)
			}
		}
	}
	defer unlock()

	w, job := job11(t)
	c, body := queueCall(t, fnScoreSensor, 5, job)
	req, err := c.NewRequest(t.Context(), h.url, body)
	if err != nil {
		t.Fatal(err)
	}
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close() // the connection is closed by the shutdown: no answer expected
		}
	}()
	time.Sleep(300 * time.Millisecond) // the invocation waits for the lock

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(h.stderr.String(), "graceful shutdown incomplete"); {
		if time.Now().After(deadline) {
			t.Fatalf("the shutdown grace did not run out; stderr %s", h.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	unlock()
	select {
	case err := <-h.done:
		h.done <- err // for the cleanup
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return")
	}
	<-answered

	outs := outcomes(t, "sqlite:"+dbPath, w.RunID())
	if len(outs) != 1 || outs[0].Status != sensor.StatusPoisoned || outs[0].Attempts != 1 {
		t.Errorf("outcomes after the shutdown %+v, want 1/1 poisoned with attempt 1; stderr %s", outs, h.stderr)
	}
}

// TestNotReadyLastDeliveryEndsPoisoned answers the last delivery of a
// score-sensor message with 503 (set-up not finished: the SQL store cannot be
// opened, so nothing can be recorded), as the host then moves the message to
// score-jobs-poison; once set-up succeeds, score-poison receives the message
// and the sensor ends poisoned instead of without an outcome.
func TestNotReadyLastDeliveryEndsPoisoned(t *testing.T) {
	setForTest(t, &readyWait, 200*time.Millisecond)
	dir := filepath.Join(t.TempDir(), "later")
	h, _ := startOnAzurite(t, map[string]string{
		"SQL_URL": "sqlite:" + filepath.Join(dir, "batchscore.db"), // the folder does not exist yet
	})
	w, job := job11(t)
	deliver := func(function string, dequeue int64) invocationResult {
		t.Helper()
		c, body := queueCall(t, function, dequeue, job)
		return h.invoke(t, c, body)
	}
	if r := deliver(fnScoreSensor, 5); r.status != http.StatusServiceUnavailable {
		t.Fatalf("last delivery before set-up: %d, want 503", r.status)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.waitReady(t)
	// The host's copy in the poison queue is a new message: DequeueCount 1.
	if r := deliver(fnScorePoison, 1); r.status != http.StatusOK {
		t.Fatalf("score-poison: %d %q; stderr %s", r.status, r.body.Logs, h.stderr)
	}
	outs := outcomes(t, "sqlite:"+filepath.Join(dir, "batchscore.db"), w.RunID())
	if len(outs) != 1 || outs[0].Status != sensor.StatusPoisoned || !strings.Contains(outs[0].Error, "score-jobs-poison") {
		t.Errorf("outcomes %+v, want 1/1 poisoned with the reason", outs)
	}
}

// outcomes opens the SQL store at sqlURL and returns the outcomes of run.
func outcomes(t *testing.T, sqlURL, run string) []sensor.Outcome {
	t.Helper()
	st, err := sqlstore.Open(t.Context(), sqlURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	outs, err := st.Outcomes(t.Context(), run)
	if err != nil {
		t.Fatal(err)
	}
	return outs
}

// job11 returns a score job of sensor 1/1 over one hour of the reference data.
func job11(t *testing.T) (sensor.Window, []byte) {
	t.Helper()
	w := sensor.Window{Start: time.Date(2018, 8, 28, 23, 0, 0, 0, time.UTC), End: time.Date(2018, 8, 29, 0, 0, 0, 0, time.UTC)}
	job, err := json.Marshal(sensor.Job{Run: w.RunID(), Window: w, Sensors: []sensor.JobEntry{{Key: sensor.Key{Device: "1", Sensor: "1"}, Model: "model_1_1"}}})
	if err != nil {
		t.Fatal(err)
	}
	return w, job
}

// queueCall builds the host's request for a delivery of message m1 with body.
func queueCall(t *testing.T, function string, dequeue int64, body []byte) (azfunc.Call, []byte) {
	t.Helper()
	c := azfunc.NewCall(function, time.Now())
	req, _, err := azfunc.NewQueueRequest("job", azfunc.QueueMessage{ID: "m1", DequeueCount: dequeue, Body: body}, c)
	if err != nil {
		t.Fatal(err)
	}
	return c, req
}
