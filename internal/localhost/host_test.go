package localhost

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/google/go-cmp/cmp"

	"github.com/batchscore/batchscore/internal/azurite"
)

type record struct {
	Function     string
	Body         string
	Bodies       []string
	Sequences    []int64
	Partition    string
	DequeueCount int64
	RetryCount   int
	PastDue      bool
	HasStatus    bool
	Last, Next   time.Time
	HasBody      bool
	AuthType     string
	PID          int
	Method       string
	Query        string
	Status       int
	At           time.Time
	InFlight     int
}

// startTestApp copies testdata/app to a temporary folder, builds the test handler
// into it and starts the local host on it against a fresh Azurite.
var (
	buildOnce sync.Once
	handler   string
	buildErr  error
)

// testHandler builds testdata/testhandler once for all tests.
func testHandler(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "localhost-test-")
		if err != nil {
			buildErr = err
			return
		}
		handler = filepath.Join(dir, "handler")
		out, err := exec.Command("go", "build", "-o", handler, "./testdata/testhandler").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build test handler: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return handler
}

func TestMain(m *testing.M) {
	code := m.Run()
	if handler != "" {
		os.RemoveAll(filepath.Dir(handler))
	}
	os.Exit(code)
}

func startTestApp(t *testing.T) (*Host, string, *azqueue.ServiceClient) {
	return startTestAppWith(t, "0 0 0 1 1 *", false, nil)
}

func startTestAppWith(t *testing.T, schedule string, schedules bool, queues *QueueOptions) (*Host, string, *azqueue.ServiceClient) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Azurite and a handler process")
	}
	h, rec, svc := startTestAppOn(t, azurite.ForTest(t), Options{Schedules: schedules, Queues: queues}, schedule)
	t.Cleanup(h.Stop)
	return h, rec, svc
}

