// Package localhost is a local stand-in for the trigger side of the Azure Functions
// host, for running and testing the custom handler where the real host cannot run.
//
// It reads the same host.json and <function>/function.json files the host reads
// (the app folder that `make package` lays out), starts the handler binary the way
// the host does (FUNCTIONS_CUSTOMHANDLER_PORT, the app settings in the environment,
// readiness by polling GET /), and invokes it with the host's request payloads, built
// by internal/azfunc: timer triggers on their NCRONTAB schedule or on demand, queue
// triggers polling Azurite with the Storage Queues extension's semantics (batchSize,
// newBatchThreshold, visibilityTimeout, maxDequeueCount and <queue>-poison,
// messageEncoding, maxPollingInterval), an Event Hubs-shaped feed with per-partition
// sequence numbers, offsets and the function's retry policy, and HTTP triggers.
//
// It also fails as the host does: a function timeout kills and restarts the
// handler process (failing every invocation in flight), shutdown and restarts use
// SIGKILL, the third handler error stops the app, and timers keep their schedule
// status in Azurite and run once past due after downtime. A function disabled by
// the app setting AzureWebJobs.<function>.Disabled gets no listener and its HTTP
// endpoint answers 404. docs/host.md lists each behaviour with the host source it
// imitates.
package localhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/batchscore/batchscore/internal/azfunc"
)

// HostVersion is what the stand-in reports in X-Azure-Functions-HostVersion.
const HostVersion = "4.1037.0.0-localhost"

// Options configure a Host.
type Options struct {
	// AppDir is the app folder: host.json, the handler binary, <function>/function.json.
	AppDir string
	// Settings are the app settings: put in the handler's environment and used to
	// resolve %NAME% references in host.json arguments and binding properties.
	Settings map[string]string
	// Logger receives the host's own events and the handler's stdout/stderr lines
	// (category Host.Function.Console). Nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds the wait for the handler to answer GET /; 0 means 30 s.
	StartTimeout time.Duration
	// Schedules starts every timer trigger on its NCRONTAB schedule (and runs those
	// with runOnStartup once). Without it timers fire only through FireTimer.
	Schedules bool
	// Now is the host's clock for timer schedules and past-due checks; nil means
	// time.Now. Tests set a clock in the past of their data to run a timer
	// "after downtime" (it should advance, as the schedule waits on it).
	Now func() time.Time
	// Queues, when not nil, replaces host.json's extensions.queues (tests use it
	// for a short visibilityTimeout).
	Queues *QueueOptions
	// FunctionTimeout, when not zero, replaces host.json's functionTimeout (tests
	// use it to reach a timeout in seconds). The handler still reads host.json.
	FunctionTimeout time.Duration
	// Only, when not empty, limits the listeners started to these functions
	// (every function can still be invoked on demand).
	Only []string
}

// Host is the stand-in host: the handler process it supervises and its trigger listeners.
type Host struct {
	cfg          HostConfig
	fns          map[string]Function
	disabled     map[string]bool // AzureWebJobs.<function>.Disabled: the trigger does not fire
	settings     map[string]string
	log          *slog.Logger
	client       *http.Client
	base         string
	port         int
	appDir       string
	startTimeout time.Duration
	now          func() time.Time

	mu          sync.Mutex
	cur         *worker     // the handler process invocations go to
	workers     WorkerStats // counters
	errorEvents errorBucket // handler errors in the current restart window
	appErr      error       // why the host stopped the app
	restartMu   sync.Mutex  // one restart at a time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	stats   *stats
	timers  map[string]*timer
	queues  map[string]*queueListener
	outputs map[string][]*queueOutput // queue output bindings by function
	hubs    map[string]*EventHub
	stopped sync.Once
}

