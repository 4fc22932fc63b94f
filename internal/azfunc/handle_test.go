package azfunc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type handled struct {
	status  int
	ctype   string
	resp    Response
	res     *HTTPResponse
	stdout  []map[string]any
	stderr  []map[string]any
	rawBody string
}

func serve(t *testing.T, h func(Options) http.Handler, opts Options, body []byte, header http.Header) handled {
	t.Helper()
	var stdout, stderr bytes.Buffer
	opts.Logger = NewLogger(&stdout, &stderr, slog.LevelDebug)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/fn", bytes.NewReader(body))
	req.Header = header
	rec := httptest.NewRecorder()
	h(opts).ServeHTTP(rec, req)
	out := handled{status: rec.Code, ctype: rec.Header().Get("Content-Type"), rawBody: rec.Body.String()}
	var raw struct {
		Outputs     map[string]json.RawMessage
		Logs        []string
		ReturnValue any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatalf("response is not the envelope: %v: %s", err, rec.Body)
	}
	if raw.Outputs == nil || raw.Logs == nil {
		t.Errorf("Outputs and Logs must be {} and [], got %s", rec.Body)
	}
	out.resp = Response{Logs: raw.Logs, ReturnValue: raw.ReturnValue}
	if r, ok := raw.Outputs["res"]; ok {
		out.res = &HTTPResponse{}
		if err := json.Unmarshal(r, out.res); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct {
		buf *bytes.Buffer
		dst *[]map[string]any
	}{{&stdout, &out.stdout}, {&stderr, &out.stderr}} {
		for _, line := range strings.Split(strings.TrimSpace(s.buf.String()), "\n") {
			if line == "" {
				continue
			}
			m := map[string]any{}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line is not JSON: %q", line)
			}
			*s.dst = append(*s.dst, m)
		}
	}
	return out
}