// startTestAppOn starts the test app on az with o (AppDir, Settings and Logger
// filled in); the caller stops it.
func startTestAppOn(t *testing.T, az *azurite.Server, o Options, schedule string) (*Host, string, *azqueue.ServiceClient) {
	t.Helper()
	bin := testHandler(t)
	app := t.TempDir()
	if err := os.CopyFS(app, os.DirFS("testdata/app")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "handler"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(t.TempDir(), "records.jsonl")
	o.AppDir = app
	extra := o.Settings
	o.Settings = map[string]string{
		"AzureWebJobsStorage": az.ConnectionString(),
		"RECORD_FILE":         rec,
		"TICK_SCHEDULE":       schedule,
		"EventHubConnection":  "Endpoint=sb://localhost/",
		"WORK_QUEUE":          "work-items",
	}
	maps.Copy(o.Settings, extra)
	o.Logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	h, err := Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := azqueue.NewServiceClientFromConnectionString(az.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return h, rec, svc
}

// pokeQueues makes every queue listener poll now, as a queue output binding's
// write would (see queueListener.loop), so that a test need not wait out the
// back-off.
func (h *Host) pokeQueues() {
	for _, q := range h.queues {
		q.wake()
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Logf("%s", p); return len(p), nil }

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("record %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func only(rs []record, fn string) []record {
	var out []record
	for _, r := range rs {
		if r.Function == fn {
			out = append(out, r)
		}
	}
	return out
}

func TestHostTriggers(t *testing.T) {
	h, recFile, svc := startTestApp(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	t.Run("timer and http", func(t *testing.T) {
		if _, err := h.FireTimer(ctx, "tick", time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		res, err := h.InvokeHTTP(ctx, "hello", "GET", nil, url.Values{"name": {"ada"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != 201 || string(res.Body) != "hello ada" {
			t.Errorf("http reply = %d %q, want 201 \"hello ada\"", res.Status, res.Body)
		}
		recs := readRecords(t, recFile)
		// The test handler records status 200 for the invocation itself; 201 is in Outputs.res.
		// The first run's status names this occurrence as Next (Last is the default
		// date); a GET has no Body field; the function-key caller's identity comes first.
		want := []record{{Function: "tick", HasStatus: true, Next: time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC), Status: 200},
			{Function: "hello", Method: "GET", Query: "ada", AuthType: "WebJobsAuthLevel", Status: 200}}
		got := append(only(recs, "tick"), only(recs, "hello")...)
		for i := range got {
			got[i].At, got[i].PID = time.Time{}, 0
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
	})

	t.Run("queue poison after maxDequeueCount", func(t *testing.T) {
		q := svc.NewQueueClient("work-items")
		for _, body := range []string{"ok-1", "please fail", "ok-2"} {
			if _, err := q.EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte(body)), nil); err != nil {
				t.Fatal(err)
			}
		}
		h.pokeQueues()
		if err := h.WaitIdle(ctx, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		var counts []int64
		oks := 0
		for _, r := range only(readRecords(t, recFile), "work") {
			if r.Body == "please fail" {
				counts = append(counts, r.DequeueCount)
			} else {
				oks++
			}
		}
		if diff := cmp.Diff([]int64{1, 2, 3}, counts); diff != "" {
			t.Errorf("dequeue counts of the failing message (-want +got):\n%s", diff)
		}
		if oks != 2 {
			t.Errorf("%d good messages processed, want 2", oks)
		}
		n := int32(32)
		resp, err := svc.NewQueueClient("work-items-poison").PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
		if err != nil {
			t.Fatal(err)
		}
		var poisoned []string
		for _, m := range resp.Messages {
			b, _ := base64.StdEncoding.DecodeString(*m.MessageText)
			poisoned = append(poisoned, string(b))
		}
		if diff := cmp.Diff([]string{"please fail"}, poisoned); diff != "" {
			t.Errorf("poison queue (-want +got):\n%s", diff)
		}
		st := h.FunctionStats("work")
		if st.Poisoned != 1 || st.Deleted != 2 || st.Released != 2 {
			t.Errorf("stats = %+v, want 1 poisoned, 2 deleted, 2 released", st)
		}
	})

	t.Run("event hub batches, retry and redelivery", func(t *testing.T) {
		hub, err := h.EventHub("events")
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"0", "1"} {
			var bodies [][]byte
			for i := range 150 {
				b := fmt.Sprintf("p%s-e%d", p, i)
				if p == "1" && i == 120 {
					b = "flaky"
				}
				bodies = append(bodies, []byte(b))
			}
			evs, err := hub.Publish(p, bodies, nil)
			if err != nil {
				t.Fatal(err)
			}
			if evs[149].Sequence != 149 {
				t.Errorf("last sequence number %d, want 149", evs[149].Sequence)
			}
			// Offsets are byte positions in the partition; enqueued times default to now.
			var off int64
			for i, e := range evs {
				if e.Offset != off || e.Partition != p || e.Enqueued.IsZero() {
					t.Fatalf("event %d = partition %s offset %d enqueued %v, want partition %s offset %d and a time", i, e.Partition, e.Offset, e.Enqueued, p, off)
				}
				off += int64(len(bodies[i]))
			}
		}
		if err := h.WaitIdle(ctx, 50*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		type batch struct {
			Partition   string
			First, Last int64
			Retry       int
			Status      int
		}
		var got []batch
		for _, r := range only(readRecords(t, recFile), "events") {
			got = append(got, batch{r.Partition, r.Sequences[0], r.Sequences[len(r.Sequences)-1], r.RetryCount, r.Status})
		}
		slices.SortStableFunc(got, func(a, b batch) int {
			if a.Partition != b.Partition {
				return map[bool]int{true: -1, false: 1}[a.Partition < b.Partition]
			}
			return int(a.First - b.First)
		})
		want := []batch{
			{"0", 0, 99, 0, 200}, {"0", 100, 149, 0, 200},
			{"1", 0, 99, 0, 200}, {"1", 100, 149, 0, 500}, {"1", 100, 149, 1, 200},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("batches (-want +got):\n%s", diff)
		}
		if err := hub.Redeliver(ctx, hub.Events("0", 10, 20)); err != nil {
			t.Fatal(err)
		}
		recs := only(readRecords(t, recFile), "events")
		last := recs[len(recs)-1]
		if last.Partition != "0" || last.Sequences[0] != 10 || len(last.Sequences) != 10 {
			t.Errorf("redelivered batch = partition %s seqs %v, want partition 0 seqs 10..19", last.Partition, last.Sequences)
		}
		st := h.FunctionStats("events")
		if st.Delivered != 300 || st.Retries != 1 || st.SkippedBatches != 0 {
			t.Errorf("stats = %+v, want 300 delivered, 1 retry, 0 skipped", st)
		}
	})
}

func TestTimerSchedule(t *testing.T) {
	h, recFile, _ := startTestAppWith(t, "* * * * * *", true, nil)
	time.Sleep(2500 * time.Millisecond)
	h.Stop()
	ticks := only(readRecords(t, recFile), "tick")
	if len(ticks) < 2 || len(ticks) > 3 {
		t.Fatalf("%d timer invocations in 2.5 s of an every-second schedule, want 2 or 3", len(ticks))
	}
	for _, r := range ticks {
		if r.Status != 200 || !r.HasStatus {
			t.Errorf("tick record %+v, want status 200 with a ScheduleStatus", r)
		}
	}
}

func TestStartFailsWhenHandlerExits(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	app := t.TempDir()
	if err := os.CopyFS(app, os.DirFS("testdata/app")); err != nil {
		t.Fatal(err)
	}
	// A "handler" that writes to stderr and exits before listening.
	script := "#!/bin/sh\necho 'cannot open database' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(app, "handler"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := Start(t.Context(), Options{AppDir: app, StartTimeout: 10 * time.Second,
		Settings: map[string]string{"RECORD_FILE": "x", "TICK_SCHEDULE": "0 0 0 1 1 *", "WORK_QUEUE": "work-items", "AzureWebJobsStorage": "unused"}})
	if err == nil || !strings.Contains(err.Error(), "cannot open database") {
		t.Fatalf("Start error = %v, want the handler's exit with its stderr", err)
	}
}

// The queue trigger keeps at most batchSize + newBatchThreshold invocations in
// flight, passes the stored text through with messageEncoding none, makes a failed
// message visible again only after visibilityTimeout, and poisons it (text
// unchanged) when it fails at maxDequeueCount.
func TestQueueConcurrencyVisibilityEncoding(t *testing.T) {
	opts := &QueueOptions{BatchSize: 4, NewBatchThreshold: 2, VisibilityTimeout: time.Second, MaxDequeueCount: 2,
		MessageEncoding: "none", MaxPollingInterval: 200 * time.Millisecond}
	h, recFile, svc := startTestAppWith(t, "0 0 0 1 1 *", false, opts)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	q := svc.NewQueueClient("work-items")
	var want []string
	for i := range 16 {
		want = append(want, fmt.Sprintf("slow-%02d {not base64}", i))
	}
	for _, body := range append(slices.Clone(want), "fail, plain text") {
		if _, err := q.EnqueueMessage(ctx, body, nil); err != nil {
			t.Fatal(err)
		}
	}
	h.pokeQueues()
	if err := h.WaitIdle(ctx, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	var got []string
	var fails []record
	peak := 0
	for _, r := range only(readRecords(t, recFile), "work") {
		peak = max(peak, r.InFlight)
		if r.Body == "fail, plain text" {
			fails = append(fails, r)
			continue
		}
		got = append(got, r.Body)
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("bodies the function got (-enqueued +got), want the text as stored:\n%s", diff)
	}
	if limit := opts.BatchSize + opts.NewBatchThreshold; peak > limit || peak < opts.BatchSize {
		t.Errorf("at most %d queue invocations at once, want between batchSize %d and batchSize+newBatchThreshold %d",
			peak, opts.BatchSize, limit)
	}
	if len(fails) != 2 || fails[0].DequeueCount != 1 || fails[1].DequeueCount != 2 {
		t.Fatalf("failing message invoked %d times (%+v), want dequeue counts 1 and 2", len(fails), fails)
	}
	// visibilityTimeout is in whole seconds on the wire; allow the poll interval's slack below it.
	if gap := fails[1].At.Sub(fails[0].At); gap < 900*time.Millisecond {
		t.Errorf("failed message seen again after %s, want at least visibilityTimeout %s", gap, opts.VisibilityTimeout)
	}
	n := int32(32)
	resp, err := svc.NewQueueClient("work-items-poison").PeekMessages(ctx, &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
	if err != nil {
		t.Fatal(err)
	}
	var poisoned []string
	for _, m := range resp.Messages {
		poisoned = append(poisoned, *m.MessageText)
	}
	if diff := cmp.Diff([]string{"fail, plain text"}, poisoned); diff != "" {
		t.Errorf("poison queue (-want +got):\n%s", diff)
	}
}

// AzureWebJobs.<function>.Disabled = true (or 1) stops the function's trigger
// as in the host: no timer occurrence, no queue message or event delivered,
// and 404 for its HTTP endpoint; an on-demand timer run (the host's admin
// endpoint with the master key) still runs it.
func TestDisabledFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Azurite and a handler process")
	}
	h, recFile, svc := startTestAppOn(t, azurite.ForTest(t), Options{Schedules: true, Settings: map[string]string{
		"AzureWebJobs.tick.Disabled":   "true",
		"AzureWebJobs.work.Disabled":   "1",
		"AzureWebJobs.hello.Disabled":  "True",
		"AzureWebJobs.events.Disabled": "true",
	}}, "* * * * * *")
	t.Cleanup(h.Stop)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := svc.NewQueueClient("work-items").EnqueueMessage(ctx, base64.StdEncoding.EncodeToString([]byte("ok-1")), nil); err != nil {
		t.Fatal(err)
	}
	hub, err := h.EventHub("events")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.Publish("0", [][]byte{[]byte(`{"n":1}`)}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := h.InvokeHTTP(ctx, "hello", "GET", nil, url.Values{"name": {"ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != 404 {
		t.Errorf("disabled http function answered %d %q, want 404", res.Status, res.Body)
	}
	h.pokeQueues()
	time.Sleep(2500 * time.Millisecond) // two occurrences of the every-second schedule, queue polls
	if err := h.WaitIdle(ctx, 50*time.Millisecond); err != nil {
		t.Fatalf("a host whose only work waits for disabled functions is idle: %v", err)
	}
	if recs := readRecords(t, recFile); len(recs) != 0 {
		t.Errorf("disabled functions were invoked: %+v", recs)
	}
	if n, err := h.QueueLength(ctx, "work"); err != nil || n != 1 {
		t.Errorf("work-items holds %d messages (%v), want the 1 not delivered", n, err)
	}
	if _, err := h.FireTimer(ctx, "tick", time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if ticks := only(readRecords(t, recFile), "tick"); len(ticks) != 1 {
		t.Errorf("%d tick records after FireTimer, want 1 (an on-demand run of a disabled function runs)", len(ticks))
	}
}

func TestFunctionDisabled(t *testing.T) {
	for _, tc := range []struct {
		value string
		set   bool
		want  bool
	}{
		{"true", true, true}, {"True", true, true}, {" TRUE ", true, true}, {"1", true, true},
		{"false", true, false}, {"0", true, false}, {"", true, false}, {"yes", true, false}, {"", false, false},
	} {
		settings := map[string]string{}
		if tc.set {
			settings["AzureWebJobs.f.Disabled"] = tc.value
		}
		if got := functionDisabled(settings, "f"); got != tc.want {
			t.Errorf("AzureWebJobs.f.Disabled = %q (set %v): disabled %v, want %v", tc.value, tc.set, got, tc.want)
		}
	}
	// Another function's setting does not disable f.
	if functionDisabled(map[string]string{"AzureWebJobs.g.Disabled": "true"}, "f") {
		t.Error("AzureWebJobs.g.Disabled disabled f")
	}
}
