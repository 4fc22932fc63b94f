package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
	"github.com/batchscore/batchscore/internal/azurite"
	"github.com/batchscore/batchscore/internal/sensor"
	"github.com/batchscore/batchscore/internal/storage"
)

// syncBuffer is a bytes.Buffer safe for the handler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines returns the JSON log lines written so far.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

type handlerProc struct {
	url            string
	stdout, stderr *syncBuffer
	done           chan error
	cancel         context.CancelFunc
	firstResponse  time.Duration // from run() to the first answer of GET /
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// startHandler runs run() with env on a free port and waits for its first
// answer to GET /, as the host does. It is stopped when the test ends.
func startHandler(t *testing.T, env map[string]string) *handlerProc {
	t.Helper()
	port := freePort(t)
	env["FUNCTIONS_CUSTOMHANDLER_PORT"] = port
	setEnv(t, env)
	ctx, cancel := context.WithCancel(t.Context())
	h := &handlerProc{url: "http://127.0.0.1:" + port, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1), cancel: cancel}
	start := time.Now()
	go func() { h.done <- run(ctx, nil, os.Getenv, h.stdout, h.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(30 * time.Second):
			t.Error("handler did not stop")
		}
	})
	for {
		resp, err := http.Get(h.url + "/")
		if err == nil {
			resp.Body.Close()
			h.firstResponse = time.Since(start)
			return h
		}
		select {
		case err := <-h.done:
			t.Fatalf("handler exited before answering: %v\nstderr: %s", err, h.stderr)
		case <-time.After(25 * time.Millisecond): // the host's polling interval
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("no answer on GET / within 30 s; stderr: %s", h.stderr)
		}
	}
}

// setForTest sets *p to v until the test ends.
func setForTest[T any](t *testing.T, p *T, v T) {
	old := *p
	*p = v
	t.Cleanup(func() { *p = old })
}

// startOnAzurite starts an Azurite for this test and the handler with env,
// its AzureWebJobsStorage set to that Azurite (see startHandler), and returns
// the handler and a client of the storage account.
func startOnAzurite(t *testing.T, env map[string]string) (*handlerProc, *storage.Account) {
	t.Helper()
	az := azurite.ForTest(t)
	env["AzureWebJobsStorage"] = az.ConnectionString()
	h := startHandler(t, env)
	acct, err := storage.New(storage.Config{ConnectionString: az.ConnectionString()})
	if err != nil {
		t.Fatal(err)
	}
	return h, acct
}