// Start loads the app folder, starts the handler and waits until it is ready, then
// starts the trigger listeners. Stop must be called to end it, whatever happens.
// If Start fails, everything it started has already been stopped. A handler that
// exits or does not answer before it is ready is started again, up to
// ErrorEventsThreshold attempts in all, as the host does.
func Start(ctx context.Context, o Options) (_ *Host, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	settings := make(map[string]string, len(o.Settings))
	for k, v := range o.Settings {
		settings[k] = v
	}
	cfg, fns, err := LoadApp(o.AppDir, settings)
	if err != nil {
		return nil, fmt.Errorf("load app: %w", err)
	}
	if o.Queues != nil {
		cfg.Queues = *o.Queues
	}
	if o.FunctionTimeout > 0 {
		cfg.FunctionTimeout = o.FunctionTimeout
	}
	appDir, err := filepath.Abs(o.AppDir)
	if err != nil {
		return nil, fmt.Errorf("app folder: %w", err)
	}
	// The host picks the port once (HttpWorkerOptionsSetup) and every restarted
	// handler process gets the same one.
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("pick handler port: %w", err)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	timeout := time.Duration(0)
	if cfg.FunctionTimeout > 0 {
		timeout = cfg.FunctionTimeout + time.Minute // the host's HttpClient timeout
	}
	wait := o.StartTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	h := &Host{
		cfg:          cfg,
		fns:          make(map[string]Function, len(fns)),
		disabled:     map[string]bool{},
		settings:     settings,
		log:          log,
		client:       &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		base:         "http://127.0.0.1:" + strconv.Itoa(port),
		port:         port,
		appDir:       appDir,
		startTimeout: wait,
		now:          o.Now,
		ctx:          hctx,
		cancel:       cancel,
		stats:        newStats(),
		timers:       map[string]*timer{},
		queues:       map[string]*queueListener{},
		outputs:      map[string][]*queueOutput{},
		hubs:         map[string]*EventHub{},
	}
	if h.now == nil {
		h.now = time.Now
	}
	for _, f := range fns {
		h.fns[f.Name] = f
		if functionDisabled(settings, f.Name) {
			h.disabled[f.Name] = true
		}
	}
	defer func() {
		if err != nil {
			h.Stop()
		}
	}()
	for attempt := 1; ; attempt++ {
		w, err := h.startProcess()
		if err != nil {
			return nil, err
		}
		// Supervision starts once the first handler is ready: until then a failed
		// start is retried here.
		w.disposing.Store(true)
		err = h.waitReady(ctx, w, wait)
		if err == nil {
			w.disposing.Store(false)
			if w.exitedNow() {
				h.onExit(w)
			}
			break
		}
		h.dispose(w)
		h.mu.Lock()
		h.workers.Crashes++
		h.mu.Unlock()
		if attempt >= ErrorEventsThreshold || ctx.Err() != nil {
			return nil, fmt.Errorf("%w (attempt %d of %d)", err, attempt, ErrorEventsThreshold)
		}
		log.Warn("handler failed to start; starting it again", "attempt", attempt, "err", err)
	}
	only := map[string]bool{}
	for _, n := range o.Only {
		only[n] = true
	}
	for _, f := range fns {
		if h.outputs[f.Name], err = newQueueOutputs(h, f); err != nil {
			return nil, err
		}
		trig, _ := f.Trigger()
		// A disabled function's listener is not started (its timer does not
		// fire, its queue and events wait); it can still be run on demand,
		// as the host's admin endpoint runs it with the master key.
		listen := (len(only) == 0 || only[f.Name]) && !h.disabled[f.Name]
		if h.disabled[f.Name] {
			log.Info("function disabled by app setting", "function", f.Name, "setting", "AzureWebJobs."+f.Name+".Disabled")
		}
		switch strings.ToLower(trig.Type) {
		case "timertrigger":
			t, err := newTimer(h, f, trig)
			if err != nil {
				return nil, err
			}
			h.timers[f.Name] = t
			if o.Schedules && listen {
				if err := t.schedule(ctx); err != nil {
					return nil, err
				}
			}
		case "queuetrigger":
			q, err := newQueueListener(ctx, h, f, trig)
			if err != nil {
				return nil, err
			}
			h.queues[f.Name] = q
			if listen {
				q.start()
			}
		case "eventhubtrigger":
			e := newEventHub(h, f, trig)
			e.disabled = h.disabled[f.Name]
			h.hubs[f.Name] = e
		case "httptrigger":
		default:
			log.Warn("trigger type not supported by the local host; function can only be invoked directly",
				"function", f.Name, "type", trig.Type)
		}
	}
	log.Info("local host started", "app", appDir, "handler", h.base, "functions", len(fns))
	return h, nil
}

// Functions returns the loaded functions by name.
func (h *Host) Functions() map[string]Function { return h.fns }

// Disabled reports whether the app setting AzureWebJobs.<fn>.Disabled
// disabled the function fn.
func (h *Host) Disabled(fn string) bool { return h.disabled[fn] }

// Config returns host.json as loaded (with any Options.Queues override).
func (h *Host) Config() HostConfig { return h.cfg }

// Stop ends the listeners (cancelling the invocations in flight), then kills the
// handler process with SIGKILL, as the host's WorkerProcess.Dispose does: the
// handler gets no SIGTERM and no time to finish. It is safe to call more than once.
func (h *Host) Stop() {
	h.stopped.Do(func() {
		h.cancel()
		h.wg.Wait()
		h.restartMu.Lock()
		defer h.restartMu.Unlock()
		if w := h.current(); w != nil {
			h.dispose(w)
		}
	})
}

// Err returns why the host stopped the app (the handler failed
// ErrorEventsThreshold times; wraps ErrAppStopped), else nil. A handler that
// crashed and is being restarted is not an error here.
func (h *Host) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.appErr
}

func (w *worker) exitedNow() bool {
	select {
	case <-w.exited:
		return true
	default:
		return false
	}
}

// Response is the handler's reply to one invocation.
type Response struct {
	Status      int
	Outputs     map[string]json.RawMessage
	Logs        []string
	ReturnValue json.RawMessage
	Body        []byte // the raw reply body
	Duration    time.Duration
}

// ErrInvocationFailed is wrapped by Invoke's error when the handler answered non-2xx
// (or a 2xx with a body that is not an invocation result), did not answer, or
// timed out: the host fails the invocation.
var ErrInvocationFailed = errors.New("invocation failed")