func TestHandle(t *testing.T) {
	body, header, err := NewQueueRequest("job", queueValue, call("score-sensor"))
	if err != nil {
		t.Fatal(err)
	}
	queueHandler := func(run func(context.Context, *Invocation, QueueMessage) (Response, error)) func(Options) http.Handler {
		return func(o Options) http.Handler { return Handle("score-sensor", QueueTrigger("job"), run, o) }
	}
	for _, test := range []struct {
		name       string
		handler    func(Options) http.Handler
		opts       Options
		body       []byte
		wantStatus int
		wantRes    *HTTPResponse
		wantLogs   []string
		// wantStderr is the permanent attribute of the one stderr line; nil: no stderr line.
		wantStderr *bool
	}{
		{
			name: "success collects info lines, not debug ones",
			handler: queueHandler(func(ctx context.Context, inv *Invocation, m QueueMessage) (Response, error) {
				inv.Logger.Debug("detail")
				inv.Logger.Info("scored", "rows", 3, "blob", "r1/preds_1_2.csv")
				if inv.ID != "0f0e5a43-6c3b-4d2c-9a55-2f1de0a6b7c1" || m.DequeueCount != 2 {
					return Response{}, fmt.Errorf("invocation %q dequeue %d", inv.ID, m.DequeueCount)
				}
				if !inv.Now().Equal(call("").UtcNow) {
					return Response{}, fmt.Errorf("Now = %v", inv.Now())
				}
				return Response{Logs: []string{"own line"}}, nil
			}),
			body:       body,
			wantStatus: 200,
			wantLogs:   []string{"own line", "INFO scored rows=3 blob=r1/preds_1_2.csv"},
		},
		{
			name: "transient error is a 500 and a stderr line",
			handler: queueHandler(func(ctx context.Context, inv *Invocation, m QueueMessage) (Response, error) {
				return Response{}, errors.New("blob service unavailable")
			}),
			body:       body,
			wantStatus: 500,
			wantStderr: ptr(false),
		},
		{
			name: "permanent error is a 500 with permanent=true",
			handler: queueHandler(func(ctx context.Context, inv *Invocation, m QueueMessage) (Response, error) {
				return Response{}, fmt.Errorf("job: %w", Permanent(errors.New("no sensors")))
			}),
			body:       body,
			wantStatus: 500,
			wantStderr: ptr(true),
		},
		{
			name: "undecodable envelope is permanent",
			handler: queueHandler(func(ctx context.Context, inv *Invocation, m QueueMessage) (Response, error) {
				return Response{}, nil
			}),
			body:       []byte(`{"Data":{}}`),
			wantStatus: 500,
			wantStderr: ptr(true),
		},
		{
			name: "panic is recovered as a transient error",
			handler: queueHandler(func(ctx context.Context, inv *Invocation, m QueueMessage) (Response, error) {
				var p *QueueMessage
				_ = p.ID
				return Response{}, nil
			}),
			body:       body,
			wantStatus: 500,
			wantStderr: ptr(false),
		},
		{
			name: "deadline from Options.Timeout",
			handler: queueHandler(func(ctx context.Context, inv *Invocation, m QueueMessage) (Response, error) {
				if _, ok := ctx.Deadline(); !ok {
					return Response{}, errors.New("no deadline")
				}
				<-ctx.Done()
				return Response{}, fmt.Errorf("score: %w", ctx.Err())
			}),
			opts:       Options{Timeout: 20 * time.Millisecond},
			body:       body,
			wantStatus: 500,
			wantStderr: ptr(false),
		},
		{
			name: "http trigger: permanent error is res 400",
			handler: func(o Options) http.Handler {
				return Handle("backfill", HTTPTrigger("req"), func(ctx context.Context, inv *Invocation, r HTTPRequest) (Response, error) {
					return Response{}, Permanent(errors.New("end before start"))
				}, o)
			},
			opts:       Options{HTTPOutput: "res"},
			body:       mustBuild(NewHTTPRequest("req", httpValue, call("backfill"))),
			wantStatus: 200,
			wantRes: &HTTPResponse{StatusCode: 400, Headers: map[string]string{"Content-Type": "application/json"},
				Body: `{"error":"end before start","invocationId":"0f0e5a43-6c3b-4d2c-9a55-2f1de0a6b7c1"}`},
			wantStderr: ptr(true),
		},
		{
			name: "http trigger: transient error is res 500 without details",
			handler: func(o Options) http.Handler {
				return Handle("backfill", HTTPTrigger("req"), func(ctx context.Context, inv *Invocation, r HTTPRequest) (Response, error) {
					return Response{}, errors.New("sql: connection refused")
				}, o)
			},
			opts:       Options{HTTPOutput: "res"},
			body:       mustBuild(NewHTTPRequest("req", httpValue, call("backfill"))),
			wantStatus: 200,
			wantRes: &HTTPResponse{StatusCode: 500, Headers: map[string]string{"Content-Type": "application/json"},
				Body: `{"error":"internal error","invocationId":"0f0e5a43-6c3b-4d2c-9a55-2f1de0a6b7c1"}`},
			wantStderr: ptr(false),
		},
		{
			name: "http trigger: success passes the core's response",
			handler: func(o Options) http.Handler {
				return Handle("run-status", HTTPTrigger("req"), func(ctx context.Context, inv *Invocation, r HTTPRequest) (Response, error) {
					return JSONResponse("res", 200, map[string]string{"run": r.Query["code"]})
				}, o)
			},
			opts:       Options{HTTPOutput: "res"},
			body:       mustBuild(NewHTTPRequest("req", httpValue, call("run-status"))),
			wantStatus: 200,
			wantRes:    &HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"run":"k"}`},
		},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := serve(t, test.handler, test.opts, test.body, header)
			if got.status != test.wantStatus {
				t.Errorf("status = %d, want %d (%s)", got.status, test.wantStatus, got.rawBody)
			}
			if got.ctype != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", got.ctype)
			}
			if diff := cmp.Diff(test.wantRes, got.res); diff != "" {
				t.Errorf("Outputs.res (-want +got):\n%s", diff)
			}
			if len(got.resp.Logs) != len(test.wantLogs) {
				t.Fatalf("Logs = %q, want %q", got.resp.Logs, test.wantLogs)
			}
			for i, w := range test.wantLogs {
				g := got.resp.Logs[i]
				if p, ok := strings.CutSuffix(w, "*"); ok {
					if !strings.HasPrefix(g, p) {
						t.Errorf("Logs[%d] = %q, want prefix %q", i, g, p)
					}
				} else if g != w {
					t.Errorf("Logs[%d] = %q, want %q", i, g, w)
				}
			}
			for _, l := range append(append([]map[string]any{}, got.stdout...), got.stderr...) {
				if l["invocation_id"] != "0f0e5a43-6c3b-4d2c-9a55-2f1de0a6b7c1" || l["function"] == nil {
					t.Errorf("log line without invocation_id/function: %v", l)
				}
			}
			if test.wantStderr == nil {
				if len(got.stderr) != 0 {
					t.Errorf("stderr lines %v, want none", got.stderr)
				}
				return
			}
			if len(got.stderr) != 1 {
				t.Fatalf("stderr lines %v, want one", got.stderr)
			}
			if l := got.stderr[0]; l["level"] != "ERROR" || l["permanent"] != *test.wantStderr {
				t.Errorf("stderr line %v, want level ERROR permanent=%v", l, *test.wantStderr)
			}
		})
	}
}

func mustBuild(b []byte, _ http.Header, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestNewLoggerSplitsStreams(t *testing.T) {
	var out, errs bytes.Buffer
	l := NewLogger(&out, &errs, slog.LevelInfo)
	l.Debug("hidden")
	l.Info("to stdout")
	l.Warn("to stderr")
	l.Error("also stderr")
	if got := strings.Count(out.String(), "\n"); got != 1 || !strings.Contains(out.String(), "to stdout") {
		t.Errorf("stdout = %q", out.String())
	}
	if got := strings.Count(errs.String(), "\n"); got != 2 {
		t.Errorf("stderr = %q", errs.String())
	}
}

func TestContextLogger(t *testing.T) {
	body, header, err := NewTimerRequest("timer", timerValue, call("timer-fanout"))
	if err != nil {
		t.Fatal(err)
	}
	var shared *slog.Logger // what a function core built once would hold
	got := serve(t, func(o Options) http.Handler {
		shared = ContextLogger(o.Logger).With("component", "fanout")
		return Handle("timer-fanout", TimerTrigger("timer"), func(ctx context.Context, inv *Invocation, ti TimerInfo) (Response, error) {
			if FromContext(ctx) != inv {
				return Response{}, errors.New("FromContext does not give the invocation")
			}
			shared.InfoContext(ctx, "fanned out", "sensors", 15)
			shared.Info("no context")
			return Response{}, nil
		}, o)
	}, Options{}, body, header)
	if diff := cmp.Diff([]string{"INFO fanned out component=fanout sensors=15"}, got.resp.Logs); diff != "" {
		t.Errorf("Logs (-want +got):\n%s", diff)
	}
	// The context line is in Logs only (each line once); the plain one,
	// without an invocation, goes to the process log.
	if len(got.stdout) < 1 {
		t.Fatalf("stdout lines = %v, want at least 1", got.stdout)
	}
	if got.stdout[0]["invocation_id"] != nil || got.stdout[0]["component"] != "fanout" || got.stdout[0]["msg"] != "no context" {
		t.Errorf("plain line = %v, want component and no invocation_id", got.stdout[0])
	}
}

func TestCollectedValues(t *testing.T) {
	c := &collector{}
	l := slog.New(&teeHandler{next: slog.DiscardHandler, c: c})
	l.Info("done", "result", struct {
		Rows int `json:"rows"`
	}{3}, "err", errors.New("a b"), "when", time.Duration(1500)*time.Millisecond,
		"end", time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC))
	l.WithGroup("g").With("k", "v").Info("grouped", "n", 1)
	want := []string{`INFO done result={"rows":3} err="a b" when=1.5s end=2024-05-01T11:00:00Z`, `INFO grouped g.k=v g.n=1`}
	if diff := cmp.Diff(want, c.snapshot()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Concurrent invocations keep their log lines apart, also through a shared
// ContextLogger.
func TestHandleConcurrentLogs(t *testing.T) {
	shared := ContextLogger(slog.New(slog.DiscardHandler))
	h := Handle("score-sensor", QueueTrigger("job"), func(ctx context.Context, inv *Invocation, m QueueMessage) (Response, error) {
		for i := range 5 {
			shared.InfoContext(ctx, "step", "message", m.ID, "i", i)
			time.Sleep(time.Millisecond)
		}
		return Response{}, nil
	}, Options{})
	const n = 24
	errs := make(chan error, n)
	for i := range n {
		go func() {
			msg := queueValue
			msg.ID = fmt.Sprintf("m%02d", i)
			c := call("score-sensor")
			c.InvocationID = fmt.Sprintf("inv-%02d", i)
			body, header, err := NewQueueRequest("job", msg, c)
			if err != nil {
				errs <- err
				return
			}
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/score-sensor", bytes.NewReader(body))
			req.Header = header
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var resp Response
			if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
				errs <- err
				return
			}
			if len(resp.Logs) != 5 {
				errs <- fmt.Errorf("%s: %d lines %q, want 5", msg.ID, len(resp.Logs), resp.Logs)
				return
			}
			for _, l := range resp.Logs {
				if !strings.Contains(l, "message="+msg.ID+" ") {
					errs <- fmt.Errorf("%s got another invocation's line %q", msg.ID, l)
					return
				}
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestHandleRetryContext: an invocation the host retries (Metadata.RetryContext)
// says so on every line, the stderr failure line included.
func TestHandleRetryContext(t *testing.T) {
	c := call("ingest")
	c.Retry = &RetryContext{RetryCount: 2, MaxRetryCount: -1}
	body, header, err := NewEventHubRequest("events", partitionValue, eventsValue, c)
	if err != nil {
		t.Fatal(err)
	}
	h := func(o Options) http.Handler {
		return Handle("ingest", EventHubTrigger("events"), func(ctx context.Context, inv *Invocation, b EventBatch) (Response, error) {
			if inv.Retry == nil || inv.Retry.RetryCount != 2 {
				t.Errorf("Invocation.Retry = %+v, want RetryCount 2", inv.Retry)
			}
			inv.Logger.InfoContext(ctx, "writing")
			return Response{}, errors.New("sql unavailable")
		}, o)
	}
	got := serve(t, h, Options{}, body, header)
	if got.status != http.StatusInternalServerError || len(got.stderr) != 1 || len(got.stdout) != 1 {
		t.Fatalf("status %d, stdout %v, stderr %v", got.status, got.stdout, got.stderr)
	}
	for _, l := range append(got.stdout, got.stderr...) {
		if l["retry_count"] != float64(2) || l["max_retry_count"] != float64(-1) {
			t.Errorf("line %v lacks retry_count=2 max_retry_count=-1", l)
		}
	}
	// A 500's Logs are dropped by the host: the Info line went to stdout.
	if len(got.resp.Logs) != 0 || got.stdout[0]["msg"] != "writing" {
		t.Errorf("Logs %q, stdout %v: want the line on stdout only", got.resp.Logs, got.stdout)
	}
}

// TestHandleSetAside: a failed invocation that Options.SetAside keeps is
// answered 200 (the host moves on); one it declines, or fails to keep, 500.
// SetAside sees the raw body and the error, on a context that outlives the
// invocation's deadline.
func TestHandleSetAside(t *testing.T) {
	body := []byte(`{"Data":{"job":"\"x\""},"Metadata":{}}`)
	for _, tc := range []struct {
		name       string
		runErr     error
		kept       bool
		setErr     error
		wantStatus int
	}{
		{"kept", Permanent(errors.New("bad batch")), true, nil, 200},
		{"declined", errors.New("db down"), false, nil, 500},
		{"keeping fails", Permanent(errors.New("bad batch")), true, errors.New("storage down"), 500},
		{"success is not offered", nil, true, nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var offered []byte
			var offeredErr error
			h := func(o Options) http.Handler {
				return Handle("fn", func(r *Request) (string, error) { return "", nil },
					func(ctx context.Context, inv *Invocation, _ string) (Response, error) {
						return Response{}, tc.runErr
					}, o)
			}
			opts := Options{Timeout: time.Nanosecond, SetAside: func(ctx context.Context, inv *Invocation, b []byte, err error) (bool, error) {
				if ctx.Err() != nil {
					t.Errorf("SetAside context already done: %v", ctx.Err())
				}
				offered, offeredErr = b, err
				return tc.kept, tc.setErr
			}}
			got := serve(t, h, opts, body, NewCall("fn", time.Now()).Header())
			if got.status != tc.wantStatus {
				t.Errorf("status %d, want %d", got.status, tc.wantStatus)
			}
			if tc.runErr == nil {
				if offered != nil {
					t.Error("a successful invocation was offered to SetAside")
				}
				return
			}
			if !bytes.Equal(offered, body) || !errors.Is(offeredErr, tc.runErr) {
				t.Errorf("SetAside got %q, %v; want the request body and the run error", offered, offeredErr)
			}
		})
	}
}

// readBody gives io.ReadAll's bytes (up to the limit plus one) whatever
// Content-Length says, and reads a body of the announced length into one
// buffer.
func TestReadBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 10_000)
	for _, test := range []struct {
		name          string
		contentLength int64
		max           int64
	}{
		{"announced", int64(len(body)), 1 << 20},
		{"unknown", -1, 1 << 20},
		{"announced short", 100, 1 << 20},
		{"announced long", int64(len(body)) * 2, 1 << 20},
		{"over the limit", int64(len(body)), 5000},
		{"unknown over the limit", -1, 5000},
	} {
		t.Run(test.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/f", bytes.NewReader(body))
			r.ContentLength = test.contentLength
			got, err := readBody(r, test.max)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := io.ReadAll(io.LimitReader(bytes.NewReader(body), test.max+1))
			if !bytes.Equal(got, want) {
				t.Fatalf("read %d bytes, io.ReadAll %d", len(got), len(want))
			}
			if test.name == "announced" && cap(got) != len(body)+1 {
				t.Errorf("capacity %d for a body of %d bytes: the buffer grew", cap(got), len(body))
			}
		})
	}
}
