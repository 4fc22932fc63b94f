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
// The host's behaviour it imitates is written down in ../shared/notes/functions-host.md.
package localhost

import (
	"bufio"
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
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

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
	// Queues, when not nil, replaces host.json's extensions.queues (tests use it
	// for a short visibilityTimeout).
	Queues *QueueOptions
	// Only, when not empty, limits the listeners started to these functions
	// (every function can still be invoked on demand).
	Only []string
}

// Host is a running handler process with its trigger listeners.
type Host struct {
	cfg      HostConfig
	fns      map[string]Function
	settings map[string]string
	log      *slog.Logger
	client   *http.Client
	base     string

	cmd     *exec.Cmd
	exited  chan struct{}
	exitErr error

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	stats   *stats
	timers  map[string]*timer
	queues  map[string]*queueListener
	hubs    map[string]*EventHub
	stopped sync.Once
}

// Start loads the app folder, starts the handler and waits until it is ready, then
// starts the trigger listeners. Stop must be called to end it, whatever happens.
// If Start fails, everything it started has already been stopped.
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
	appDir, err := filepath.Abs(o.AppDir)
	if err != nil {
		return nil, fmt.Errorf("app folder: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("pick handler port: %w", err)
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	timeout := time.Duration(0)
	if cfg.FunctionTimeout > 0 {
		timeout = cfg.FunctionTimeout + time.Minute // the host's HttpClient timeout
	}
	h := &Host{
		cfg:      cfg,
		fns:      make(map[string]Function, len(fns)),
		settings: settings,
		log:      log,
		client:   &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		base:     "http://127.0.0.1:" + strconv.Itoa(port),
		exited:   make(chan struct{}),
		ctx:      hctx,
		cancel:   cancel,
		stats:    newStats(),
		timers:   map[string]*timer{},
		queues:   map[string]*queueListener{},
		hubs:     map[string]*EventHub{},
	}
	for _, f := range fns {
		h.fns[f.Name] = f
	}
	defer func() {
		if err != nil {
			h.Stop()
		}
	}()
	if err := h.startProcess(appDir, port); err != nil {
		return nil, err
	}
	wait := o.StartTimeout
	if wait <= 0 {
		wait = 30 * time.Second
	}
	if err := h.waitReady(ctx, wait); err != nil {
		return nil, err
	}
	only := map[string]bool{}
	for _, n := range o.Only {
		only[n] = true
	}
	for _, f := range fns {
		trig, _ := f.Trigger()
		listen := len(only) == 0 || only[f.Name]
		switch strings.ToLower(trig.Type) {
		case "timertrigger":
			t, err := newTimer(h, f, trig)
			if err != nil {
				return nil, err
			}
			h.timers[f.Name] = t
			if o.Schedules && listen {
				t.schedule()
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

// Config returns host.json as loaded (with any Options.Queues override).
func (h *Host) Config() HostConfig { return h.cfg }

// Stop ends the listeners, then the handler process (SIGTERM, then SIGKILL after
// 5 s). It is safe to call more than once.
func (h *Host) Stop() {
	h.stopped.Do(func() {
		h.cancel()
		h.wg.Wait()
		if h.cmd == nil || h.cmd.Process == nil {
			return
		}
		select {
		case <-h.exited:
			return
		default:
		}
		_ = h.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-h.exited:
		case <-time.After(5 * time.Second):
			_ = h.cmd.Process.Kill()
			<-h.exited
		}
		h.log.Info("handler stopped", "pid", h.cmd.Process.Pid)
	})
}

// Err returns the handler's exit error if it has exited, else nil.
func (h *Host) Err() error {
	select {
	case <-h.exited:
		if h.exitErr == nil {
			return errors.New("handler exited")
		}
		return fmt.Errorf("handler exited: %w", h.exitErr)
	default:
		return nil
	}
}

func (h *Host) startProcess(appDir string, port int) error {
	exe := h.cfg.Executable
	if !filepath.IsAbs(exe) {
		// Relative paths resolve against the app folder only if the file is there,
		// otherwise they are a command on PATH (HttpWorkerDescription).
		if p := filepath.Join(appDir, exe); fileExists(p) {
			exe = p
		} else if p, err := exec.LookPath(exe); err == nil {
			exe = p
		} else {
			return fmt.Errorf("handler executable %q not found in %s or on PATH", h.cfg.Executable, appDir)
		}
	}
	dir := appDir
	if wd := h.cfg.WorkingDirectory; wd != "" {
		if filepath.IsAbs(wd) {
			dir = wd
		} else {
			dir = filepath.Join(appDir, wd)
		}
	}
	cmd := exec.Command(exe, h.cfg.Arguments...)
	cmd.Dir = dir
	env := os.Environ()
	for k, v := range h.settings {
		env = append(env, k+"="+v)
	}
	workerID := uuid.NewString()
	env = append(env,
		"FUNCTIONS_WORKER_RUNTIME=custom",
		"FUNCTIONS_CUSTOMHANDLER_PORT="+strconv.Itoa(port),
		"FUNCTIONS_CUSTOMHANDLER_WORKER_ID="+workerID,
		"FUNCTIONS_HTTPWORKER_PORT="+strconv.Itoa(port),
		"FUNCTIONS_HTTPWORKER_ID="+workerID,
		"FUNCTIONS_APP_ROOT_PATH="+appDir,
	)
	cmd.Env = env
	// Own process group, so a Ctrl-C at the terminal reaches only this process,
	// which stops the handler itself; SIGKILL when this process dies without
	// cleaning up (killed, or a test binary ended by -timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("handler stdout: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("handler stderr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start handler: %w", err)
	}
	h.cmd = cmd
	h.log.Info("handler started", "pid", cmd.Process.Pid, "exe", exe, "port", port)
	var pipes sync.WaitGroup
	tail := &tailLines{max: 20}
	pipes.Add(2)
	go func() { defer pipes.Done(); h.pipe(stdout, false, nil) }()
	go func() { defer pipes.Done(); h.pipe(stderr, true, tail) }()
	go func() {
		pipes.Wait()
		err := cmd.Wait()
		if err != nil && len(tail.lines()) > 0 {
			err = fmt.Errorf("%w; last stderr lines:\n%s", err, strings.Join(tail.lines(), "\n"))
		}
		h.exitErr = err
		close(h.exited)
	}()
	return nil
}

// pipe logs each line of the handler's output under Host.Function.Console:
// stdout at Info, stderr at Error (Warn when the line contains "warn"), as the host does.
func (h *Host) pipe(r io.Reader, isErr bool, tail *tailLines) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		lvl := slog.LevelInfo
		if isErr {
			lvl = slog.LevelError
			if strings.Contains(strings.ToLower(line), "warn") {
				lvl = slog.LevelWarn
			}
			tail.add(line)
		}
		h.log.Log(context.Background(), lvl, line, "category", "Host.Function.Console")
	}
}

func (h *Host) waitReady(ctx context.Context, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	c := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/", nil)
		if err != nil {
			return fmt.Errorf("readiness request: %w", err)
		}
		resp, err := c.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		if e := h.Err(); e != nil {
			return fmt.Errorf("handler did not become ready: %w", e)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("handler did not answer GET / within %s: %w", wait, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for handler: %w", ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
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
// (or a 2xx with a body that is not an invocation result): the host fails the invocation.
var ErrInvocationFailed = errors.New("invocation failed")

// Invoke posts one invocation request body and its headers (both built by
// internal/azfunc; nil header: fresh ones) to /<function>, as the host does, and
// reads the reply. A non-2xx status or an
// unparsable 2xx body is an error wrapping ErrInvocationFailed; the Response is
// returned in every case where the handler answered.
func (h *Host) Invoke(ctx context.Context, fn string, payload []byte, header http.Header) (Response, error) {
	if _, ok := h.fns[fn]; !ok {
		return Response{}, fmt.Errorf("invoke %s: no such function", fn)
	}
	if h.cfg.FunctionTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.cfg.FunctionTimeout)
		defer cancel()
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
	h.stats.begin(fn)
	start := time.Now()
	resp, err := h.client.Do(req)
	if err != nil {
		h.stats.end(fn, false, time.Since(start))
		return Response{}, fmt.Errorf("invoke %s: %w: %w", fn, ErrInvocationFailed, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := Response{Status: resp.StatusCode, Body: body, Duration: time.Since(start)}
	if err != nil {
		h.stats.end(fn, false, r.Duration)
		return r, fmt.Errorf("invoke %s: read reply: %w: %w", fn, ErrInvocationFailed, err)
	}
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