// ErrFunctionTimeout is wrapped by Invoke's error when the invocation ran longer
// than functionTimeout (the host's FunctionTimeoutException).
var ErrFunctionTimeout = errors.New("function timeout")

// Invoke posts one invocation request body and its headers (both built by
// internal/azfunc; nil header: fresh ones) to /<function>, as the host does, and
// reads the reply. A non-2xx status or an unparsable 2xx body is an error
// wrapping ErrInvocationFailed; the Response is returned in every case where the
// handler answered.
//
// functionTimeout is the host's: the request is not cancelled (the host's
// HttpClient call has no cancellation token), the invocation fails with
// ErrFunctionTimeout, and if the handler has still not answered TimeoutGrace
// later the host kills the handler process and starts a new one, which fails
// every other invocation in flight on it.
func (h *Host) Invoke(ctx context.Context, fn string, payload []byte, header http.Header) (Response, error) {
	if _, ok := h.fns[fn]; !ok {
		return Response{}, fmt.Errorf("invoke %s: no such function", fn)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base+"/"+fn, bytes.NewReader(payload))
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s: %w", fn, err)
	}
	if header == nil {
		c := azfunc.NewCall(fn, time.Now())
		c.HostVersion = HostVersion
		header = c.Header()
	}
	req.Header = header.Clone()
	id := req.Header.Get(azfunc.HeaderInvocationID)
	w := h.current()
	h.stats.begin(fn)
	start := time.Now()
	type reply struct {
		resp *http.Response
		body []byte
		err  error
	}
	replied := make(chan reply, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := h.client.Do(req)
		if err != nil {
			replied <- reply{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		replied <- reply{resp: resp, body: body, err: err}
	}()
	var timeout <-chan time.Time
	if h.cfg.FunctionTimeout > 0 {
		t := time.NewTimer(h.cfg.FunctionTimeout)
		defer t.Stop()
		timeout = t.C
	}
	var rp reply
	select {
	case rp = <-replied:
	case <-timeout:
		d := time.Since(start)
		h.stats.timedOut(fn)
		h.stats.end(fn, false, d)
		h.log.Error("function timeout", "function", fn, "invocation", id, "timeout", h.cfg.FunctionTimeout)
		if w != nil {
			go h.afterTimeout(w, fn, done)
		}
		return Response{Duration: d}, fmt.Errorf("invoke %s: %w: %w after %s", fn, ErrInvocationFailed, ErrFunctionTimeout, h.cfg.FunctionTimeout)
	}
	r := Response{Duration: time.Since(start)}
	if rp.err != nil && rp.resp == nil {
		h.stats.end(fn, false, r.Duration)
		return Response{}, fmt.Errorf("invoke %s: %w: %w", fn, ErrInvocationFailed, rp.err)
	}
	resp := rp.resp
	r.Status, r.Body = resp.StatusCode, rp.body
	if rp.err != nil {
		h.stats.end(fn, false, r.Duration)
		return r, fmt.Errorf("invoke %s: read reply: %w: %w", fn, ErrInvocationFailed, rp.err)
	}
	body := rp.body
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		h.stats.end(fn, false, r.Duration)
		h.log.Warn("invocation failed", "function", fn, "invocation", id, "status", resp.StatusCode, "duration", r.Duration)
		return r, fmt.Errorf("invoke %s: %w: status %d", fn, ErrInvocationFailed, resp.StatusCode)
	}
	var res struct {
		Outputs     map[string]json.RawMessage
		Logs        []string
		ReturnValue json.RawMessage
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		h.stats.end(fn, false, r.Duration)
		return r, fmt.Errorf("invoke %s: %w: reply Content-Type %q, the host needs application/json", fn, ErrInvocationFailed, ct)
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &res); err != nil {
			h.stats.end(fn, false, r.Duration)
			return r, fmt.Errorf("invoke %s: %w: invalid reply: %w", fn, ErrInvocationFailed, err)
		}
	}
	r.Outputs, r.Logs, r.ReturnValue = res.Outputs, res.Logs, res.ReturnValue
	for _, l := range res.Logs {
		h.log.Info(l, "category", "Function."+fn+".User", "invocation", id)
	}
	// Output bindings are written only for a 2xx answer (the host ignores the
	// body of any other); a failed write fails the invocation.
	if err := h.writeOutputs(ctx, fn, res.Outputs); err != nil {
		h.stats.end(fn, false, r.Duration)
		h.log.Error("output binding failed", "function", fn, "invocation", id, "err", err)
		return r, fmt.Errorf("invoke %s: %w: %w", fn, ErrInvocationFailed, err)
	}
	h.stats.end(fn, true, r.Duration)
	return r, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

type tailLines struct {
	mu  sync.Mutex
	max int
	l   []string
}

func (t *tailLines) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.l = append(t.l, s)
	if len(t.l) > t.max {
		t.l = t.l[len(t.l)-t.max:]
	}
}

func (t *tailLines) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.l...)
}
