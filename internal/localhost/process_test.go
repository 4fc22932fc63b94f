package localhost

import (
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/azurite"
)

// invokeWork invokes the queue function "work" directly with a message body.
func invokeWork(ctx context.Context, h *Host, body string) error {
	m := azfunc.QueueMessage{ID: "m-" + body, PopReceipt: "p", DequeueCount: 1, Body: []byte(body)}
	payload, hdr, err := queuePayload("work", Binding{Type: "queueTrigger", Name: "job"}, m)
	if err != nil {
		return err
	}
	_, err = h.Invoke(ctx, "work", payload, hdr)
	return err
}

// A request with a body carries a Body field, one without has none; the caller of
// an authLevel function function has the key identity.
func TestHTTPBodyAndIdentities(t *testing.T) {
	h, recFile, _ := startTestApp(t)
	ctx := t.Context()
	if _, err := h.InvokeHTTP(ctx, "hello", "POST", []byte(`{"a":1}`), url.Values{"name": {"post"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.InvokeHTTP(ctx, "hello", "GET", nil, url.Values{"name": {"get"}}); err != nil {
		t.Fatal(err)
	}
	type seen struct {
		Query, Body, AuthType string
		HasBody               bool
	}
	var got []seen
	for _, r := range only(readRecords(t, recFile), "hello") {
		got = append(got, seen{r.Query, r.Body, r.AuthType, r.HasBody})
	}
	want := []seen{{"post", `{"a":1}`, "WebJobsAuthLevel", true}, {"get", "", "WebJobsAuthLevel", false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests the handler got (-want +got):\n%s", diff)
	}
}

// A function timeout fails the invocation; TimeoutGrace later the host kills the
// handler process (SIGKILL) and starts a new one, which fails every other
// invocation in flight, of any function; the new process serves the next ones.
func TestFunctionTimeoutRestartsHandler(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite and a handler process")
	}
	h, recFile, _ := startTestAppOn(t, azurite.ForTest(t), Options{FunctionTimeout: 3 * time.Second}, "0 0 0 1 1 *")
	defer h.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	pid := h.HandlerPID()

	hung := make(chan error, 1)
	go func() { hung <- invokeWork(ctx, h, "hang") }()
	// The other invocation starts once the first has timed out, so it is in flight
	// when the process is killed and does not reach its own timeout before.
	if err := <-hung; !errors.Is(err, ErrFunctionTimeout) {
		t.Fatalf("hanging invocation: %v, want ErrFunctionTimeout", err)
	}
	start := time.Now()
	_, err := h.InvokeHTTP(ctx, "hello", "GET", nil, url.Values{"name": {"slow"}, "sleep": {"10s"}})
	if err == nil || errors.Is(err, ErrFunctionTimeout) {
		t.Fatalf("in-flight HTTP invocation: %v, want a failure because the handler was killed", err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("in-flight invocation failed after %s, want at about TimeoutGrace %s", d, TimeoutGrace)
	}
	if err := h.WaitHandler(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.InvokeHTTP(ctx, "hello", "GET", nil, url.Values{"name": {"after"}}); err != nil {
		t.Fatalf("invocation after the restart: %v", err)
	}
	ws := h.Workers()
	if ws.TimeoutRestarts != 1 || ws.Crashes != 0 || ws.Started != 2 || ws.PID == pid || !ws.Running {
		t.Errorf("workers = %+v (first pid %d), want 2 started, 1 timeout restart, no crash, a new pid", ws, pid)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("first handler pid %d still exists: %v", pid, err)
	}
	// The handler records an HTTP invocation when it ends: the slow one never did.
	pids := map[string]int{}
	for _, r := range readRecords(t, recFile) {
		if r.Function == "hello" || r.Function == "work" {
			pids[r.Query+r.Body] = r.PID
		}
	}
	if diff := cmp.Diff(map[string]int{"hang": pid, "after": ws.PID}, pids); diff != "" {
		t.Errorf("invocations and their handler pids (-want +got):\n%s", diff)
	}
}

// A handler that exits with code 200 is restarted without it counting; any other
// exit (a SIGKILL from outside included) is an error: restarted twice, and the
// third error stops the app.
func TestHandlerCrashesStopTheApp(t *testing.T) {
	// A failed message comes back after 3 s, when the restarted handler is up.
	opts := &QueueOptions{BatchSize: 4, NewBatchThreshold: 2, VisibilityTimeout: 3 * time.Second, MaxDequeueCount: 5,
		MessageEncoding: "base64", MaxPollingInterval: 200 * time.Millisecond}
	h, recFile, svc := startTestAppWith(t, "0 0 0 1 1 *", false, opts)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	q := svc.NewQueueClient("work-items")
	enqueue := func(body string) {
		t.Helper()
		if _, err := q.EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte(body)), nil); err != nil {
			t.Fatal(err)
		}
		h.pokeQueues()
	}

	enqueue("restart-once")
	if err := h.WaitIdle(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if ws := h.Workers(); ws.Started != 2 || ws.Crashes != 0 {
		t.Fatalf("after an exit with code 200: workers %+v, want 2 started, no crash", ws)
	}

	if err := syscall.Kill(h.HandlerPID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for h.Workers().Started != 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.WaitHandler(ctx); err != nil {
		t.Fatalf("after a SIGKILL: %v", err)
	}

	enqueue("crash") // crashes the process at each delivery: errors 2 and 3
	for h.Err() == nil && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.Err(); !errors.Is(err, ErrAppStopped) {
		t.Fatalf("Err = %v, want ErrAppStopped", err)
	}
	ws := h.Workers()
	if ws.Crashes != 3 || ws.Started != 4 || ws.Running {
		t.Errorf("workers = %+v, want 3 crashes, 4 started, none running", ws)
	}
	var crashes []int64
	for _, r := range only(readRecords(t, recFile), "work") {
		if r.Body == "crash" {
			crashes = append(crashes, r.DequeueCount)
		}
	}
	if len(crashes) != 2 {
		t.Errorf("crash message delivered %d times (%v), want 2 (the second crash is the third error)", len(crashes), crashes)
	}
}

// Stop kills the handler with SIGKILL: it gets no SIGTERM.
func TestStopKillsHandler(t *testing.T) {
	h, recFile, _ := startTestApp(t)
	pid := h.HandlerPID()
	h.Stop()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("handler pid %d still exists after Stop: %v", pid, err)
	}
	if n := len(only(readRecords(t, recFile), "SIGTERM")); n != 0 {
		t.Errorf("handler got SIGTERM %d times, want SIGKILL only", n)
	}
}

// After downtime the timer runs once, IsPastDue, with the stored status: Last the
// occurrence that ran before, Next the first missed one; however many occurrences
// were missed. The status lives in Azurite and outlives the host.
func TestTimerPastDueOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite and a handler process")
	}
	az := azurite.ForTest(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	const hourly = "0 0 * * * *"
	ran := time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)

	h1, _, _ := startTestAppOn(t, az, Options{}, hourly)
	if _, err := h1.FireTimer(ctx, "tick", ran); err != nil {
		h1.Stop()
		t.Fatal(err)
	}
	h1.Stop()

	h2, recFile, _ := startTestAppOn(t, az, Options{Schedules: true}, hourly)
	defer h2.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for len(only(readRecords(t, recFile), "tick")) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a second catch-up run would come at once
	ticks := only(readRecords(t, recFile), "tick")
	for i := range ticks {
		ticks[i].At, ticks[i].PID = time.Time{}, 0
	}
	want := []record{{Function: "tick", PastDue: true, HasStatus: true, Last: ran, Next: ran.Add(time.Hour), Status: 200}}
	if diff := cmp.Diff(want, ticks); diff != "" {
		t.Errorf("timer invocations after downtime (-want +got):\n%s", diff)
	}
	st, err := h2.TimerStatus(ctx, "tick")
	if err != nil {
		t.Fatal(err)
	}
	if st == nil || time.Since(st.Last) > time.Minute || !st.Next.After(time.Now()) {
		t.Errorf("status after the catch-up %+v, want Last now and Next the coming hour", st)
	}
}

// Errors count towards the threshold while each comes within RestartErrorInterval
// of the previous one; a longer gap starts the count again.
func TestErrorBucket(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)
	var b errorBucket
	var got []int
	for _, at := range []time.Duration{0, 10 * time.Minute, 45 * time.Minute, 70 * time.Minute, 95 * time.Minute} {
		got = append(got, b.add(t0.Add(at)))
	}
	// 45 min is 35 after the previous error: the count restarts; 70 and 95 are 25 apart each.
	if diff := cmp.Diff([]int{1, 2, 1, 2, 3}, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}