// putModel11 uploads the reference model of sensor 1/1 as blob models/model_1_1.
func putModel11(t *testing.T, blobs *storage.Blobs) {
	t.Helper()
	model, err := os.ReadFile(filepath.Join("..", "internal", "svm", "testdata", "reference", "models", "model_1_1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := blobs.Put(t.Context(), "models", "model_1_1", model, "application/octet-stream"); err != nil {
		t.Fatal(err)
	}
}

func (h *handlerProc) status(t *testing.T) map[string]string {
	t.Helper()
	resp, err := http.Get(h.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (h *handlerProc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for h.status(t)["status"] != "ready" {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 60 s: %v; stderr: %s", h.status(t), h.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type invocationResult struct {
	status int
	ctype  string
	body   struct {
		Outputs map[string]json.RawMessage
		Logs    []string
	}
}

// invoke POSTs a host payload to /{function} the way the host does.
func (h *handlerProc) invoke(t *testing.T, c azfunc.Call, body []byte) invocationResult {
	t.Helper()
	req, err := c.NewRequest(t.Context(), h.url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := invocationResult{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type")}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Fatalf("%s: response is not the envelope: %v: %s", c.Function, err, b)
	}
	return r
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "azfunc", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunAnswersBeforeSetUp(t *testing.T) {
	setForTest(t, &readyWait, 200*time.Millisecond)

	// The SQL file's folder does not exist, so set-up keeps failing.
	h := startHandler(t, map[string]string{
		"AzureWebJobsStorage": storage.AzuriteConnectionString,
		"SQL_URL":             "sqlite:" + filepath.Join(t.TempDir(), "missing", "db.sqlite"),
	})
	t.Logf("first answer to GET / after %v", h.firstResponse)
	if h.firstResponse > 5*time.Second {
		t.Errorf("first answer after %v, want well inside the host's 30-60 s", h.firstResponse)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := h.status(t)
		if s["status"] != "starting" {
			t.Fatalf("status %v, want starting", s)
		}
		if strings.Contains(s["lastError"], "open SQL store") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no set-up error reported: %v", s)
		}
		time.Sleep(50 * time.Millisecond)
	}
	body, _, err := azfunc.NewQueueRequest("job", azfunc.QueueMessage{ID: "m", Body: []byte("{}")}, azfunc.NewCall(fnScoreSensor, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	r := h.invoke(t, azfunc.NewCall(fnScoreSensor, time.Now()), body)
	if r.status != http.StatusServiceUnavailable || !strings.HasPrefix(r.ctype, "application/json") {
		t.Errorf("invocation before set-up: %d %s, want 503 application/json", r.status, r.ctype)
	}
	if len(r.body.Logs) != 1 || !strings.Contains(r.body.Logs[0], "set-up not finished") {
		t.Errorf("Logs = %q", r.body.Logs)
	}
	var refused bool
	for _, l := range h.stderr.lines(t) {
		refused = refused || l["msg"] == "invocation refused"
	}
	if !refused {
		t.Errorf("no stderr line for the refused invocation: %s", h.stderr)
	}
}

func TestRunFunctions(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "batchscore.db")
	h, acct := startOnAzurite(t, map[string]string{
		"SQL_URL":         "sqlite:" + dbPath,
		"FANOUT_SCHEDULE": "0 0 * * * *",
		"FANOUT_LAG":      "0s", // the timer below fires at the end of the window it scores
		// The golden timer payload registers a run of 2023: the hourly timer
		// below would otherwise catch up every hour since, up to the bound.
		"FANOUT_MAX_CATCHUP": "1",
		"LOG_LEVEL":          "info",
	})
	h.waitReady(t)
	blobs, queue := acct.Blobs(), acct.Queue("score-jobs")

	t.Run("golden payloads", func(t *testing.T) {
		for _, test := range []struct {
			function, file string
			wantStatus     int
			wantLog        string // prefix of a collected line (200 only)
			wantPermanent  bool   // of the stderr line (500 only)
		}{
			{function: fnIngest, file: "eventhub.json", wantStatus: 200, wantLog: "INFO ingest done retry_count=1 max_retry_count=-1 partition=0"},
			{function: fnTimerFanout, file: "timer.json", wantStatus: 200, wantLog: "INFO fan-out done past_due=true"},
			// The train timer (off by default in Azure; a direct call runs it): no sensor
			// has windows in the last 7 days, so it writes nothing.
			{function: fnTrain, file: "timer.json", wantStatus: 200, wantLog: "INFO training done"},
			// The job names model_1_2, which is not in the models container: permanent.
			{function: fnScoreSensor, file: "queue.json", wantStatus: 500, wantPermanent: true},
			// A backfill POST: the host call succeeds, the 202 is in Outputs.res.
			{function: fnBackfill, file: "http.json", wantStatus: 200, wantLog: "INFO backfill queued run=20240501T000000Z-20240501T060000Z"},
		} {
			t.Run(test.function, func(t *testing.T) {
				c := azfunc.NewCall(test.function, time.Now())
				r := h.invoke(t, c, golden(t, test.file))
				if r.status != test.wantStatus || r.ctype != "application/json; charset=utf-8" {
					t.Fatalf("status %d %q, want %d application/json; Logs %q; stderr %s", r.status, r.ctype, test.wantStatus, r.body.Logs, h.stderr)
				}
				if test.wantStatus == 200 {
					found := false
					for _, l := range r.body.Logs {
						found = found || strings.HasPrefix(l, test.wantLog)
					}
					if !found {
						t.Errorf("Logs %q, want a line starting %q", r.body.Logs, test.wantLog)
					}
					return
				}
				var line map[string]any
				for _, l := range h.stderr.lines(t) {
					if l["invocation_id"] == c.InvocationID && l["msg"] == "invocation failed" {
						line = l
					}
				}
				if line == nil || line["permanent"] != test.wantPermanent || line["function"] != test.function {
					t.Errorf("stderr failure line %v, want permanent=%v function=%s", line, test.wantPermanent, test.function)
				}
			})
		}
	})

	t.Run("ingest, fan out, score", func(t *testing.T) {
		putModel11(t, blobs)
		// 30 readings of sensor 1/1, 2 s apart, in the hour before 12:00 today.
		end := time.Now().UTC().Truncate(time.Hour)
		var events []azfunc.Event
		for i := range 30 {
			ts := end.Add(-time.Duration(60-2*i) * time.Second)
			events = append(events, azfunc.Event{
				Body:           fmt.Appendf(nil, `{"TS":%q,"Device":1,"Sensor":1,"Value":%g}`, ts.Format("2006-01-02 15:04:05.000"), 10+float64(i%5)/10),
				SequenceNumber: int64(1000 + i), Offset: strconv.Itoa(4096 * i), EnqueuedTime: ts.Add(time.Second),
			})
		}
		c := azfunc.NewCall(fnIngest, end)
		body, _, err := azfunc.NewEventHubRequest("events", azfunc.PartitionContext{FullyQualifiedNamespace: "ns.servicebus.windows.net", EventHubName: "readings", ConsumerGroup: "$Default", PartitionId: "1"}, events, c)
		if err != nil {
			t.Fatal(err)
		}
		if r := h.invoke(t, c, body); r.status != 200 {
			t.Fatalf("ingest: %d %q; stderr %s", r.status, r.body.Logs, h.stderr)
		}

		if err := queue.Clear(t.Context()); err != nil {
			t.Fatal(err)
		}
		c = azfunc.NewCall(fnTimerFanout, end.Add(20*time.Millisecond))
		body, _, err = azfunc.NewTimerRequest("timer", azfunc.TimerInfo{
			Schedule:       azfunc.Schedule{AdjustForDST: true},
			ScheduleStatus: &azfunc.ScheduleStatus{Last: end.Add(-time.Hour), Next: end, LastUpdated: end.Add(-time.Hour)},
		}, c)
		if err != nil {
			t.Fatal(err)
		}
		r := h.invoke(t, c, body)
		if r.status != 200 {
			t.Fatalf("timer-fanout: %d %q; stderr %s", r.status, r.body.Logs, h.stderr)
		}
		run := sensor.Window{Start: end.Add(-time.Hour), End: end}.RunID()
		// The wake-up message goes to the queue output binding "wake" (the
		// host writes it), as an array of one string; the job is in the queue.
		if got, want := string(r.body.Outputs["wake"]), `["{\"run\":\"`+run+`\",\"wake\":true}"]`; got != want {
			t.Errorf("timer-fanout Outputs.wake = %s, want %s", got, want)
		}
		msgs, err := queue.Receive(t.Context(), 32, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Fatalf("fan-out enqueued %d messages, want 1 (model_1_1)", len(msgs))
		}
		m := msgs[0]
		qm := azfunc.QueueMessage{ID: m.ID, PopReceipt: m.PopReceipt, DequeueCount: m.DequeueCount,
			InsertionTime: m.InsertionTime, ExpirationTime: m.ExpirationTime, NextVisibleTime: m.NextVisibleTime, Body: m.Body}
		c = azfunc.NewCall(fnScoreSensor, time.Now())
		body, _, err = azfunc.NewQueueRequest("job", qm, c)
		if err != nil {
			t.Fatal(err)
		}
		r = h.invoke(t, c, body)
		if r.status != 200 {
			t.Fatalf("score-sensor: %d %q; stderr %s", r.status, r.body.Logs, h.stderr)
		}
		preds, _, err := blobs.Get(t.Context(), "preds", run+"/preds_1_1.csv")
		if err != nil {
			t.Fatalf("predictions blob: %v (Logs %q)", err, r.body.Logs)
		}
		lines := strings.Split(strings.TrimSpace(string(preds)), "\n")
		if lines[0] != "TS,Device,Sensor,Val,Prediction,Decision" || len(lines) < 2 {
			t.Errorf("predictions blob:\n%s", preds)
		}
		t.Logf("scored %d points of the run %s", len(lines)-1, run)

		// The wake-up message, as the host delivers it from Outputs.wake: a
		// no-op answered 200 with one line.
		c = azfunc.NewCall(fnScoreSensor, time.Now())
		body, _, err = azfunc.NewQueueRequest("job", azfunc.QueueMessage{ID: "wake-1", DequeueCount: 1, Body: []byte(sensor.WakeMessage(run))}, c)
		if err != nil {
			t.Fatal(err)
		}
		r = h.invoke(t, c, body)
		if r.status != 200 {
			t.Fatalf("score-sensor, wake-up message: %d %q; stderr %s", r.status, r.body.Logs, h.stderr)
		}
		if want := "INFO wake-up message: nothing to score message=wake-1 run=" + run; len(r.body.Logs) != 1 || !strings.HasPrefix(r.body.Logs[0], want) {
			t.Errorf("Logs %q, want one line starting %q", r.body.Logs, want)
		}
	})

	t.Run("ingest sets aside what it can never store", func(t *testing.T) {
		ev := []azfunc.Event{{Body: []byte(`{"TS":"2024-05-01 10:00:00.000","Device":1,"Sensor":1,"Value":1}`),
			SequenceNumber: 7, Offset: "0", EnqueuedTime: time.Date(2024, 5, 1, 10, 0, 1, 0, time.UTC)}}
		noPartition, _, err := azfunc.NewEventHubRequest("events", azfunc.PartitionContext{}, ev, azfunc.NewCall(fnIngest, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		for _, test := range []struct {
			name, body, reason string
		}{
			{"undecodable batch", `{"Data":{"events":"\"not an array\""},"Metadata":{"PartitionContext":{"FullyQualifiedNamespace":"ns","EventHubName":"readings","PartitionId":"0"}}}`, "decode trigger"},
			{"no partition context", string(noPartition), "partition context"},
		} {
			t.Run(test.name, func(t *testing.T) {
				before, err := blobs.List(t.Context(), "rejects", "invocations/")
				if err != nil {
					t.Fatal(err)
				}
				// Delivered twice, as the host retries: both answered 200, one blob.
				for attempt := range 2 {
					c := azfunc.NewCall(fnIngest, time.Now())
					if r := h.invoke(t, c, []byte(test.body)); r.status != 200 {
						t.Fatalf("attempt %d: status %d, want 200 (set aside, checkpoint moves on); Logs %q; stderr %s", attempt, r.status, r.body.Logs, h.stderr)
					}
				}
				after, err := blobs.List(t.Context(), "rejects", "invocations/")
				if err != nil {
					t.Fatal(err)
				}
				if len(after) != len(before)+1 {
					t.Fatalf("rejects/invocations/ holds %d blobs, had %d: want one more", len(after), len(before))
				}
				var added string
				for _, b := range after {
					if !slices.ContainsFunc(before, func(o storage.BlobInfo) bool { return o.Name == b.Name }) {
						added = b.Name
					}
				}
				data, _, err := blobs.Get(t.Context(), "rejects", added)
				if err != nil {
					t.Fatal(err)
				}
				var got struct {
					Reason     string          `json:"reason"`
					Invocation json.RawMessage `json:"invocation"`
				}
				if err := json.Unmarshal(data, &got); err != nil {
					t.Fatalf("%s: %v: %s", added, err, data)
				}
				if !strings.Contains(got.Reason, test.reason) || !bytes.Contains(got.Invocation, []byte(`"Data"`)) {
					t.Errorf("%s = %s, want the invocation and a reason containing %q", added, data, test.reason)
				}
			})
		}
	})

	t.Run("backfill and run-status", func(t *testing.T) {
		end := time.Now().UTC().Truncate(time.Hour)
		w := sensor.Window{Start: end.Add(-2 * time.Hour), End: end.Add(-time.Hour)}
		for _, test := range []struct {
			name, function, method, query, body string
			wantStatus                          int
			wantBody                            string // substring of res.body
			wantWake                            bool   // Outputs.wake holds the run's wake-up message
		}{
			{name: "backfill a window", function: fnBackfill, method: "POST",
				body:       fmt.Sprintf(`{"start":%q,"end":%q}`, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339)),
				wantStatus: 202, wantBody: `"run":"` + w.RunID() + `"`, wantWake: true},
			{name: "backfill with end before start is a 400", function: fnBackfill, method: "POST",
				body:       fmt.Sprintf(`{"start":%q,"end":%q}`, w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339)),
				wantStatus: 400, wantBody: `"error":`},
			{name: "status of the backfilled run", function: fnRunStatus, method: "GET", query: w.RunID(),
				wantStatus: 200, wantBody: `"run":"` + w.RunID() + `"`},
			{name: "status of an unknown run", function: fnRunStatus, method: "GET", query: "nope",
				wantStatus: 404, wantBody: `nope`},
		} {
			t.Run(test.name, func(t *testing.T) {
				req := azfunc.HTTPRequest{
					Method:  test.method,
					URL:     "http://localhost:7071/api/" + test.function,
					Headers: http.Header{"Content-Type": {"application/json"}},
					Body:    []byte(test.body),
				}
				if test.query != "" {
					req.URL += "?run=" + test.query
					req.Query = map[string]string{"run": test.query}
				}
				c := azfunc.NewCall(test.function, time.Now())
				body, _, err := azfunc.NewHTTPRequest("req", req, c)
				if err != nil {
					t.Fatal(err)
				}
				r := h.invoke(t, c, body)
				if r.status != 200 {
					t.Fatalf("host status %d, want 200 (the status is in res); Logs %q", r.status, r.body.Logs)
				}
				var res azfunc.HTTPResponse
				if err := json.Unmarshal(r.body.Outputs["res"], &res); err != nil {
					t.Fatalf("Outputs.res: %v (%s)", err, r.body.Outputs["res"])
				}
				if res.StatusCode != test.wantStatus || !strings.Contains(res.Body, test.wantBody) {
					t.Errorf("res = %d %s, want %d containing %s", res.StatusCode, res.Body, test.wantStatus, test.wantBody)
				}
				var wake []string
				if raw, ok := r.body.Outputs["wake"]; ok {
					if err := json.Unmarshal(raw, &wake); err != nil {
						t.Fatalf("Outputs.wake: %v (%s)", err, raw)
					}
				}
				if want := []string{sensor.WakeMessage(w.RunID())}; test.wantWake && !slices.Equal(wake, want) || !test.wantWake && wake != nil {
					t.Errorf("Outputs.wake = %q, want it only after a fan-out (%v): %q", wake, test.wantWake, want)
				}
			})
		}
	})

	t.Run("every invocation line carries invocation_id and function", func(t *testing.T) {
		// Lines of the process itself, outside any invocation.
		process := map[string]bool{"listening": true, "ready": true, "set-up failed; retrying": true,
			"storage containers/queue not verified; going on": true}
		var checked int
		for stream, buf := range map[string]*syncBuffer{"stdout": h.stdout, "stderr": h.stderr} {
			for _, l := range buf.lines(t) {
				if process[fmt.Sprint(l["msg"])] {
					continue
				}
				checked++
				id, _ := l["invocation_id"].(string)
				fn, _ := l["function"].(string)
				if id == "" || !slices.Contains(functionNames, fn) {
					t.Errorf("%s line without invocation_id/function: %v", stream, l)
				}
			}
		}
		t.Logf("%d invocation lines checked", checked)
		if checked < 10 {
			t.Errorf("only %d invocation lines checked; the log level hides the cores' lines?", checked)
		}
	})

	t.Run("SIGTERM stops gracefully", func(t *testing.T) {
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-h.done:
			if err != nil {
				t.Errorf("run returned %v after SIGTERM, want nil", err)
			}
			h.done <- err // for the cleanup
		case <-time.After(20 * time.Second):
			t.Fatal("run did not return within 20 s of SIGTERM")
		}
		if _, err := http.Get(h.url + "/"); err == nil {
			t.Error("still answering after shutdown")
		}
		var stopped bool
		for _, l := range h.stdout.lines(t) {
			stopped = stopped || l["msg"] == "stopped"
		}
		if !stopped {
			t.Errorf("no 'stopped' line on stdout: %s", h.stdout)
		}
	})
}

func TestRunCheckAndBadSettings(t *testing.T) {
	setEnv(t, map[string]string{"FUNCTIONS_CUSTOMHANDLER_PORT": "7071", "AzureWebJobsStorage": storage.AzuriteConnectionString})
	var out, errs bytes.Buffer
	if err := run(t.Context(), []string{"-check"}, os.Getenv, &out, &errs); err != nil || out.String() != "settings OK\n" {
		t.Errorf("run -check = %v, stdout %q", err, out.String())
	}
	setEnv(t, map[string]string{"FANOUT_CHUNK_SIZE": "0"})
	err := run(t.Context(), nil, os.Getenv, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "FUNCTIONS_CUSTOMHANDLER_PORT") || !strings.Contains(err.Error(), "FANOUT_CHUNK_SIZE") {
		t.Errorf("run with bad settings = %v, want both problems", err)
	}
	if err := run(t.Context(), []string{"extra"}, os.Getenv, &out, &errs); err == nil {
		t.Error("run accepted an unexpected argument")
	}
}
